"""The instance secret: generated per instance when not configured, kept private, never shared.

Two fresh instances (separate data dirs, no ``PAPERFEED_SECRET_KEY``) must never accept each other's
confirmation, manage, unsubscribe or CSRF tokens; a bad, foreign or expired link answers 400 with a page
that says how to get a working one. Settings errors are one line naming the variable and the rule.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import patch

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.digest.render import make_token
from paperfeed.secret_key import ensure_secret_key, key_path
from paperfeed.store.subscriptions import get_subscriber
from paperfeed.web.app import create_app
from tests.smtp_server import add_active


def _instance(tmp_path: Path, name: str) -> Settings:
    """A fresh instance as an operator would start it: no secret configured."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=tmp_path / name,
        database_url=f"sqlite:///{tmp_path / name}.db",
        seed_demo=False,
        embedder="none",
        base_url="http://testserver",
    )


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")} | env
    code = "from paperfeed.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], env=full, capture_output=True, text=True, timeout=120)


def test_without_a_configured_secret_each_instance_makes_its_own_private_key(tmp_path: Path) -> None:
    first, second = _instance(tmp_path, "a"), _instance(tmp_path, "b")
    assert first.secret_key == ""  # nothing public to fall back on
    key_a, key_b = ensure_secret_key(first).secret_key, ensure_secret_key(second).secret_key
    assert key_a != key_b and len(key_a) >= 43  # 48 random bytes, URL-safe base64
    mode = stat.S_IMODE(key_path(first).stat().st_mode)
    assert mode == 0o600, oct(mode)  # readable by its owner only
    assert ensure_secret_key(_instance(tmp_path, "a")).secret_key == key_a  # kept across restarts


def test_the_cli_makes_the_key_once_and_a_configured_secret_wins(tmp_path: Path) -> None:
    env = {"PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_SEED_DEMO": "false", "PAPERFEED_EMBEDDER": "none"}
    assert _cli("stats", env=env).returncode == 0
    made = (tmp_path / "data" / "secret_key").read_text().strip()
    assert _cli("stats", env=env).returncode == 0
    assert (tmp_path / "data" / "secret_key").read_text().strip() == made
    configured = "c" * 40
    settings = ensure_secret_key(_instance(tmp_path, "data").model_copy(update={"secret_key": configured}))
    assert settings.secret_key == configured


@pytest.mark.parametrize("command", [["stats"], ["serve", "--port", "1"]])
def test_a_short_secret_is_refused_in_one_line_naming_the_variable_and_the_rule(
    tmp_path: Path, command: list[str]
) -> None:
    env = {"PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_SECRET_KEY": "too-short-to-sign-anything"}
    result = _cli(*command, env=env)
    assert result.returncode == 1
    assert "PAPERFEED_SECRET_KEY: must be at least 32 characters" in result.stderr
    assert "validation error" not in result.stderr and "Traceback" not in result.stderr
    assert "too-short-to-sign-anything" not in result.stderr  # a secret is never echoed


def test_every_settings_error_names_its_variable(tmp_path: Path) -> None:
    env = {
        "PAPERFEED_DATA_DIR": str(tmp_path / "data"),
        "PAPERFEED_SMTP_PORT": "twenty-five",
        "PAPERFEED_ENVIRONMENT": "staging",
        "PAPERFEED_TRUSTED_PROXIES": "10.0.0.1, proxy.example",
    }
    lines = [line for line in _cli("stats", env=env).stderr.splitlines() if line.strip()]
    assert len(lines) == 3, lines
    assert any(line.startswith("error: PAPERFEED_SMTP_PORT: input should be a valid integer") for line in lines)
    assert any(line.startswith("error: PAPERFEED_ENVIRONMENT: input should be 'development'") for line in lines)
    assert any("PAPERFEED_TRUSTED_PROXIES: 'proxy.example' is not an IP address or CIDR" in line for line in lines)


def _started(settings: Settings) -> TestClient:
    client = TestClient(create_app(settings))
    client.get("/subscribe")  # opens (creates) the store
    return client


def test_two_fresh_instances_never_accept_each_others_links(tmp_path: Path) -> None:
    a, b = _started(_instance(tmp_path, "a")), _started(_instance(tmp_path, "b"))
    key_a = a.app.state.settings.secret_key  # type: ignore[attr-defined]
    engine_b = b.app.state.engine  # type: ignore[attr-defined]
    # The same address pending on B: the operator of A signs links for it with A's key.
    with engine_b.begin() as conn:
        from paperfeed.store.subscriptions import create_or_refresh_pending

        pending, _ = create_or_refresh_pending(conn=conn, email="victim@example.org", prefs={}, now=_now())
    active = add_active(engine_b, "reader@example.org", topics=["graph neural networks"])
    forged = {
        "confirm": make_token(secret_key=key_a, purpose="confirm", subscriber_id=pending.id, email=pending.email),
        "manage": make_token(secret_key=key_a, purpose="manage", subscriber_id=active, email="reader@example.org"),
        "unsubscribe": make_token(
            secret_key=key_a, purpose="unsubscribe", subscriber_id=active, email="reader@example.org"
        ),
    }
    for path in (
        f"/subscriptions/confirm/{forged['confirm']}",
        f"/subscriptions/manage/{forged['manage']}",
        f"/unsubscribe/{forged['unsubscribe']}",
    ):
        page = b.get(path)
        assert page.status_code == 400, path
        assert "This link does not work" in page.text and "subscribe again with your address" in page.text
        assert "graph neural networks" not in page.text
    assert b.post(f"/unsubscribe/{forged['unsubscribe']}").status_code == 400
    with engine_b.connect() as conn:
        assert get_subscriber(conn=conn, email="victim@example.org").status == "pending"  # type: ignore[union-attr]
        assert get_subscriber(conn=conn, email="reader@example.org").status == "active"  # type: ignore[union-attr]


def test_a_csrf_token_of_another_instance_is_refused(tmp_path: Path) -> None:
    a, b = _started(_instance(tmp_path, "a")), _started(_instance(tmp_path, "b"))
    token_a = re.search(r'name="csrf_token" value="([^"]+)"', a.get("/signup").text).group(1)  # type: ignore[union-attr]
    b.cookies.set("pf_csrf", a.cookies.get("pf_csrf") or "")  # the browser id that A's token is bound to
    form = {"email": "ada@example.org", "username": "ada", "password": "correct horse", "csrf_token": token_a}
    refused = b.post("/signup", data=form)
    assert refused.status_code == 400 and "Reload the page and try again" in refused.text
    assert "ada" not in b.get("/login").text  # nobody signed in on B


def test_expired_and_mangled_links_answer_400_saying_what_to_do(tmp_path: Path) -> None:
    client = _started(_instance(tmp_path, "a"))
    settings = client.app.state.settings  # type: ignore[attr-defined]
    sub = add_active(client.app.state.engine, "late@example.org")  # type: ignore[attr-defined]
    with patch("itsdangerous.timed.time.time", return_value=time.time() - 400 * 86400):
        old = make_token(secret_key=settings.secret_key, purpose="manage", subscriber_id=sub, email="late@example.org")
    expired = client.get(f"/subscriptions/manage/{old}")
    assert expired.status_code == 400
    assert "This link has expired" in expired.text and "subscribe again with your address" in expired.text
    mangled = client.get("/unsubscribe/not-a-token")
    assert mangled.status_code == 400 and "This link is not valid" in mangled.text
    assert 'href="/subscribe"' in mangled.text


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)
