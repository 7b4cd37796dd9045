"""Progress lines for long CLI commands: a bar on a terminal, a few plain lines otherwise.

Each line says what is done, what remains and, once there is a rate to go by, about how long it
will take (the average rate since the phase started: tens of thousands of small files make it
steady enough).
"""
from __future__ import annotations

import sys
import time
from typing import Optional


def fr_duration(seconds: float) -> str:
    """A duration as a French reader expects it: 45 s, 3 min 20 s, 1 h 05 min."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def remaining_text(done: int, total: int, elapsed: float) -> str:
    """'reste 120 sur 1 000, environ 2 min 05 s' (no estimate before anything is done)."""
    left = max(0, total - done)
    if left == 0:
        return f"terminé en {fr_duration(elapsed)}"
    text = f"reste {left} sur {total}"
    if done > 0 and elapsed > 0:
        text += f", environ {fr_duration(elapsed / done * left)}"
    return text


class Progress:
    def __init__(self, label: str, stream=None, min_interval: float = 0.2, clock=time.monotonic):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval = min_interval
        self._clock = clock
        self._started: Optional[float] = None
        self._last = 0.0
        self._last_decile = -1

    def __call__(self, done: int, total: int, detail: object = "") -> None:
        now = self._clock()
        if self._started is None:
            self._started = now
        elapsed = now - self._started
        finished = total and done >= total
        if self.tty:
            if not finished and now - self._last < self.min_interval:
                return
            self._last = now
            width = 30
            filled = int(width * done / total) if total else 0
            name = str(detail)[-40:]
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                              f"({remaining_text(done, total, elapsed)}) {name:<40}")
            if finished:
                self.stream.write("\n")
            self.stream.flush()
        else:
            decile = int(10 * done / total) if total else 10
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(f"{self.label} : {done}/{total} ({remaining_text(done, total, elapsed)})\n")
                self.stream.flush()
