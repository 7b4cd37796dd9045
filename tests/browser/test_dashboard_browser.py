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
