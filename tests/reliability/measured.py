"""Run decp-monitor in a child process and measure it: wall time and the child's own peak RSS.

Hostile inputs are judged by what they cost the process that reads them (ru_maxrss of that one
child, from os.wait4), not by the test process. Each measure is appended to
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
    child_env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", module, *args], stdout=out, stderr=err, cwd=REPO,
                                env=child_env)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
    measured = Measured(name, proc.returncode, seconds, usage.ru_maxrss / 1024,
                        out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))
    with open(ARTIFACTS / "hostile.jsonl", "a", encoding="utf-8") as log:
        record = {k: v for k, v in asdict(measured).items() if k not in ("stdout", "stderr")}
        log.write(json.dumps(dict(record, killed=seconds >= timeout)) + "\n")
    return measured
