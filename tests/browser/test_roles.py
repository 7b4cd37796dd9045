"""Three users walk the demo in a real browser; the figures they meet agree across pages and exports.

- ministry staff: overview -> platform filter -> its figures against the Acheteurs page and an export;
- a buyer: deep link -> verdict -> its late contracts on the Contrats page and their export;
- an analyst: Contrats page with a combined filter -> the URL opened again gives the same results.
"""
from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

import pytest

from bench.dashboard import serve
from decp_monitor.core import vocabulary
from decp_monitor.read.headers import FRENCH_HEADERS
from decp_monitor.store.versions import Store

from .test_dashboard_browser import CHROMEDRIVER, CHROMIUM, set_viewport, wait_for_text

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="chromium et chromedriver absents (apt-get install chromium chromium-driver)"),
]
README_SIRET = "21440036800012"


@pytest.fixture(scope="module")
def demo_data(shared_demo) -> Path:
    return shared_demo()


@pytest.fixture(scope="module")
def server(demo_data, tmp_path_factory):
    with serve(demo_data, tmp_path_factory.mktemp("logs") / "streamlit.log") as base:
        yield base


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1440,900", "--lang=fr-FR"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr",
                                              "download.default_directory": str(downloads)})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    set_viewport(driver)
    yield driver
    driver.quit()


def one(data_dir: Path, sql: str, params: dict | None = None):
    con = Store(data_dir).connect()
    try:
        return con.execute(sql, params or {}).fetchone()
    finally:
        con.close()


def body(browser) -> str:
    return browser.find_element("tag name", "body").text


def idle(browser, timeout: float = 60) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    time.sleep(0.5)
    WebDriverWait(browser, timeout).until(lambda d: d.execute_script(
        "const a = document.querySelector('[data-testid=stApp]');"
        "return a && a.getAttribute('data-test-script-state') === 'notRunning';"))


def metric(browser, label: str) -> str:
    from selenium.webdriver.common.by import By

    for element in browser.find_elements(By.CSS_SELECTOR, "[data-testid='stMetric']"):
        lines = element.text.splitlines()
        if lines and lines[0].strip() == label:
            return lines[1].strip()
    raise AssertionError(f"no metric « {label} » in {body(browser)[:2000]}")


def shown_count(text: str, noun: str) -> int:
    """The count caption under a table: « 13 acheteurs. » or « Contrats 1 à 100 sur 1 234. »."""
    found = re.search(r"sur ([\d\u202f]+)\.", text) or re.search(r"(?m)^([\d\u202f]+) " + noun[:-1] + r"s?\.$", text)
    assert found, text[:3000]
    return int(found.group(1).replace("\u202f", ""))


def download(browser, folder: Path, label: str, index: int = 0) -> Path:
    from selenium.webdriver.common.by import By

    before = set(folder.iterdir())
    # the button's text starts with its icon's ligature (« download »)
    buttons = [b for b in browser.find_elements(By.CSS_SELECTOR, "[data-testid='stDownloadButton'] button")
               if b.text.strip().splitlines()[-1:] == [label]]
    assert buttons, f"no « {label} » button"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", buttons[index])
    buttons[index].click()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = [p for p in set(folder.iterdir()) - before if not p.name.endswith(".crdownload")]
        if new:
            time.sleep(0.3)
            return new[0]
        time.sleep(0.2)
    raise AssertionError("the download did not arrive")


def read_csv_fr(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))


def test_ministry_staff_platform_figures_agree_with_the_buyers_page_and_its_export(server, browser, demo_data,
                                                                                   downloads):
    platform = "Dematis"
    browser.get(f"{server}/?plateforme={platform}")
    wait_for_text(browser, "Acheteurs en retard")
    idle(browser)
    late_buyers = int(metric(browser, "Acheteurs en retard"))
    buyers = int(metric(browser, "Acheteurs").replace("\u202f", ""))
    expected = one(demo_data, "SELECT count(*) FILTER (WHERE verdict = 'late'), count(*) FROM buyer_compliance "
                              "WHERE platform = $p", {"p": platform})
    assert (late_buyers, buyers) == expected

    browser.get(f"{server}/acheteurs?plateforme={platform}&verdict=late")
    wait_for_text(browser, "Trier par")
    idle(browser)
    assert shown_count(body(browser), "acheteurs") == late_buyers
    path = download(browser, downloads, "CSV (Excel français)")
    assert path.name.endswith("-excel-fr.csv") and path.name.startswith("acheteurs-")
    rows = read_csv_fr(path)
    assert len(rows) == late_buyers
    assert {r[FRENCH_HEADERS["platform"]] for r in rows} == {platform}
    assert {r[FRENCH_HEADERS["verdict_label"]] for r in rows} <= {vocabulary.VERDICT_LABELS["late"],
                                                                   vocabulary.LATE_BY_MODIFICATIONS_LABEL}


