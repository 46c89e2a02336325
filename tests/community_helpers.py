"""Members for the discussion and admin tests: created through the same service as ``paperfeed users add``."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.community import users as admin
from paperfeed.store.email_verification import mark_email_verified
from paperfeed.store.users import User, get_user_by_username

PASSWORD = "correct horse battery"


def member(engine: Engine, name: str, role: str = "member", *, verified: bool = True) -> tuple[User, dict[str, str]]:
    """A member with ``role`` and the ``Authorization`` header of a fresh personal API token; ``verified``:
    the email address is verified (only such members vote, comment, submit and claim)."""
    with engine.begin() as conn:
        user = admin.add_user(conn=conn, username=name, email=f"{name}@example.org", password=PASSWORD, role=role)  # type: ignore[arg-type]
        _, token = admin.new_token(conn=conn, username=name)
        if verified:
            mark_email_verified(conn=conn, user_id=user.id, email=user.email, now=datetime.now(UTC))
            user = replace(user, email_verified_at=datetime.now(UTC))
    return user, {"Authorization": f"Bearer {token}"}


def verify_member(engine: Engine, username: str) -> None:
    """Mark ``username``'s email address verified, as following the mailed link does."""
    with engine.begin() as conn:
        user = get_user_by_username(conn=conn, username=username)
        assert user is not None, username
        mark_email_verified(conn=conn, user_id=user.id, email=user.email, now=datetime.now(UTC))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns a CSRF token for later forms (made under the new session: a form's
    token is bound to the session it was shown in)."""
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"email": name, "password": password, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/account").text)


def browser_sign_in(page: Any, name: str, then: str, password: str = PASSWORD) -> None:
    """Sign in through the form in a Playwright tab and wait to land on ``then``."""
    page.goto("/login?next=" + then)
    page.fill("input[name=email]", name)
    page.fill("input[name=password]", password)
    page.click("main button:has-text('Sign in')")
    page.wait_for_url("**" + then.split("#")[0])


def browser_sign_out(page: Any) -> None:
    """Sign out from the header in a Playwright tab."""
    page.click("nav button:has-text('Sign out')")
    page.wait_for_url("**/")
