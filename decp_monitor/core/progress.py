"""Progress lines for long CLI commands: a bar on a terminal, a few plain lines otherwise."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, stream=None, min_interval: float = 0.2):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval = min_interval
        self._last = 0.0
        self._last_decile = -1

    def __call__(self, done: int, total: int, detail: object = "") -> None:
        now = time.monotonic()
        finished = total and done >= total
        if self.tty:
            if not finished and now - self._last < self.min_interval:
                return
            self._last = now
            width = 30
            filled = int(width * done / total) if total else 0
            name = str(detail)[-40:]
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name:<40}")
            if finished:
                self.stream.write("\n")
            self.stream.flush()
        else:
            decile = int(10 * done / total) if total else 10
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label} : {done}/{total}\n")
                self.stream.flush()
