"""PostgreSQL for tests: a throwaway PostgreSQL 16 + pgvector server from the ``pgserver`` package.

The suite runs on SQLite by default. With ``PAPERFEED_TEST_BACKEND=postgresql`` the ``settings`` fixture
points every test at a fresh PostgreSQL database instead, cloned from a template that already has every
migration applied (``CREATE DATABASE ... TEMPLATE`` takes a few tens of milliseconds). Tests that need
PostgreSQL whatever the backend (concurrency, ``db copy``) use ``pg_server`` directly and are skipped
when ``pgserver`` cannot start a server.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BACKEND = os.environ.get("PAPERFEED_TEST_BACKEND", "sqlite").strip().lower() or "sqlite"
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"PAPERFEED_TEST_BACKEND must be sqlite or postgresql, not {BACKEND!r}")
PG_BACKEND = BACKEND == "postgresql"
TEMPLATE = "paperfeed_template"
# For the few tests that read SQLite internals (EXPLAIN QUERY PLAN, PRAGMA): skipped on PostgreSQL.
sqlite_only = pytest.mark.skipif(PG_BACKEND, reason="inspects SQLite internals")

# Settings a throwaway server can afford: nothing needs to survive a crash.
_FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PgServer:
    """One running server: URLs, and fresh databases cloned from the migrated template."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/tmp/...
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._prefix = f"t{os.getpid()}_"
        for key, value in _FAST.items():
            self.admin(f"ALTER SYSTEM SET {key} = '{value}'")
        self.admin("SELECT pg_reload_conf()")

    def url(self, database: str = "postgres") -> str:
        """``postgresql://`` URL of ``database`` on this server (over its Unix socket)."""
        base, _, query = self._uri.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{database}?{query}"

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction on the ``postgres`` database."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def exists(self, database: str) -> bool:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        return row is not None

    def ensure_template(self) -> None:
        """Create the template database with every migration applied (once per server)."""
        from paperfeed.config import Settings
        from paperfeed.store.db import open_store

        if self.exists(TEMPLATE):
            return
        self.admin(f"CREATE DATABASE {TEMPLATE}")
        engine = open_store(
            Settings(
                _env_file=None,
                environment="test",  # type: ignore[call-arg]
                database_url=self.url(TEMPLATE),
                seed_demo=False,
            )
        )
        engine.dispose()

    def create_database(self, *, empty: bool = False) -> str:
        """A new database: a migrated clone of the template, or an ``empty`` one. Returns its name."""
        with self._lock:
            name = f"{self._prefix}{next(self._names)}"
        template = "template0" if empty else TEMPLATE
        self.admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


_SERVER: PgServer | None = None
_FAILED: str | None = None


def get_server() -> PgServer | None:
    """The process-wide test server, started on first use; None (with the reason kept) if it cannot start."""
    global _SERVER, _FAILED
    if _SERVER is not None or _FAILED is not None:
        return _SERVER
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver

        root = Path(tempfile.mkdtemp(prefix="paperfeed-pg-"))
        _SERVER = PgServer(pgserver.get_server(root, cleanup_mode="delete"))
        _SERVER.ensure_template()
    except Exception as exc:  # noqa: BLE001 - reported as the skip reason
        _FAILED = f"cannot start PostgreSQL from pgserver: {exc}"
        if PG_BACKEND:
            raise
    return _SERVER


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """A running PostgreSQL 16 + pgvector server (skips the test when none can be started)."""
    server = get_server()
    if server is None:
        pytest.skip(_FAILED or "PostgreSQL unavailable")
    return server


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database, dropped after the test."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


def database_url_for(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database the ``settings`` fixture uses: a SQLite file, or a fresh PostgreSQL database."""
    if not PG_BACKEND:
        return str(tmp_path / "data" / "paperfeed.db")
    url: str = request.getfixturevalue("pg_url")
    return url
