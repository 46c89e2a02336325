"""The long-running digest scheduler behind ``paperfeed worker``: one :func:`send_digests` pass every
``interval`` seconds until ``stop`` is set (the CLI sets it on SIGTERM / Ctrl-C) or ``max_cycles`` ran.
A pass that raises is reported and the loop goes on: the ledger keeps every pass safe to repeat."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest.send import send_digests
from paperfeed.search.protocols import Searcher


def run_worker(
    *,
    engine: Engine,
    settings: Settings,
    searcher: Searcher | None,
    interval: float,
    stop: threading.Event,
    say: Callable[[str], None],
    max_cycles: int | None = None,
    skew: timedelta = timedelta(0),
) -> int:
    """Run passes until stopped; returns how many ran. ``skew`` shifts the clock (``--now``)."""
    cycles = 0
    while not stop.is_set():
        run_cycle(
            engine=engine,
            settings=settings,
            searcher=searcher,
            moment=datetime.now(UTC) + skew,
            stop=stop,
            say=say,
            verbose=max_cycles is not None,
        )
        cycles += 1
        if max_cycles is not None and cycles >= max_cycles:
            break
        stop.wait(interval)
    return cycles


def run_cycle(
    *,
    engine: Engine,
    settings: Settings,
    searcher: Searcher | None,
    moment: datetime,
    stop: threading.Event,
    say: Callable[[str], None],
    verbose: bool,
) -> None:
    """One pass; a failure is reported and swallowed. A pass that did nothing is only reported when
    ``verbose`` (bounded runs)."""
    try:
        report = send_digests(engine=engine, settings=settings, searcher=searcher, now=moment, should_stop=stop.is_set)
    except Exception as exc:  # noqa: BLE001 - keep the scheduler alive
        say(f"worker: run failed: {exc}")
        return
    if verbose or report.sent or report.failed or report.uncertain or report.exhausted:
        say(f"worker {report.now}: {report.summary()}")
