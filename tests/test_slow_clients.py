"""Slow clients: a real ``paperfeed serve`` closes connections whose request does not arrive in time.

Sockets that send nothing, half their headers, headers one byte at a time, or half the body they announced
are answered ``408 Request Timeout`` and closed once ``PAPERFEED_REQUEST_TIMEOUT`` has passed, while other
clients are served normally the whole time.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.servers import read_until_closed, serve_command

TIMEOUT = 2.0  # PAPERFEED_REQUEST_TIMEOUT of the server under test
SLACK = 2.5  # how late after the timeout a close may come (a loaded CI machine)
PER_KIND = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module (the store does not matter here: SQLite on either test backend)."""
    with serve_command(
        tmp_path_factory.mktemp("slow-clients"), "/api/daily_papers", request_timeout=str(TIMEOUT)
    ) as url:
        yield url


def _connect(url: str, data: bytes = b"") -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    if data:
        sock.sendall(data)
    return sock


def test_incomplete_requests_get_408_and_are_closed_in_time(server: str) -> None:
    half_headers = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow"
    half_body = (
        b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n" + b'{"email": "'
    )
    started = time.monotonic()
    kinds: dict[socket.socket, str] = {}
    for _ in range(PER_KIND):
        kinds[_connect(server)] = "silent"
        kinds[_connect(server, half_headers)] = "half headers"
        kinds[_connect(server, half_body)] = "half body"
        kinds[_connect(server, b"GET / HTTP/1.1\r\nX-Drip: ")] = "dripping headers"  # a header value, a byte at a time
    drip = [s for s, kind in kinds.items() if kind == "dripping headers"]

    served = httpx.get(server + "/api/daily_papers", timeout=5)  # everyone else is still served
    assert served.status_code == 200 and "application/json" in served.headers["content-type"]

    next_drip = time.monotonic() + 0.3

    def dripping(closed: dict[socket.socket, float]) -> None:
        """One more header byte every 0.3 s, which never resets the deadline."""
        nonlocal next_drip
        if time.monotonic() >= next_drip:
            for sock in drip:
                if sock not in closed:
                    with contextlib.suppress(OSError):
                        sock.send(b"E")
            next_drip += 0.3

    deadline = started + TIMEOUT + SLACK + 5
    closed_at, received = read_until_closed(kinds, started=started, deadline=deadline, between=dripping)
    still_open = [kinds[s] for s in kinds if s not in closed_at]
    assert not still_open, f"{len(still_open)} connections still open: {sorted(set(still_open))}"
    for sock, at in closed_at.items():
        assert TIMEOUT - 0.5 <= at <= TIMEOUT + SLACK, f"{kinds[sock]} closed after {at:.1f} s"
        if kinds[sock] != "silent":
            assert received.get(sock, b"").startswith(b"HTTP/1.1 408 "), (kinds[sock], received.get(sock))
        sock.close()
    assert httpx.get(server + "/api/daily_papers", timeout=5).status_code == 200


def test_a_timed_out_request_is_answered_408(server: str) -> None:
    sock = _connect(server, b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
    sock.settimeout(TIMEOUT + SLACK + 2)
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    sock.close()
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close" in received.lower() and b"not received in time" in received


def test_a_complete_request_on_a_kept_alive_connection_is_served(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:  # one connection, requests spread over time
        for _ in range(3):
            assert client.get("/api/daily_papers").status_code == 200
            time.sleep(TIMEOUT * 0.6)
