"""The dashboard in a real browser: `streamlit run` on a free port, driven by headless Chromium."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from bench.dashboard import serve  # one way to start the dashboard, shared with the bench

REPO = Path(__file__).resolve().parents[2]

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="chromium et chromedriver absents (apt-get install chromium chromium-driver)"),
]


@pytest.fixture(scope="module")
def test_data(tmp_path_factory) -> Path:
    from tests.dashboard.conftest import build_test_db

    data_dir = tmp_path_factory.mktemp("browser-data")
    build_test_db(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def server(test_data, tmp_path_factory):
    """The dashboard served on a free port from a small test database."""
    with serve(test_data, tmp_path_factory.mktemp("logs") / "streamlit.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1440,900", "--lang=fr-FR"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    set_viewport(driver)
    yield driver
    driver.quit()


def set_viewport(driver, width: int = 1440, height: int = 900) -> None:
    """A 1440×900 page area exactly (--window-size counts the window, not the page)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def wait_for_text(driver, text: str, timeout: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: text in d.find_element("tag name", "body").text)


def test_overview_then_follow_a_link_to_the_buyer_page(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.dashboard.conftest import LATE

    browser.get(server + "/")
    wait_for_text(browser, "Les acheteurs qui publient le plus en retard")
    assert "Traceback" not in browser.page_source
    check_overview_charts(browser)
    link = WebDriverWait(browser, 30).until(
        lambda d: next((a for a in d.find_elements(By.CSS_SELECTOR, "a") if "Retardville" in a.text), None))
    link.click()
    wait_for_text(browser, "Verdict")
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Syndicat des eaux de Retardville" in body
    assert f"siret={LATE}" in browser.current_url
    ARTIFACTS.mkdir(exist_ok=True)
    time.sleep(1)  # let the charts finish drawing before the screenshot
    browser.save_screenshot(str(ARTIFACTS / "browser-buyer-page.png"))


def check_overview_charts(browser) -> None:
    """The overview's charts are SVG in the page with their tooltips (checked on the overview that
    test_overview_then_follow_a_link_to_the_buyer_page opens: no second load of the page)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "svg.decp-chart")) == 2)
    # Through Streamlit's Markdown: still SVG elements (a <title> outside the SVG namespace would
    # give no tooltip), no iframe, no script
    charts = browser.execute_script("""
        const SVG = 'http://www.w3.org/2000/svg';
        return Array.from(document.querySelectorAll('svg.decp-chart')).map(s => ({
            kind: s.dataset.chart, role: s.getAttribute('role'), label: s.getAttribute('aria-label'),
            width: s.getBoundingClientRect().width, height: s.getBoundingClientRect().height,
            bars: s.querySelectorAll('rect.bar').length,
            tips: Array.from(s.querySelectorAll('g > title')).filter(t => t.namespaceURI === SVG).map(t => t.textContent),
            color: getComputedStyle(s.querySelector('text')).fill,
            scripts: s.querySelectorAll('script').length, framed: window.frameElement !== null}))""")
    assert [c["kind"] for c in charts] == ["monthly", "delay_histogram"]
    assert not browser.find_elements(By.CSS_SELECTOR, "iframe")
    for chart in charts:
        assert chart["role"] == "img" and chart["label"] and not chart["scripts"] and not chart["framed"]
        assert chart["bars"] > 0 and len(chart["tips"]) >= chart["bars"], "a tooltip over every bar"
        assert 300 < chart["width"] < 800 and chart["height"] > 200, "half the page, in proportion"
        assert chart["color"] == "rgb(22, 22, 22)", "the theme's text colour (.streamlit/config.toml)"
    monthly, histogram = (c["tips"] for c in charts)
    assert any(" publiés en retard (" in t and "sur" in t for t in monthly)
    assert any(t.endswith(" contrats") or t.endswith(" contrat") for t in histogram)
    # the bar under the pointer stands out (the chart's own <style>, kept by the Markdown)
    from selenium.webdriver.common.action_chains import ActionChains

    month = next(g for g in browser.find_elements(By.CSS_SELECTOR, "svg[data-chart=monthly] g.month")
                 if g.find_elements(By.CSS_SELECTOR, "rect.bar"))
    bar = month.find_element(By.CSS_SELECTOR, "rect.bar")
    assert browser.execute_script("return getComputedStyle(arguments[0]).filter", bar) == "none"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", month)
    ActionChains(browser).move_to_element(bar).perform()
    WebDriverWait(browser, 5).until(lambda d: d.execute_script("return getComputedStyle(arguments[0]).filter", bar) != "none")
    # On a phone-wide page a chart keeps a legible width (text not below ~9 px) and its box scrolls
    # sideways; without it the text fell to ~8.5 px (half charts) and ~5 px (full-width ones).
    set_viewport(browser, 400, 800)
    try:
        sizes = browser.execute_script("""
            return Array.from(document.querySelectorAll('svg.decp-chart')).map(s => ({
                width: s.getBoundingClientRect().width, viewbox: s.viewBox.baseVal.width,
                box: s.parentElement.clientWidth, content: s.parentElement.scrollWidth}))""")
        assert sizes and all(c["box"] < 400 for c in sizes), sizes
        for chart in sizes:
            assert chart["width"] >= 0.75 * chart["viewbox"] - 1, chart
            assert chart["content"] > chart["box"], "the box scrolls sideways"
    finally:
        set_viewport(browser)


def test_deep_link_opens_straight_on_the_buyer(server, browser):
    from selenium.webdriver.common.by import By

    from tests.dashboard.conftest import COMPLIANT

    browser.get(f"{server}/acheteur?siret={COMPLIANT}")
    wait_for_text(browser, "Commune de Bonneville")
    wait_for_text(browser, "Verdict")
    assert "Traceback" not in browser.find_element(By.TAG_NAME, "body").text


def test_a_deep_link_opened_first_after_a_restart_has_no_english_dialog(test_data, tmp_path, browser):
    from selenium.webdriver.common.by import By

    from tests.dashboard.conftest import LATE

    with serve(test_data, tmp_path / "streamlit.log") as base:  # a fresh server: the link is its very first session
        browser.get(f"{base}/acheteur?siret={LATE}")
        wait_for_text(browser, "Verdict")
        time.sleep(1)
        body = browser.find_element(By.TAG_NAME, "body").text
        # A `pages/` folder beside app.py put this first session in Streamlit's legacy multipage
        # mode, with an English dialog over the page; the pages now live in the package.
        assert "Page not found" not in body and "Syndicat des eaux de Retardville" in body
        assert not browser.find_elements(By.CSS_SELECTOR, "[role='dialog']")


# -- keyboard only -------------------------------------------------------------------------------
# A user without a mouse: Tab moves the focus, Enter submits or follows a link, arrows move in a
# list. Each step asserts where the focus is, then the result on screen. 4 to 8 s each (a rerun per
# key that submits, a round trip per Tab): behind the slow marker, run by CI's second step.


def focused(driver) -> dict:
    return driver.execute_script(
        "const e = document.activeElement;"
        "return {tag: e.tagName, label: e.getAttribute('aria-label') || '', text: (e.innerText || '').trim(),"
        "        href: e.getAttribute('href') || '', role: e.getAttribute('role') || ''};")


def tab_to(driver, matches, limit: int = 60, back: bool = False) -> dict:
    """Press Tab (Shift+Tab with back) until the focused element matches; fails after `limit`."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        chain = ActionChains(driver)
        if back:
            chain.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT)
        else:
            chain.send_keys(Keys.TAB)
        chain.perform()
        now = focused(driver)
        if matches(now):
            return now
    raise AssertionError(f"the focus never reached the control ({limit} Tab); last: {focused(driver)}")


