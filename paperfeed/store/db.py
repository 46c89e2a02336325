"""Opening the database: engine with SQLite pragmas (WAL, foreign keys), and Alembic migrations.

``open_store(settings)`` is what the CLI and the web app call: it creates the SQLite folder if needed,
applies pending migrations and returns the engine.
"""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from paperfeed.config import Settings
from paperfeed.store.faults import disk_full_cause

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class StoreError(RuntimeError):
    """The database cannot be opened or upgraded; the message says which and why."""


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLAlchemy form). SQLite files get WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=NullPool if not database or database == ":memory:" else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Sessions in UTC whatever the server's default: date arithmetic and to_char() then agree with SQLite.
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args={"options": "-c timezone=UTC"}
    )


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config  # imported on use: alembic costs ~0.5 s, `paperfeed --help` needs none

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # ConfigParser interpolates "%": escape it (percent-encoded passwords, socket paths).
        url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every pending migration (all branches: ``heads``)."""
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def _heads_from_files() -> set[str]:
    """The head revisions, read from the migration files' ``revision``/``down_revision`` lines (no import:
    alembic loads every migration module, about 0.2 s of each command's start)."""
    revisions: set[str] = set()
    below: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                value = ast.literal_eval(node.value) if isinstance(node.value, ast.Constant | ast.Tuple) else None
                if node.targets[0].id == "revision" and isinstance(value, str):
                    revisions.add(value)
                elif node.targets[0].id == "down_revision" and value:
                    below.update([value] if isinstance(value, str) else value)
    return revisions - below


def is_current(engine: Engine) -> bool:
    """True when the database has every migration applied."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        applied = {r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()}
    if applied == _heads_from_files():
        return True
    from alembic.script import ScriptDirectory  # the exact answer when the quick one says no

    return applied == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def open_store(settings: Settings, *, migrate: bool = True) -> Engine:
    """Engine for the configured database, migrated to the latest schema."""
    url = settings.resolved_database_url
    try:
        engine = make_engine(url)
        if migrate and not is_current(engine):
            upgrade(engine)
    except Exception as exc:  # noqa: BLE001 - surface one clear line to the user
        safe = make_url(url).render_as_string(hide_password=True)
        full = disk_full_cause(exc)  # one line, not the driver's SQL dump
        raise StoreError(f"cannot open database {safe}: " + (f"disk full ({full})" if full else str(exc))) from exc
    return engine
