"""``paperfeed users add|list|role|disable|enable|token``, checked through what members can then do."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.community_helpers import csrf_of
from tests.factories import cli_env, make_paper

PASSWORD = "a long enough password"


@pytest.fixture
def env(settings: Settings, engine: Engine) -> dict[str, str]:
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id="2401.00001")])
    return cli_env(settings.data_dir, settings.database_url)


@pytest.fixture
def web(settings: Settings, env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["users", *args], env=env, input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def add(env: dict[str, str], name: str, *extra: str) -> None:
    code, out, err = run(env, "add", name, "--email", f"{name}@example.org", "--password-stdin", *extra, stdin=PASSWORD)
    assert code == 0, err
    assert out.strip().startswith(f"added {name} <{name}@example.org>")


def listed(env: dict[str, str]) -> dict[str, dict[str, object]]:
    code, out, _ = run(env, "list", "--json")
    assert code == 0
    return {u["username"]: u for u in json.loads(out)}


def sign_in(web: TestClient, name: str) -> int:
    token = csrf_of(web.get("/login").text)
    r = web.post("/login", data={"email": name, "password": PASSWORD, "csrf_token": token}, follow_redirects=False)
    return r.status_code


def test_add_then_list_and_sign_in(env: dict[str, str], web: TestClient) -> None:
    add(env, "ada")
    add(env, "bob", "--role", "moderator")
    users = listed(env)
    assert set(users) == {"ada", "bob"}
    assert users["ada"]["email"] == "ada@example.org" and users["ada"]["role"] == "member"
    assert users["bob"]["role"] == "moderator" and users["bob"]["disabled"] is False
    code, out, _ = run(env, "list")
    assert code == 0 and "ada" in out and "moderator" in out
    assert sign_in(web, "ada") == 303  # the password read from stdin is the member's password


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["ada", "--email", "other@example.org"], PASSWORD, "username: this username is taken"),
        (["eve", "--email", "ada@example.org"], PASSWORD, "email: an account with this email already exists"),
        (["eve", "--email", "not-an-email"], PASSWORD, "email:"),
        (["eve", "--email", "eve@example.org"], "short", "password: use at least 8 characters"),
        (["x", "--email", "x@example.org"], PASSWORD, "username:"),
    ],
)
def test_add_refuses_bad_input_and_stores_nothing(
    env: dict[str, str], args: list[str], stdin: str, message: str
) -> None:
    add(env, "ada")
    code, _, err = run(env, "add", *args, "--password-stdin", stdin=stdin)
    assert code == 1
    assert message in err
    assert set(listed(env)) == {"ada"}


def test_role_changes_what_the_member_may_do(env: dict[str, str], web: TestClient) -> None:
    add(env, "ada")
    add(env, "moe")
    for name in ("ada", "moe"):  # commenting needs a verified address (no mail here: an admin vouches)
        assert run(env, "verify", name)[0] == 0
    token = run(env, "token", "moe")[1].strip().splitlines()[-1]
    ada = run(env, "token", "ada")[1].strip().splitlines()[-1]
    cid = web.post(
        "/api/v1/papers/2401.00001/comments", json={"body": "hi"}, headers={"Authorization": f"Bearer {ada}"}
    ).json()["id"]
    headers = {"Authorization": f"Bearer {token}"}
    assert web.post(f"/api/v1/comments/{cid}/hide", headers=headers).status_code == 403
    code, out, _ = run(env, "role", "MOE", "moderator")
    assert code == 0 and out.strip() == "moe is now a moderator"
    assert listed(env)["moe"]["role"] == "moderator"
    assert web.post(f"/api/v1/comments/{cid}/hide", headers=headers).json()["hidden"] is True
    code, _, err = run(env, "role", "nobody", "admin")
    assert code == 1 and "no user named 'nobody'" in err


def test_token_is_the_last_line_and_works(env: dict[str, str], web: TestClient) -> None:
    add(env, "ada")
    code, out, _ = run(env, "token", "ada")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert token.startswith("pf_")
    r = web.get("/api/v1/library", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["count"] == 0


def test_disable_blocks_sign_in_and_tokens_until_enabled(env: dict[str, str], web: TestClient) -> None:
    add(env, "ada")
    token = run(env, "token", "ada")[1].strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    assert sign_in(web, "ada") == 303
    assert web.get("/account").status_code == 200

    code, out, _ = run(env, "disable", "ada")
    assert code == 0 and out.startswith("disabled ada")
    assert listed(env)["ada"]["disabled"] is True
    assert web.get("/account", follow_redirects=False).status_code == 303  # the session ended
    assert web.get("/api/v1/library", headers=headers).status_code == 401
    csrf = csrf_of(web.get("/login").text)
    r = web.post("/login", data={"email": "ada", "password": PASSWORD, "csrf_token": csrf})
    assert r.status_code == 403 and "This account has been disabled" in r.text
    code, _, err = run(env, "token", "ada")
    assert code == 1 and "disabled" in err

    assert run(env, "enable", "ada")[0] == 0
    assert web.get("/api/v1/library", headers=headers).status_code == 200
    assert sign_in(web, "ada") == 303


def test_an_administrator_verifies_a_members_address_without_mail(env: dict[str, str], web: TestClient) -> None:
    """An instance that cannot send the verification mail: ``users verify`` vouches for the address, and the
    member can then do what needs a verified address (upvote)."""
    add(env, "ada")
    assert listed(env)["ada"]["email_verified"] is False
    code, out, _ = run(env, "list")
    assert code == 0 and "(address not verified)" in out
    assert sign_in(web, "ada") == 303
    _, token_out, _ = run(env, "token", "ada")
    token = token_out.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    refused = web.post("/api/v1/papers/2401.00001/vote", headers=headers)
    assert refused.status_code == 403 and "erif" in refused.text
    code, out, _ = run(env, "verify", "ada")
    assert code == 0 and out.strip() == "verified ada <ada@example.org>"
    assert listed(env)["ada"]["email_verified"] is True
    assert web.post("/api/v1/papers/2401.00001/vote", headers=headers).json()["upvotes"] == 1
    code, out, _ = run(env, "verify", "ada")
    assert code == 0 and "already verified" in out
    code, _, err = run(env, "verify", "nobody")
    assert code == 1 and "no user named 'nobody'" in err
