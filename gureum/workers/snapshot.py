"""Snapshot mode (SnapStart): a published version's init runs once, in a template.

The template is an ordinary sandbox of the version whose runtime, once the function's
init is done (and its before-snapshot hooks have run), does not ask for an event: it
connects to this module's unix socket and forks a child per request
(``jail.snapshot_serve``). Each child connects back on a connection of its own; the
server reads its pid from the socket's credentials and moves it into a cgroup of its
own. A few children are forked ahead of need this way (on cgroup v1 the move waits for
an RCU grace period, ~15 ms). A restore takes one, sets its memory limit and sends it
the sandbox's environment and log pipe: it enters a user, mount and PID namespace of
its own with a fresh ``/tmp``, runs the after-restore hooks and asks its own Runtime
API for an event. Its end (exit status or signal) comes back on the same connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import socket
import struct
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from gureum.errors import SnapStartException, SnapStartTimeoutException
from gureum.functions.config import FunctionVersion
from gureum.workers import cgroups, frames
from gureum.workers.cgroups import Cgroup
from gureum.workers.isolation import PIDS_MAX, Isolation
from gureum.workers.runtime_api import RuntimeReply
from gureum.workers.zygote import send_frame

logger = logging.getLogger(__name__)

_CREDENTIALS = struct.Struct("3i")
#: Lambda's limit on a restore (runtime load and after-restore hooks).
RESTORE_TIMEOUT = 10.0
#: Where the template finds the socket, inside its sandbox.
SOCKET_DIR = "/run/snapshot"


class _Connection:
    """A non-blocking unix stream connection carrying length-prefixed JSON frames."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.buffer = bytearray()
        pid, uid, _ = _CREDENTIALS.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
        )
        self.pid, self.uid = pid, uid

    async def read(self) -> dict[str, Any] | None:
        """The next message, or None once the peer has closed the connection."""
        loop = asyncio.get_running_loop()
        while (message := frames.take(self.buffer)) is None:
            data = await loop.sock_recv(self.sock, 65536)
            if not data:
                return None
            self.buffer += data
        return message

    async def send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        await send_frame(self.sock, frames.encode(message), fds)

    def close(self) -> None:
        self.sock.close()


class _HostEnvironment(Protocol):
    @property
    def isolation(self) -> Isolation: ...


class Template(Protocol):
    """What a snapshot needs of the sandbox whose init it keeps (a ``Sandbox``)."""

    @property
    def uid(self) -> int | None: ...

    @property
    def init_failure(self) -> RuntimeReply | None: ...

    @property
    def function(self) -> FunctionVersion: ...

    @property
    def env(self) -> _HostEnvironment: ...

    @property
    def stopped(self) -> asyncio.Future[None]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def template_ready(self) -> None: ...


