"""Who is due for a digest at a given instant, and the period key that makes each send exactly-once.

A subscriber is due when, in their own time zone, their sending hour has come:
- ``daily``: every day from ``send_hour`` on; period key ``YYYY-MM-DD`` (their local date);
- ``weekdays``: Monday to Friday from ``send_hour`` on; same key as daily (switching between the two never
  yields two digests on one day);
- ``weekly``: from Monday ``send_hour`` on, once per ISO week; period key ``YYYY-Www``.
Because "due" lasts until the end of the period, a cron run that is late (or a machine that was down)
still sends the digest when it comes back; the ledger makes a second run within the period a no-op.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from paperfeed.store.subscriptions import Subscriber


def zone(name: str) -> ZoneInfo:
    """The subscriber's time zone; an unknown name (should not be stored) falls back to UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_valid_timezone(name: str) -> bool:
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def common_timezones() -> list[str]:
    """Every IANA zone name known to this system, sorted (for the preferences form)."""
    return sorted(z for z in available_timezones() if "/" in z or z == "UTC")


def period_key(frequency: str, local: datetime) -> str:
    """The period a send at local time ``local`` belongs to."""
    if frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.date().isoformat()


def due_period(sub: Subscriber, now: datetime) -> str | None:
    """The period key if ``sub`` is due at ``now``, else None (wrong day or hour not reached)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local = now.astimezone(zone(sub.timezone))
    hour_reached = local.hour >= sub.send_hour
    if sub.frequency == "weekly":
        if local.weekday() == 0 and not hour_reached:
            return None
    elif not hour_reached or (sub.frequency == "weekdays" and local.weekday() >= 5):
        return None
    return period_key(sub.frequency, local)
