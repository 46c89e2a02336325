"""Trending: upvotes with Hacker-News-style gravity on the time since a paper entered the daily list.

    score = upvotes / (hours_since_entry + OFFSET_HOURS) ** GRAVITY

with ``GRAVITY = 1.8`` and ``OFFSET_HOURS = 2`` (the Hacker News constants). ``hours_since_entry`` is
measured from the paper's entry time (member submission, else arXiv publication, else first seen; see
:mod:`paperfeed.rank.daily`) and is never negative. Papers without votes score 0 and are not trending.

Windows keep papers whose entry time is within the last day (24 h), week (7 days), month (30 days), or
``all``. Order: score desc, then upvotes desc, then entry time desc (newer first), then paper id asc, so
equal inputs always give the same order.

Cost: the score is computed, sorted and paged by the database (:mod:`paperfeed.store.trending`); a
bounded window starts from the papers that entered in it, ``all`` from one aggregate over ``votes``. Python
never loops over all papers or all votes; see ``docs/benchmarks.md`` for timings at 1M votes. Live page
views (no explicit ``now``) of a window whose query took over ``SLOW_S`` are served from a per-process
cache for ``CACHE_TTL_S``: at a million votes "all" costs about a second, and a ranking that decays over
hours does not need recomputing for every visitor. A vote clears this process's cache once it is committed
(:func:`forget_cached`), so a member always sees their own vote; votes cast through another worker show
within ``CACHE_TTL_S``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from paperfeed.store.trending import GRAVITY, OFFSET_HOURS, score_papers, trending_rows

__all__ = ["GRAVITY", "OFFSET_HOURS", "score_papers"]  # the score's constants and per-paper scores live with its SQL

WINDOWS: dict[str, timedelta | None] = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "all": None,
}
SLOW_S = 0.25
CACHE_TTL_S = 60.0
_CACHE_MAX = 256
_cache: dict[tuple[str, str, int, int], tuple[float, tuple[list[str], list[float]]]] = {}
_cache_lock = threading.Lock()


def gravity_score(upvotes: int, hours: float) -> float:
    """The trending score of a paper with ``upvotes`` that entered the daily list ``hours`` ago."""
    if upvotes <= 0:
        return 0.0
    return upvotes / (max(hours, 0.0) + OFFSET_HOURS) ** GRAVITY


def _now(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def trending(
    *, conn: Connection, window: str = "week", now: datetime | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[str], list[float]]:
    """Trending paper ids and scores for ``window`` (day, week, month, all), best first."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
    key = (conn.engine.url.render_as_string(hide_password=True), window, offset, limit)
    if now is None:
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_TTL_S:
            return list(hit[1][0]), list(hit[1][1])
    moment = _now(now)
    span = WINDOWS[window]
    started = time.monotonic()
    rows = trending_rows(
        conn=conn,
        now=moment,
        since=moment - span if span is not None else None,
        gravity=GRAVITY,
        offset_hours=OFFSET_HOURS,
        offset=offset,
        limit=limit,
    )
    result = ([r[0] for r in rows], [r[1] for r in rows])
    if now is None and time.monotonic() - started >= SLOW_S:
        with _cache_lock:
            if len(_cache) >= _CACHE_MAX:
                _cache.clear()
            _cache[key] = (time.monotonic(), result)
    return list(result[0]), list(result[1])


def forget_cached() -> None:
    """Drop every cached ranking; called after a vote is committed, so the next page ranks it."""
    with _cache_lock:
        _cache.clear()
