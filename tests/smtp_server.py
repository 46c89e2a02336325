"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 with a handler that records every message and can
be scripted to answer 421/451/550, to drop the connection, or to stall (so a test can SIGKILL a sender at a
known point)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.servers import free_port as free_port  # re-exported: mail tests import it from here


@dataclass
class Received:
    sender: str
    rcpt: list[str]
    message: EmailMessage
    raw: bytes = b""

    @property
    def to(self) -> str:
        return str(self.message["To"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())  # type: ignore[attr-defined]


@dataclass
class Handler:
    """Scriptable: ``rcpt_replies``/``data_replies`` are consumed one per command ("drop" closes the
    connection; for DATA, "store-drop" stores the message, then closes without replying); ``bounce``
    addresses always get 550; ``on_rcpt(n, address)`` runs (in the server's thread) before the n-th RCPT
    is answered and may return seconds to stall; ``on_data`` likewise after recording."""

    messages: list[Received] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)
    bounce: set[str] = field(default_factory=set)
    on_rcpt: Callable[[int, str], float] | None = None
    on_data: Callable[[int], float] | None = None
    rcpt_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        self.rcpt_count += 1
        if self.on_rcpt is not None:
            stall = self.on_rcpt(self.rcpt_count, address)
            if stall:
                await asyncio.sleep(stall)
        if address in self.bounce:
            return f"550 5.1.1 <{address}>: no such user"
        if self.rcpt_replies:
            reply = self.rcpt_replies.pop(0)
            if reply == "drop":
                server.transport.close()
                return "421 4.4.2 closing"
            if not reply.startswith("250"):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.data_replies.pop(0) if self.data_replies else "250"
        if reply == "drop":
            server.transport.close()
            return "421 4.4.2 closing"
        if not reply.startswith("250") and reply != "store-drop":
            return reply
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg, raw))  # type: ignore[arg-type]
            n = len(self.messages)
        if reply == "store-drop":  # the server has the message; the client never hears so
            server.transport.close()
            return "250 2.0.0 never delivered to the client"
        if self.on_data is not None:
            stall = self.on_data(n)
            if stall:
                await asyncio.sleep(stall)
        return "250 2.0.0 OK queued"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt]


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: Handler

    def env(self) -> dict[str, str]:
        return {
            "PAPERFEED_SMTP_HOST": self.host,
            "PAPERFEED_SMTP_PORT": str(self.port),
            "PAPERFEED_SMTP_SECURITY": "none",
            "PAPERFEED_MAIL_FROM": "Paperfeed <digest@paperfeed.test>",
            "PAPERFEED_MAIL_RATE_LIMIT": "0",
        }


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


# ---------------------------------------------------------------- digest test data


def add_active(engine: Any, email_address: str, **prefs: Any) -> int:
    """An active (confirmed) subscriber, straight through the store; returns its id."""
    from datetime import UTC, datetime

    from paperfeed.store.subscriptions import confirm_subscriber, create_or_refresh_pending

    now = datetime.now(UTC)
    with engine.begin() as conn:
        sub, _ = create_or_refresh_pending(conn=conn, email=email_address, prefs=prefs, now=now)
        confirm_subscriber(conn=conn, subscriber_id=sub.id, email=email_address, now=now)
    return int(sub.id)


def upvote(engine: Any, paper_id: str, voters: int) -> None:
    """``voters`` distinct members (verified: only their votes count) upvote ``paper_id``."""
    from paperfeed.store.users import get_user_by_username
    from paperfeed.store.votes import add_vote
    from tests.factories import create_verified_user

    with engine.begin() as conn:
        for i in range(voters):
            name = f"voter{i}"
            user = get_user_by_username(conn=conn, username=name) or create_verified_user(
                conn=conn, email=f"{name}@example.org", username=name, password_hash="x"
            )
            add_vote(conn=conn, user_id=user.id, paper_id=paper_id)


def mail_settings(
    settings: Any,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch | None = None,
    mail_from: str = "Paperfeed <digest@paperfeed.test>",
) -> Any:
    """``settings`` sending through ``smtp`` with no rate limit; with ``monkeypatch``, the ``PAPERFEED_*``
    environment the CLI reads points at the same store and SMTP server too."""
    if monkeypatch is not None:
        for key, value in {
            **smtp.env(),
            "PAPERFEED_DATABASE_URL": settings.database_url,
            "PAPERFEED_DATA_DIR": str(settings.data_dir),
            "PAPERFEED_BASE_URL": "http://testserver",
            "PAPERFEED_SEED_DEMO": "false",
            "PAPERFEED_EMBEDDER": "none",
            "PAPERFEED_SECRET_KEY": settings.secret_key,
        }.items():
            monkeypatch.setenv(key, value)
    return sending_through(settings, smtp.port, host=smtp.host, mail_from=mail_from)


def sending_through(settings: Any, port: int, *, host: str = "127.0.0.1", **overrides: Any) -> Any:
    """``settings`` sending mail through the SMTP server at ``host:port`` from digest@paperfeed.test with no
    rate limit; ``overrides`` (any other settings) on top."""
    update = {"smtp_host": host, "smtp_port": port, "mail_rate_limit": 0, "mail_from": "digest@paperfeed.test"}
    return settings.model_copy(update={**update, **overrides})
