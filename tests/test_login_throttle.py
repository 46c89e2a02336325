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

from paperfeed.config import Settings
from paperfeed.web.app import create_app
from paperfeed.web.login_throttle import PER_ACCOUNT, PER_ADDRESS
from tests.servers import free_port, running, serve_command


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
        # from an address of its own (sign-ups are limited per address; the proxied server believes it)
        forwarded = {"X-Forwarded-For": f"192.0.2.{sum(username.encode()) % 250}"}
        r = self.http.post("/signup", data={**form, "csrf_token": self.token}, headers=forwarded)
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


def like_a_wrong_password(answer: httpx.Response, typed: str) -> str:
    """Assert ``answer`` is the answer to a wrong password and has no session; the page with the typed
    name taken out, to compare with another wrong-password answer."""
    assert answer.status_code == 400, answer.text
    assert "Wrong email or password." in answer.text, answer.text[answer.text.find("<main") :][:600]
    assert "Wrong email or password." in answer.text and "Too many" not in answer.text
    assert "Retry-After" not in answer.headers and "pf_session" not in answer.cookies
    page = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value="TOKEN"', answer.text)
    return page.replace(typed, "NAME")  # the token is signed with a timestamp: it differs by the second


def test_email_and_username_count_against_the_same_account(proxied: str) -> None:
    """Failures split over both names lock the account: no password is checked after ``PER_ACCOUNT`` of
    them, not even the right one, whichever name is typed (neither name is at its own limit: no 429)."""
    browser = Browser(proxied)
    browser.sign_up("carol")
    half = PER_ACCOUNT // 2
    for i in range(half):
        assert browser.login("carol", "guess guess", f"198.51.101.{i}").status_code == 400
    for i in range(PER_ACCOUNT - half):
        assert browser.login("Carol@Example.org", "guess guess", f"198.51.102.{i}").status_code == 400
    like_a_wrong_password(browser.login("carol@example.org", "correct horse", "192.0.2.1"), "carol@example.org")
    like_a_wrong_password(browser.login("carol", "correct horse", "192.0.2.2"), "carol")
    assert browser.http.get("/account", follow_redirects=False).status_code != 200  # not signed in


def test_a_refusal_does_not_link_an_email_address_to_its_username(proxied: str) -> None:
    """Item 8: after ``PER_ACCOUNT`` failures on an email address, a try with the username (even with the
    right password) answers exactly like a wrong password, checks nothing and signs nobody in; only once
    the username itself has ``PER_ACCOUNT`` failures does it answer 429, as any other name would."""
    browser = Browser(proxied)
    browser.sign_up("dora")
    browser.sign_up("ernst")  # the control: a wrong password for an account nobody is guessing
    for i in range(PER_ACCOUNT):
        assert browser.login("dora@example.org", "guess guess", f"198.51.103.{i}").status_code == 400
    assert browser.login("dora@example.org", "correct horse", "192.0.2.3").status_code == 429
    control = like_a_wrong_password(browser.login("ernst", "not the password", "192.0.2.4"), "ernst")
    # before: 429 "Too many failed sign-in attempts", which told that dora@example.org is dora
    decoy = like_a_wrong_password(browser.login("dora", "correct horse", "192.0.2.5"), "dora")
    assert decoy == control
    assert browser.http.get("/account", follow_redirects=False).status_code != 200  # not signed in
    for i in range(PER_ACCOUNT - 1):  # the username's own count: like an account of its own
        like_a_wrong_password(browser.login("dora", "correct horse", f"198.51.104.{i}"), "dora")
    blocked = browser.login("dora", "correct horse", "192.0.2.6")
    assert blocked.status_code == 429 and "Too many failed sign-in attempts" in blocked.text
    assert int(blocked.headers["Retry-After"]) > 60
    assert browser.login("ernst", "correct horse", "192.0.2.7").status_code == 303  # others unaffected


def test_a_trusted_proxy_forwarded_address_is_the_one_throttled(proxied: str) -> None:
    browser = Browser(proxied)
    for i in range(PER_ADDRESS):
        assert browser.login(f"ghost{i}", "guess guess", "203.0.113.7").status_code == 400
    assert browser.login("ghost-next", "guess guess", "203.0.113.7").status_code == 429
    other = browser.login("ghost-next", "guess guess", "203.0.113.8")  # another client behind the proxy
    assert other.status_code == 400 and "Wrong email or password" in other.text


def test_a_very_long_name_is_counted_like_any_other(settings: Settings) -> None:
    """A name as long as the form allows (2,000 characters) is throttled like a short one, on SQLite and
    PostgreSQL (whose ledger keys are at most 300 characters): wrong password, then 429, never a 500."""
    port = free_port()
    with running(create_app(settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})), port) as url:
        browser = Browser(url)
        long_name = "x" * 1980 + "@example.org"
        for _ in range(PER_ACCOUNT):
            like_a_wrong_password(browser.login(long_name, "guess guess"), long_name)
        blocked = browser.login(long_name.upper(), "guess guess")  # the same name, compared without case
        assert blocked.status_code == 429 and "Too many failed sign-in attempts" in blocked.text
