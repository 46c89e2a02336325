"""Migration 0007_community on a store made before it: members keep their accounts, admins stay admins."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text

from paperfeed.store.db import alembic_config, make_engine, upgrade
from paperfeed.store.users import get_user_by_username


def test_existing_members_get_roles_and_stay_enabled(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
    with engine.begin() as conn:
        for name, admin in (("root", True), ("ada", False)):
            conn.execute(
                text(
                    "INSERT INTO users (email, username, display_name, password_hash, created_at, is_admin) "
                    "VALUES (:e, :u, :u, 'x', :t, :a)"
                ),
                {"e": f"{name}@example.org", "u": name, "t": datetime(2024, 1, 1, tzinfo=UTC), "a": admin},
            )
    upgrade(engine)
    with engine.connect() as conn:
        root = get_user_by_username(conn=conn, username="root")
        ada = get_user_by_username(conn=conn, username="ada")
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
    assert root is not None and (root.role, root.disabled) == ("admin", False)
    assert ada is not None and (ada.role, ada.disabled) == ("member", False)
    assert {"comments", "comment_votes", "comment_reports"} <= tables
    engine.dispose()
