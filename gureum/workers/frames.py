"""Frames: how the server speaks to its zygotes and to snapshot templates.

A unix stream socket carries one message after another, each a JSON object after its
length (four bytes, network order). A file descriptor (a sandbox's log pipe) travels as
ancillary data on the first byte of the frame it belongs to, so a reader's queue of
received descriptors is in the order of the frames that carry them.

Both ends use this module: the server (``zygote.py``, ``snapshot.py``, with asyncio
around it) and ``jail.py``, which runs under any function's interpreter (``python -S``)
and imports it as a sibling. So it is standard library only, Python 3.9 and later, and
does not even import ``typing`` at run time (the jail's start-up is part of a cold start).
"""

from __future__ import annotations

import json
import socket
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The head of each frame: the length of the JSON that follows.
HEADER = struct.Struct("!I")


def encode(message: dict[str, Any]) -> bytes:
    """One message as a frame."""
    data = json.dumps(message).encode()
    return HEADER.pack(len(data)) + data


def take(buffer: bytearray) -> dict[str, Any] | None:
    """Take the first complete frame's message out of ``buffer`` (None: not there yet)."""
    if len(buffer) < HEADER.size:
        return None
    (length,) = HEADER.unpack_from(buffer)
    end = HEADER.size + length
    if len(buffer) < end:
        return None
    message = json.loads(bytes(buffer[HEADER.size : end]))
    del buffer[:end]
    return dict(message)


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    """Send one message on a blocking socket (the jail's end)."""
    sock.sendall(encode(message))


def receive(sock: socket.socket, buffer: bytearray) -> tuple[dict[str, Any], list[int]]:
    """One message, and the descriptors that came with it, from a blocking socket.

    ``buffer`` keeps what arrived after the message, for the next call.
    """
    fds: list[int] = []
    while True:
        message = take(buffer)
        if message is not None:
            return message, fds
        data, more, _, _ = socket.recv_fds(sock, 1 << 20, 4)
        if not data:
            raise ConnectionError("the server closed the connection")
        buffer += data
        fds += more
