"""Paper page time with pathological comments: rendered once at write time (stored HTML) against rendered on
every view (the stored HTML cleared, which is what the code did before migration 0013).

Run: ``python bench/comment_pages.py`` (SQLite in a temporary folder; prints median seconds per page).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.community.comments import post_comment  # noqa: E402
from paperfeed.config import Settings  # noqa: E402
from paperfeed.secret_key import ensure_secret_key  # noqa: E402
from paperfeed.store.email_verification import mark_email_verified  # noqa: E402
from paperfeed.store.papers import upsert_papers  # noqa: E402
from paperfeed.store.users import create_user, get_user  # noqa: E402
from paperfeed.web.app import create_app  # noqa: E402
from tests.factories import make_paper  # noqa: E402

PATHOLOGICAL = [
    "[" * 5000 + "a" + "]" * 4999,  # nested link brackets: the slowest markdown-it input we found (10,000 chars)
    "[](" * 3333,
    "http://a.b " * 900,
    "**a" * 3333,
    "*a " * 3333,
]
RUNS = 15


def _page_times(client: TestClient, url: str) -> float:
    client.get(url)  # warm
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = ensure_secret_key(
            Settings(  # type: ignore[call-arg]
                _env_file=None,
                environment="test",
                data_dir=data / "data",
                database_url=str(data / "pf.db"),
                seed_demo=False,
                embedder="none",
                base_url="http://testserver",
            )
        )
        app = create_app(settings)
        with TestClient(app) as client:
            engine = app.state.engine
            paper = make_paper(id="2401.00001")
            with engine.begin() as conn:
                upsert_papers(conn=conn, papers_in=[paper])
                made = create_user(conn=conn, email="ada@example.org", username="ada", password_hash="x")
                mark_email_verified(conn=conn, user_id=made.id, email=made.email, now=datetime.now(UTC))
                user = get_user(conn=conn, user_id=made.id)
            url = f"/papers/{paper.id}"
            empty = _page_times(client, url)
            with engine.begin() as conn:
                for i in range(10):
                    assert user is not None
                    post_comment(conn=conn, user=user, paper_id=paper.id, body=PATHOLOGICAL[i % len(PATHOLOGICAL)])
                    # older: the member's 5-a-minute comment limit does not apply to this set-up
                    conn.execute(text("UPDATE comments SET created_at = :t"), {"t": datetime(2024, 1, 1, tzinfo=UTC)})
            stored = _page_times(client, url)
            with engine.begin() as conn:
                conn.execute(text("UPDATE comments SET body_html = NULL"))
            on_view = _page_times(client, url)
    print(f"paper page, no comments:                          {empty:.3f} s")
    print(f"paper page, 10 pathological comments, stored HTML: {stored:.3f} s")
    print(f"same, rendered on every view (before 0013):       {on_view:.3f} s")


if __name__ == "__main__":
    main()
