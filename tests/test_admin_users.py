"""The admin page ``/admin/users``: admins only (403 otherwise), CSRF, add, role, disable/enable, tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.store.users import get_user_by_username
from paperfeed.web.app import create_app
from tests.community_helpers import PASSWORD, csrf_of, member, sign_in


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as c:
        member(app.state.engine, "root", "admin")
        member(app.state.engine, "ada")
        yield c


def engine_of(client: TestClient) -> Engine:
    return client.app.state.engine  # type: ignore[attr-defined,no-any-return]


def role_of(client: TestClient, name: str) -> tuple[str, bool]:
    with engine_of(client).connect() as conn:
        user = get_user_by_username(conn=conn, username=name)
    assert user is not None
    return user.role, user.disabled


def test_only_admins_see_the_page(client: TestClient) -> None:
    r = client.get("/admin/users")
    assert r.status_code == 403 and "Only admins can manage users" in r.text
    sign_in(client, "ada")
    assert client.get("/admin/users").status_code == 403
    token = csrf_of(client.get("/").text)
    r = client.post("/admin/users/ada/role", data={"role": "admin", "csrf_token": token})
    assert r.status_code == 403 and role_of(client, "ada") == ("member", False)


def test_admin_lists_and_adds_users(client: TestClient) -> None:
    sign_in(client, "root")
    page = client.get("/admin/users").text
    assert 'id="user-root"' in page and 'id="user-ada"' in page
    assert '<a href="/admin/users"' in page  # the nav links the page for admins
    r = client.post("/admin/users", data={"username": "new", "email": "new@example.org", "password": PASSWORD})
    assert r.status_code == 400  # no CSRF token
    token = csrf_of(page)
    form = {"username": "new", "email": "new@example.org", "password": "short", "role": "moderator"}
    r = client.post("/admin/users", data=form | {"csrf_token": token})
    assert r.status_code == 400 and "use at least 8 characters" in r.text
    r = client.post("/admin/users", data=form | {"password": PASSWORD, "csrf_token": token})
    assert r.status_code == 200 and "Added new as moderator." in r.text and 'id="user-new"' in r.text
    assert role_of(client, "new") == ("moderator", False)


def test_admin_changes_roles_and_disables(client: TestClient) -> None:
    token = sign_in(client, "root")
    token = csrf_of(client.get("/admin/users").text)
    r = client.post("/admin/users/ada/role", data={"role": "moderator", "csrf_token": token})
    assert "ada is now a moderator." in r.text and role_of(client, "ada") == ("moderator", False)
    r = client.post("/admin/users/ada/disable", data={"csrf_token": token})
    assert "Disabled ada" in r.text and role_of(client, "ada") == ("moderator", True)
    row = re.search(r'<tr id="user-ada" class="disabled">.*?</tr>', r.text, re.S)
    assert row and '<span class="account-state">disabled</span>' in row.group(0)
    r = client.post("/admin/users/ada/enable", data={"csrf_token": token})
    assert "Enabled ada." in r.text and role_of(client, "ada") == ("moderator", False)


def test_admin_cannot_lock_themselves_out(client: TestClient) -> None:
    sign_in(client, "root")
    token = csrf_of(client.get("/admin/users").text)
    r = client.post("/admin/users/root/disable", data={"csrf_token": token})
    assert r.status_code == 400 and "you cannot disable your own account" in r.text
    r = client.post("/admin/users/root/role", data={"role": "member", "csrf_token": token})
    assert r.status_code == 400 and "root is the only admin" in r.text
    assert role_of(client, "root") == ("admin", False)
    r = client.post("/admin/users/nobody/role", data={"role": "member", "csrf_token": token})
    assert r.status_code == 400 and "no user named" in r.text


def test_admin_makes_a_token_shown_once(client: TestClient) -> None:
    sign_in(client, "root")
    token = csrf_of(client.get("/admin/users").text)
    r = client.post("/admin/users/ada/token", data={"csrf_token": token})
    found = re.search(r'<code class="token" id="new-token">(pf_[^<]+)</code>', r.text)
    assert found
    api = client.get("/api/v1/library", headers={"Authorization": f"Bearer {found.group(1)}"})
    assert api.status_code == 200
    assert found.group(1) not in client.get("/admin/users").text
