"""Bounds (issue 21, items 7 and 8): request bodies past ``PAPERFEED_MAX_BODY_BYTES`` are refused before they
are read, a client that never reads its answer is dropped, and ``paperfeed ingest`` refuses decompression
bombs by name and stays under 512 MB of memory for any file. All against real processes on 127.0.0.1."""

from __future__ import annotations

import gzip
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import serve_command

TIMEOUT = 2.0  # PAPERFEED_REQUEST_TIMEOUT of the server under test
TCP_ESTABLISHED = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One ``paperfeed serve`` with the default body limit (1 MB) and a 2 s request timeout."""
    with serve_command(tmp_path_factory.mktemp("bounds"), "/api/daily_papers", request_timeout=str(TIMEOUT)) as url:
        yield url


def _connect(url: str, *, rcvbuf: int | None = None) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: a small window
    sock.settimeout(10)
    sock.connect((host, int(port)))
    return sock


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_a_body_past_the_limit_is_refused_before_it_is_read(server: str) -> None:
    sock = _connect(server)
    started = time.monotonic()
    sock.sendall(  # announces 200 MB, sends 11 bytes: the answer must not wait for the rest
        b"POST /api/v1/submissions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 209715200\r\n\r\n" + b'{"arxiv": "'
    )
    answer = _answer(sock)
    took = time.monotonic() - started
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"larger than 1 MB, the most this server accepts" in answer and b"application/json" in answer
    assert took < TIMEOUT, f"answered after {took:.1f} s: the server waited for the body"
    chunked = httpx.post(  # no Content-Length: read up to the limit, then refused
        server + "/api/v1/submissions",
        content=iter([b"x" * 65536] * 20),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert chunked.status_code == 413 and "larger than 1 MB" in chunked.json()["error"]
    page = httpx.post(server + "/login", content=b"a=" + b"x" * (1 << 20), timeout=30)
    assert page.status_code == 413 and "Too large" in page.text and "text/html" in page.headers["content-type"]
    small = httpx.post(server + "/api/v1/submissions", json={"arxiv": "x" * 900_000}, timeout=30)
    assert small.status_code == 401  # under the limit: read and answered as usual (no token)


def _tcp_state(sock: socket.socket) -> int:
    return int(struct.unpack("B", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1))[0])


def test_a_client_that_never_reads_its_answers_is_dropped(server: str) -> None:
    """Pipelined requests for a large answer, never read: once the buffers are full the server gives the
    client the request timeout to read, then drops it. Nothing here reads a byte."""
    sock = _connect(server, rcvbuf=4096)
    request = b"GET /openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n"
    sock.sendall(request * 120)
    started = time.monotonic()
    while _tcp_state(sock) == TCP_ESTABLISHED and time.monotonic() - started < 60:
        time.sleep(0.1)
        assert httpx.get(server + "/api/daily_papers", timeout=10).status_code == 200  # others are served
    waited = time.monotonic() - started
    assert _tcp_state(sock) != TCP_ESTABLISHED, "the server kept a client that never reads for 60 s"
    assert waited < 30
    sock.close()


# The child reports its own high-water mark (VmHWM, counted from its exec) as it exits. ``wait4``'s ru_maxrss
# would not do: Linux records the forking parent's resident size in the child at exec, so a child of a test
# worker that has loaded a model "peaks" at the worker's size whatever it does itself.
_REPORTING_PEAK = """
import atexit, os, sys
def _peak():
    with open('/proc/self/status') as status, open(os.environ['PEAK_FILE'], 'w') as out:
        out.write(next(line.split()[1] for line in status if line.startswith('VmHWM:')))
atexit.register(_peak)
from paperfeed.cli import main
main()
"""


def _ingest(tmp_path: Path, path: Path) -> tuple[int, str, int]:
    """``paperfeed ingest PATH`` in a child process: its exit code, its output and its own peak resident
    memory in bytes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(PAPERFEED_DATA_DIR=str(tmp_path / "data"), PAPERFEED_SEED_DEMO="false", PAPERFEED_EMBEDDER="none")
    env["PEAK_FILE"] = str(tmp_path / "peak_kb")
    cmd = [sys.executable, "-c", _REPORTING_PEAK, "--db", str(tmp_path / "x.db")]
    with (tmp_path / "ingest.log").open("w+") as log:
        code = subprocess.run([*cmd, "ingest", str(path)], env=env, stdout=log, stderr=subprocess.STDOUT).returncode
        log.seek(0)
        return code, log.read(), int((tmp_path / "peak_kb").read_text()) * 1024


def test_a_decompression_bomb_is_refused_by_name_in_bounded_memory(tmp_path: Path) -> None:
    # 253 KB of gzip that unpacks to 248 MB of XML (the finding's file).
    bomb = tmp_path / "pages.xml.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        out.write(b'<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">')
        for _ in range(248):
            out.write(b" " * (1 << 20))
        out.write(b"</feed>\n")
    assert bomb.stat().st_size < 300_000
    code, output, peak = _ingest(tmp_path, bomb)
    assert f"rejected {bomb}: file is larger than 8 MB, the limit for one document of this format" in output
    assert peak < 512 << 20, f"ingest peaked at {peak >> 20} MiB"
    # A line-based file is streamed, but what it unpacks to is bounded too: 100 times its size plus 64 MB.
    lines = tmp_path / "papers.jsonl.gz"
    with gzip.open(lines, "wb", compresslevel=9) as out:
        out.write(b'{"id": "2401.00001", "title": "A paper", "abstract": "An abstract.", "authors": ["A. B."]}\n')
        for _ in range(96):
            out.write(b"\n" * (1 << 20))
    code, output, peak = _ingest(tmp_path, lines)
    assert code == 1 and f"{lines}: unpacks to more than " in output, output
    assert "(100 times its size plus 64 MB); refused as a decompression bomb" in output
    assert peak < 512 << 20
