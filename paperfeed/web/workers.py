"""Several uvicorn worker processes that share the load: each worker listens on a socket of its own.

uvicorn's ``--workers`` hands every worker one shared listening socket, and asyncio accepts up to a hundred
waiting connections each time it wakes: the first worker to wake takes them all. Measured with ``wrk``
(16 keep-alive connections, ``bench/web.py --workers 2``), one worker served every request and the other
none, so two workers gave one core's throughput. Here each worker gets its own socket bound to the same
address with ``SO_REUSEPORT``, and Linux spreads new connections over the listening sockets (by a hash of
the client's address and port), as nginx's ``reuseport`` does. Elsewhere (no load-balancing
``SO_REUSEPORT``) the shared socket of uvicorn is used.

The trick is in pickling: uvicorn's supervisor passes its sockets to each worker it starts (or restarts),
and a :class:`ReusePortSocket` pickles as "bind a new ``SO_REUSEPORT`` socket to this address", so each
worker unpickles a socket of its own. The supervisor's own socket is bound (which reserves the address for
the group) but never listens, so the kernel sends it no connection.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

#: Linux balances connections over the listening sockets of a ``SO_REUSEPORT`` group (since 3.9).
BALANCED = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


class ReusePortSocket(socket.socket):
    """A bound, not yet listening, ``SO_REUSEPORT`` socket that pickles as a new one on the same address."""

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:  # noqa: ARG002 (pickle's signature)
        host, port = self.getsockname()[:2]
        return reuse_port_socket, (self.family, host, port)


def reuse_port_socket(family: int, host: str, port: int) -> ReusePortSocket:
    """A socket bound to ``(host, port)`` with ``SO_REUSEPORT`` (and ``SO_REUSEADDR``, as uvicorn binds)."""
    sock = ReusePortSocket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_workers(config: uvicorn.Config) -> None:
    """Serve ``config`` (an import string app, ``workers`` > 1) with uvicorn's supervisor, which restarts a
    worker that dies; on Linux each worker listens on its own socket (see the module's docstring)."""
    if not BALANCED:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = reuse_port_socket(family, config.host, config.port)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
