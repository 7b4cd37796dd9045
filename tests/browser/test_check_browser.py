"""« Vérifier un fichier » in a real browser: upload files, read the summary, errors and fixes."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from bench.dashboard import serve
from tests.browser.test_dashboard_browser import (  # noqa: F401
    ARTIFACTS,
    CHROMEDRIVER,
    CHROMIUM,
    browser,
    test_data,
    wait_for_text,
)
from tests.check.fixtures import DEFECTIVE_NAME, clean_bytes, clean_name, defective_bytes, write

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="chromium et chromedriver absents (apt-get install chromium chromium-driver)"),
]


@pytest.fixture(scope="module")
def server(test_data, tmp_path_factory):  # noqa: F811
    with serve(test_data, tmp_path_factory.mktemp("logs") / "streamlit.log") as base:
        yield base


def upload(browser, server, path: Path) -> str:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/verifier")
    wait_for_text(browser, "Vérifier un fichier")
    inputs = WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type='file']"))
    inputs[0].send_keys(str(path))  # the button is enabled once the upload is registered
    button = WebDriverWait(browser, 30).until(
        lambda d: next((b for b in d.find_elements(By.TAG_NAME, "button")
                        if b.text.strip() == "Vérifier" and b.is_enabled()), None))
    button.click()
    wait_for_text(browser, "Télécharger le rapport", timeout=90)
    time.sleep(0.5)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in body
    return body


def test_upload_a_file_with_known_defects(server, browser, tmp_path):  # noqa: F811
    path = write(tmp_path, DEFECTIVE_NAME, defective_bytes())
    body = upload(browser, server, path)
    assert "À corriger d'abord" in body
    assert "Champ obligatoire absent : dateNotification" in body  # the summary
    assert "Renseigner « dateNotification » dans chaque enregistrement concerné." in body  # its fix
    assert "Type incorrect pour montant" in body and "marches.marche[0].montant" in body  # located (expanded)
    assert "2025-DEF-01" in body
    assert "Contrats publiés après l'échéance légale" in body
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "browser-check-defects.png"))


def test_upload_a_clean_file_is_ready_to_publish(server, browser, tmp_path):  # noqa: F811
    today = dt.date.today()  # the page checks a publication today by default
    path = write(tmp_path, clean_name(today), clean_bytes(today))
    body = upload(browser, server, path)
    assert "Prêt à publier" in body
    assert "À corriger d'abord" not in body
