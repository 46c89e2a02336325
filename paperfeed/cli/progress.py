"""Progress of long index builds on stderr, with rate and time left.

On a terminal: one Rich bar per stage (lexical, dense) with papers done, papers/s and ETA. Elsewhere (a log
file, a service manager, a pipe): a plain line per stage every ``LINE_EVERY`` seconds and when it ends, e.g.
``dense: 1,240 of 5,183 papers (24%), 96.3 papers/s, about 41s left``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from paperfeed.search.sync import Progress as RefreshProgress

LINE_EVERY = 10.0  # seconds between plain progress lines


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class _Stage:
    """Rate and time left of one stage, measured from when it ``started`` (the previous stage's last report,
    or the reporter's start): a stage reports after each batch, so its first report already holds work."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.printed = self.reported = time.monotonic()

    def line(self, name: str, done: int, total: int | None) -> str:
        elapsed = max(self.reported - self.started, 1e-9)
        rate = done / elapsed
        text = f"{name}: {done:,}" + (f" of {total:,} papers ({done / total:.0%})" if total else " papers")
        text += f", {rate:.1f} papers/s"
        if total and done < total:
            text += f", about {_duration((total - done) / rate)} left" if rate > 0 else ", time left unknown"
        elif total:
            text += f", done in {_duration(elapsed)}"
        return text


@contextmanager
def progress_reporter(console: Console, *, lines: bool = True) -> Iterator[RefreshProgress]:
    """A ``(stage, done, total)`` callback drawing bars on a terminal, plain lines on stderr otherwise
    (none with ``lines=False``: a query-time refresh, whose output is the answer)."""
    if console.is_terminal:
        columns = [
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=console, transient=False) as bars:
            tasks: dict[str, Any] = {}

            def draw(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bars.add_task(stage, total=total, rate="")
                speed = bars.tasks[tasks[stage]].speed
                rate = f"{speed:.1f} papers/s" if speed else ""
                bars.update(tasks[stage], completed=done, total=total, rate=rate)

            yield draw
        return
    if not lines:
        yield lambda stage, done, total: None
        return
    stages: dict[str, _Stage] = {}
    last: dict[str, tuple[int, int | None]] = {}
    previous = [time.monotonic()]  # when the last report of any stage came

    def write(stage: str, done: int, total: int | None) -> None:
        state = stages.setdefault(stage, _Stage(previous[0]))
        last[stage] = (done, total)
        now = previous[0] = state.reported = time.monotonic()
        if now - state.printed >= LINE_EVERY and (total is None or done < total):
            state.printed = now
            print(state.line(stage, done, total), file=sys.stderr, flush=True)

    yield write
    for stage, (done, total) in last.items():
        if done:
            print(stages[stage].line(stage, done, total), file=sys.stderr, flush=True)
