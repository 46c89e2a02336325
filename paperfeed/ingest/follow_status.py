"""What the arXiv follower is doing, for ``/status`` and ``paperfeed status``: read from the store only.

``harvest_status`` gives the ``harvest`` section: ``following`` (categories), ``state`` (``off``: not
following; ``starting``: no harvest finished yet; ``harvesting``; ``ok``; ``failing``; ``waiting``: the
holder changed mid-harvest), ``holder`` (the worker holding the lease, while it is held), ``last_success``,
``last_error``, ``failures``, ``next_run``, ``last_added`` and ``message``: one line saying all that.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from paperfeed.store.leases import get_lease
from paperfeed.store.papers import now_utc
from paperfeed.store.state import get_state

# The follower's lease and state key (paperfeed.ingest.follow uses them): named here, so that reading the
# status (``paperfeed status``) does not import the harvester.
LEASE_NAME = "arxiv-follow"
STATE_KEY = "follow:status"


def _short(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "never"
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


def _message(data: dict[str, Any]) -> str:
    following = ", ".join(data["following"])
    state = data["state"]
    if state == "off":
        return "not following arXiv (start with: paperfeed serve --follow cs.LG,cs.CL)"
    if state == "failing":
        return (
            f"following {following}: harvest failing ({data['failures']} failed "
            f"{'try' if data['failures'] == 1 else 'tries'} in a row): {data['last_error']}; "
            f"next try {_short(data['next_run'])}; last success {_short(data['last_success'])}"
        )
    if state == "harvesting":
        return f"following {following}: harvesting now (worker {data['holder']})"
    if state == "waiting":
        return f"following {following}: a harvest was interrupted (worker stopped or lease moved); it resumes next"
    if state == "starting":
        return f"following {following}: first harvest not finished yet"
    return (
        f"following {following}: last harvest {_short(data['last_success'])} ({data['last_added']} new papers); "
        f"next {_short(data['next_run'])}"
    )


def harvest_status(*, engine: Engine, following: list[str] | None = None) -> dict[str, Any]:
    """The follower's state as recorded by the worker that harvests (any process can read it)."""
    with engine.connect() as conn:
        raw = get_state(conn=conn, key=STATE_KEY)
        lease = get_lease(conn=conn, name=LEASE_NAME)
    saved: dict[str, Any] = raw if isinstance(raw, dict) else {}
    held = lease is not None and lease.expires_at > now_utc()
    cats = list(saved.get("following") or following or [])
    state = str(saved.get("state") or ("starting" if cats else "off"))
    data: dict[str, Any] = {
        "following": cats,
        "state": state,
        "holder": lease.holder if held and lease is not None else None,
        "last_success": saved.get("last_success"),
        "last_error": saved.get("last_error"),
        "failures": int(saved.get("failures") or 0),
        "next_run": saved.get("next_run"),
        "last_added": int(saved.get("last_added") or 0),
    }
    message = _message(data)
    if state != "off" and not held:
        message += " (no running worker holds the follow lease now)"
    return {"message": message, **data}
