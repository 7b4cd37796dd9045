"""Interaction times in a real browser at scale (not a test: run by hand).

    python tests/browser/measure_interactions.py DATA_DIR

Starts `streamlit run` over DATA_DIR, opens pages in headless Chromium and times, from the key
press to the updated count, filter changes on the buyers page, then a buyer deep link.
"""
import sys, os, subprocess, time
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE)); sys.path.insert(0, str(HERE.parents[1]))
from test_dashboard_browser import CHROMEDRIVER, CHROMIUM, free_port, set_viewport
import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait
data = sys.argv[1]
port = free_port()
env = {**os.environ, "DECP_DATA_DIR": data, "DECP_AUTO_DEMO": "0"}
proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"], cwd=str(HERE.parents[1]), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok": break
    except httpx.HTTPError: time.sleep(0.3)
o = webdriver.ChromeOptions(); o.binary_location = CHROMIUM
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1440,900", "--lang=fr-FR"): o.add_argument(a)
d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o); set_viewport(d)
base = f"http://127.0.0.1:{port}"
def body(): return d.find_element(By.TAG_NAME, "body").text
def running(): return bool(d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))
def wait_idle(t0, marker=None):
    WebDriverWait(d, 60, poll_frequency=0.02).until(lambda _: (marker is None or marker in body()) and not running())
    return time.perf_counter() - t0
for path, marker in [("/", "Les acheteurs qui publient le plus en retard"), ("/acheteurs", "Trier par"), ("/qualite", "Codes distincts")]:
    t0 = time.perf_counter(); d.get(base + path); print("load", path, f"{wait_idle(t0, marker):.2f}s")
# interactions on the buyers page
d.get(base + "/acheteurs"); wait_idle(time.perf_counter(), "Trier par")
time.sleep(1)
from decp_monitor import queries
from decp_monitor.ui.format import fr_int
from decp_monitor.store import Store as _S
_con = _S(data).connect()
for text in ["public n° 12", "public n° 4711", "", "public n° 333"]:
    total = queries.buyers(_con, queries.BuyerFilter(text=text)).total
    expect = f"sur {fr_int(total)}" if total > 100 else f"{fr_int(total)} acheteurs."
    box = d.find_element(By.CSS_SELECTOR, 'input[aria-label="Nom ou SIRET"]')
    box.send_keys(Keys.CONTROL, "a"); box.send_keys(Keys.DELETE); box.send_keys(text)
    t0 = time.perf_counter(); box.send_keys(Keys.ENTER)
    el = wait_idle(t0, expect)
    cap = [c for c in body().splitlines() if "sur" in c or "acheteurs" in c][:2]
    print(f"filter buyers q={text!r}: {el:.2f}s", cap)
# buyer page from deep link
import duckdb
from decp_monitor.store import Store
con = Store(data).connect(); siret = con.execute("SELECT buyer_siret FROM buyer_compliance WHERE verdict='late' ORDER BY contracts_total DESC LIMIT 1").fetchone()[0]; con.close()
t0 = time.perf_counter(); d.get(f"{base}/acheteur?siret={siret}"); print("buyer deep link", f"{wait_idle(t0, 'Verdict'):.2f}s")
# change status filter

d.quit(); proc.terminate()
