"""SMTP delivery with smtplib: one reused connection, retries with backoff, bounces, a send-rate bound.

- Transient failures (4xx replies, refused or dropped connections) are retried with exponential backoff
  and jitter, reconnecting when needed; after ``retries`` more tries the send fails as transient.
- Permanent failures (5xx replies) are not retried: they raise :class:`PermanentFailure` (a bounce).
- Once the DATA command has gone out, a broken connection (no reply) is never retried: the server may
  have the message, so :class:`UncertainDelivery` is raised and the caller records it. A *reply* that
  refuses the data (4xx/5xx) is definite: nothing was delivered, so it is treated like any other reply.
- ``before_data`` may veto the DATA command (returns False: :class:`Aborted`, nothing sent) and
  ``after_refusal`` hears that a started DATA was refused with a reply.
- At most ``rate`` messages per second are handed to the server (``PAPERFEED_MAIL_RATE_LIMIT``; 0 = no bound).
- Addresses and header values are checked before anything is built: CR, LF and NUL are refused outright,
  so ``"x@y\\r\\nBcc: z"`` can never add a header or a recipient.
- International addresses: a domain in Unicode goes out in its ASCII (IDNA) form; a local part beyond ASCII
  (``josé@example.org``) is sent with SMTPUTF8 when the server offers it. Where it does not, such an
  address is refused when it is entered (:func:`address_problem`), and a send to one fails permanently
  rather than raising an encoding error.
"""

from __future__ import annotations

import email.utils
import random
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import idna
from email_validator import EmailNotValidError, validate_email

from paperfeed.config import Settings
from paperfeed.digest.render import RenderedMail
from paperfeed.text import without_invisible

MAX_ADDRESS = 254
# SMTP line endings; headers fold at RFC 5322's hard limit so a long List-Unsubscribe URL stays one plain
# token (folding at 78 would turn it into an RFC 2047 encoded word that clients cannot use).
POLICY = SMTP_POLICY.clone(max_line_length=998)


class AddressError(ValueError):
    """An address that must not be used: the message says why (field ``email``)."""


class SendFailure(RuntimeError):
    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientFailure(SendFailure):
    """4xx or connection trouble that outlived every retry; the next run tries again."""


class PermanentFailure(SendFailure):
    """A 5xx reply for this recipient or message: a bounce."""


class ConnectFailure(TransientFailure):
    """The server could not be reached at all (down, refused, TLS or login failure)."""


class UncertainDelivery(SendFailure):
    """DATA started and the connection broke before the server answered: it may or may not have the
    message. Never retried."""


class Aborted(SendFailure):
    """``before_data`` said no (the caller no longer holds the right to send): nothing was sent."""


