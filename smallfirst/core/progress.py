"""Progress for long commands: a rich bar on a terminal, otherwise one line per step on stderr."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any


class Steps:
    """``with Steps() as s: t = s.add("fitting", 10); s.advance(t)`` — the same calls either way.

    Not on a terminal (a pipe, a log file, CI), each task prints ``label: done/total (pct) elapsed`` about
    every 5 % and at its end, so a long run is never silent.
    """

    def __init__(self, tty: bool | None = None) -> None:
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.t0 = time.perf_counter()
        self.progress: Any = None
        self.tasks: dict[int, list[Any]] = {}  # id → [label, total, done, last printed]
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), console=Console(stderr=True))

    def add(self, label: str, total: int) -> int:
        if self.progress is not None:
            return int(self.progress.add_task(label, total=total))
        key = len(self.tasks)
        self.tasks[key] = [label, max(total, 0), 0, -1]
        return key

    def advance(self, key: int, k: int = 1) -> None:
        if self.progress is not None:
            self.progress.advance(key, k)
            return
        t = self.tasks[key]
        t[2] += k
        step = max(1, t[1] // 20)
        if t[2] >= t[1] or t[2] - t[3] >= step:
            t[3] = t[2]
            pct = f" ({100 * t[2] / t[1]:.0f}%)" if t[1] else ""
            print(f"{t[0]}: {t[2]}/{t[1]}{pct} {time.perf_counter() - self.t0:.1f} s", file=sys.stderr, flush=True)

    def __enter__(self) -> Steps:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self.progress is not None:
            self.progress.stop()
