"""Members for the discussion and admin tests: created through the same service as ``paperfeed users add``."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.community import users as admin
from paperfeed.store.users import User

PASSWORD = "correct horse battery"


def member(engine: Engine, name: str, role: str = "member") -> tuple[User, dict[str, str]]:
    """A member with ``role`` and the ``Authorization`` header of a fresh personal API token."""
    with engine.begin() as conn:
        user = admin.add_user(conn=conn, username=name, email=f"{name}@example.org", password=PASSWORD, role=role)  # type: ignore[arg-type]
        _, token = admin.new_token(conn=conn, username=name)
    return user, {"Authorization": f"Bearer {token}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns a CSRF token for later forms."""
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"email": name, "password": password, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return token


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
