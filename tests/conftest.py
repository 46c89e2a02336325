"""Shared fixtures: every test gets its own data dir and a fresh, migrated SQLite store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from paperfeed.config import Settings  # noqa: E402
from paperfeed.secret_key import ensure_secret_key  # noqa: E402
from paperfeed.store.db import open_store  # noqa: E402
from tests.pg import database_url_for, pg_server, pg_url  # noqa: E402,F401 - PostgreSQL fixtures

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings for an isolated instance: its own data dir and SQLite file, no demo seeding, no model, and
    its own secret key (generated in the data dir, as on a first start)."""
    made = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url_for(request, tmp_path),  # PAPERFEED_TEST_BACKEND=postgresql: PG
        seed_demo=False,
        demo_enrich=False,  # a test that seeds the demo never asks the real arXiv (test_demo_enrich.py: a stand-in)
        embedder="none",
        base_url="http://testserver",
        arxiv_request_interval=0.0,
        index_writer=False,  # tests drive the writer themselves (see written_before_each_request)
    )
    return ensure_secret_key(made)


@pytest.fixture(autouse=True)
def written_before_each_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request a test client sends first runs the app's index writer until the published generation is
    up to date with the store (nothing when it is): what a running instance's writer does within a second,
    done deterministically, so no test races the writer or sleeps for it. Servers started as processes
    (tests/servers.py) run their own writer; tests wait on what they publish."""
    from fastapi.testclient import TestClient

    send = TestClient.request

    def request(self: TestClient, *args: object, **kwargs: object) -> object:
        searcher = getattr(getattr(self.app, "state", None), "searcher", None)
        if searcher is not None and hasattr(searcher, "catch_up"):
            searcher.catch_up()
        return send(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(TestClient, "request", request)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = open_store(settings)
    yield eng
    eng.dispose()
