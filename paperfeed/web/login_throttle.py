"""Sign-in throttling: failed attempts are counted per account and per client address.

- per account: whichever identifier names it (username or email address), every failure counts against
  the one account, from any address; guessing one member's password from many addresses is slowed down;
- per client address: one address cannot try many accounts quickly.

The client address is the connection's, or the one a trusted proxy reports (``PAPERFEED_TRUSTED_PROXIES``,
see :mod:`paperfeed.web.proxies`): a client cannot pick its own address with ``X-Forwarded-For``.
Counters live in the server process (each ``--workers`` process keeps its own).
"""

from __future__ import annotations

from dataclasses import dataclass

from paperfeed.store.users import User
from paperfeed.web.security import Throttle

WINDOW = 15 * 60
PER_ACCOUNT = 10  # failed sign-ins per account per quarter hour, from all addresses together
PER_ADDRESS = 50  # failed sign-ins per client address per quarter hour, over all accounts


def account_key(user: User | None, ident: str) -> str:
    """One key per account whichever name was typed; unknown names are counted by what was typed."""
    return f"user:{user.id}" if user is not None else f"name:{ident.strip().lower()}"


@dataclass
class LoginThrottle:
    account: Throttle
    address: Throttle

    def retry_after(self, *, account: str, address: str) -> int:
        """Seconds until a sign-in for ``account`` from ``address`` may be tried (0: now)."""
        return max(self.account.retry_after(account), self.address.retry_after(address))

    def fail(self, *, account: str, address: str) -> None:
        self.account.fail(account)
        self.address.fail(address)


def login_throttle() -> LoginThrottle:
    """The limits of one app: ``PER_ACCOUNT`` per account, ``PER_ADDRESS`` per address, per ``WINDOW``."""
    return LoginThrottle(account=Throttle(PER_ACCOUNT, WINDOW), address=Throttle(PER_ADDRESS, WINDOW))
