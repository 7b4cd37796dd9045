"""The NaN copy in C alone (decp_monitor/parse/_jsonscan.c: sanitise), on a national-size file.

    python -m bench.sanitise /tmp/lead/bench15/size-1500000/clean.json --runs 3

The file's NaN variant (bench.run.write_nan_variant: about a quarter of the durations bare NaN) is
written to a temporary folder, then copied with each NaN written null: to /dev/null (the walk and
the copying into the buffer, no disk) and to a file beside it (with the writes). Wall and CPU time
(user + system, getrusage) per run, the best of each: on a shared machine the CPU time says more
than the wall time. The source file is only read.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.run import write_nan_variant  # noqa: E402
from decp_monitor.parse import _jsonscan  # noqa: E402


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(source: Path, target: str, runs: int) -> dict:
    walls, cpus, replaced = [], [], 0
    for _ in range(runs):
        started, cpu = time.perf_counter(), _cpu()
        replaced = _jsonscan.sanitise(str(source), target)
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
    size = source.stat().st_size
    return {"target": target if target == os.devnull else "file", "replaced": replaced,
            "best_wall_s": round(min(walls), 2), "best_cpu_s": round(min(cpus), 2),
            "mb_per_s_wall": round(size / min(walls) / 1e6), "mb_per_s_cpu": round(size / min(cpus) / 1e6)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clean", type=Path, help="a generated clean.json (bench/run.py's corpus)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sanitise-") as folder:
        source = Path(folder) / "clean-nan.json"
        print(json.dumps(write_nan_variant(args.clean, source)), flush=True)
        print(json.dumps(timed(source, os.devnull, args.runs)), flush=True)
        print(json.dumps(timed(source, str(Path(folder) / "copy.json"), args.runs)), flush=True)


if __name__ == "__main__":
    main()
