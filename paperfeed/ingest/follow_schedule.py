"""When the follower harvests: after each arXiv announcement, and after failures with jittered backoff.

arXiv announces new papers Sunday to Thursday at 20:00 US Eastern time (none on Friday and Saturday evenings);
its OAI-PMH metadata follows shortly after. The follower harvests ``ANNOUNCE_MARGIN`` after each announcement.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