class Snapshot:
    """The template of one published version and the restores forked from it."""

    def __init__(self, template: Template, directory: Path, *, prepared: int) -> None:
        self.template = template
        self.directory = directory
        self.prepared_target = prepared
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.error: str | None = None
        self.pool: list[tuple[_Connection, Cgroup]] = []
        self._listener: socket.socket | None = None
        self._control: _Connection | None = None
        self._ids = itertools.count(1)
        self._forking: dict[int, asyncio.Future[tuple[_Connection, Cgroup]]] = {}
        self._cgroups: dict[int, Cgroup] = {}
        self._preparing = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._send_lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self._control is not None or not self.ready.done()

    async def start(self) -> None:
        """Start the template; ``ready`` resolves when its snapshot can be restored."""
        assert self.template.uid is not None
        uid = self.template.uid
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(self.directory, uid, uid)  # only the template's user may connect
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.directory / "snap.sock"))
        os.chown(self.directory / "snap.sock", uid, uid)
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        asyncio.get_running_loop().add_reader(listener.fileno(), self._accept)
        self.template.stopped.add_done_callback(lambda _: self._template_gone())
        await self.template.start()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            connection = _Connection(sock)
            if connection.uid != self.template.uid:
                connection.close()  # not the template's user: not ours
                continue
            self._spawn(self._serve(connection))

    async def _serve(self, connection: _Connection) -> None:
        try:
            message = await connection.read()
            if message is None:
                connection.close()
            elif message.get("op") == "ready" and self._control is None:
                self._control = connection
                self.template.template_ready()
                if not self.ready.done():
                    self.ready.set_result(True)
                self.refill()
                await connection.read()  # returns when the template is gone
                self._template_gone()
            elif message.get("op") == "forked":
                await self._forked(connection, int(message.get("id") or 0))
            else:
                connection.close()
        except OSError:
            connection.close()

    async def _forked(self, connection: _Connection, request: int) -> None:
        """A child of the template said who it is: move it into its cgroup."""
        future = self._forking.pop(request, None)
        cgroup = self._cgroups.pop(request, None)
        if future is None or cgroup is None or future.done():
            connection.close()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(connection.pid, 9)
            return
        try:
            await asyncio.to_thread(cgroup.add, connection.pid)
        except OSError as exc:
            future.set_exception(SnapStartException(f"A restored sandbox could not start: {exc}"))
            return
        future.set_result((connection, cgroup))

    async def _fork(self) -> tuple[_Connection, Cgroup]:
        """A child of the template, in a fresh cgroup (memory not limited yet)."""
        if self._control is None:
            raise SnapStartException("The snapshot's template is not running.")
        request = next(self._ids)
        cgroup = Cgroup(
            self.template.env.isolation.cgroup_support, cgroups.sandbox_group(uuid.uuid4().hex)
        )
        await asyncio.to_thread(cgroup.create, None, PIDS_MAX)
        future: asyncio.Future[tuple[_Connection, Cgroup]] = (
            asyncio.get_running_loop().create_future()
        )
        self._forking[request] = future
        self._cgroups[request] = cgroup
        try:
            async with self._send_lock:
                await self._control.send({"op": "fork", "id": request})
            return await asyncio.wait_for(future, RESTORE_TIMEOUT)
        except BaseException:
            self._forking.pop(request, None)
            self._cgroups.pop(request, None)
            cgroup.remove()
            raise

    def refill(self) -> None:
        while self._control is not None and (
            len(self.pool) + self._preparing < self.prepared_target
        ):
            self._preparing += 1
            self._spawn(self._prepare())

    async def _prepare(self) -> None:
        try:
            child = await self._fork()
        except Exception as exc:
            if self._control is not None:
                logger.warning("could not prepare a restore: %s", exc)
            return
        finally:
            self._preparing -= 1
        if self._control is None:
            child[0].close()
            child[1].remove()
            return
        self.pool.append(child)

    async def restore(
        self,
        environ: dict[str, str],
        tmp_mb: int,
        memory_mb: int,
        log_fd: int,
        on_exit: Callable[[int], None],
    ) -> tuple[int, Cgroup]:
        """A sandbox restored from the snapshot: its pid and cgroup."""
        if not await self.ready or self._control is None:
            raise SnapStartException(
                f"The snapshot of {self.template.function.arn} could not be made: "
                f"{self.error or 'its init failed'}"
            )
        try:
            connection, cgroup = self.pool.pop() if self.pool else await self._fork()
        except TimeoutError:
            raise SnapStartTimeoutException(
                f"Restoring {self.template.function.arn} took longer than "
                f"{RESTORE_TIMEOUT:.0f} seconds."
            ) from None
        asyncio.get_running_loop().call_later(0.03, self.refill)
        cgroup.limit_memory(memory_mb)
        await connection.send({"op": "go", "env": environ, "tmp_mb": tmp_mb}, (log_fd,))
        self._spawn(self._watch(connection, on_exit))
        return connection.pid, cgroup

    async def _watch(self, connection: _Connection, on_exit: Callable[[int], None]) -> None:
        try:
            outcome = await connection.read()
        except OSError:
            outcome = None
        connection.close()
        if outcome is not None and outcome.get("kind") == "exit":
            on_exit(int(outcome["value"]))
        elif outcome is not None and outcome.get("kind") == "signal":
            on_exit(-int(outcome["value"]))
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(connection.pid, 9)
            on_exit(-9)

    def _template_gone(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if not self.ready.done():
            reply = self.template.init_failure
            self.error = reply.body.decode(errors="replace") if reply is not None else None
            self.ready.set_result(False)
        for future in self._forking.values():
            if not future.done():
                future.set_exception(SnapStartException("The snapshot's template ended."))
        for connection, cgroup in self.pool:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(connection.pid, 9)
            connection.close()
            cgroup.remove()
        self.pool.clear()

    async def close(self) -> None:
        """Let the snapshot go: stop the template (restored sandboxes live on)."""
        loop = asyncio.get_running_loop()
        if self._listener is not None:
            loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        await self.template.stop()
        self._template_gone()
        await asyncio.to_thread(shutil.rmtree, self.directory, True)
