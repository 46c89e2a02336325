"""Sign-in throttling against a real ``paperfeed serve``: per account and per client address, and client
addresses taken from ``X-Forwarded-For`` only when the connection comes from a proxy named in
``PAPERFEED_TRUSTED_PROXIES`` (none by default).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from paperfeed.web.login_throttle import PER_ACCOUNT, PER_ADDRESS
from tests.servers import serve_command


def _serve(tmp_path: Path, trusted: str) -> Iterator[str]:
    with serve_command(tmp_path, "/login", trusted_proxies=trusted) as url:
        yield url


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server reached directly (the default: no trusted proxies)."""
    yield from _serve(tmp_path_factory.mktemp("direct"), "")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server behind a reverse proxy on 127.0.0.1 (``PAPERFEED_TRUSTED_PROXIES=127.0.0.1``)."""
    yield from _serve(tmp_path_factory.mktemp("proxied"), "127.0.0.1")


class Browser:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.http.get("/signup").text)
        assert found
        self.token = found.group(1)

    def sign_up(self, username: str) -> None:
        form = {"email": f"{username}@example.org", "username": username, "password": "correct horse"}
        r = self.http.post("/signup", data={**form, "csrf_token": self.token})
        assert r.status_code == 303, r.text
        self.http.post("/logout", data={"csrf_token": self.token})
        self.http.cookies.delete("pf_session")

    def login(self, ident: str, password: str, forwarded_for: str | None = None) -> httpx.Response:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        data = {"email": ident, "password": password, "csrf_token": self.token}
        return self.http.post("/login", data=data, headers=headers)


def test_rotating_x_forwarded_for_from_localhost_does_not_bypass_throttling(direct: str) -> None:
    browser = Browser(direct)
    # guesses at many (unknown) accounts, each from a "new address" that the server must not believe
    answers = [browser.login(f"nobody{i}", "guess guess", f"198.51.100.{i}").status_code for i in range(PER_ADDRESS)]
    assert answers == [400] * PER_ADDRESS
    blocked = browser.login("nobody-else", "guess guess", "203.0.113.99")
    assert blocked.status_code == 429 and "Too many failed sign-in attempts" in blocked.text


def test_guessing_one_account_from_many_addresses_is_throttled(proxied: str) -> None:
    browser = Browser(proxied)
    browser.sign_up("ada")
    for i in range(PER_ACCOUNT):  # every guess from another (trusted, forwarded) address
        assert browser.login("ada", "guess guess", f"198.51.100.{i}").status_code == 400
    blocked = browser.login("ada", "correct horse", "192.0.2.200")  # even the right password, from anywhere
    assert blocked.status_code == 429 and "Too many failed sign-in attempts" in blocked.text
    browser.sign_up("bob")  # other members are not locked out by it
    assert browser.login("bob", "correct horse", "198.51.100.1").status_code == 303


def test_email_and_username_count_against_the_same_account(proxied: str) -> None:
    browser = Browser(proxied)
    browser.sign_up("carol")
    half = PER_ACCOUNT // 2
    for i in range(half):
        assert browser.login("carol", "guess guess", f"198.51.101.{i}").status_code == 400
    for i in range(PER_ACCOUNT - half):
        assert browser.login("Carol@Example.org", "guess guess", f"198.51.102.{i}").status_code == 400
    assert browser.login("carol@example.org", "correct horse", "192.0.2.1").status_code == 429
    assert browser.login("carol", "correct horse", "192.0.2.2").status_code == 429


def test_a_trusted_proxy_forwarded_address_is_the_one_throttled(proxied: str) -> None:
    browser = Browser(proxied)
    for i in range(PER_ADDRESS):
        assert browser.login(f"ghost{i}", "guess guess", "203.0.113.7").status_code == 400
    assert browser.login("ghost-next", "guess guess", "203.0.113.7").status_code == 429
    other = browser.login("ghost-next", "guess guess", "203.0.113.8")  # another client behind the proxy
    assert other.status_code == 400 and "Wrong email or password" in other.text
