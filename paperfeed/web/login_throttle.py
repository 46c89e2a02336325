"""Sign-in throttling (attempts counted per account and per client address) and sign-ups per address.

- per account: whichever identifier names it (username or email address), every failure counts against
  the one account, from any address; guessing one member's password from many addresses is slowed down;
- per client address: one address cannot try many accounts quickly;
- per identifier as typed: what a refusal says depends only on the name that was typed, so a refusal
  never shows that an email address and a username name one account. When the account has had its
  ``PER_ACCOUNT`` failures but the typed name has not, the attempt answers like a wrong password and
  no password is checked (a decoy); only a name that itself reached the limit answers 429.

An attempt is reserved before its password is checked, in one serialised step
(:func:`paperfeed.store.rate_limits.take`): parallel guesses cannot all pass the check before any failure
is counted, so at most ``PER_ACCOUNT`` passwords are ever checked per account and window. A sign-in that
succeeds gives its reservation back. The counts live in the database: exact across threads, ``--workers``
processes and restarts.

The client address is the connection's, or the one a trusted proxy reports (``PAPERFEED_TRUSTED_PROXIES``,
see :mod:`paperfeed.web.proxies`): a client cannot pick its own address with ``X-Forwarded-For``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.store import rate_limits
from paperfeed.store.rate_limits import Limit, RateLimited
from paperfeed.store.users import User

WINDOW = 15 * 60
PER_ACCOUNT = 10  # failed sign-ins per account per quarter hour, from all addresses together
LONG_NAME = 200  # longer names typed at sign-in are counted by their hash
PER_ADDRESS = 50  # failed sign-ins per client address per quarter hour, over all accounts
# accounts created per client address (one address cannot raise a crowd of voters)


def account_key(user: User | None, ident: str) -> str:
    """One key per account whichever name was typed; unknown names are counted by what was typed."""
    return f"user:{user.id}" if user is not None else f"name:{ident_key(ident)}"


def ident_key(ident: str) -> str:
    """The name as typed (username or email address), compared without case or surrounding space; a name
    longer than ``LONG_NAME`` by its SHA-256 (the ledger's keys are at most 300 characters)."""
    name = ident.strip().lower()
    return name if len(name) <= LONG_NAME else "sha256:" + hashlib.sha256(name.encode()).hexdigest()


@dataclass(frozen=True)
class Reservation:
    """One counted attempt: the ledger events :meth:`LoginThrottle.succeeded` gives back, and whether the
    account is locked while the typed name is not (``decoy``: answer like a wrong password, check nothing)."""

    event_ids: list[int]
    decoy: bool = False


@dataclass(frozen=True)
class LoginThrottle:
    """The limits of one app (see the module docstring); the counts are in the store."""

    account: Limit
    address: Limit
    name: Limit

    def reserve(self, engine: Engine, *, account: str, ident: str, address: str) -> Reservation:
        """Count this attempt before any password is checked, in one transaction (keys locked in the order
        account, name, address: parallel attempts cannot deadlock).

        Counted against the account, the typed name ``ident`` and the client ``address``; when only the
        account is full, against the name and the address and the result is a ``decoy``. Raises
        :class:`~paperfeed.store.rate_limits.RateLimited` (nothing counted) when the typed name or the
        address reached its limit."""
        name = f"login:ident:{ident_key(ident)}"
        with engine.begin() as conn:
            try:
                ids = [rate_limits.take(conn, key=f"login:account:{account}", limits=[self.account])]
            except RateLimited:
                ids, decoy = [], True
            else:
                decoy = False
            ids.append(rate_limits.take(conn, key=name, limits=[self.name]))
            ids.append(rate_limits.take(conn, key=f"login:address:{address}", limits=[self.address]))
        return Reservation(ids, decoy)

    def succeeded(self, engine: Engine, reserved: Reservation) -> None:
        """The password was right: the attempt is not a failure."""
        with engine.begin() as conn:
            rate_limits.give_back(conn, event_ids=reserved.event_ids)


def login_throttle() -> LoginThrottle:
    """The limits of one app: ``PER_ACCOUNT`` per account and per typed name, ``PER_ADDRESS`` per address,
    per ``WINDOW``."""
    return LoginThrottle(
        account=Limit(PER_ACCOUNT, WINDOW, "failed sign-ins per account a quarter hour"),
        address=Limit(PER_ADDRESS, WINDOW, "failed sign-ins per address a quarter hour"),
        name=Limit(PER_ACCOUNT, WINDOW, "failed sign-ins per name a quarter hour"),
    )


def signup_limits(settings: Settings) -> tuple[Limit, Limit]:
    """Accounts one client address may create: ``PAPERFEED_SIGNUPS_PER_ADDRESS_HOUR`` and ``_DAY``."""
    return (
        Limit(settings.signups_per_address_hour, 3600, "sign-ups per address an hour"),
        Limit(settings.signups_per_address_day, 24 * 3600, "sign-ups per address a day"),
    )


def reserve_signup(engine: Engine, *, address: str, limits: Sequence[Limit]) -> int:
    """Count one sign-up from ``address`` against ``limits`` (:func:`signup_limits`); returns what
    :func:`signup_failed` gives back. Raises :class:`~paperfeed.store.rate_limits.RateLimited` when the address
    has made enough."""
    with engine.begin() as conn:
        return rate_limits.take(conn, key=f"signup:address:{address}", limits=limits)


def signup_failed(engine: Engine, reserved: int) -> None:
    """No account was created after all (the name or address was taken): the sign-up does not count."""
    with engine.begin() as conn:
        rate_limits.give_back(conn, event_ids=[reserved])
