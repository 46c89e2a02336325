"""Imports every table module so ``metadata`` is complete (for Alembic and ``db copy``)."""

from paperfeed.store import (
    api_tokens,  # noqa: F401
    authors,  # noqa: F401
    citations,  # noqa: F401
    claims,  # noqa: F401
    comments,  # noqa: F401
    keywords,  # noqa: F401
    leases,  # noqa: F401
    library,  # noqa: F401
    rate_limits,  # noqa: F401
    related,  # noqa: F401
    schema,
    send_ledger,  # noqa: F401
    sessions,  # noqa: F401
    submissions,  # noqa: F401
    subscriptions,  # noqa: F401
    users,  # noqa: F401
    votes,  # noqa: F401
)
from paperfeed.store.schema import metadata

__all__ = ["metadata", "schema"]