def keys(driver, *sequence) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*sequence).perform()


def select_all(driver) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()


def settled(driver, text: str, timeout: float = 30) -> None:
    """The app idle again with `text` on screen."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.execute_script(
        "const a = document.querySelector('[data-testid=stApp]');"
        "return a && a.getAttribute('data-test-script-state') === 'notRunning'"
        " && document.body.innerText.replace(/[\\u202f\\u00a0]/g, ' ').includes(arguments[0]);", text))


@pytest.mark.slow
def test_keyboard_search_a_buyer_by_name_then_open_it_then_by_siret(server, browser):
    from selenium.webdriver.common.keys import Keys

    from tests.dashboard.conftest import COMPLIANT, LATE

    browser.get(f"{server}/acheteur")
    settled(browser, "Vérifier un acheteur")
    tab_to(browser, lambda e: e["label"] == "SIRET ou nom de l'acheteur")
    keys(browser, "retardville", Keys.ENTER)
    settled(browser, "1 acheteur trouvé")
    link = tab_to(browser, lambda e: e["tag"] == "A" and "Retardville" in e["text"])
    assert f"siret={LATE}" in link["href"]
    keys(browser, Keys.ENTER)
    settled(browser, "Verdict")
    assert f"siret={LATE}" in browser.current_url and "Syndicat des eaux de Retardville" in body_text(browser)

    # by SIRET, typed with spaces, from the same box (back up the page with Shift+Tab)
    tab_to(browser, lambda e: e["label"] == "SIRET ou nom de l'acheteur", back=True)
    select_all(browser)
    keys(browser, f"{COMPLIANT[:3]} {COMPLIANT[3:6]} {COMPLIANT[6:9]} {COMPLIANT[9:]}", Keys.ENTER)
    settled(browser, "Commune de Bonneville")
    settled(browser, "Verdict")
    assert f"siret={COMPLIANT}" in browser.current_url


@pytest.mark.slow
def test_keyboard_opens_a_buyer_from_the_acheteurs_table(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.dashboard.conftest import LATE

    browser.get(f"{server}/acheteurs")
    settled(browser, "Au clavier : Tab jusqu'au tableau")
    tab_to(browser, lambda e: e["label"] == "Nom ou SIRET")
    keys(browser, "retardville", Keys.ENTER)
    settled(browser, "1 acheteur.")
    tab_to(browser, lambda e: e["tag"] == "CANVAS")  # the grid: arrows move between cells
    keys(browser, Keys.ARROW_DOWN)
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.SPACE).key_up(Keys.SHIFT).perform()  # selects the row
    WebDriverWait(browser, 30).until(lambda d: "/acheteur?" in d.current_url)
    settled(browser, "Verdict")
    assert f"siret={LATE}" in browser.current_url and len(browser.window_handles) == 1


@pytest.mark.slow
def test_keyboard_moves_between_pages_by_the_sidebar(server, browser):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server}/methode")
    settled(browser, "L'obligation")
    for path, marker in (("contrats", "Trier par"), ("acheteurs", "Trier par"), ("", "Les acheteurs qui publient")):
        link = tab_to(browser, lambda e, path=path: e["tag"] == "A" and e["href"].rstrip("/") == f"{server}/{path}".rstrip("/"))
        keys(browser, Keys.ENTER)
        # Contrats and Acheteurs share their marker: the page has changed once the URL says so.
        WebDriverWait(browser, 30).until(
            lambda d, link=link: d.current_url.split("?")[0].rstrip("/") == link["href"].rstrip("/"))
        settled(browser, marker)


@pytest.mark.slow
def test_keyboard_uses_the_contrats_filters(server, browser):
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{server}/contrats")
    settled(browser, "10 contrats.")
    tab_to(browser, lambda e: e["label"] == "Acheteur (SIRET ou nom)")
    keys(browser, "bonneville", Keys.ENTER)
    settled(browser, "6 contrats.")
    # amounts: 45 000,50 € × month, from 100 000 € on: months 3 to 6
    tab_to(browser, lambda e: e["label"] == "Montant HT minimal (€)")
    keys(browser, "100000", Keys.ENTER)
    settled(browser, "4 contrats.")
    # a date typed in its day, month and year fields: month 6's contract was notified in 2024.
    # Streamlit's date field takes the date when the focus leaves it (Tab), not on Enter.
    tab_to(browser, lambda e: e["label"].startswith("day") and "Notifié à partir du" in e["label"])
    keys(browser, "01012025")
    tab_to(browser, lambda e: "Notifié jusqu'au" in e["label"], limit=3)
    settled(browser, "3 contrats.")
    assert "du=2025-01-01" in browser.current_url
    # a status picked with the arrows in the list (Bonneville publishes on time: none late)
    tab_to(browser, lambda e: e["label"] == "Statut de publication", back=True)
    keys(browser, Keys.ARROW_DOWN)
    for _ in range(10):
        chosen = browser.execute_script(
            "const id = document.activeElement.getAttribute('aria-activedescendant');"
            "const o = id && document.getElementById(id); return o ? o.innerText.trim() : null;")
        if chosen == "Publié en retard":
            break
        keys(browser, Keys.ARROW_DOWN)
    assert chosen == "Publié en retard"
    keys(browser, Keys.ENTER, Keys.ESCAPE)
    settled(browser, "Aucun contrat ne correspond à ces filtres.")
    assert "statut=late" in browser.current_url and "acheteur=bonneville" in browser.current_url
    assert "montant_min=100000" in browser.current_url


def body_text(driver) -> str:
    return driver.find_element("tag name", "body").text
