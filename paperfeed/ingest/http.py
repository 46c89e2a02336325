"""A polite HTTP client for arXiv: paced calls, jittered backoff, ``Retry-After``, fast failure offline.

arXiv asks API and OAI-PMH clients for at most one request every 3 seconds and answers bursts with
``503 Retry-After``. Every call made through one ``PoliteClient`` (retries included) starts at least
``interval`` seconds after the previous call finished. Transient failures (429, 5xx, a dropped
connection, a read timeout) are retried with exponential backoff and jitter, waiting at least what
``Retry-After`` asks. A host that cannot be reached at all (connection refused, DNS failure: no
network) gets one quick retry, then ``ArxivUnavailable``, so a cron job offline fails in seconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

import httpx

from paperfeed.config import Settings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CONNECT_TIMEOUT = 5.0  # seconds to open a connection: offline must fail fast
CONNECT_RETRY_DELAY = 1.0  # the one quick retry after "cannot connect"
MAX_RETRY_AFTER = 600.0  # a server asking for longer than this is treated as down
WaitFn = Callable[[str, float], None]


class ArxivUnavailable(RuntimeError):
    """arXiv could not be reached or kept failing; the message names the URL and the cause."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


def user_agent(settings: Settings) -> str:
    """``Paperfeed/0.1.0 (+https://site; mailto:admin)``: arXiv asks harvesters to identify themselves."""
    try:
        ver = version("paperfeed")
    except PackageNotFoundError:
        ver = "dev"
    parts = [f"+{settings.base_url.strip()}" if settings.base_url.strip() else ""]  # unset: no site to name
    parts.append(f"mailto:{settings.mail_from}" if settings.mail_from else "")
    about = "; ".join(x for x in parts if x)
    return f"Paperfeed/{ver}{f' ({about})' if about else ''} python-httpx/{httpx.__version__}"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent/bad."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _cause(exc: BaseException) -> str:
    """The innermost useful message of a transport error, on one line."""
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


class PoliteClient:
    """GET with pacing and retries. One instance per job; use it as a context manager."""

    def __init__(
        self, *, interval: float, max_retries: int, timeout: float, agent: str, on_wait: WaitFn | None = None
    ) -> None:
        self.interval = max(0.0, interval)
        self.max_retries = max(0, max_retries)
        self.on_wait = on_wait
        self.calls = 0
        self._last_done: float | None = None
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            headers={"User-Agent": agent},
            follow_redirects=True,
        )

    @classmethod
    def from_settings(cls, settings: Settings, on_wait: WaitFn | None = None) -> PoliteClient:
        return cls(
            interval=settings.arxiv_request_interval,
            max_retries=settings.arxiv_max_retries,
            timeout=settings.http_timeout,
            agent=user_agent(settings),
            on_wait=on_wait,
        )

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _pause(self, at_least: float = 0.0) -> None:
        """Sleep so this call starts >= ``interval`` (and >= ``at_least``) after the previous one ended."""
        if self._last_done is None:
            return
        gap = max(self.interval, at_least)
        delay = self._last_done + gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff from the pacing interval (at least 1 s apart in production), with jitter."""
        base = max(self.interval, 0.05) * (2**attempt)
        return base * (1.0 + random.uniform(0.0, 0.5))

    def _attempt(self, url: str, params: Mapping[str, str] | None) -> httpx.Response:
        try:
            return self._http.get(url, params=params)
        finally:
            self.calls += 1
            self._last_done = time.monotonic()

    def get(self, url: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        """The response to a GET (2xx, or a 4xx other than 429 for the caller to read).

        Raises ArxivUnavailable when the host cannot be reached or retries are used up.
        """
        wait = 0.0
        connect_failures = 0
        for attempt in range(self.max_retries + 1):
            self._pause(wait)
            try:
                resp = self._attempt(url, params)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:  # a setting, not the network
                raise ArxivUnavailable(
                    f"{url!r} is not a usable URL: {_cause(exc)} (check "
                    "PAPERFEED_ARXIV_API_URL / PAPERFEED_ARXIV_OAI_URL)",
                    url=url,
                ) from exc
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                connect_failures += 1
                if connect_failures > 1 or attempt >= self.max_retries:
                    raise ArxivUnavailable(f"cannot reach {_host(url)}: {_cause(exc)} (no network?)", url=url) from exc
                wait = CONNECT_RETRY_DELAY
                self._notify(f"cannot connect to {_host(url)}", wait)
                continue
            except httpx.TransportError as exc:  # dropped connection, read timeout, broken stream
                if attempt >= self.max_retries:
                    raise ArxivUnavailable(
                        f"{url}: {_cause(exc)} (gave up after {attempt + 1} tries)", url=url
                    ) from exc
                wait = self._backoff(attempt)
                self._notify(f"{_cause(exc)}", wait)
                continue
            if resp.status_code not in RETRY_STATUSES:
                return resp
            asked = parse_retry_after(resp.headers.get("Retry-After"))
            if asked is not None and asked > MAX_RETRY_AFTER:
                raise ArxivUnavailable(
                    f"{url}: HTTP {resp.status_code}, server asks to wait {asked:.0f} s; try again later", url=url
                )
            if attempt >= self.max_retries:
                raise ArxivUnavailable(
                    f"{url}: HTTP {resp.status_code} {resp.reason_phrase} (gave up after {attempt + 1} tries)", url=url
                )
            wait = max(asked or 0.0, self._backoff(attempt))
            self._notify(f"HTTP {resp.status_code}", wait)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _notify(self, reason: str, seconds: float) -> None:
        if self.on_wait is not None:
            self.on_wait(reason, seconds)
