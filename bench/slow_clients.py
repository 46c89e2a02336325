"""Slow clients against a real server: N connections with unfinished headers and N with unfinished bodies.

    python bench/slow_clients.py                 # paperfeed serve (PAPERFEED_REQUEST_TIMEOUT, default 15 s)
    python bench/slow_clients.py --plain         # the same app under plain uvicorn.run (no request deadline)

Reports, per kind, how many connections the server closed within ``--wait`` seconds and when the last one
closed, and how long a normal request took meanwhile. Uses a fresh SQLite store in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import read_until_closed  # noqa: E402 - the same socket watch as tests/test_slow_clients.py

HALF_HEADERS = b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: slow"
HALF_BODY = (
    b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n" + b'{"email": "'
)
PLAIN = "import uvicorn; from paperfeed.web.app import create_app; uvicorn.run(create_app(), port={port})"


def _start(port: int, plain: bool, folder: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(folder / "data"),
        "PAPERFEED_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "PAPERFEED_SEED_DEMO": "false",
        "PAPERFEED_EMBEDDER": "none",
    }
    serve = [sys.executable, "-c", "from paperfeed.cli import main; main()", "serve", "--port", str(port)]
    cmd = [sys.executable, "-c", PLAIN.format(port=port)] if plain else serve
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/daily_papers", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def _attack(port: int, n: int, wait: float) -> None:
    kinds: dict[socket.socket, str] = {}
    for _ in range(n):
        for kind, data in (("headers", HALF_HEADERS), ("body", HALF_BODY)):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(data)
            sock.setblocking(False)
            kinds[sock] = kind
    started = time.monotonic()
    side = httpx.get(f"http://127.0.0.1:{port}/api/daily_papers", timeout=30)
    print(f"a normal request meanwhile: {side.status_code} in {time.monotonic() - started:.2f} s")
    closed, _ = read_until_closed(kinds, started=started, deadline=started + wait)
    for kind in ("headers", "body"):
        times = [t for s, t in closed.items() if kinds[s] == kind]
        last = f" (the last after {max(times):.1f} s)" if times else ""
        print(f"unfinished {kind}: {n} opened, {len(times)} closed within {wait:.0f} s{last}")
    for sock in kinds:
        sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", action="store_true", help="plain uvicorn.run, without the request deadline")
    parser.add_argument("-n", type=int, default=300, help="connections of each kind")
    parser.add_argument("--wait", type=float, default=25.0, help="seconds to wait for the server to close them")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        proc = _start(port, args.plain, Path(folder))
        try:
            _attack(port, args.n, args.wait)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
