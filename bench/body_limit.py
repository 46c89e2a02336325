"""A 200 MB JSON body sent to ``POST /api/v1/submissions`` of a real ``paperfeed serve``: when the answer
comes, how much of the body the server took, and the server's peak memory.

Run: ``python bench/body_limit.py`` (a fresh SQLite store in a temporary folder).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import free_port  # noqa: E402

SIZE = 200 << 20


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
        env.update(
            PAPERFEED_DATA_DIR=f"{tmp}/data",
            PAPERFEED_DATABASE_URL=f"sqlite:///{tmp}/pf.db",
            PAPERFEED_SEED_DEMO="false",
            PAPERFEED_EMBEDDER="none",
        )
        cmd = [sys.executable, "-c", "from paperfeed.cli import main; main()", "serve", "--port", str(port)]
        server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _measure(f"http://127.0.0.1:{port}", port, server.pid)
        finally:
            server.terminate()
            server.wait()


def _measure(url: str, port: int, pid: int) -> None:
    for _ in range(300):
        try:
            if httpx.get(url + "/api/daily_papers", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    body = b'{"title": "' + b"x" * SIZE + b'"}'
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(60)
    started = time.perf_counter()
    head = b"POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    sock.sendall(head + b"Content-Length: %d\r\n\r\n" % len(body))
    sent = 0
    try:
        while sent < len(body):
            sent += sock.send(body[sent : sent + (1 << 20)])
    except OSError as exc:
        print(f"the server stopped taking the body: {type(exc).__name__}")
    status = sock.recv(200).split(b"\r\n")[0].decode()
    took = time.perf_counter() - started
    peak = int(Path(f"/proc/{pid}/status").read_text().split("VmHWM:")[1].split()[0]) // 1024
    print(f"answer after {took:.3f} s: {status}; body sent: {sent >> 20} MiB of {SIZE >> 20}")
    print(f"server peak RSS: {peak} MiB")


if __name__ == "__main__":
    main()
