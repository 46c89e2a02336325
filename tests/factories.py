"""Test data builders: realistic papers without touching the network, and a started site holding them."""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from paperfeed.config import Settings
from paperfeed.ids import abs_url, pdf_url
from paperfeed.models import Author, Paper, Version
from paperfeed.store.api_tokens import create_api_token
from paperfeed.store.db import open_store
from paperfeed.store.email_verification import mark_email_verified
from paperfeed.store.papers import upsert_papers
from paperfeed.store.users import User, create_user, get_user
from paperfeed.web.app import create_app

_counter = itertools.count(1)
CORPORA = Path(__file__).parent / "fixtures" / "papers"


def make_paper(**overrides: object) -> Paper:
    """A valid arXiv paper with a unique id; override any field."""
    n = next(_counter)
    pid = str(overrides.pop("id", f"2401.{n:05d}"))
    published = overrides.pop("published", datetime(2024, 1, 1 + n % 28, 18, 0, tzinfo=UTC))
    paper = Paper(
        id=pid,
        title=f"A Study of Example Topic Number {n}",
        abstract=f"We study example topic {n} with careful experiments and report results.",
        authors=[Author("Ada Lovelace", ["Analytical Engines Ltd"]), Author("Alan Turing")],
        categories=["cs.CL", "cs.LG"],
        primary_category="cs.CL",
        published=published,  # type: ignore[arg-type]
        updated=published,  # type: ignore[arg-type]
        versions=[Version(1, published)],  # type: ignore[arg-type]
        abs_url=abs_url(pid),
        pdf_url=pdf_url(pid),
        source="test",
    )
    for key, value in overrides.items():
        setattr(paper, key, value)
    return paper


def corpus_rows(name: str) -> list[dict[str, Any]]:
    """The papers of ``tests/fixtures/papers/<name>.toml`` as :func:`make_paper` keyword arguments: each
    ``[[paper]]`` table's fields, with author names turned into :class:`Author` values."""
    with (CORPORA / f"{name}.toml").open("rb") as f:
        rows: list[dict[str, Any]] = tomllib.load(f)["paper"]
    for row in rows:
        if "authors" in row:
            row["authors"] = [Author(author) for author in row["authors"]]
    return rows


def corpus(name: str) -> list[Paper]:
    """The papers of ``tests/fixtures/papers/<name>.toml`` (see :func:`corpus_rows`)."""
    return [make_paper(**row) for row in corpus_rows(name)]


def add_papers(engine: Engine, papers: Sequence[Paper]) -> None:
    """Add (or update) ``papers`` in the store at ``engine``."""
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=list(papers))


def keyed_corpus(engine: Engine, name: str, build: Callable[..., Paper]) -> dict[str, Paper]:
    """Each ``[[paper]]`` table of ``tests/fixtures/papers/<name>.toml`` made into a paper by ``build(**fields)``
    (all fields but ``key``) and stored; the papers by their ``key``."""
    papers = {row.pop("key"): build(**row) for row in corpus_rows(name)}
    add_papers(engine, list(papers.values()))
    return papers


@contextmanager
def site_client(settings: Settings, papers: Sequence[Paper] = ()) -> Iterator[TestClient]:
    """A started ``TestClient(create_app(settings))`` whose store already holds ``papers``."""
    app = create_app(settings)
    with TestClient(app) as client:
        if papers:
            with app.state.engine.begin() as conn:
                upsert_papers(conn=conn, papers_in=list(papers))
        yield client


def create_verified_user(*, conn: Connection, **fields: Any) -> User:
    """:func:`paperfeed.store.users.create_user` (same arguments) with the email address verified: only such
    members' votes count, and only they vote, comment, submit and claim."""
    user = create_user(conn=conn, **fields)
    mark_email_verified(conn=conn, user_id=user.id, email=user.email, now=datetime.now(UTC))
    found = get_user(conn=conn, user_id=user.id)
    assert found is not None
    return found


def api_token(engine: Engine, username: str, *, name: str = "test", verified: bool = True) -> str:
    """A new member ``username`` (``<username>@example.org``; its address verified unless ``verified`` is
    False) and a personal API token ``name`` of theirs; returns the token."""
    with engine.begin() as conn:
        user = create_user(conn=conn, email=f"{username}@example.org", username=username, password_hash="x")
        if verified:
            mark_email_verified(conn=conn, user_id=user.id, email=user.email, now=datetime.now(UTC))
        return create_api_token(conn=conn, user_id=user.id, name=name)


def cli_env(data_dir: Path, database_url: str, **more: str) -> dict[str, str]:
    """The environment of a ``paperfeed`` command on the store at ``database_url``: no model, nothing
    downloaded, no demo corpus; ``more`` on top, as ``PAPERFEED_<NAME>`` values by lower-case name."""
    env = {
        "PAPERFEED_DATA_DIR": str(data_dir),
        "PAPERFEED_DATABASE_URL": database_url,
        "PAPERFEED_EMBEDDER": "none",
        "PAPERFEED_SEED_DEMO": "false",
        "HF_HUB_OFFLINE": "1",
    }
    return env | {f"PAPERFEED_{name.upper()}": value for name, value in more.items()}


def store_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings of a store at ``database_url``: no demo corpus, no model (for tests that open several)."""
    values: dict[str, Any] = {"environment": "test", "seed_demo": False, "embedder": "none", **overrides}
    return Settings(_env_file=None, data_dir=data_dir, database_url=database_url, **values)  # type: ignore[call-arg]


def write_file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """``content`` (text as UTF-8) in a new file ``tmp_path / name``."""
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


@contextmanager
def opened_store(data_dir: Path, database_url: str, **overrides: Any) -> Iterator[Engine]:
    """The migrated store at ``database_url``, disposed of however the block ends."""
    engine = open_store(store_settings(data_dir, database_url, **overrides))
    try:
        yield engine
    finally:
        engine.dispose()
