"""Screenshots of every dashboard page at 1440×900, on the demo database (not a test: run by hand).

    python docs/screenshots/take.py [--data-dir DIR] [--out docs/screenshots]

Without --data-dir, builds the demo database (decp_monitor.pipeline.demo, a few seconds) in a temporary
directory. Starts `streamlit run app.py` on a free port, opens each page in headless Chromium
(French locale) and saves the visible 1440×900 page area as PNG (reduced to a 256-colour palette
so that each file stays small). The buyer pages are a late buyer (the most late contracts) and a
compliant one (the most contracts), both taken from the database. The last shots are at a phone's
width (390 px).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from bench.dashboard import CHROMEDRIVER, CHROMIUM, free_port  # noqa: E402


def set_viewport(driver, width: int = 1440, height: int = 900, mobile: bool = False) -> None:
    """The page area exactly (--window-size counts the window, not the page)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

# (file name, URL path, text that says the page is drawn, what to do before the shot, scroll to text)
SHOTS = [
    ("01-vue-d-ensemble", "/", "Les acheteurs qui publient le plus en retard", None, None),
    ("02-vue-d-ensemble-graphiques", "/", "Les acheteurs qui publient le plus en retard", None,
     "Retards par mois de notification"),
    ("03-vue-d-ensemble-classement", "/", "Les acheteurs qui publient le plus en retard", None,
     "Les acheteurs qui publient le plus en retard"),
    ("04-acheteur-en-retard", "/acheteur?siret={late}", "Verdict", None, None),
    ("05-acheteur-en-retard-contrats", "/acheteur?siret={late}&onglet=Contrats", "Verdict", None,
     "Contrats"),
    ("06-acheteur-en-retard-chronologie", "/acheteur?siret={late}&onglet=Chronologie", "Verdict", None,
     "Chronologie"),
    ("07-acheteur-en-retard-se-mettre-en-regle", "/acheteur?siret={late}&onglet=Se mettre en règle", "Verdict", None,
     "Se mettre en règle"),
    ("08-acheteur-conforme", "/acheteur?siret={compliant}", "Verdict", None, None),
    ("09-acheteur-jamais-publie", "/acheteur?siret={missing}", "Verdict", None, None),
    ("10-acheteurs", "/acheteurs", "Trier par", None, None),
    ("11-jeux-de-donnees", "/jeux-de-donnees", "Contrôle en échec", None, None),
    ("12-declarations", "/declarations", "Fichiers de déclaration", None, None),
    ("13-qualite", "/qualite", "Codes distincts", None, None),
    ("14-console-sql", "/console", "Requête SQL", "click:Exécuter", None),
    ("15-methode", "/methode", "Paramètres de cette version", None, None),
    ("16-contrats", "/contrats?cpv=45&montant_min=40000&tri=amount", "Trier par", None, None),
    ("17-retards-par-plateforme", "/?vue=Plateformes", "Retards par plateforme", None, "Retards par plateforme"),
    ("20-vue-d-ensemble-territoires", "/?vue=Territoires", "Par nature d'acheteur et par territoire", None,
     "Par nature d'acheteur et par territoire"),
]
# At a phone's width: the sidebar starts closed.
PHONE_SHOTS = [
    ("18-telephone-vue-d-ensemble", "/", "Acheteurs en retard", None, None),
    ("19-telephone-acheteur", "/acheteur?siret={late}", "Verdict", None, None),
]
MAX_BYTES = 400_000

# The element that scrolls the page (Streamlit scrolls its main section, not the document).
SCROLLER = """
let s = document.scrollingElement;
for (const el of document.querySelectorAll('main, section, div')) {
  const style = getComputedStyle(el);
  if ((style.overflowY === 'auto' || style.overflowY === 'scroll') && el.scrollHeight > el.clientHeight + 10
      && el.clientHeight > 500 && el.scrollHeight > s.scrollHeight) { s = el; }
}
"""


def pick_buyers(data_dir: Path) -> dict[str, str]:
    from decp_monitor.store.versions import Store

    con = Store(data_dir).connect()
    try:
        def one(sql: str) -> str:
            return con.execute(sql).fetchone()[0]

        return {
            "late": one("SELECT buyer_siret FROM buyer_compliance WHERE verdict = 'late' "
                        "ORDER BY n_late_all DESC, buyer_siret LIMIT 1"),
            "compliant": one("SELECT buyer_siret FROM buyer_compliance WHERE verdict = 'compliant' "
                             "ORDER BY contracts_total DESC, buyer_siret LIMIT 1"),
            "missing": one("SELECT buyer_siret FROM buyer_compliance WHERE verdict = 'missing' "
                           "ORDER BY buyer_siret LIMIT 1"),
        }
    finally:
        con.close()


def build_demo(data_dir: Path) -> None:
    from decp_monitor.pipeline.demo import build_demo as build
    from decp_monitor.store.versions import Store

    build(Store(data_dir))


def shrink(path: Path) -> int:
    """A 256-colour palette: screenshots of flat UI lose nothing visible and weigh a third."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    return path.stat().st_size


def _act(driver, action: str) -> None:
    from selenium.webdriver.common.by import By

    kind, _, label = action.partition(":")
    selector = "[role='tab']" if kind == "tab" else "button"
    for element in driver.find_elements(By.CSS_SELECTOR, selector):
        if element.text.strip() == label or element.text.strip().endswith("\n" + label):
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
            driver.execute_script("arguments[0].click();", element)
            time.sleep(3)
            return
    raise RuntimeError(f"nothing to {kind} labelled {label!r}")


def _scroll_to(driver, text: str) -> None:
    driver.execute_script(SCROLLER + """
      const target = [...document.querySelectorAll('h1, h2, h3, [role=tablist]')].find(h => h.textContent.includes(arguments[0]));
      if (target) { s.scrollTo(0, target.getBoundingClientRect().top + s.scrollTop - 60); }
    """, text)
    time.sleep(2)


def main(data_dir: Path, out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    sirets = pick_buyers(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "DECP_DATA_DIR": str(data_dir.resolve()), "DECP_AUTO_DEMO": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"],
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
        driver.set_page_load_timeout(60)
        set_viewport(driver)
        for index, (name, path, marker, action, scroll) in enumerate(SHOTS + PHONE_SHOTS):
            if index == len(SHOTS):
                set_viewport(driver, 390, 844, mobile=True)
            driver.get(base + path.format(**sirets))
            WebDriverWait(driver, 60).until(lambda d: marker in d.find_element("tag name", "body").text)
            time.sleep(3)  # charts and grids draw after the text
            if action:
                _act(driver, action)
            if scroll:
                _scroll_to(driver, scroll)
            target = out / f"{name}.png"
            driver.save_screenshot(str(target))
            size = shrink(target)
            print(f"{target.name}: {size // 1000} ko" + ("  (trop lourd)" if size > MAX_BYTES else ""))
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        proc.wait(timeout=10)
    print("acheteurs :", sirets)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="répertoire de données (par défaut : démo construite à part)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    if args.data_dir is not None:
        main(args.data_dir, args.out)
    else:
        with tempfile.TemporaryDirectory(prefix="decp-screenshots-") as tmp:
            build_demo(Path(tmp))
            main(Path(tmp), args.out)
