"""Run decp-monitor in a child process and measure it: wall time and the child's own peak RSS.

Hostile inputs are judged by what they cost the process that reads them (its VmHWM at exit, which
exec resets; ru_maxrss from os.wait4 only when it was killed, an upper bound that keeps the forking
test process's size), not by the test process. Each measure is appended to
test-artifacts/reliability/hostile.jsonl, the source of the figures in docs/RELIABILITY.md (« Entrées hostiles », « Serveurs hostiles »).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "reliability"
RSS_LIMIT_MB = 1024


# Runs `python -m <module>` and writes its own peak RSS (VmHWM, in kB) at exit to $DECP_TEST_PEAK_FILE.
_RUN_AND_REPORT_PEAK = """
import atexit, os, runpy, sys
def report():
    with open("/proc/self/status") as status, open(os.environ["DECP_TEST_PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM")).split()[1])
atexit.register(report)
module, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


@dataclass
class Measured:
    name: str
    returncode: int
    seconds: float
    peak_mb: float
    stdout: str
    stderr: str


def run_measured(name: str, args: list[str], timeout: float, env: dict | None = None,
                 module: str = "decp_monitor") -> Measured:
    """`python -m <module> *args` from this worktree; killed (and failed) after `timeout` s."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out_path, err_path = ARTIFACTS / f"{name}.out", ARTIFACTS / f"{name}.err"
    peak_path = ARTIFACTS / f"{name}.peak"
    peak_path.unlink(missing_ok=True)
    child_env = dict(os.environ, PYTHONPATH=str(REPO), DECP_TEST_PEAK_FILE=str(peak_path), **(env or {}))
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", _RUN_AND_REPORT_PEAK, module, *args], stdout=out, stderr=err,
                                cwd=REPO, env=child_env)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
    peak_mb = int(peak_path.read_text()) / 1024 if peak_path.exists() else usage.ru_maxrss / 1024
    measured = Measured(name, proc.returncode, seconds, peak_mb,
                        out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))
    with open(ARTIFACTS / "hostile.jsonl", "a", encoding="utf-8") as log:
        record = {k: v for k, v in asdict(measured).items() if k not in ("stdout", "stderr")}
        log.write(json.dumps(dict(record, killed=seconds >= timeout)) + "\n")
    return measured