def test_buyer_deep_link_verdict_contracts_and_export_agree(server, browser, demo_data, downloads):
    browser.get(f"{server}/acheteur?siret={README_SIRET}")
    wait_for_text(browser, "Verdict")
    idle(browser)
    assert "Commune de Châteaubriant" in body(browser)
    late = int(metric(browser, "Publiés en retard (période)"))
    window_start, as_of = one(demo_data, "SELECT (SELECT value FROM meta WHERE key = 'window_start'), "
                                         "(SELECT value FROM meta WHERE key = 'as_of')")
    assert late == one(demo_data, "SELECT n_late_all FROM buyer_compliance WHERE buyer_siret = $s",
                       {"s": README_SIRET})[0]
    assert late > 0, "the README's buyer has late contracts in the demo"

    # the same contracts on the Contrats page: this buyer, late statuses, notified in the period
    browser.get(f"{server}/contrats?acheteur={README_SIRET}&statut={','.join(vocabulary.LATE_STATUSES)}"
                f"&du={window_start}&au={as_of}")
    wait_for_text(browser, "Trier par")
    idle(browser)
    assert shown_count(body(browser), "contrats") == late
    rows = read_csv_fr(download(browser, downloads, "CSV (Excel français)"))
    assert len(rows) == late
    assert {r[FRENCH_HEADERS["buyer_siret"]] for r in rows} == {README_SIRET}
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", r[FRENCH_HEADERS["notification_date"]]) for r in rows)


def test_analyst_combined_filter_url_reopens_the_same_results(server, browser, demo_data):
    from selenium.webdriver.common.by import By

    # all seven filters of the issue: buyer, holder, CPV, amount range, département, period, status
    url = (f"{server}/contrats?acheteur=argenteuil&titulaire=smacl&cpv=45&montant_min=20000&montant_max=5000000"
           "&departement=95&du=2020-01-01&au=2026-12-31&statut=on_time,late&tri=amount")
    browser.get(url)
    wait_for_text(browser, "Trier par")
    idle(browser)
    total = shown_count(body(browser), "contrats")
    # counted on the source tables (contracts, the records' holders JSON), not on the stored search columns
    expected = one(demo_data, """
        SELECT count(*) FROM contract_compliance c JOIN contracts k USING (contract_key)
        JOIN records r ON r.record_id = k.first_record_id
        WHERE contains(lower(c.buyer_name), 'argenteuil') AND contains(lower(CAST(r.holders AS VARCHAR)), 'smacl')
          AND starts_with(k.cpv, '45') AND c.amount BETWEEN 20000 AND 5000000 AND left(k.place_code, 2) = '95'
          AND c.status IN ('on_time', 'late')
          AND c.notification_date BETWEEN DATE '2020-01-01' AND DATE '2026-12-31'""")[0]
    assert total == expected > 0
    grid = browser.find_element(By.CSS_SELECTOR, "[data-testid='stDataFrame']")
    assert grid.is_displayed()

    browser.get("about:blank")
    browser.get(url)  # the link shared: a new session, the same results
    wait_for_text(browser, "Trier par")
    idle(browser)
    assert shown_count(body(browser), "contrats") == total
    # the filters came back from the URL into the widgets
    for label, value in (("Acheteur (SIRET ou nom)", "argenteuil"), ("Titulaire (SIRET ou nom)", "smacl"),
                         ("Code CPV (ou son début)", "45")):
        assert browser.find_element(By.CSS_SELECTOR, f"input[aria-label='{label}']").get_attribute("value") == value


@pytest.mark.slow  # two more full loads of the app: 4-5 s
def test_analyst_url_reopens_the_same_page_number(server, browser):
    from selenium.webdriver.common.by import By

    paged = f"{server}/contrats?cpv=45&tri=amount&page=2"
    browser.get(paged)
    wait_for_text(browser, "Trier par")
    idle(browser)
    caption = re.search(r"Contrats 101 à 200 sur ([\d\u202f]+)\.", body(browser))
    assert caption, body(browser)[:3000]
    browser.get("about:blank")
    browser.get(paged)
    wait_for_text(browser, "Trier par")
    idle(browser)
    assert caption.group(0) in body(browser)
    assert browser.find_element(By.CSS_SELECTOR, "input[aria-label^='Page (sur']").get_attribute("value") == "2"


def test_one_click_on_a_row_opens_the_buyer_in_the_same_tab(server, browser, demo_data):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/acheteurs?verdict=late")
    wait_for_text(browser, "Trier par")
    idle(browser)
    tabs = len(browser.window_handles)
    grid = browser.find_element(By.CSS_SELECTOR, "[data-testid='stDataFrame']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", grid)
    time.sleep(0.5)
    # the first row's selection box: left edge of the grid, just under the header row
    ActionChains(browser).move_to_element_with_offset(grid, -grid.size["width"] // 2 + 18,
                                                      -grid.size["height"] // 2 + 35 + 17).click().perform()
    deadline = time.monotonic() + 30
    while "/acheteur?" not in browser.current_url and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "/acheteur?siret=" in browser.current_url and len(browser.window_handles) == tabs
    siret = browser.current_url.split("siret=")[1][:14]
    assert one(demo_data, "SELECT verdict FROM buyer_compliance WHERE buyer_siret = $s", {"s": siret})[0] == "late"
    wait_for_text(browser, "Verdict")
