"""`paperfeed serve --workers N` shares the load: each worker listens on a socket of its own (SO_REUSEPORT),
so connections opened at once (a load balancer's, a benchmark's) are spread over the workers instead of all
going to the first worker that wakes (paperfeed/web/workers.py)."""

from __future__ import annotations

import os
import pickle
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.web.workers import BALANCED, ReusePortSocket, reuse_port_socket
from tests.servers import free_port

pytestmark = pytest.mark.skipif(not BALANCED, reason="connections are balanced over SO_REUSEPORT on Linux only")


def test_a_worker_unpickles_a_socket_of_its_own_on_the_same_address() -> None:
    parent = reuse_port_socket(socket.AF_INET, "127.0.0.1", 0)
    address = parent.getsockname()
    workers = [pickle.loads(pickle.dumps(parent)) for _ in range(2)]  # what uvicorn's supervisor does
    try:
        assert all(isinstance(w, ReusePortSocket) and w.getsockname() == address for w in workers)
        assert len({parent.fileno(), *(w.fileno() for w in workers)}) == 3  # three sockets, not one shared
        for w in workers:
            w.listen(64)
        accepted = [0, 0]
        clients = [socket.create_connection(address) for _ in range(32)]
        deadline = time.monotonic() + 10
        while sum(accepted) < len(clients) and time.monotonic() < deadline:
            ready, _, _ = select.select(workers, [], [], 1)
            for w in ready:
                w.accept()[0].close()
                accepted[workers.index(w)] += 1
        assert sum(accepted) == 32 and min(accepted) > 0, accepted  # the kernel spread them over both
        for c in clients:
            c.close()
    finally:
        for s in (parent, *workers):
            s.close()


def _listening_inodes(port: int) -> dict[str, str]:
    """Socket inode -> TCP state (0A: listening, 01: established) of the local sockets on ``port``."""
    out = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            out[fields[9]] = fields[3]
    return out


def _sockets_of(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_two_workers_each_listen_and_both_take_connections(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path / "serve-data"),
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_SEED_DEMO": "false",
        "PAPERFEED_EMBEDDER": "none",
    }
    cmd = [sys.executable, "-c", "from paperfeed.cli import main; main()", "serve", "--port", str(port)]
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([*cmd, "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while log_path.read_text().count("Application startup complete") < 2:
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        while sorted(_listening_inodes(port).values()).count("0A") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # from startup complete to listening: a few milliseconds
        states = _listening_inodes(port)
        assert sorted(states.values()).count("0A") == 2  # two listening sockets on the port: one per worker
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(16)]
        try:
            for c in clients:  # 16 kept-alive connections, opened at once as a proxy or a benchmark does
                assert "Search papers" in c.get("/search").text
            established = {inode for inode, state in _listening_inodes(port).items() if state == "01"}
            workers = [w for w in _children(proc.pid) if _sockets_of(w) & set(states)]
            assert len(workers) == 2
            held = [len(_sockets_of(w) & established) for w in workers]
            assert sum(held) == 16 and min(held) > 0, held  # both workers serve, not the first one up alone
        finally:
            for c in clients:
                c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
