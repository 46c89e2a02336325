"""Give the demo papers their arXiv records in the background after the first start, in exactly one worker.

The demo corpus comes from saved pages without authors, ids, categories or dates. When the store was seeded
with it (:mod:`paperfeed.ingest.demo`) and ``PAPERFEED_DEMO_ENRICH`` is on (the default), every web worker
starts a :class:`DemoEnricher` thread; only the holder of the ``demo-enrich`` lease
(:mod:`paperfeed.store.leases`, as the arXiv follower uses it) looks the papers up, by the exact-title rule
of ``paperfeed enrich`` (:func:`paperfeed.ingest.enrich.enrich_pending`), a batch at a time, renewing the
lease after each paper. The instance's index writer publishes their new ids, authors and dates within
seconds, as it does for every change to the store.

When every paper has been looked up (papers whose query the arXiv API refuses are left to ``paperfeed enrich``
and counted as failed) the work is recorded as done (``kv_state`` key ``demo-enrich:status``)
and no later start repeats it. Without a network the first lookup fails fast; one line says so, the pages
keep saying what a demo paper lacks, and the next try waits longer (``RETRY_FIRST``, doubling to
``RETRY_MAX``). With ``PAPERFEED_FOLLOW`` set the follower enriches these papers itself, so this is not started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ingest.enrich import EnrichResult, enrich_pending
from paperfeed.ingest.leased import HeldLease, LeaseLost, run_steps, visible
from paperfeed.store.papers import now_utc
from paperfeed.store.state import get_state, set_state

log = logging.getLogger("paperfeed.demo_enrich")
LEASE_NAME = "demo-enrich"
LEASE_TTL = 120.0  # seconds; renewed after every paper (arXiv asks 3 s between calls)
STATE_KEY = "demo-enrich:status"
SEEDED_KEY = "demo_seeded"  # written by paperfeed.ingest.demo when it seeds the store
BATCH = 20  # papers per round: the searcher is refreshed after each round that resolved some
RETRY_FIRST = 300.0  # seconds before trying again when arXiv was unreachable; doubled per failure
RETRY_MAX = 6 * 3600.0


def wanted(*, engine: Engine, settings: Settings) -> bool:
    """Whether this instance should enrich its demo papers: seeded with them, the setting on, not following
    (the follower does it), and not done yet."""
    if not (settings.seed_demo and settings.demo_enrich) or settings.follow:
        return False
    with engine.connect() as conn:
        seeded = get_state(conn=conn, key=SEEDED_KEY)
        status = get_state(conn=conn, key=STATE_KEY)
    return bool(seeded) and not (isinstance(status, dict) and status.get("state") == "done")


class DemoEnricher:
    """The background loop of one worker: hold the lease, look up a batch, refresh search, until done."""

    lease_ttl = LEASE_TTL
    retry_first = RETRY_FIRST

    def __init__(self, *, engine: Engine, settings: Settings, on_new: Callable[[], object] | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.on_new = on_new
        self.lease = HeldLease(engine=engine, name=LEASE_NAME, ttl=self.lease_ttl, logger=log, what="demo enrich")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    def start(self) -> None:
        visible(log)
        self._thread = threading.Thread(target=self._loop, name="paperfeed-demo-enrich", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the paper being looked up, and hand the lease back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.lease.release()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the loop to end (done, or stopped)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------ lease and state

    def _keep_going(self, _result: EnrichResult) -> None:
        if self._stop.is_set() or not self.lease.take():
            raise LeaseLost("the demo-enrich lease was lost or the server is stopping")

    def status(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            value = get_state(conn=conn, key=STATE_KEY)
        return dict(value) if isinstance(value, dict) else {}

    def _save(self, **changes: Any) -> None:
        with self.engine.begin() as conn:
            value = get_state(conn=conn, key=STATE_KEY)
            state = dict(value) if isinstance(value, dict) else {}
            state.update(changes, updated_at=now_utc().isoformat(timespec="seconds"))
            set_state(conn=conn, key=STATE_KEY, value=state)

    # ------------------------------------------------------------ loop

    def _loop(self) -> None:
        run_steps(self._stop, self.step, logger=log, what="demo enrich", retry=self.lease_ttl / 3)

    def step(self) -> float:
        """One round. Returns seconds until the next (negative: done for good)."""
        if self.status().get("state") == "done":
            return -1.0
        if not self.lease.take():
            return self.lease_ttl / 3
        try:
            report = enrich_pending(engine=self.engine, settings=self.settings, limit=BATCH, on_paper=self._keep_going)
        except LeaseLost:
            return 0.0 if not self._stop.is_set() else self.lease_ttl
        resolved = len(report.ids("resolved"))
        if resolved and self.on_new is not None:
            try:
                self.on_new()  # the follower's path: new ids, authors and dates become searchable
            except Exception:  # noqa: BLE001 - the papers are stored; search catches up at its next look
                log.exception("demo enrich: refreshing search failed")
        if report.error:  # arXiv unreachable: nothing was changed for the paper tried
            self.failures += 1
            wait = min(self.retry_first * 2 ** (self.failures - 1), RETRY_MAX)
            if self.failures == 1:
                log.warning(
                    "demo papers: arXiv is unreachable (%s); they keep their saved-page text (no authors, dates "
                    "or links) and are tried again in %.0f min",
                    report.error,
                    wait / 60,
                )
            self._save(state="offline", last_error=report.error)
            self.lease.release()
            return wait
        self.failures = 0
        counts = report.as_dict()
        total = dict(self.status().get("counts") or {})
        for key in ("resolved", "ambiguous", "not_found", "failed"):
            total[key] = int(total.get(key, 0)) + int(counts[key])  # type: ignore[call-overload]
        if all(r.outcome == "failed" for r in report.results):  # nothing left but papers arXiv refused to look up
            self._save(state="done", counts=total, last_error=None)
            log.info("demo papers: arXiv lookups done (%s resolved)", total.get("resolved", 0))
            self.lease.release()
            return -1.0
        self._save(state="enriching", counts=total, last_error=None)
        log.info("demo papers: %d of %d looked up in this round found on arXiv", resolved, len(report.results))
        return 0.0


def start_demo_enrichment(
    *, engine: Engine, settings: Settings, on_new: Callable[[], object] | None = None
) -> DemoEnricher | None:
    """Start this worker's demo enricher when :func:`wanted`; None otherwise."""
    try:
        if not wanted(engine=engine, settings=settings):
            return None
    except Exception as exc:  # noqa: BLE001 - never keep the site from starting over an extra
        log.warning("demo enrich: not started: %s", exc)
        return None
    enricher = DemoEnricher(engine=engine, settings=settings, on_new=on_new)
    enricher.start()
    return enricher
