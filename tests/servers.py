"""Real servers for tests: a free port, a uvicorn server in a thread, and a headless Debian chromium tab.

Every browser and HTTP-client test starts its site through :func:`running`, so the server is always stopped
(in a ``finally``) even when the test or the fixture fails.
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from paperfeed.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def site_settings(data: Path, port: int, *, seed_demo: bool) -> Settings:
    """Settings for a site served on ``port``: its own SQLite file, no model, arXiv unreachable."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=data,
        database_url=str(data / "pf.db"),
        seed_demo=seed_demo,
        demo_enrich=False,  # the demo keeps its saved-page text (tests/test_demo_enrich.py turns it on)
        embedder="none",
        base_url=f"http://127.0.0.1:{port}",
        arxiv_api_url="http://127.0.0.1:9/api/query",
        arxiv_max_retries=0,
    )


@contextmanager
def running(app: FastAPI, port: int, *, timeout: float = 120, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``port`` in a thread; yields its URL and always stops it."""
    import uvicorn

    options: dict[str, Any] = {"log_level": "warning", "lifespan": "on", **config}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        indexed(app)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def indexed(app: FastAPI) -> None:
    """Drive the app's index writer until what it publishes is in step with the store, and serve that (what a
    running instance's writer does within a second, done now: tests never race it or sleep for it)."""
    searcher = getattr(app.state, "searcher", None)
    if searcher is not None:
        searcher.catch_up()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian chromium for the module (Playwright never downloads a browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def chromium_tab(base_url: str, *, permissions: list[str] | None = None, **context: Any) -> Iterator[Any]:
    """A tab in a fresh headless chromium; fails the test if the page threw a JavaScript error."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            ctx = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 900}, **context)
            if permissions:
                ctx.grant_permissions(permissions, origin=base_url)
            ctx.set_default_timeout(20_000)
            tab = ctx.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            yield tab
            ctx.close()
        finally:
            browser.close()
        assert not errors, f"JavaScript errors: {errors}"


@contextmanager
def serve_command(tmp_path: Path, ready_path: str, **settings: str) -> Iterator[str]:
    """``paperfeed serve`` in its own process on a free port: a fresh SQLite store under ``tmp_path``, no demo,
    no model, plus (or instead) ``settings`` (``PAPERFEED_<NAME>`` values); yields its URL once ``ready_path``
    answers 200, and always stops it. The server's output is in ``tmp_path / "serve.log"``."""
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATA_DIR=str(tmp_path / "data"),
        PAPERFEED_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
        PAPERFEED_SEED_DEMO="false",
        PAPERFEED_EMBEDDER="none",
    )
    env.update({f"PAPERFEED_{name.upper()}": value for name, value in settings.items()})  # may override those
    cmd = [sys.executable, "-c", "from paperfeed.cli import main; main()", "serve", "--port", str(port)]
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(url + ready_path, timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, log_path.read_text()
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def read_until_closed(
    sockets: Iterable[socket.socket],
    *,
    started: float,
    deadline: float,
    between: Callable[[dict[socket.socket, float]], None] | None = None,
) -> tuple[dict[socket.socket, float], dict[socket.socket, bytes]]:
    """Read what the server sends on ``sockets`` until it has closed every one or ``time.monotonic()`` passes
    ``deadline``; ``between(closed)`` runs after each wait of at most 0.1 s. Returns when each socket was
    closed (seconds after ``started``; a reset counts as a close) and the bytes each one received."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed: dict[socket.socket, float] = {}
    received: dict[socket.socket, bytes] = {}
    while selector.get_map() and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.1):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            received[sock] = received.get(sock, b"") + chunk
            if not chunk:
                closed[sock] = time.monotonic() - started
                selector.unregister(sock)
        if between is not None:
            between(closed)
    selector.close()
    return closed, received
