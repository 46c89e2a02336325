"""Imports every table module so ``metadata`` is complete (for Alembic and ``db copy``)."""

from paperfeed.store import (
    accounts,  # noqa: F401
    schema,
    subscriptions,  # noqa: F401
)
from paperfeed.store.schema import metadata

__all__ = ["metadata", "schema"]
