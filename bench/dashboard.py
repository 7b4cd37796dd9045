"""Dashboard response times in a real browser (run by hand; not collected by pytest).

    python bench/dashboard.py DATA_DIR                      # 3 rounds, Markdown table on stdout
    python bench/dashboard.py DATA_DIR --repeat 5 --out dash.md --json dash.json
    python bench/dashboard.py DATA_DIR --only acheteurs     # the steps whose name contains a word
    python bench/dashboard.py DATA_DIR --queries            # no browser: the queries behind each step

Each round starts `streamlit run app.py` on a free port over DATA_DIR (DECP_DATA_DIR, with
DECP_AUTO_DEMO=0), so that Streamlit's result cache is empty at the start of every round, and
drives headless Chromium through every page: its first display, then at least one interaction
on it. A step is timed from the user action (URL opened, sidebar link clicked, Enter pressed,
option or button clicked) until the app is idle again -- `data-test-script-state="notRunning"`
on stApp, the attribute Streamlit's own browser tests wait on, which, unlike the status widget,
has no 200 ms fade-out -- with the step's expected text on screen. The expected texts (counts,
names, SIRETs) are computed beforehand from the database itself with decp_monitor.read.queries, so a
step only ends once the new result is displayed, whatever the database.

A step that fails prints its error and the run goes on; the next step reloads its own starting
URL (the filters live in the URL). `--reuse-server` keeps one server for every round: rounds 2+
then measure Streamlit's cached results instead.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qs, urlencode, urlsplit

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from decp_monitor.dashboard.navigation import page_path  # noqa: E402  (after the path above)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROME_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-dev-shm-usage", "--window-size=1440,900", "--lang=fr-FR")
TARGET_S = 1.0
STEP_TIMEOUT_S = 120.0
# Texts the pages show instead of a result when something broke.
ERROR_TEXTS = ("Impossible d'afficher", "Traceback", "Page not found")

# One poll: the app's run state, its connection state, whether every marker is on screen (visible
# text only: innerText leaves out the hidden tabs) and which error text is.
_POLL_JS = """
const app = document.querySelector('[data-testid="stApp"]');
const text = document.body ? document.body.innerText.replace(/[\\u202f\\u00a0]/g, ' ') : '';
return [app ? app.getAttribute('data-test-script-state') : null,
        app ? app.getAttribute('data-test-connection-state') : null,
        arguments[0].every(m => text.includes(m)),
        arguments[1].filter(m => text.includes(m))];
"""


def norm(text: str) -> str:
    """French figures use (narrow) no-break spaces; compare with plain ones."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


# -- machine -----------------------------------------------------------------------------------


