"""Nodes that share a machine and a data directory (the processes of ``gureum server
--processes``) hand each other ``@connections`` requests over Unix sockets.

A request for a WebSocket client that another node holds is forwarded to that node
(``connections_api.py``). Between machines that is an HTTP request to the node's
address; between the processes of one server it would cost each message two more
HTTP exchanges, as much as the message itself. So each such node also listens on
``DATA_DIR/nodes/{node_id}.sock`` (the directory 0700: only the server's user gets in,
as into its database), and a sibling that finds the socket of the connection's node
sends it the request there instead: a frame with the method, the API, the stage, the
connection and the body, on one connection per sibling kept open, many requests in
flight on it at once; the answer is a frame with the status, the error type (if any)
and the body. The sender has checked the request's signature already; the socket's
permissions are what the receiver trusts.

Frames: a 4-byte length, then (request) ``>IB`` request id and method (``P``, ``G``,
``D``), three ``>H``-prefixed strings (API id, stage, connection id), the body; or
(answer) ``>IH`` request id and status, a ``>H``-prefixed error type ("" for none), the
body (a JSON message for an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

from gureum.errors import ServiceError

logger = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
_REQUEST = struct.Struct(">IB")
_ANSWER = struct.Struct(">IH")
_STRING = struct.Struct(">H")
METHODS = {"POST": b"P", "GET": b"G", "DELETE": b"D"}
_NAMES = {code[0]: name for name, code in METHODS.items()}
#: The longest path a Unix socket may have (sun_path's 108 bytes, its NUL included).
MAX_PATH = 107
#: The largest frame either side accepts (a message is at most 128 KB).
MAX_FRAME = 1024 * 1024

#: (method, API id, stage, connection id, body) -> (status, body); raises ServiceError
Answer = Callable[[str, str, str, str, bytes], Awaitable[tuple[int, bytes]]]


def socket_path(directory: Path, node_id: str) -> Path:
    """Where a node's socket is: named by the first 64 bits of its id, since a Unix
    socket's whole path must fit in 107 bytes."""
    return directory / f"{node_id.replace('-', '')[:16]}.sock"


def _string(value: str) -> bytes:
    data = value.encode()
    return _STRING.pack(len(data)) + data


def _strings(data: bytes, at: int, count: int) -> tuple[list[str], int]:
    found = []
    for _ in range(count):
        (size,) = _STRING.unpack_from(data, at)
        at += _STRING.size
        found.append(data[at : at + size].decode())
        at += size
    return found, at


async def _frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes")
    return await reader.readexactly(size)


class SiblingServer:
    """The receiving side: this node's socket, each request answered by ``answer``."""

    def __init__(self, directory: Path, node_id: str, answer: Answer) -> None:
        self.directory = directory
        self.path = socket_path(directory, node_id)
        self.answer = answer
        self._server: asyncio.AbstractServer | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen (OSError when the socket cannot be had: a data directory whose path is
        too long for one, say; siblings then forward by HTTP)."""
        if len(os.fsencode(self.path)) > MAX_PATH:
            raise OSError(f"{self.path} is longer than a Unix socket's path may be")
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        await asyncio.to_thread(_remove_stale, self.directory)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        for writer in list(self._writers):  # (the server's close leaves them open)
            writer.close()
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    frame = await _frame(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                task = asyncio.create_task(self._one(frame, writer))
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)
        except (ValueError, struct.error) as error:
            logger.warning("a sibling sent a frame that is not one: %s", error)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one(self, frame: bytes, writer: asyncio.StreamWriter) -> None:
        number, method = _REQUEST.unpack_from(frame)
        (api_id, stage, connection_id), at = _strings(frame, _REQUEST.size, 3)
        error_type = ""
        try:
            status, body = await self.answer(
                _NAMES[method], api_id, stage, connection_id, frame[at:]
            )
        except ServiceError as error:
            status, error_type = error.status, error.error_type
            body = error.message.encode()
        answer = _ANSWER.pack(number, status) + _string(error_type) + body
        if not writer.is_closing():
            writer.write(_LENGTH.pack(len(answer)) + answer)


class Siblings:
    """The sending side: one connection to each sibling that has been sent to, kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._links: dict[str, _Link] = {}

    async def request(
        self, node_id: str, method: str, api_id: str, stage: str, connection_id: str, body: bytes
    ) -> tuple[int, str, bytes] | None:
        """(status, error type or "", body) of ``node_id``'s answer; None when it has no
        socket here (another machine's node) or it cannot be reached on it."""
        link = self._links.get(node_id)
        if link is None or link.closed:
            path = socket_path(self.directory, node_id)
            if not path.exists():
                return None
            link = _Link(path)
            self._links[node_id] = link
        try:
            return await link.request(method, api_id, stage, connection_id, body)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            logger.debug("no answer from sibling %s: %s", node_id, error)
            self._links.pop(node_id, None)
            await link.close()
            return None

    async def close(self) -> None:
        for link in self._links.values():
            await link.close()
        self._links.clear()


class _Link:
    """One connection to a sibling, requests in flight on it told apart by number."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.closed = False
        self._opening: asyncio.Task[tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None
        self._opening = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[tuple[int, str, bytes]]] = {}
        self._numbers = 0

    async def _open(self) -> asyncio.StreamWriter:
        if self._writer is not None:
            return self._writer
        if self._opening is None:
            self._opening = asyncio.ensure_future(asyncio.open_unix_connection(str(self.path)))
        reader, writer = await asyncio.shield(self._opening)
        if self._writer is None:
            self._writer = writer
            self._reading = asyncio.create_task(self._read(reader))
        return self._writer

    async def request(
        self, method: str, api_id: str, stage: str, connection_id: str, body: bytes
    ) -> tuple[int, str, bytes]:
        writer = await self._open()
        self._numbers = (self._numbers + 1) % (1 << 32)
        number = self._numbers
        frame = (
            _REQUEST.pack(number, METHODS[method][0])
            + _string(api_id)
            + _string(stage)
            + _string(connection_id)
            + body
        )
        answer: asyncio.Future[tuple[int, str, bytes]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = answer
        try:
            writer.write(_LENGTH.pack(len(frame)) + frame)
            if writer.transport.get_write_buffer_size() > 256 * 1024:
                await writer.drain()
            return await answer
        finally:
            self._waiting.pop(number, None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                frame = await _frame(reader)
                number, status = _ANSWER.unpack_from(frame)
                (error_type,), at = _strings(frame, _ANSWER.size, 1)
                waiting = self._waiting.get(number)
                if waiting is not None and not waiting.done():
                    waiting.set_result((status, error_type, frame[at:]))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, struct.error):
            pass  # (what was in flight is failed below, and sent again by HTTP)
        finally:
            self.closed = True
            for waiting in self._waiting.values():
                if not waiting.done():
                    waiting.set_exception(ConnectionResetError("the sibling's link closed"))

    async def close(self) -> None:
        self.closed = True
        if self._reading is not None:
            self._reading.cancel()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()


def _remove_stale(directory: Path) -> None:
    """Sockets of nodes that are gone (a process that was killed leaves its own)."""
    for path in directory.glob("*.sock"):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError as error:
            if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
                path.unlink(missing_ok=True)
        finally:
            probe.close()
