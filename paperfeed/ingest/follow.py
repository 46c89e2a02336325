"""Follow arXiv categories: harvest them on start, then after each announcement, in exactly one worker.

Every web worker (on every machine) that serves with ``PAPERFEED_FOLLOW`` runs a :class:`Follower` thread,
but only the holder of the ``arxiv-follow`` lease (:mod:`paperfeed.store.leases`) harvests; the others poll
the lease and take over within ``LEASE_TTL`` seconds when the holder stops. Harvests go through the OAI-PMH
harvester (:func:`paperfeed.ingest.harvest.harvest_oai`: paced, retried, resumable), one per archive set,
keeping only the followed categories. What happened is kept in ``kv_state`` (``follow:status``), so
``/status`` in any worker and ``paperfeed status`` show the same thing. A failing upstream costs one log line
per try, the status says so, and the next try waits longer (jittered backoff); the site keeps serving.
After each harvest the holder also fetches citations from OpenAlex (:mod:`paperfeed.ingest.citations`) for new
papers and for those last fetched ``PAPERFEED_CITATIONS_REFRESH_DAYS`` ago, unless ``PAPERFEED_FOLLOW_CITATIONS``
is off.

When: the follower harvests ``ANNOUNCE_MARGIN`` after each arXiv announcement (Sunday to Thursday at 20:00
US Eastern time; none on Friday and Saturday evenings; its OAI-PMH metadata follows shortly after), and after
failures with jittered backoff.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ids import parse_follow
from paperfeed.ingest.arxiv_sets import in_followed, sets_for
from paperfeed.ingest.follow_status import LEASE_NAME, STATE_KEY  # named there: status reads them
from paperfeed.ingest.harvest import HarvestReport, PageProgress, harvest_oai
from paperfeed.ingest.http import PoliteClient
from paperfeed.ingest.leased import HeldLease, LeaseLost, run_steps, visible
from paperfeed.store.papers import now_utc
from paperfeed.store.state import get_state, set_state

log = logging.getLogger("paperfeed.follow")
LEASE_TTL = 120.0  # seconds a holder keeps the lease without renewing it
OnNew = Callable[[], object]


ANNOUNCE_DAYS = (6, 0, 1, 2, 3)  # Sunday..Thursday (Monday = 0)
ANNOUNCE_TIME = time(20, 0)
ANNOUNCE_MARGIN = timedelta(hours=1)
RETRY_CAP = 3600.0  # the longest wait between two failed tries, in seconds


def eastern() -> tzinfo:
    """US Eastern time; without a time zone database, EST (the margin absorbs the summer hour)."""
    try:
        return ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:  # pragma: no cover - slim images without tzdata
        from datetime import timezone

        return timezone(timedelta(hours=-5), "EST")


def next_announcement(now: datetime) -> datetime:
    """The first arXiv announcement strictly after ``now`` (aware), in UTC."""
    zone = eastern()
    local = now.astimezone(zone)
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in ANNOUNCE_DAYS:
            continue
        at = datetime.combine(day, ANNOUNCE_TIME, tzinfo=zone)
        if at > now:
            return at.astimezone(UTC)
    raise AssertionError("an announcement happens every week")  # pragma: no cover


def next_harvest(now: datetime) -> datetime:
    """When to harvest next after a successful harvest at ``now``: after the next announcement."""
    return next_announcement(now) + ANNOUNCE_MARGIN


def retry_delay(failures: int, base: float, cap: float = RETRY_CAP) -> float:
    """Seconds before try ``failures + 1``: ``base`` doubled per failure, capped, with up to +50 % jitter."""
    step = min(cap, base * (2 ** max(failures - 1, 0)))
    return min(cap * 1.5, step * (1.0 + random.uniform(0.0, 0.5)))


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def group_label(categories: list[str]) -> str:
    """The harvest label of one set's followed categories (keeps its position apart from plain harvests)."""
    return "follow:" + ",".join(sorted(c.lower() for c in categories))