def machine_info() -> dict:
    from bench.run import machine  # bench/run.py: processor and memory, read the same way for every report

    base = machine()
    cpu, ram_gb = base["cpu"], base["ram_gb"]
    versions = {}
    for name in ("streamlit", "duckdb", "pandas", "selenium"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:
            versions[name] = "?"
    try:
        chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        chromium = "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": ram_gb, "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), **versions, "chromium": chromium}


# -- what to expect: picked from the data ------------------------------------------------------


def quiet_streamlit() -> None:
    """No "No runtime found" / "missing ScriptRunContext" warnings when pages' modules run bare."""
    os.environ["STREAMLIT_LOGGER_LEVEL"] = "error"  # AppTest re-reads the config
    import streamlit.logger

    streamlit.logger.set_log_level("error")
    import logging

    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True


def caption(total: int, noun: str, offset: int = 0, page_size: int = 100) -> str:
    """The count line decp_monitor.dashboard.widgets.count_caption prints under a paginated table."""
    from decp_monitor.dashboard.format import fr_int
    from decp_monitor.dashboard.widgets import SINGULARS

    shown = max(0, min(page_size, total - offset))
    if shown >= total:
        return norm(f"{fr_int(total)} {SINGULARS.get(noun, noun) if total == 1 else noun}.")
    return norm(f"{noun.capitalize()} {fr_int(offset + 1)} à {fr_int(offset + shown)} sur {fr_int(total)}.")


def plan(data_dir: Path) -> dict:
    """Names, SIRETs, options and expected texts, read from the published version (read-only)."""
    import duckdb

    from decp_monitor.core import findings as finding_codes
    from decp_monitor.dashboard.format import format_siret, fr_int
    from decp_monitor.read import console, queries
    from decp_monitor.read.queries import BuyerFilter, ContractFilter
    from decp_monitor.store.versions import Store

    quiet_streamlit()
    version = Store(data_dir).current()
    if version is None:
        raise SystemExit(f"no published version in {data_dir}")
    con = duckdb.connect(str(version.path), read_only=True)
    try:
        p: dict = {"version": str(version.path), "db_mb": round(Path(version.path).stat().st_size / 2**20),
                   "counts": queries.table_counts(con)}
        overview_link = lambda row: norm(f"({format_siret(row.buyer_siret)}) — {fr_int(row.late_contracts)} contrats en retard")  # noqa: E731

        # Overview: a platform whose worst buyer is not among the 5 links shown for all platforms.
        shown = {r.buyer_siret for r in queries.worst_buyers(con, 20).head(5).itertuples()}
        p["platform"] = None
        for name in queries.platforms(con):
            worst = queries.worst_buyers(con, 20, platform=name)
            if not worst.empty and worst.iloc[0].buyer_siret not in shown:
                p["platform"] = name
                p["platform_marker"] = overview_link(next(worst.itertuples()))
                break

        # Buyers: all, a name search, a SIRET search, a verdict, its second page.
        total = lambda f: queries.buyers(con, f, limit=1).total  # noqa: E731
        p["buyers_all"] = caption(total(BuyerFilter()), "acheteurs")
        large, small = _pick_buyers(con)
        p["large"], p["small"] = large, small
        ranked = con.execute("SELECT buyer_name FROM buyer_compliance WHERE buyer_name IS NOT NULL "
                             "ORDER BY contracts_total DESC, buyer_siret LIMIT 400").fetchall()
        p["name_query"] = None
        for (name,) in ranked[len(ranked) // 4:] + ranked[:len(ranked) // 4]:  # a mid-sized buyer's word first
            words = [w for w in name.replace("'", " ").replace("-", " ").split() if len(w) >= 5 and w.isalpha()]
            for word in reversed(words):
                n = total(BuyerFilter(text=word))
                if 2 <= n < total(BuyerFilter()):
                    p["name_query"], p["name_marker"] = word, caption(n, "acheteurs")
                    break
            if p["name_query"]:
                break
        p["siret_query"] = small
        p["siret_marker"] = caption(total(BuyerFilter(text=small)), "acheteurs")
        labels = queries.verdict_labels(con)
        verdict = "late" if "late" in labels else next(iter(labels))
        n_verdict = total(BuyerFilter(verdicts=(verdict,)))
        p["verdict"], p["verdict_label"] = verdict, labels[verdict]
        p["verdict_marker"] = caption(n_verdict, "acheteurs")
        p["verdict_page2"] = caption(n_verdict, "acheteurs", offset=100) if n_verdict > 100 else None

        # Buyer pages: the largest buyer (and a status filter on it), a small one.
        for key, siret in (("large", large), ("small", small)):
            # The page lists the assessment window's contracts by default (« Période d'évaluation seulement »).
            n = queries.buyer_contracts(con, siret, limit=1, window_only=True).total
            p[f"{key}_markers"] = [norm(f"SIRET {format_siret(siret)}"),
                                   caption(n, "contrats") if n else "Aucun contrat n'a été trouvé"]
            p[f"{key}_contracts"] = n
        counts = queries.buyer_status_counts(con, large, window_only=True)
        sizes = dict(zip(counts["status"], counts["contracts"]))
        status_labels = queries.status_labels(con)
        candidates = [s for s in status_labels if 0 < sizes.get(s, 0) < p["large_contracts"]]
        status = "late" if "late" in candidates else (max(candidates, key=sizes.get) if candidates else None)
        p["status"] = status
        if status:
            p["status_option"] = norm(f"{status_labels[status]} ({fr_int(sizes[status])})")
            p["status_marker"] = caption(queries.buyer_contracts(con, large, status=status, limit=1,
                                                                 window_only=True).total, "contrats")

        # Datasets: all, then those failing one dataset check.
        n_all = queries.datasets(con, limit=1).total
        p["datasets_all"] = caption(n_all, "jeux de données")
        checks = queries.checks_summary(con)
        p["check"] = None
        for row in checks[checks["level"] == "dataset"].itertuples():
            n = queries.datasets(con, failing_check=row.check, limit=1).total
            if 0 < n < n_all:
                p["check"], p["check_label"] = row.check, norm(row.check_label)
                p["check_marker"] = caption(n, "jeux de données")
                break

        # Declarations: all, then never published.
        summary = queries.declarations_summary(con)
        p["declarations"] = summary["rows"] > 0
        if p["declarations"]:
            p["declarations_all"] = caption(queries.declarations(con, limit=1).total, "déclarations")
            p["declarations_never"] = caption(queries.declarations(con, only_never_published=True, limit=1).total,
                                              "déclarations")

        # Quality: all findings, then one code (not the most frequent, so that the count changes).
        by_code = queries.findings_by_code(con)
        p["findings"] = not by_code.empty
        p["code"] = None
        if p["findings"]:
            n_all = queries.findings_list(con, limit=1).total
            p["findings_all"] = caption(n_all, "anomalies")
            for code in list(by_code["code"])[1:] + list(by_code["code"])[:1]:
                n = queries.findings_list(con, code=code, limit=1).total
                if n != n_all:
                    p["code"] = code
                    p["code_option"] = norm(f"{finding_codes.label(code)} ({code})")
                    p["code_marker"] = caption(n, "anomalies")
                    break

        # Contrats: every contract, then a combined filter of seven: a frequent buyer (a word of its
        # name), the most frequent holder of its contracts (first word of the name), the CPV division
        # and département of its most frequent contracts, an amount range, three years of
        # notifications, on time or late; then its next page when there is one.
        p["contracts_all"] = caption(queries.contracts_search(con, ContractFilter(), limit=1).total, "contrats")
        buyer_name, departement, cpv = con.execute(
            "SELECT buyer_name, departement, left(cpv, 2) FROM contract_compliance WHERE buyer_name IS NOT NULL "
            "AND departement IS NOT NULL AND cpv IS NOT NULL GROUP BY ALL ORDER BY count(*) DESC LIMIT 1").fetchone()
        (holder,) = con.execute(
            "SELECT regexp_replace(h, ' \\([^)]*\\)$', '') FROM (SELECT unnest(string_split(holder_names, ' ; ')) AS h "
            "FROM contract_compliance WHERE buyer_name = $name AND departement = $dep AND starts_with(cpv, $cpv)) "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1", {"name": buyer_name, "dep": departement, "cpv": cpv}).fetchone()
        (until,) = con.execute("SELECT max(notification_date) FROM contract_compliance "
                               "WHERE notification_date <= current_date").fetchone()
        since = dt.date(until.year - 3, until.month, 1)
        combined = ContractFilter(buyer=max(re.findall(r"[^\W\d_]{4,}", buyer_name), key=len),
                                  supplier=holder.split()[0], cpv=cpv, amount_min=20000.0, amount_max=5_000_000.0,
                                  departement=departement, notified_from=since, notified_to=until,
                                  statuses=("on_time", "late"))
        p["contracts_filter"] = combined
        p["contracts_params"] = {"acheteur": combined.buyer, "titulaire": combined.supplier, "cpv": cpv,
                                 "montant_min": "20000", "montant_max": "5000000", "departement": departement,
                                 "du": since.isoformat(), "au": until.isoformat(), "statut": "on_time,late"}
        found = queries.contracts_search(con, combined, limit=1).total
        p["contracts_total"] = found
        p["contracts_marker"] = caption(found, "contrats")
        p["contracts_page2"] = caption(found, "contrats", offset=100) if found > 100 else None

        # Console: an example that reads every contract.
        example = "Délai médian de publication par année de notification"
        if example not in console.EXAMPLE_QUERIES:
            example = next(iter(console.EXAMPLE_QUERIES))
        rows = len(con.execute(console.EXAMPLE_QUERIES[example]).fetchall())
        p["example"] = example
        p["example_marker"] = norm(f"{fr_int(rows)} {'ligne' if rows <= 1 else 'lignes'} en ")
        return p
    finally:
        con.close()


def _pick_buyers(con) -> tuple[str, str]:
    """The buyer with most contracts, and a small one (2 to 5 contracts), as bench/serve.py."""
    large = con.execute("SELECT buyer_siret FROM buyer_compliance ORDER BY contracts_total DESC, buyer_siret "
                        "LIMIT 1").fetchone()[0]
    # with contracts in the assessment window: the page lists those by default
    small = con.execute("SELECT buyer_siret FROM buyer_compliance WHERE contracts_total BETWEEN 2 AND 5 "
                        "AND contracts_in_window > 0 ORDER BY contracts_total DESC, buyer_siret LIMIT 1").fetchone()
    if small is None:
        small = con.execute("SELECT buyer_siret FROM buyer_compliance ORDER BY contracts_total, buyer_siret "
                            "LIMIT 1").fetchone()
    return large, small[0]


# -- server and browser ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(data_dir: Path, log_path: Path):
    """`streamlit run app.py` on a free port over data_dir; yields the base URL."""
    import httpx

    port = free_port()
    env = {**os.environ, "DECP_DATA_DIR": str(data_dir), "DECP_AUTO_DEMO": "0"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{base}/_stcore/health", timeout=2).text == "ok":
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def chrome():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(STEP_TIMEOUT_S)
    # A 1440x900 page area exactly (--window-size counts the window, not the page).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1440, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    return driver


class StepFailed(Exception):
    pass


class App:
    """The dashboard in the browser: actions that return their start time, and the wait for idle."""

    def __init__(self, driver, base: str):
        self.d = driver
        self.base = base

    # -- state --
    def poll(self, markers: list[str]):
        return self.d.execute_script(_POLL_JS, markers, list(ERROR_TEXTS))

    def wait_done(self, t0: float, markers: list[str], timeout: float = STEP_TIMEOUT_S,
                  must_see_run: bool = False) -> tuple[float, list[str]]:
        """Seconds from t0 until idle with every marker shown; a rerun that follows at once (within
        0.3 s) is waited for too. must_see_run: the markers were already shown before the action,
        so a run must be seen first (given up after 3 s: the action may have needed none)."""
        deadline = t0 + timeout
        seen_run = not must_see_run
        done_at = None
        while True:
            now = time.perf_counter()
            state, connection, shown, errors = self.poll(markers)
            if state not in ("notRunning", None, "initial"):
                seen_run = True
                done_at = None
            elif state == "notRunning" and shown and connection in (None, "CONNECTED") and (
                    seen_run or now - t0 > 3):
                if done_at is None:
                    done_at = now
                elif now - done_at >= 0.3:  # still idle: done when first seen idle
                    return done_at - t0, errors
            else:
                done_at = None
            if now > deadline:
                missing = [m for m in markers if not self.poll([m])[2]]
                raise StepFailed(f"not done after {timeout:.0f} s (state {state}, connection {connection}, "
                                 f"missing text {missing}, errors shown {errors})")
            time.sleep(0.01)

    def path_and_params(self) -> tuple[str, dict]:
        url = urlsplit(self.d.current_url)
        return url.path.strip("/"), {k: v[-1] for k, v in parse_qs(url.query).items()}

    def url(self, path: str, params: Optional[dict] = None) -> str:
        return f"{self.base}/{path}" + (f"?{urlencode(params)}" if params else "")

    # -- actions (each returns the perf_counter value of the user's action) --
    def open(self, path: str, params: Optional[dict] = None) -> float:
        t0 = time.perf_counter()
        self.d.get(self.url(path, params))
        return t0

    def sidebar(self, url_path: str) -> float:
        from selenium.webdriver.common.by import By

        links = [a for a in self.d.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a')
                 if urlsplit(a.get_attribute("href") or "").path.strip("/") == url_path]
        if not links:
            raise StepFailed(f"no sidebar link to /{url_path}")
        t0 = time.perf_counter()
        links[0].click()
        return t0

    def widget(self, testid: str, label: str):
        """The displayed widget of that kind whose label starts with `label`."""
        from selenium.webdriver.common.by import By

        for el in self.d.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]'):
            if not el.is_displayed():
                continue
            labels = el.find_elements(By.CSS_SELECTOR, '[data-testid="stWidgetLabel"]')
            if labels and norm(labels[0].text).strip().startswith(label):
                return el
        raise StepFailed(f"no displayed {testid} labelled {label!r}")

    def choose(self, testid: str, label: str, option: str) -> float:
        """Pick `option` in a selectbox or multiselect (react-aria combobox): type to filter, click it."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support.ui import WebDriverWait

        field = self.widget(testid, label).find_element(By.CSS_SELECTOR, 'input[role="combobox"]')
        # A field at the bottom edge of the page (Qualité's "Anomalie") is scrolled into view by the
        # first key typed, and the open list closes on that scroll: bring it to the middle first.
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
        field.click()
        field.send_keys(Keys.CONTROL, "a")
        # Type what precedes any figure (typed spaces would not match the no-break ones of "23 093").
        field.send_keys((re.split(r"[(\d]", option)[0].strip() or option)[:40])

        def find(_):
            for li in self.d.find_elements(By.CSS_SELECTOR, '[role="option"]'):
                if norm(li.text).strip() == option:
                    return li
            return None

        try:
            item = WebDriverWait(self.d, 10, poll_frequency=0.05).until(find)
        except Exception:
            shown = [norm(li.text) for li in self.d.find_elements(By.CSS_SELECTOR, '[role="option"]')][:10]
            raise StepFailed(f"option {option!r} not offered in {label!r} (offered: {shown})") from None
        t0 = time.perf_counter()
        item.click()
        return t0

    def type_enter(self, label: str, text: str) -> float:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        box = self.widget("stTextInput", label).find_element(By.CSS_SELECTOR, "input")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        box.send_keys(text)
        t0 = time.perf_counter()
        box.send_keys(Keys.ENTER)
        return t0

    def toggle(self, label: str) -> float:
        from selenium.webdriver.common.by import By

        target = self.widget("stCheckbox", label).find_element(By.CSS_SELECTOR, "label")
        t0 = time.perf_counter()
        target.click()
        return t0

    def step_up(self, label: str) -> float:
        from selenium.webdriver.common.by import By

        button = self.widget("stNumberInput", label).find_element(
            By.CSS_SELECTOR, '[data-testid="stNumberInputStepUp"]')
        t0 = time.perf_counter()
        button.click()
        return t0

    def button(self, text: str) -> float:
        from selenium.webdriver.common.by import By

        for el in self.d.find_elements(By.CSS_SELECTOR, '[data-testid="stButton"] button'):
            if el.is_displayed() and text in el.text:
                t0 = time.perf_counter()
                el.click()
                return t0
        raise StepFailed(f"no button {text!r}")

    def escape(self) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys

        self.d.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


# -- the steps ---------------------------------------------------------------------------------


@dataclass
class Step:
    name: str
    page: str
    action: Callable[[App], float]  # performs the user action, returns its time
    markers: list[str]
    # Where the action starts from: (url path, query params); reloaded (untimed) when the browser
    # is elsewhere. None: from any page of the app (sidebar links) or nowhere (a URL is opened).
    start: Optional[tuple[str, dict]] = None
    prepare: Optional[Callable[[App], None]] = None  # untimed, after reaching `start`
    after: Optional[Callable[[App], None]] = None  # untimed, once done
    info: bool = False  # shown for information, outside the one-second target
    in_app: bool = False  # needs some page of the app displayed (a sidebar link is clicked)
    tolerated: tuple = ()  # error texts expected on this step, not reported
    always: bool = False  # run even when --only leaves the step out (server start, baseline)


def steps(p: dict) -> list[Step]:
    s: list[Step] = []
    add = s.append
    # A deep link as a server's first session shows Streamlit's English "Page not found" dialog
    # (tests/browser: known, xfail); "/" is not used here, it would put the overview in the cache.
    add(Step("server start: first session (Méthode, URL)", "Méthode", lambda a: a.open("methode"),
             ["L'obligation"], info=True, tolerated=("Page not found",), always=True))
    # What opening any URL costs (page, scripts, websocket), with no query to run.
    add(Step("open (URL), baseline of a URL load", "Méthode", lambda a: a.open("methode"), ["L'obligation"],
             info=True, always=True))
    overview = ["Les acheteurs qui publient le plus en retard", "Tous les acheteurs, filtrables"]
    add(Step("open (sidebar)", "Vue d'ensemble", lambda a: a.sidebar(""), overview, in_app=True))
    if p.get("platform"):
        add(Step(f"platform filter ({p['platform']})", "Vue d'ensemble",
                 lambda a: a.choose("stSelectbox", "Plateforme", p["platform"]), [p["platform_marker"]], start=("", {})))
    add(Step("open (URL /), queries cached: browser and page building", "Vue d'ensemble", lambda a: a.open(""),
             overview, info=True))
    add(Step("open (sidebar)", "Acheteurs", lambda a: a.sidebar("acheteurs"), ["Trier par", p["buyers_all"]], in_app=True))
    if p.get("name_query"):
        add(Step(f"search a name ({p['name_query']!r})", "Acheteurs",
                 lambda a: a.type_enter("Nom ou SIRET", p["name_query"]), [p["name_marker"]], start=("acheteurs", {})))
    add(Step("search a SIRET", "Acheteurs", lambda a: a.type_enter("Nom ou SIRET", p["siret_query"]),
             [p["siret_marker"]], start=("acheteurs", {"q": p["name_query"]} if p.get("name_query") else {})))
    add(Step(f"verdict filter ({p['verdict_label']})", "Acheteurs",
             lambda a: a.choose("stMultiSelect", "Verdict", p["verdict_label"]), [p["verdict_marker"]],
             start=("acheteurs", {}), after=lambda a: a.escape()))
    if p.get("verdict_page2"):
        add(Step("next page", "Acheteurs", lambda a: a.step_up("Page (sur"), [p["verdict_page2"]],
                 start=("acheteurs", {"verdict": p["verdict"]})))
    add(Step(f"deep link, largest buyer ({p['large_contracts']} contracts)", "Acheteur",
             lambda a: a.open("acheteur", {"siret": p["large"]}), p["large_markers"]))
    if p.get("status"):
        add(Step(f"status filter ({p['status_option']})", "Acheteur",
                 lambda a: a.choose("stSelectbox", "Statut", p["status_option"]), [p["status_marker"]],
                 start=("acheteur", {"siret": p["large"]})))
    add(Step("deep link, largest buyer again (queries cached: browser and page building)", "Acheteur",
             lambda a: a.open("acheteur", {"siret": p["large"]}), p["large_markers"], info=True))
    add(Step(f"deep link, small buyer ({p['small_contracts']} contracts)", "Acheteur",
             lambda a: a.open("acheteur", {"siret": p["small"]}), p["small_markers"]))
    add(Step("open (sidebar)", "Contrats", lambda a: a.sidebar("contrats"), ["Trier par", p["contracts_all"]],
             in_app=True))
    add(Step("combined filter (URL: buyer, holder, CPV, amount range, département, period, status)", "Contrats",
             lambda a: a.open("contrats", p["contracts_params"]), [p["contracts_marker"]]))
    add(Step("combined filter, the seventh typed in the page (buyer + Enter; six others in the URL)", "Contrats",
             lambda a: a.type_enter("Acheteur (SIRET ou nom)", p["contracts_filter"].buyer), [p["contracts_marker"]],
             start=("contrats", {k: v for k, v in p["contracts_params"].items() if k != "acheteur"})))
    add(Step("combined filter (URL) again, queries cached: the browser's and page building's share", "Contrats",
             lambda a: a.open("contrats", p["contracts_params"]), [p["contracts_marker"]], info=True))
    if p.get("contracts_page2"):
        add(Step("combined filter, next page", "Contrats", lambda a: a.step_up("Page (sur"),
                 [p["contracts_page2"]], start=("contrats", p["contracts_params"])))
    add(Step("open (sidebar)", "Jeux de données", lambda a: a.sidebar("jeux-de-donnees"),
             ["Contrôle en échec", p["datasets_all"]], in_app=True))
    if p.get("check"):
        add(Step(f"failing-check filter ({p['check_label']})", "Jeux de données",
                 lambda a: a.choose("stSelectbox", "Contrôle en échec", p["check_label"]), [p["check_marker"]],
                 start=("jeux-de-donnees", {})))
    add(Step("open (sidebar)", "Déclarations", lambda a: a.sidebar("declarations"),
             ["Seulement les acheteurs jamais publiés", p["declarations_all"]] if p["declarations"]
             else ["Aucune déclaration chargée"], in_app=True))
    if p["declarations"]:
        add(Step("« never published » toggle", "Déclarations",
                 lambda a: a.toggle("Seulement les acheteurs jamais publiés"), [p["declarations_never"]],
                 start=("declarations", {})))
    add(Step("open (sidebar)", "Qualité", lambda a: a.sidebar("qualite"),
             ["Codes distincts", p["findings_all"]] if p["findings"] else ["Aucune anomalie"],
             in_app=True))
    if p.get("code"):
        add(Step(f"code filter ({p['code']})", "Qualité",
                 lambda a: a.choose("stSelectbox", "Anomalie", p["code_option"]), [p["code_marker"]],
                 start=("qualite", {})))
    add(Step("open (sidebar)", "Méthode", lambda a: a.sidebar("methode"), ["L'obligation"], in_app=True))
    add(Step("open (sidebar)", "Console SQL", lambda a: a.sidebar("console"), ["Requêtes d'exemple", "Exécuter"], in_app=True))

    def pick_example(a: App) -> None:  # its on_change copies the SQL into the text area (a rerun)
        a.wait_done(a.choose("stSelectbox", "Requêtes d'exemple", p["example"]), [], must_see_run=True)

    add(Step(f"run an example query ({p['example']})", "Console SQL", lambda a: a.button("Exécuter"),
             [p["example_marker"]], start=("console", {}), prepare=pick_example))
    return s


def run_step(app: App, step: Step, dirty: bool) -> tuple[float, list[str]]:
    if step.start is not None:
        path, params = step.start
        if dirty or app.path_and_params() != (path, {k: str(v) for k, v in params.items()}):
            t0 = app.open(path, params)
            app.wait_done(t0, [])
    elif step.in_app:
        if dirty or not app.d.current_url.startswith(app.base):
            app.wait_done(app.open("methode"), [])
    if step.prepare:
        step.prepare(app)
    already = app.poll(step.markers)[2] if app.d.current_url.startswith(app.base) else False
    t0 = step.action(app)
    elapsed, errors = app.wait_done(t0, step.markers, must_see_run=already)
    if step.after:
        step.after(app)
    return elapsed, [e for e in errors if e not in step.tolerated]


def run_round(driver, base: str, plan_: dict, only: Optional[str], results: dict, number: int) -> None:
    app = App(driver, base)
    dirty = True
    for step in steps(plan_):
        key = f"{step.page} — {step.name}"
        if only and only.lower() not in key.lower() and not step.always:
            continue
        entry = results.setdefault(key, {"page": step.page, "step": step.name, "info": step.info,
                                         "seconds": [], "errors": []})
        try:
            elapsed, shown_errors = run_step(app, step, dirty)
            entry["seconds"].append(elapsed)
            if shown_errors:
                entry["errors"].append(f"round {number}: page shows {shown_errors}")
            dirty = False
            print(f"  [{number}] {key}: {elapsed:.2f} s" + (f"  (page shows {shown_errors})" if shown_errors else ""),
                  file=sys.stderr, flush=True)
        except Exception as exc:
            message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            entry["errors"].append(f"round {number}: {message}")
            dirty = True
            print(f"  [{number}] {key}: FAILED {message}", file=sys.stderr, flush=True)


# -- the queries behind the steps, timed directly -----------------------------------------------


def page_queries(p: dict) -> list[tuple[str, str, str, tuple, dict]]:
    """(page, step, queries function, args, kwargs): what each step asks decp_monitor.read.queries,
    with the arguments the pages pass (pages/*.py, decp_monitor/ui/buyer_view.py)."""
    from decp_monitor.read.queries import BuyerFilter

    out = []

    def add(page, step, name, *args, **kwargs):
        out.append((page, step, name, args, kwargs))

    every = "every page"
    add(every, "open", "meta")
    add(every, "open", "has_compliance")
    ov = "Vue d'ensemble"
    for name, kw in (("overview_headline", {}), ("platforms", {}), ("monthly", {"platform": None}),
                     ("delay_histogram", {"platform": None}), ("verdicts_by_platform", {}),
                     ("worst_buyers", {"limit": 20, "platform": None})):
        add(ov, "open", name, **kw)
    if p.get("platform"):
        for name, kw in (("monthly", {}), ("delay_histogram", {}), ("worst_buyers", {"limit": 20})):
            add(ov, "platform filter", name, platform=p["platform"], **kw)
    bu = "Acheteurs"
    page = {"order": "severity", "limit": 100, "offset": 0}
    add(bu, "open", "verdict_labels")
    add(bu, "open", "buyers", BuyerFilter(), **page)
    if p.get("name_query"):
        add(bu, "search a name", "buyers", BuyerFilter(text=p["name_query"]), **page)
    add(bu, "search a SIRET", "buyers", BuyerFilter(text=p["siret_query"]), **page)
    add(bu, "verdict filter", "buyers", BuyerFilter(verdicts=(p["verdict"],)), **page)
    add(bu, "next page", "buyers", BuyerFilter(verdicts=(p["verdict"],)), **{**page, "offset": 100})
    b = "Acheteur"
    for key in ("large", "small"):
        siret = p[key]
        step = f"deep link, {key} buyer"
        add(b, step, "buyer", siret)
        add(b, step, "buyer_status_counts", siret)
        add(b, step, "status_labels")
        add(b, step, "buyer_contracts", siret, status=None, window_only=True, limit=100, offset=0)
        add(b, step, "buyer_timeline", siret, limit=40)
        add(b, step, "buyer_declarations", siret)
        add(b, step, "buyer_datasets", siret)
        add(b, step, "buyer_checks", siret)
        add(b, step, "buyer_resources", siret)
        add(b, step, "buyer_modifications", siret)
        add(b, step, "buyer_findings", siret)
    if p.get("status"):
        add(b, "status filter", "buyer_contracts", p["large"], status=p["status"], window_only=True,
            limit=100, offset=0)
    from decp_monitor.read.queries import ContractFilter

    co = "Contrats"
    add(co, "open", "contract_facets")
    add(co, "open", "contracts_search", ContractFilter(), order="recent", limit=100, offset=0)
    add(co, "combined filter", "contracts_search", p["contracts_filter"], order="recent", limit=100, offset=0)
    add(co, "combined filter, sorted by amount", "contracts_search", p["contracts_filter"], order="amount",
        limit=100, offset=0)
    add(co, "combined filter, next page", "contracts_search", p["contracts_filter"], order="recent", limit=100,
        offset=100)
    ds = "Jeux de données"
    add(ds, "open", "checks_summary")
    add(ds, "open", "datasets", failing_check=None, text="", limit=100, offset=0)
    add(ds, "open", "resources", failing_check=None, limit=100, offset=0)
    if p.get("check"):
        add(ds, "failing-check filter", "datasets", failing_check=p["check"], text="", limit=100, offset=0)
    de = "Déclarations"
    add(de, "open", "declarations_summary")
    add(de, "open", "declarations", only_never_published=False, text="", limit=100, offset=0)
    add(de, "never-published toggle", "declarations", only_never_published=True, text="", limit=100, offset=0)
    qu = "Qualité"
    add(qu, "open", "findings_by_code")
    add(qu, "open", "findings_list", code=None, severity=None, file=None, limit=100, offset=0)
    add(qu, "open", "findings_by_file", code=None)
    add(qu, "open", "findings_by_buyer", code=None)
    add(qu, "open", "failed_files")
    if p.get("code"):
        add(qu, "code filter", "findings_list", code=p["code"], severity=None, file=None, limit=100, offset=0)
        add(qu, "code filter", "findings_by_file", code=p["code"])
        add(qu, "code filter", "findings_by_buyer", code=p["code"])
    add("Méthode", "open", "refreshes")
    return out


def time_queries(data_dir: Path, p: dict, repeat: int) -> list[dict]:
    """Each query of page_queries on one read-only connection, as the dashboard's cache misses:
    the first call, then the median of `repeat` more (DuckDB's own caches warm)."""
    import duckdb

    from decp_monitor.read import console, queries

    con = duckdb.connect(p["version"], read_only=True)
    rows = []
    try:
        for page, step, name, args, kwargs in page_queries(p):
            fn = getattr(queries, name)
            times = []
            for _ in range(repeat + 1):
                t0 = time.perf_counter()
                fn(con.cursor(), *args, **kwargs)
                times.append(time.perf_counter() - t0)
            rows.append({"page": page, "step": step, "query": name, "first": times[0],
                         "median": statistics.median(times[1:] or times)})
        times = []
        for _ in range(repeat + 1):
            t0 = time.perf_counter()
            result = console.run_query(console.EXAMPLE_QUERIES[p["example"]], p["version"])
            times.append(time.perf_counter() - t0)
        rows.append({"page": "Console SQL", "step": "run an example query", "query": "console.run_query",
                     "first": times[0], "median": statistics.median(times[1:]), "ok": result.ok})
    finally:
        con.close()
    return rows


def time_scripts(data_dir: Path, p: dict) -> list[dict]:
    """The pages' script runs without a browser (streamlit.testing AppTest): the server's share of a
    page display. First run (queries not cached), then a rerun (cached)."""
    os.environ["DECP_DATA_DIR"] = str(data_dir)
    os.environ["DECP_AUTO_DEMO"] = "0"
    os.chdir(REPO)
    from streamlit.testing.v1 import AppTest

    quiet_streamlit()
    import importlib

    for module in ("decp_monitor.dashboard.buyer_view", "decp_monitor.dashboard.charts"):  # imports paid outside the timings
        importlib.import_module(module)

    rows = []
    # app.py's first run shows the default page, the overview: timed as is; the others are switched
    # to after that first run (the overview's queries then come from the cache, not theirs).
    for page, params in ((page_path("overview"), {}), (page_path("buyers"), {}), (page_path("buyer"), {"siret": p["large"]}),
                         (page_path("buyer"), {"siret": p["small"]}), (page_path("contracts"), {}),
                         (page_path("contracts"), p["contracts_params"]), (page_path("datasets"), {}),
                         (page_path("declarations"), {}), (page_path("quality"), {}), (page_path("method"), {}),
                         (page_path("console"), {})):
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=STEP_TIMEOUT_S)
        if page != page_path("overview"):
            at.run()
            at.switch_page(page)
        for key, value in params.items():
            at.query_params[key] = value
        t0 = time.perf_counter()
        at.run()
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        at.run()
        rerun = time.perf_counter() - t0
        rows.append({"page": page, "params": params, "first": first, "rerun": rerun,
                     "exception": [e.value for e in at.exception]})
    return rows


def queries_markdown(rows: list[dict]) -> str:
    lines = ["| Page | Step | Query | First call (ms) | Then, median (ms) |", "|---|---|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['page']} | {r['step']} | `{r['query']}` | {r['first'] * 1000:.0f} | {r['median'] * 1000:.0f} |")
    return "\n".join(lines)


# -- report ------------------------------------------------------------------------------------


def fmt(seconds: float) -> str:
    return f"{seconds:.2f}".replace(".", ",")


def markdown(report: dict) -> str:
    m = report["machine"]
    p = report["plan"]
    counts = p.get("counts", {})
    lines = [
        f"Dashboard response times — {report['started_at']} → {report['finished_at']}, "
        f"{report['rounds']} rounds ({'one server for all rounds: rounds 2+ are cached' if report['reuse_server'] else 'a fresh server each round: Streamlit cache empty at the start of each round'}).",
        "",
        f"- Database: `{p['version']}` ({p['db_mb']} MB): "
        + ", ".join(f"{k} {v:,}".replace(",", " ") for k, v in counts.items()
                    if k in ("records", "contracts", "contract_compliance", "buyer_compliance", "datasets",
                             "resources", "declarations", "findings")),
        f"- Machine: {m['nproc']} CPU ({m['cpu']}), {m['ram_gb']} GB RAM; Python {m['python']}, "
        f"Streamlit {m['streamlit']}, DuckDB {m['duckdb']}, pandas {m['pandas']}, {m['chromium']}",
        f"- Load average (1, 5, 15 min): {report['load_before']} before, {report['load_after']} after",
        "- Time: from the user action to the app idle again (stApp script state `notRunning`) with the "
        "expected text shown; median and max over the rounds. Pages are first opened from the sidebar "
        "(in-app navigation), buyer pages by their URL (a deep link, which reloads the whole app). "
        "`info` rows are not interactions: the server's first session, and repeats with the queries "
        "cached that show the browser's and the page building's share.",
        "",
        "| Page | Step | Median (s) | Max (s) | Each round (s) | Under 1 s |",
        "|---|---|---:|---:|---|:-:|",
    ]
    for entry in report["steps"].values():
        sec = entry["seconds"]
        if sec:
            verdict = "info" if entry["info"] else ("yes" if max(sec) < TARGET_S else "**no**")
            row = [entry["page"], entry["step"], fmt(statistics.median(sec)), fmt(max(sec)),
                   " / ".join(fmt(x) for x in sec), verdict]
        else:
            row = [entry["page"], entry["step"], "–", "–", "failed", "?"]
        if entry["errors"]:
            row[1] += " ⚠"
        lines.append("| " + " | ".join(row) + " |")
    problems = [(k, e) for k, e in report["steps"].items() if e["errors"]]
    if problems:
        lines += ["", "⚠ Errors:"]
        for key, entry in problems:
            for err in entry["errors"]:
                lines.append(f"- {key}: {err}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="a decp-monitor data directory (with a published version)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--only", help="only the steps whose page or name contains this text")
    parser.add_argument("--reuse-server", action="store_true",
                        help="one server for every round (rounds 2+ then hit Streamlit's cache)")
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--queries", action="store_true",
                        help="instead of the browser, time the queries each step runs (decp_monitor.read.queries "
                             "called directly, no Streamlit cache): where a slow step's time goes")
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    if args.queries:
        plan_ = plan(data_dir)
        print(f"Queries behind the dashboard's steps — `{plan_['version']}`, load average {os.getloadavg()}; "
              f"first call, then median of {args.repeat}.\n")
        print(queries_markdown(time_queries(data_dir, plan_, args.repeat)))
        print("\nScript runs without a browser (AppTest; queries cached across pages once run):\n")
        print("| Script | Parameters | First run (ms) | Rerun, cached (ms) |\n|---|---|---:|---:|")
        for r in time_scripts(data_dir, plan_):
            print(f"| {r['page']} | {r['params'] or ''} | {r['first'] * 1000:.0f} | {r['rerun'] * 1000:.0f} |"
                  + (f" exception: {r['exception']}" if r["exception"] else ""))
        return 0

    started = dt.datetime.now(dt.UTC)
    machine = machine_info()
    print(f"[dashboard] machine: {machine}", file=sys.stderr, flush=True)
    plan_ = plan(data_dir)
    print(f"[dashboard] plan: {json.dumps(plan_, ensure_ascii=False, default=str)}", file=sys.stderr, flush=True)
    report = {"started_at": started.isoformat(timespec="seconds"), "machine": machine, "plan": plan_,
              "rounds": args.repeat, "reuse_server": args.reuse_server,
              "load_before": [round(x, 2) for x in os.getloadavg()], "steps": {}}
    logs = Path(tempfile.mkdtemp(prefix="decp-dashboard-bench-"))
    driver = chrome()
    try:
        with contextlib.ExitStack() as shared:
            base = shared.enter_context(serve(data_dir, logs / "streamlit.log")) if args.reuse_server else None
            for number in range(1, args.repeat + 1):
                print(f"[dashboard] round {number}/{args.repeat}", file=sys.stderr, flush=True)
                with contextlib.ExitStack() as own:
                    url = base or own.enter_context(serve(data_dir, logs / f"streamlit-{number}.log"))
                    run_round(driver, url, plan_, args.only, report["steps"], number)
    finally:
        driver.quit()
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    report["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["server_logs"] = str(logs)
    text = markdown(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return 0 if all(e["seconds"] and not e["errors"] for e in report["steps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