def check_header_value(value: str, field: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise AddressError(f"{field}: line breaks are not allowed")
    return value


def normalise_address(address: object) -> str:
    """A deliverable-looking address, lower-cased; raises :class:`AddressError` naming the problem."""
    if not isinstance(address, str):
        raise AddressError("email: must be a string")
    check_header_value(address, "email")
    address = address.strip()
    if not address:
        raise AddressError("email: is required")
    if len(address) > MAX_ADDRESS:
        raise AddressError(f"email: longer than {MAX_ADDRESS} characters")
    try:
        info = validate_email(address, check_deliverability=False, allow_display_name=False)
    except EmailNotValidError as exc:
        raise AddressError(f"email: {exc}") from exc
    return info.normalized.lower()


def wire_address(address: str) -> str:
    """``address`` as it goes on the wire: its domain in ASCII (IDNA), its local part unchanged."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as exc:
        raise AddressError(f"email: the domain {domain!r} cannot be written in ASCII: {exc}") from exc


def needs_smtputf8(address: str) -> bool:
    """True when ``address`` can only be sent with SMTPUTF8 (a local part beyond ASCII)."""
    return not address.rpartition("@")[0].isascii()


NO_SMTPUTF8 = (
    "this site's mail server cannot deliver to addresses with characters beyond ASCII before the @ (it does "
    "not offer SMTPUTF8): use an address with plain letters, digits and punctuation before the @"
)
_SMTPUTF8_SEEN: dict[tuple[str, int, str], tuple[float, bool]] = {}  # (host, port, security) -> (when, offered)
_SMTPUTF8_LOCK = threading.Lock()
SMTPUTF8_RECHECK = 600.0  # seconds a server's answer is believed


def server_offers_smtputf8(settings: Settings) -> bool | None:
    """Whether the configured mail server offers SMTPUTF8 (asked with EHLO, remembered for 10 minutes);
    None when it cannot be reached now."""
    key = (settings.smtp_host, settings.smtp_port, settings.smtp_security)
    with _SMTPUTF8_LOCK:
        seen = _SMTPUTF8_SEEN.get(key)
    if seen is not None and time.monotonic() - seen[0] < SMTPUTF8_RECHECK:
        return seen[1]
    try:
        with Mailer(settings, timeout=10) as mailer:
            offered = mailer.offers_smtputf8()
    except SendFailure:
        return None
    with _SMTPUTF8_LOCK:
        _SMTPUTF8_SEEN[key] = (time.monotonic(), offered)
    return offered


def address_problem(settings: Settings, address: str) -> str | None:
    """Why this instance cannot mail ``address`` (a normalised address), or None.

    Only an address that needs SMTPUTF8 can have a problem: it is refused when the mail server says it does
    not offer SMTPUTF8. An unreachable server is no reason to refuse (the send is tried and logged)."""
    if not needs_smtputf8(address) or not settings.emails_enabled:
        return None
    return NO_SMTPUTF8 if server_offers_smtputf8(settings) is False else None


def sender_address(settings: Settings) -> str:
    """``PAPERFEED_MAIL_FROM`` (``addr`` or ``Name <addr>``), validated."""
    check_header_value(settings.mail_from, "PAPERFEED_MAIL_FROM")
    name, addr = email.utils.parseaddr(settings.mail_from)
    local, _, domain = addr.rpartition("@")
    if not local or not domain or " " in addr or len(addr) > MAX_ADDRESS:
        raise AddressError(f"PAPERFEED_MAIL_FROM: {settings.mail_from!r} is not an address")
    return addr


def build_message(*, settings: Settings, to: str, mail: RenderedMail, message_id: str) -> EmailMessage:
    """A multipart/alternative message with RFC 8058 one-click unsubscribe headers when it has a link."""
    to = wire_address(normalise_address(to))
    msg = EmailMessage(policy=POLICY)
    msg["From"] = check_header_value(settings.mail_from, "PAPERFEED_MAIL_FROM")
    msg["To"] = to
    msg["Subject"] = without_invisible(check_header_value(mail.subject, "subject"))
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = check_header_value(message_id, "message_id")
    msg["Auto-Submitted"] = "auto-generated"
    if mail.unsubscribe_url:
        url = check_header_value(mail.unsubscribe_url, "unsubscribe_url")
        mailto = sender_address(settings)
        msg["List-Unsubscribe"] = f"<{url}>, <mailto:{mailto}?subject=unsubscribe>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg


def make_message_id(settings: Settings, key: str) -> str:
    """A stable Message-ID for a (subscriber, period): a resend carries the same one."""
    domain = sender_address(settings).rsplit("@", 1)[-1]
    safe = "".join(ch if ch.isalnum() or ch in ".-" else "." for ch in key)
    return f"<{safe}@{domain}>"


class Mailer:
    """A reusable SMTP session. Use as a context manager; ``send`` handles retries and the rate bound."""

    def __init__(
        self,
        settings: Settings,
        *,
        retries: int = 3,
        backoff: float = 1.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.interval = 1.0 / settings.mail_rate_limit if settings.mail_rate_limit > 0 else 0.0
        self._next_at = 0.0
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if not s.smtp_host:
            raise ConnectFailure("PAPERFEED_SMTP_HOST is not set")
        try:
            if s.smtp_security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout)
            smtp.ehlo()
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentFailure(
                f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}", code=exc.smtp_code
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ConnectFailure(f"cannot connect to {s.smtp_host}:{s.smtp_port}: {exc}") from exc
        return smtp

    def offers_smtputf8(self) -> bool:
        """Whether the server's EHLO answer lists SMTPUTF8 (connecting if needed)."""
        if self._smtp is None:
            self._smtp = self._connect()
        return bool(self._smtp.has_extn("smtputf8"))

    def _throttle(self) -> None:
        if self.interval:
            wait = self._next_at - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._next_at = max(self._next_at, time.monotonic()) + self.interval

    def send(
        self,
        msg: EmailMessage,
        *,
        before_data: Callable[[], bool] | None = None,
        after_refusal: Callable[[], None] | None = None,
    ) -> None:
        """Deliver ``msg`` to its ``To``; retry transient failures that happened before DATA or were
        answered; raise Permanent/TransientFailure, :class:`UncertainDelivery` or :class:`Aborted`."""
        last: SendFailure | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))
            self._throttle()
            try:
                self._send_once(msg, before_data, after_refusal)
                return
            except TransientFailure as exc:
                last = exc
        assert last is not None
        raise last

    def _send_once(
        self,
        msg: EmailMessage,
        before_data: Callable[[], bool] | None,
        after_refusal: Callable[[], None] | None,
    ) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        sender = sender_address(self.settings)
        rcpt = str(msg["To"])
        utf8 = not (sender.isascii() and rcpt.isascii())
        data_started = False
        try:
            if utf8 and not smtp.has_extn("smtputf8"):
                raise PermanentFailure(f"not sent to {rcpt}: {NO_SMTPUTF8}", code=553)
            code, resp = smtp.mail(sender, ["SMTPUTF8"] if utf8 else [])
            _check(code, resp, "MAIL FROM")
            code, resp = smtp.rcpt(rcpt)
            _check(code, resp, "RCPT TO", ok=(250, 251))
            if before_data is not None and not before_data():
                raise Aborted("not sent: this sender no longer holds the claim")
            data_started = True
            body = msg.as_bytes(policy=POLICY.clone(utf8=True) if utf8 else POLICY)
            code, resp = smtp.data(body)  # raises only if DATA itself is refused
            _check(code, resp, "end of DATA")
        except smtplib.SMTPDataError as exc:
            self._reset(exc.smtp_code)
            _refused(after_refusal)
            raise _failure(exc.smtp_code, f"DATA: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except SendFailure as exc:
            self._reset(exc.code)
            if data_started:
                _refused(after_refusal)
            raise
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
            self._drop()
            if data_started:
                raise UncertainDelivery(f"connection lost after DATA started, no reply from the server: {exc}") from exc
            raise TransientFailure(f"connection lost: {exc}") from exc

    def _reset(self, code: int | None) -> None:
        """After a refused command: RSET to reuse the session, or reconnect after 421 / a broken one."""
        if code == 421 or self._smtp is None:
            self._drop()
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def _refused(after_refusal: Callable[[], None] | None) -> None:
    if after_refusal is not None:
        after_refusal()


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _failure(code: int, message: str) -> SendFailure:
    return PermanentFailure(message, code=code) if 500 <= code < 600 else TransientFailure(message, code=code)


def _check(code: int, resp: bytes, what: str, ok: tuple[int, ...] = (250,)) -> None:
    if code not in ok:
        raise _failure(code, f"{what}: {code} {_text(resp)}")
