"""The sockets a node listens on: bound here rather than by uvicorn (which exits the
process when it cannot bind), and shareable between processes.

With ``reuse_port`` a socket is bound with ``SO_REUSEPORT``: several processes then
listen on one port and the kernel spreads connections (and, for UDP, datagrams) over
them, evenly by each connection's addresses. That is how ``gureum server --processes N``
puts N nodes behind one edge (``gureum.supervisor``). Only sockets of the same user can
share a port so.
"""

from __future__ import annotations

import socket


def bind(host: str, port: int, *, udp: bool = False, reuse_port: bool = False) -> socket.socket:
    """A socket bound to ``host:port`` (0: a free port), not yet listening; OSError when
    the address cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    try:
        if not udp:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])
