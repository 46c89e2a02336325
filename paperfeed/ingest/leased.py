"""What the background jobs of web workers share: a named lease that exactly one worker holds
(:mod:`paperfeed.store.leases`), a loop of steps whose thread never dies, and log lines that reach stderr.

The arXiv follower (:mod:`paperfeed.ingest.follow`) and the demo enrichment (:mod:`paperfeed.ingest.demo_enrich`)
run in every web worker; each holds its own lease through a :class:`HeldLease` and runs :func:`run_steps`.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable

from sqlalchemy import Engine

from paperfeed.store.leases import release_lease, take_lease


class LeaseLost(RuntimeError):
    """Another worker holds the lease now (this one stalled past its expiry), or this one is stopping."""


def visible(logger: logging.Logger) -> None:
    """Make a background job's few lines reach stderr where no logging is configured (uvicorn sets up only
    its own loggers)."""
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class HeldLease:
    """This worker's hold on the lease ``name``: take or renew it, hand it back. ``what`` names the job in
    log lines."""

    def __init__(self, *, engine: Engine, name: str, ttl: float, logger: logging.Logger, what: str) -> None:
        self.engine, self.name, self.ttl, self.log, self.what = engine, name, ttl, logger, what
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.holding = False

    def take(self) -> bool:
        """Take or renew the lease; False when another worker holds it or the database cannot be reached."""
        try:
            with self.engine.begin() as conn:
                held = take_lease(conn=conn, name=self.name, holder=self.holder, ttl=self.ttl)
        except Exception as exc:  # noqa: BLE001 - the database is briefly unreachable: not the holder now
            self.log.warning("%s: cannot reach the database for the lease: %s", self.what, exc)
            held = False
        if self.holding and not held:
            self.log.warning("%s: lease lost to another worker; %s stops", self.what, self.holder)
        self.holding = held
        return held

    def release(self) -> None:
        """Hand the lease back (when held), so another worker can take over at once."""
        if not self.holding:
            return
        try:
            with self.engine.begin() as conn:
                release_lease(conn=conn, name=self.name, holder=self.holder)
        except Exception:  # noqa: BLE001 - it expires by itself
            pass
        self.holding = False


def run_steps(
    stop: threading.Event, step: Callable[[], float], *, logger: logging.Logger, what: str, retry: float
) -> None:
    """Call ``step`` until ``stop`` is set, waiting the seconds it returns between calls (negative: done for
    good). An unexpected error is logged and the step tried again after ``retry`` seconds."""
    delay = 0.0
    while not stop.wait(delay):
        try:
            delay = step()
        except Exception:  # noqa: BLE001 - never let the thread die: log, wait, try again
            logger.exception("%s: unexpected error", what)
            delay = retry
        if delay < 0:
            return
