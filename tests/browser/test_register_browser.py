"""The register of buyers in a real browser, on the demo: search by name and by SIREN, the map."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from bench.dashboard import serve
from decp_monitor.dashboard.format import format_siret
from decp_monitor.store.versions import Store
from tests.browser.test_dashboard_browser import ARTIFACTS, browser, wait_for_text  # noqa: F401

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def demo_server(shared_demo, tmp_path_factory):
    data_dir = shared_demo(contracts=1500, buyers=120)
    with serve(data_dir, tmp_path_factory.mktemp("logs") / "streamlit.log") as base:
        yield base, data_dir


def one(data_dir: Path, sql: str):
    con = Store(data_dir).connect()
    try:
        return con.execute(sql).fetchone()
    finally:
        con.close()


def test_search_a_declared_only_buyer_by_name_then_its_siren(demo_server, browser):  # noqa: F811
    from urllib.parse import quote

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, data_dir = demo_server
    siret, coordonnees = one(data_dir, """
        SELECT b.buyer_siret, any_value(d.coordonnees) FROM buyer_compliance b JOIN declarations d ON d.siret = b.buyer_siret
        WHERE b.verdict IN ('missing', 'closed') AND b.contracts_total = 0 GROUP BY 1 ORDER BY 1 LIMIT 1""")
    typed = coordonnees.split(",")[0].replace("'", "’")
    browser.get(f"{base}/acheteur?q={quote(typed)}")
    wait_for_text(browser, format_siret(siret))
    assert "Traceback" not in browser.find_element(By.TAG_NAME, "body").text

    siren, count = one(data_dir, "SELECT left(buyer_siret, 9), count(*) FROM buyer_compliance GROUP BY 1 "
                                 "HAVING count(*) >= 2 ORDER BY 1 LIMIT 1")
    browser.get(f"{base}/acheteur?q={siren}")
    wait_for_text(browser, f"Établissements du SIREN {siren[:3]} {siren[3:6]} {siren[6:]}")
    WebDriverWait(browser, 30).until(lambda d: len(
        [a for a in d.find_elements(By.CSS_SELECTOR, "a") if f"{siren[:3]} {siren[3:6]} {siren[6:]}" in a.text]) == count)


def test_overview_map_of_late_rates(demo_server, browser):  # noqa: F811
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, _ = demo_server
    browser.get(base + "/")
    wait_for_text(browser, "Les acheteurs qui publient le plus en retard", timeout=60)
    # the section is built when its tab is opened, and the URL then names the tab
    tab = next(e for e in browser.find_elements(By.CSS_SELECTOR, "[role=tab]") if e.text.strip() == "Territoires")
    tab.click()
    wait_for_text(browser, "Par nature d'acheteur et par territoire", timeout=60)
    assert "vue=Territoires" in browser.current_url
    heading = next(e for e in browser.find_elements(By.CSS_SELECTOR, "h3") if "territoire" in e.text)
    browser.execute_script("arguments[0].scrollIntoView()", heading)

    # one filled outline per metropolitan département, drawn without any network access: an SVG
    # in the page itself, there with the section
    def filled(_=None) -> int:
        return browser.execute_script(
            "return document.querySelectorAll('svg[data-chart=departement_map] path.dept').length")

    with contextlib.suppress(TimeoutException):
        WebDriverWait(browser, 3, poll_frequency=0.1).until(lambda d: filled() >= 96)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "browser-overview-map.png"))
    assert filled() >= 96
