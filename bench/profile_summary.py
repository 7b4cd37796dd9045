"""Summarise a py-spy raw (collapsed stacks) profile: where the time goes.

    py-spy record -f raw -o bench/out/load.txt -- python bench/run.py --child load ...
    python bench/profile_summary.py bench/out/load.txt [--top 25] [--module decp_monitor]

Prints, for the top functions, the share of samples in which each is on the stack (inclusive)
and at the top of it (self). Line numbers are dropped so that a function counts once.
"""
from __future__ import annotations

import argparse
import re
from collections import Counter

_LINE = re.compile(r":\d+\)$")


def _function(frame: str) -> str:
    return _LINE.sub(")", frame.strip())


def summarise(path: str, top: int = 25, module: str = "") -> str:
    inclusive, self_time = Counter(), Counter()
    total = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [_function(f) for f in stack.split(";") if f]
            for name in set(frames):
                inclusive[name] += n
            if frames:
                self_time[frames[-1]] += n
    if not total:
        return "no samples"
    keep = (lambda name: module in name) if module else (lambda name: True)
    lines = [f"{total} samples", "", "inclusive  self  function"]
    for name, n in inclusive.most_common():
        if not keep(name):
            continue
        lines.append(f"{100 * n / total:8.1f}% {100 * self_time[name] / total:5.1f}%  {name}")
        if len(lines) >= top + 3:
            break
    lines += ["", "top self time"]
    for name, n in self_time.most_common(top):
        lines.append(f"{100 * n / total:8.1f}%  {name}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--module", default="")
    args = parser.parse_args()
    print(summarise(args.profile, args.top, args.module))