class Follower:
    """The follow loop of one worker: take the lease, harvest when due, record the outcome."""

    lease_ttl = LEASE_TTL

    def __init__(self, *, engine: Engine, settings: Settings, on_new: OnNew | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.categories = parse_follow(settings.follow)
        self.on_new = on_new
        self.lease = HeldLease(engine=engine, name=LEASE_NAME, ttl=self.lease_ttl, logger=log, what="arXiv follow")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ lease

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_ttl / 3):
            if self.lease.holding:
                self.lease.take()

    def _check_lease(self, _progress: PageProgress | None = None) -> None:
        """Raise :class:`LeaseLost` when this worker no longer holds the lease (or is stopping)."""
        if not self.lease.holding or self._stop.is_set():
            raise LeaseLost("the arXiv follow lease was lost or the server is stopping")

    # ------------------------------------------------------------ state

    def load_state(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            value = get_state(conn=conn, key=STATE_KEY)
        return dict(value) if isinstance(value, dict) else {}

    def _save(self, state: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            set_state(conn=conn, key=STATE_KEY, value=state)

    # ------------------------------------------------------------ loop

    def start(self) -> None:
        """Run the loop and the lease heartbeat in daemon threads (one call per worker)."""
        visible(log)
        for name, target in (("paperfeed-follow", self._loop), ("paperfeed-follow-lease", self._heartbeat)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop (an ongoing harvest stops after its current page) and hand the lease back."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self.lease.release()

    def _loop(self) -> None:
        run_steps(self._stop, self.tick, logger=log, what="arXiv follow", retry=self.lease_ttl / 3)

    def tick(self, now: datetime | None = None) -> float:
        """One step: take or renew the lease and harvest if due. Returns seconds until the next step."""
        poll = self.lease_ttl / 3
        if not self.lease.take():
            return poll
        now = now or now_utc()
        state = self.load_state()
        due_text = state.get("next_run") if state.get("following") == self.categories else None
        due = datetime.fromisoformat(due_text) if due_text else now
        if due > now:
            return min((due - now).total_seconds(), poll)
        return min(self.run(state, now), poll) if not self._stop.is_set() else poll

    def run(self, state: dict[str, Any], now: datetime) -> float:
        """Harvest every followed set now; record the outcome. Returns seconds until the next harvest."""
        state.update(following=self.categories, state="harvesting", holder=self.lease.holder, last_attempt=_iso(now))
        self._save(state)
        groups: dict[str, Any] = dict(state.get("groups") or {})
        total = HarvestReport()
        try:
            with PoliteClient.from_settings(self.settings) as client:
                for set_spec, cats in sets_for(self.categories).items():
                    report = self._harvest_set(client, set_spec, cats, groups, now, bool(state.get("restart")))
                    total.merge(report)
                    total.skipped += report.skipped
                    state["groups"] = groups
                    self._save(state)
        except LeaseLost as exc:
            log.info("arXiv follow: %s", exc)
            state["state"] = "waiting"
            self._save(state)
            return self.lease_ttl / 3
        except Exception as exc:  # noqa: BLE001 - HarvestError or the database: one line, a later retry
            return self._failed(state, exc, now)
        if total.added or total.updated:
            self._notify()
        following = ", ".join(self.categories)
        after = next_harvest(now_utc())
        state.update(
            state="ok",
            failures=0,
            last_error=None,
            restart=False,
            last_success=_iso(now_utc()),
            last_added=total.added,
            last_updated=total.updated,
            next_run=_iso(after),
        )
        self._save(state)
        log.info(
            "arXiv follow: %s: %d new, %d updated papers; next harvest %s UTC",
            following,
            total.added,
            total.updated,
            after.strftime("%Y-%m-%d %H:%M"),
        )
        try:
            self._enrich()  # ENRICH: papers without an arXiv id, looked up by title while this worker holds the lease
        except LeaseLost as exc:
            log.info("arXiv follow: %s", exc)
        except Exception as exc:  # noqa: BLE001 - the harvest is done and recorded; enrichment tries again next time
            log.warning("arXiv follow: enriching papers without an arXiv id failed: %s", exc)
        if self.settings.follow_citations:
            self._citations()  # CITATIONS: new papers' citations from OpenAlex, counts refreshed weekly
        return max((after - now_utc()).total_seconds(), 0.0)

    def _citations(self) -> None:
        from paperfeed.ingest.citations import citations_in_background

        # Logs its own outcome and never raises; stops between batches when the lease is lost.
        citations_in_background(engine=self.engine, settings=self.settings, keep_going=self._check_lease)

    def _enrich(self) -> None:
        from paperfeed.ingest.enrich import enrich_in_background

        def keep_going() -> None:
            self._check_lease()  # raises LeaseLost: another worker took over

        report = enrich_in_background(engine=self.engine, settings=self.settings, keep_going=keep_going)
        if report is not None and report.ids("resolved"):
            self._notify()  # renamed papers: search picks up their new ids

    def _harvest_set(
        self,
        client: PoliteClient,
        set_spec: str,
        cats: list[str],
        groups: dict[str, Any],
        now: datetime,
        restart: bool,
    ) -> HarvestReport:
        label = group_label(cats)
        done = (groups.get(label) or {}).get("done")
        first = (now - timedelta(days=self.settings.follow_days)).date().isoformat()
        report = harvest_oai(
            engine=self.engine,
            settings=self.settings,
            set_spec=set_spec,
            from_date=done or first,
            client=client,
            restart=restart,
            on_page=self._check_lease,
            keep=lambda paper: in_followed(paper.categories, cats),
            label=label,
        )
        # The next harvest starts again on this day: OAI datestamps are days, so nothing in between is missed.
        groups[label] = {"set": set_spec, "categories": cats, "done": now.date().isoformat(), "added": report.added}
        return report

    def _failed(self, state: dict[str, Any], exc: BaseException, now: datetime) -> float:
        failures = int(state.get("failures") or 0) + 1
        delay = retry_delay(failures, self.settings.follow_retry)
        message = " ".join(str(exc).split()) or type(exc).__name__
        state.update(
            state="failing",
            failures=failures,
            last_error=message,
            last_error_at=_iso(now),
            restart="badResumptionToken" in message,
            next_run=_iso(now_utc() + timedelta(seconds=delay)),
        )
        with contextlib.suppress(Exception):  # the database itself is failing: the log line still says it
            self._save(state)
        log.warning("arXiv follow failed (try %d): %s; retrying in %.0f s", failures, message, delay)
        return delay

    def _notify(self) -> None:
        if self.on_new is None:
            return
        try:
            self.on_new()
        except Exception:  # noqa: BLE001 - the papers are stored; search catches up at its next look
            log.exception("arXiv follow: refreshing search after the harvest failed")


class Refreshable(Protocol):
    """What the follower needs of a searcher (:class:`paperfeed.search.protocols.Searcher` is one): catch up
    with the store after a harvest. Declared here so ingestion does not import search."""

    def refresh(self) -> object: ...


def start_following(*, engine: Engine, settings: Settings, searcher: Refreshable | None = None) -> Follower | None:
    """Start this worker's follower when ``PAPERFEED_FOLLOW`` names categories; None otherwise.

    Harvested papers become searchable when the instance's index writer publishes them (within seconds);
    ``searcher``, when given (a command that holds the only searcher), is refreshed after a harvest instead."""
    if not settings.follow:
        return None
    follower = Follower(engine=engine, settings=settings, on_new=searcher.refresh if searcher else None)
    follower.start()
    log.info("arXiv follow: following %s (worker %s)", ", ".join(follower.categories), follower.lease.holder)
    return follower
