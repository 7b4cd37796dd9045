"""Screenshots of every dashboard page at 1440×900 (not a test: run by hand).

    python tests/browser/take_screenshots.py DATA_DIR [OUT_DIR] [SIRET]

Starts `streamlit run app.py` on a free port over DATA_DIR, opens each page in headless
Chromium (French locale) and saves the top of the page, plus the next screen of long pages.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from test_dashboard_browser import CHROMEDRIVER, CHROMIUM, free_port, set_viewport  # noqa: E402

PAGES = [
    ("01-vue-d-ensemble", "/", "Vue d'ensemble"),
    ("02-acheteur", "/acheteur?siret={siret}", "Verdict"),
    ("03-acheteurs", "/acheteurs", "acheteurs"),
    ("04-jeux-de-donnees", "/jeux-de-donnees", "Jeux de données"),
    ("05-declarations", "/declarations", "Déclarations"),
    ("06-qualite", "/qualite", "Qualité des données"),
    ("07-methode", "/methode", "Méthode"),
]


# The element that scrolls the page (Streamlit scrolls its main section, not the document).
SCROLLER = """
let s = document.scrollingElement;
for (const el of document.querySelectorAll('main, section, div')) {
  const style = getComputedStyle(el);
  if ((style.overflowY === 'auto' || style.overflowY === 'scroll') && el.scrollHeight > el.clientHeight + 10
      && el.clientHeight > 500 && el.scrollHeight > s.scrollHeight) { s = el; }
}
"""


BUYER_TABS = ("Chronologie", "Jeux de données et déclarations", "Se mettre en règle")


def _open_tab(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.CSS_SELECTOR, "[role='tab']"):
        if button.text.strip() == label:
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", button)
            driver.execute_script("arguments[0].click();", button)
            time.sleep(2.5)
            return


def main(data_dir: str, out_dir: str, siret: str | None) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    from decp_monitor.store import Store

    if siret is None:
        con = Store(data_dir).connect()
        siret = con.execute("SELECT buyer_siret FROM buyer_compliance WHERE verdict = 'late' "
                            "ORDER BY n_late DESC LIMIT 1").fetchone()[0]
        con.close()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "DECP_DATA_DIR": str(Path(data_dir).resolve()), "DECP_AUTO_DEMO": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", "--window-size=1440,900", "--lang=fr-FR", "--hide-scrollbars"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    driver = None
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        set_viewport(driver)
        for name, path, marker in PAGES:
            driver.get(base + path.format(siret=siret))
            WebDriverWait(driver, 60).until(lambda d: marker in d.find_element("tag name", "body").text)
            time.sleep(3)  # charts and grids draw after the text
            driver.save_screenshot(str(out / f"{name}.png"))
            height = driver.execute_script(SCROLLER + "return s.scrollHeight;")
            if height > 1000:
                driver.execute_script(SCROLLER + "s.scrollTo(0, 820);")
                time.sleep(1.5)
                driver.save_screenshot(str(out / f"{name}-suite.png"))
            if name == "02-acheteur":
                for index, tab in enumerate(BUYER_TABS, 1):
                    _open_tab(driver, tab)
                    driver.save_screenshot(str(out / f"{name}-onglet-{index}.png"))
            print("saved", name)
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[1] if len(args) > 1 else str(REPO / "test-artifacts" / "screenshots"),
         args[2] if len(args) > 2 else None)
