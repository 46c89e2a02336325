"""A real local HTTP server standing in for export.arxiv.org in harvest and fetch tests.

Each test gives it a ``responder(request) -> Reply``; the server records every request with its
server-side arrival time, so tests can check pacing, retries and what was asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (a dropped connection)


@dataclass
class Request:
    at: float  # time.monotonic() when the server read the request
    path: str
    params: dict[str, str]
    headers: dict[str, str]


DROP = Reply(drop=True)
Responder = Callable[[Request], Reply]


def fixture(name: str, status: int = 200, **headers: str) -> Reply:
    """A reply whose body is a saved file from tests/fixtures, served as arXiv serves it."""
    ctype = "application/atom+xml; charset=utf-8" if name.startswith("api_") else "text/xml;charset=utf-8"
    return Reply(status, (FIXTURES / name).read_bytes(), {"Content-Type": ctype, **headers})


class ArxivServer:
    """``ThreadingHTTPServer`` on 127.0.0.1 with a random port; ``url`` is its base URL."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                split = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                req = Request(time.monotonic(), split.path, params, dict(self.headers.items()))
                server.requests.append(req)
                reply = server.responder(req)
                if reply.drop:
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests, measured on the server."""
        times = [r.at for r in self.requests]
        return [b - a for a, b in zip(times, times[1:], strict=False)]

    def start(self) -> ArxivServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def arxiv_server(responder: Responder) -> Iterator[ArxivServer]:
    server = ArxivServer(responder).start()
    try:
        yield server
    finally:
        server.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
