"""What the ledger says: digests per state, and the rows an operator should look at (uncertain, exhausted,
failed). Read only; ``paperfeed digest status`` prints it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine

from paperfeed.store.send_ledger import ledger_counts, ledger_rows
from paperfeed.store.subscriptions import count_by_status

ATTENTION = ("uncertain", "exhausted", "failed")


@dataclass
class LedgerStatus:
    """Digests per ledger state (``in_progress`` = claimed + sending) for one period or all of them."""

    period: str | None
    sent: int
    uncertain: int
    exhausted: int
    failed: int
    in_progress: int
    claimed: int
    sending: int
    subscribers: dict[str, int]
    needs_attention: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ledger_status(*, engine: Engine, period: str | None = None, limit: int = 100) -> LedgerStatus:
    """Counts for ``period`` (all periods when None) and up to ``limit`` rows that need attention."""
    with engine.connect() as conn:
        counts = ledger_counts(conn=conn, period=period)
        rows = ledger_rows(conn=conn, period=period, statuses=ATTENTION)
        subscribers = count_by_status(conn=conn)
    attention = [
        {
            "email": r["email"],
            "period": r["period"],
            "status": r["status"],
            "attempts": r["attempts"],
            "error": r["error"],
            "message_id": r["message_id"],
        }
        for r in rows[-limit:]
    ]
    return LedgerStatus(
        period=period,
        sent=counts["sent"],
        uncertain=counts["uncertain"],
        exhausted=counts["exhausted"],
        failed=counts["failed"],
        in_progress=counts["claimed"] + counts["sending"],
        claimed=counts["claimed"],
        sending=counts["sending"],
        subscribers=subscribers,
        needs_attention=attention,
    )
