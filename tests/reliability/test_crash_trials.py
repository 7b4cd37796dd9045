"""kill -9 at every phase of a build: what is served stays intact, the next build succeeds, and what
crashes leave behind is bounded (issue 14, items 1 and 2 under fire)."""
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from decp_monitor.store.versions import GRACE_SECONDS, KEEP_VERSIONS, STALE_POINTER_SECONDS, Store
from tests.reliability.conftest import CHILD_ENV, FILES, PYTHON, RECORDS_PER_FILE, report

pytestmark = pytest.mark.slow

CHILD = Path(__file__).with_name("crash_child.py")
CONTRACTS = FILES * RECORDS_PER_FILE
# Phase -> the longest random delay (s) after its announcement before the kill: roughly the phase's
# length, so that kills land anywhere inside it. "swap" is inside the pointer swap, "prune" after it.
PHASES = {"start": 0.3, "read": 1.0, "consolidate": 0.2, "compliance": 0.8, "validate": 0.05,
          "publish": 0.15, "swap": 0.005, "prune": 0.02}
ROUNDS = 2
RECOVER_EVERY = 4


def run_child(data: Path, files: Path, replace: bool, kill_at=None, delay=0.0) -> tuple[str, int]:
    """Run a build; kill it `delay` seconds after it announces `kill_at`. Returns the last line it
    printed before dying and its exit status."""
    args = [PYTHON, str(CHILD), str(data), str(files)] + (["--replace"] if replace else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=CHILD_ENV)
    guard = threading.Timer(120, proc.kill)  # a hung child must not hang the suite
    guard.start()
    last = ""
    try:
        for line in proc.stdout:
            last = line.strip()
            if kill_at is not None and last == kill_at:
                time.sleep(delay)
                proc.send_signal(signal.SIGKILL)
                for line in proc.stdout:  # what it printed before the signal landed
                    last = line.strip()
                break
        proc.wait()
    finally:
        guard.cancel()
        proc.stdout.close()
    return last, proc.returncode


def check_served(store: Store) -> str:
    """The served version opens, is complete and names itself."""
    current = store.current()
    assert current is not None, "nothing served after a crash"
    con = store.connect()
    try:
        assert con.execute("SELECT count(*) FROM contracts").fetchone()[0] == CONTRACTS
        assert con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0] == current.name
        assert con.execute("SELECT count(*) FROM buyer_compliance").fetchone()[0] == 1
    finally:
        con.close()
    return current.name


def leftovers(store: Store) -> dict[str, int]:
    return {
        "versions": len(list(store.versions_dir.glob("decp-*.duckdb"))),
        "wal": len(list(store.versions_dir.glob("*.wal"))),
        "tmp_pointers": len(list(store.root.glob(".CURRENT.*.tmp"))),
    }


def test_kill_9_at_every_phase(tmp_path, corpus):
    rng = random.Random(14)
    data = tmp_path / "data"
    store = Store(data)
    assert run_child(data, corpus, replace=True) == ("published", 0)
    served = check_served(store)
    trials = [(phase, rng.uniform(0, longest)) for _ in range(ROUNDS) for phase, longest in PHASES.items()]
    rng.shuffle(trials)
    started = time.monotonic()
    outcomes = {"killed": 0, "finished_before_kill": 0, "recovery_builds": 0}
    per_phase: dict[str, int] = {}
    worst_leftovers = 0
    for number, (phase, delay) in enumerate(trials, 1):
        last, code = run_child(data, corpus, replace=number % 2 == 0, kill_at=phase, delay=delay)
        if code == -signal.SIGKILL:
            outcomes["killed"] += 1
            per_phase[phase] = per_phase.get(phase, 0) + 1
        else:
            assert (last, code) == ("published", 0)
            outcomes["finished_before_kill"] += 1
        before = served
        served = check_served(store)
        # Killed before the swap: the old version serves; after it: the new one, complete.
        if last not in ("swap", "prune", "published"):
            assert served == before, f"killed at {last}, yet the pointer moved"
        elif last in ("prune", "published"):
            assert served != before
        worst_leftovers = max(worst_leftovers, sum(leftovers(store).values()))
        if number % RECOVER_EVERY == 0:
            assert run_child(data, corpus, replace=number % 8 == 0) == ("published", 0)
            outcomes["recovery_builds"] += 1
            served = check_served(store)
    assert run_child(data, corpus, replace=False) == ("published", 0)
    served = check_served(store)
    # An hour later, a prune leaves the served version and KEEP_VERSIONS others at most, no WAL,
    # no temporary pointer: one crash no longer means one more file for ever.
    store.prune(now=time.time() + GRACE_SECONDS + STALE_POINTER_SECONDS + 60)
    after = leftovers(store)
    assert after["versions"] <= KEEP_VERSIONS and after["wal"] == 0 and after["tmp_pointers"] == 0, after
    assert store.current().name == served
    report("crash_trials", {
        "trials": len(trials), **outcomes, "kills_per_phase": per_phase,
        "worst_leftover_files_before_prune": worst_leftovers, "leftovers_after_prune_1h": after,
        "seconds": round(time.monotonic() - started, 1),
    })


def test_damaged_current_version_then_kill_then_recover(tmp_path, corpus):
    """The served file goes bad (truncated), a build is killed, the next one still publishes."""
    data = tmp_path / "data"
    store = Store(data)
    assert run_child(data, corpus, replace=True) == ("published", 0)
    damaged = store.current().path
    with open(damaged, "r+b") as fh:
        fh.truncate(4096)
    last, code = run_child(data, corpus, replace=False, kill_at="compliance", delay=0.1)
    assert store.current().path == damaged  # nothing published by the killed build
    assert run_child(data, corpus, replace=False) == ("published", 0)
    check_served(store)
    assert "illisible" in store.read_refresh_log()[-1]["message"]
