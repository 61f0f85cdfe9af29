"""One status line on a terminal, redrawn in place (the progress bars of import and gc)."""

from __future__ import annotations

import sys
from typing import IO


class TerminalLine:
    """Draws a line over the previous one (padding what a longer one left behind)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._width = 0

    def draw(self, line: str) -> None:
        pad = max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        if self._width:
            self.stream.write("\n")
            self.stream.flush()


def progress_stream(quiet: bool, stream: IO[str] | None = None) -> IO[str] | None:
    """Where a progress bar is drawn: *stream* (default stderr), unless *quiet* or it is not a
    terminal (a log file or a pipe gets the summary only)."""
    out = stream if stream is not None else sys.stderr
    return None if quiet or not out.isatty() else out


def bar(done: float, total: float) -> str:
    """``[#####...............]  25.0%``"""
    pct = 100.0 * min(done, total) / total if total else 100.0
    filled = int(pct / 5)
    return f"[{'#' * filled}{'.' * (20 - filled)}] {pct:5.1f}%"


def human(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:.0f}"


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
