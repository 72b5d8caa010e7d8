"""A one-line progress bar for long writes, redrawn in place on a stream (stderr).

winit  [##########..........]  50%  1.00 / 2.00 GiB  512 MB/s  0:00:02 left
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

_REDRAW_S = 0.1  # at most ten redraws a second


def _size(n: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Bytes written out of ``total``, drawn on ``stream`` as they come."""

    def __init__(self, total: int, stream: TextIO | None = None, label: str = "winit") -> None:
        self.total = total
        self.done = 0
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.started = time.perf_counter()
        self._drawn = 0.0
        self._shown = False
        self.draw()

    def update(self, nbytes: int) -> None:
        self.done += nbytes
        now = time.perf_counter()
        if now - self._drawn >= _REDRAW_S or self.done >= self.total:
            self.draw(now)

    def line(self, now: float | None = None, width: int | None = None) -> str:
        """The bar as text, ``width`` characters at most."""
        now = time.perf_counter() if now is None else now
        width = shutil.get_terminal_size((80, 20)).columns if width is None else width
        fraction = 1.0 if self.total == 0 else min(1.0, self.done / self.total)
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        tail = f"  {fraction:4.0%}  {_size(self.done)} / {_size(self.total)}"
        if self.done:
            tail += f"  {rate / 1e6:.0f} MB/s"
            left = (self.total - self.done) / rate if rate else 0.0
            tail += f"  {_clock(left)} left" if fraction < 1 else f"  {_clock(elapsed)}"
        cells = max(10, min(30, width - len(self.label) - 62))  # the tail's longest
        full = int(cells * fraction)
        return f"{self.label}  [{'#' * full}{'.' * (cells - full)}]{tail}"[: max(width - 1, 1)]

    def draw(self, now: float | None = None) -> None:
        self._drawn = time.perf_counter() if now is None else now
        self.stream.write("\r" + self.line(now) + "\x1b[K")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._shown:
            self.draw()
            self.stream.write("\n")
            self.stream.flush()
