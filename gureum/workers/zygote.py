"""Zygotes: one fork server per interpreter, so that a cold start is a fork, not an exec.

A zygote (``jail.py --zygote``) is an interpreter that has started once and loaded the
jail and gureum's Python runtime. A cold start asks it for a sandbox: it forks a child
straight into a new PID namespace, the child enters the rest of the sandbox (cgroups,
mounts, uid) and runs the runtime, with no interpreter start-up and with the
interpreter's pages shared between sandboxes.

Each zygote also keeps a few children *prepared*: forked ahead of need and already in
cgroups of their own (on cgroup v1, joining one waits for an RCU grace period, which
would otherwise be most of a cold start). A cold start takes one, sets its memory limit
and sends it the sandbox's spec; the pool refills in the background.

A runtime that cannot be forked (Node.js) is kept *started* instead: a prepared child
also starts the runtime (as its sandbox's user, chrooted in the root's shared part, its
output on a pipe made for it), which loads itself and waits; a cold start sends the
spec, the child finishes the root (the function's code appears in the runtime's chroot)
and tells the runtime its environment. What the
runtimes of one kind share is a ``Prestart``; the server keeps a few of each kind in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gureum.workers import cgroups, frames
from gureum.workers.cgroups import Cgroup, CgroupSupport
from gureum.workers.isolation import JAIL, PIDS_MAX, root_base

logger = logging.getLogger(__name__)

SETPRIV = shutil.which("setpriv")
_MAX_MESSAGE = 1 << 20
#: Seconds between taking a prepared child and preparing its replacement.
REFILL_DELAY = 0.03
#: A kind of started runtime no cold start has asked for in this long is let go.
STARTED_UNWANTED_AFTER = 600.0


async def _pause(sock: socket.socket) -> None:
    await asyncio.sleep(0.001)


async def send_frame(
    sock: socket.socket,
    frame: bytes,
    fds: tuple[int, ...] = (),
    wait: Callable[[socket.socket], Awaitable[None]] = _pause,
) -> None:
    """Send one frame on a non-blocking stream (its descriptors ride on its first byte).

    ``wait`` is awaited while the socket has no room.
    """
    while True:
        try:
            sent = socket.send_fds(sock, [frame], list(fds)) if fds else sock.send(frame)
            break
        except BlockingIOError:
            await wait(sock)
    if sent < len(frame):
        await asyncio.get_running_loop().sock_sendall(sock, frame[sent:])


class ZygoteError(RuntimeError):
    """The zygote could not fork a sandbox (or is gone)."""


@dataclass(slots=True)
class Prepared:
    """A child forked ahead of need, already in its (still unlimited) cgroup."""

    pid: int
    cgroup: Cgroup


@dataclass(frozen=True, slots=True)
class Prestart:
    """A kind of runtime kept started ahead of need: what its sandboxes share."""

    #: Which kind (a runtime identifier, ``nodejs20.x``).
    key: str
    #: The runtime's command, as a sandbox sees it (it starts chrooted in the shared root).
    argv: tuple[str, ...]
    #: Its environment until it is told its sandbox's.
    env: dict[str, str]
    #: More of the shared root (the runtime's files at /var/runtime).
    binds: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Started:
    """A prepared child whose runtime runs already, waiting for its sandbox."""

    pid: int
    cgroup: Cgroup
    #: The user its runtime runs as (its sandbox's user).
    uid: int
    #: The read end of its output (its sandbox reads it from the time it takes it).
    log_fd: int


class Zygote:
    """The fork server of one interpreter, and its pool of prepared children."""

    def __init__(
        self,
        interpreter: str,
        preload: Path | None,
        support: CgroupSupport,
        base: dict[str, Any],
        *,
        prepared: int,
        next_uid: Callable[[], int] | None = None,
    ) -> None:
        self.interpreter = interpreter
        self.preload = preload
        self.support = support
        #: The shared part of its sandboxes' root (prepared children mount it early).
        self.base = base
        self.prepared_target = prepared
        #: Prepared children: pid -> its cgroup, oldest first.
        self.pool: dict[int, Cgroup] = {}
        #: Children whose runtime runs already, per kind: pid -> the child.
        self.started: dict[str, dict[int, Started]] = {}
        #: How many of each kind to keep started, and what they share.
        self._started_wanted: dict[str, tuple[Prestart, int, float]] = {}
        self._starting: dict[str, int] = {}
        self.next_uid = next_uid
        self.alive = False
        self._sock: socket.socket | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._exits: dict[int, Callable[[int], None]] = {}
        self._on_exit: dict[int, Callable[[int], None]] = {}
        self._preparing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._writers: set[asyncio.Future[None]] = set()
        self._send_lock = asyncio.Lock()
        self._buffer = bytearray()

    async def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        argv = [self.interpreter, "-S", str(JAIL), "--zygote", str(theirs.fileno())]
        if self.preload is not None:
            argv += ["--preload", str(self.preload)]
        if SETPRIV is not None:
            argv = [SETPRIV, "--pdeathsig", "KILL", "--", *argv]
        try:
            self._process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
                start_new_session=True,
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self.alive = True
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable)
        self.refill()

    # requests
    async def spawn(
        self,
        spec: dict[str, Any],
        log_fd: int,
        on_exit: Callable[[int], None],
        prepared: Prepared | None = None,
    ) -> int:
        """Fork a sandbox from ``spec`` (in ``prepared`` if given); return its pid.

        ``on_exit`` is called with the runtime's return code (``-N`` for signal N).
        """
        message: dict[str, Any] = {"op": "spawn", "spec": spec}
        if prepared is not None:
            message["pid"] = prepared.pid
        reply = await self._request(message, (log_fd,), on_exit)
        return int(reply["pid"])

    async def spawn_started(
        self, spec: dict[str, Any], started: Started, on_exit: Callable[[int], None]
    ) -> int:
        """Give a started runtime its sandbox (``spec``); its output is on its own pipe."""
        message = {"op": "spawn", "spec": spec, "pid": started.pid, "prestarted": True}
        reply = await self._request(message, (), on_exit)
        return int(reply["pid"])

    def keep_started(self, prestart: Prestart, count: int) -> None:
        """Keep ``count`` runtimes of ``prestart``'s kind started ahead of need (until
        none has been asked for in ``STARTED_UNWANTED_AFTER``)."""
        now = time.monotonic()
        self._started_wanted[prestart.key] = (prestart, count, now)
        for key, (_, _, asked) in list(self._started_wanted.items()):
            if now - asked > STARTED_UNWANTED_AFTER:
                del self._started_wanted[key]
                for started in self.started.pop(key, {}).values():
                    self._let_go(started)
        self.refill()

    def _let_go(self, started: Started) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(started.pid, 9)
        os.close(started.log_fd)
        started.cgroup.remove()  # (retried while the killed child is still leaving it)

    def take_started(self, key: str) -> Started | None:
        """A started runtime of ``key``'s kind, if one is ready (refilled in the
        background)."""
        pool = self.started.get(key)
        started = pool.pop(next(iter(pool))) if pool else None
        asyncio.get_running_loop().call_later(REFILL_DELAY, self.refill)
        return started

    def take(self) -> Prepared | None:
        """A prepared child, if one is ready (the pool refills in the background)."""
        prepared = Prepared(*self.pool.popitem()) if self.pool else None
        # Refill a moment later, so that the fork and the cgroup join of the next
        # prepared child do not take CPU from the cold start that took this one.
        asyncio.get_running_loop().call_later(REFILL_DELAY, self.refill)
        return prepared

    def refill(self) -> None:
        while self.alive and len(self.pool) + self._preparing < self.prepared_target:
            self._preparing += 1
            task = asyncio.create_task(self._prepare())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for key, (prestart, count, _) in self._started_wanted.items():
            pool = self.started.setdefault(key, {})
            while self.alive and len(pool) + self._starting.get(key, 0) < count:
                self._starting[key] = self._starting.get(key, 0) + 1
                task = asyncio.create_task(self._prepare_started(prestart))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _prepare_started(self, prestart: Prestart) -> None:
        assert self.next_uid is not None, "started runtimes need users of their own"
        cgroup = Cgroup(self.support, cgroups.sandbox_group(uuid.uuid4().hex))
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        uid = self.next_uid()
        try:
            await asyncio.to_thread(cgroup.create, None, PIDS_MAX)
            message = {
                "op": "prepare",
                "procs": cgroup.procs_files,
                "base": self.base,
                "prestart": {
                    "argv": list(prestart.argv),
                    "env": prestart.env,
                    "binds": [list(bind) for bind in prestart.binds],
                    "uid": uid,
                },
            }
            reply = await self._request(message, (write_fd,))
        except Exception as exc:
            cgroup.remove()
            os.close(read_fd)
            if self.alive:
                logger.warning(
                    "zygote %s could not start a %s runtime: %s",
                    self.interpreter,
                    prestart.key,
                    exc,
                )
            return
        finally:
            os.close(write_fd)
            self._starting[prestart.key] -= 1
        pid = int(reply["pid"])
        started = Started(pid, cgroup, uid, read_fd)
        if prestart.key in self._started_wanted:
            self.started.setdefault(prestart.key, {})[pid] = started
        else:  # let go while it started
            self._let_go(started)

    async def _prepare(self) -> None:
        cgroup = Cgroup(self.support, cgroups.sandbox_group(uuid.uuid4().hex))
        try:
            await asyncio.to_thread(cgroup.create, None, PIDS_MAX)
            message = {"op": "prepare", "procs": cgroup.procs_files, "base": self.base}
            reply = await self._request(message, ())
        except Exception as exc:
            cgroup.remove()
            if self.alive:
                logger.warning("zygote %s could not prepare a sandbox: %s", self.interpreter, exc)
            return
        finally:
            self._preparing -= 1
        self.pool[int(reply["pid"])] = cgroup

    async def _request(
        self,
        message: dict[str, Any],
        fds: tuple[int, ...],
        on_exit: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        if not self.alive or self._sock is None:
            raise ZygoteError(f"the zygote of {self.interpreter} is not running")
        message["id"] = request = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request] = future
        if on_exit is not None:
            self._on_exit[request] = on_exit
        try:
            await self._send(frames.encode(message), fds)
            reply = await future
        finally:
            self._pending.pop(request, None)
            self._on_exit.pop(request, None)
        if reply.get("op") == "failed":
            raise ZygoteError(f"the zygote could not start the sandbox: {reply.get('error')}")
        return reply

    async def _send(self, frame: bytes, fds: tuple[int, ...]) -> None:
        async with self._send_lock:  # frames must not interleave on the stream
            sock = self._sock
            if sock is None:
                raise ZygoteError(f"the zygote of {self.interpreter} is not running")
            await send_frame(sock, frame, fds, self._writable)

    async def _writable(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        writable: asyncio.Future[None] = loop.create_future()
        self._writers.add(writable)
        loop.add_writer(sock.fileno(), _resolve, writable)
        try:
            await writable
        finally:
            self._writers.discard(writable)
            if self._sock is sock:
                loop.remove_writer(sock.fileno())
        if self._sock is not sock:
            raise ZygoteError(f"the zygote of {self.interpreter} is not running")

    # replies and exits
    def _readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(_MAX_MESSAGE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._lost()
            return
        self._buffer += data
        while (message := frames.take(self._buffer)) is not None:
            self._received(message)

    def _received(self, message: dict[str, Any]) -> None:
        if message.get("op") == "exit":
            self._exited(int(message["pid"]), message["kind"], int(message["value"]))
            return
        request = int(message.get("id") or 0)
        on_exit = self._on_exit.pop(request, None)
        if on_exit is not None and message.get("op") == "spawned":
            # Registered now: the sandbox's exit may be the very next message.
            self._exits[int(message["pid"])] = on_exit
        future = self._pending.get(request)
        if future is not None and not future.done():
            future.set_result(message)

    def _exited(self, pid: int, kind: str, value: int) -> None:
        returncode = -value if kind == "signal" else value
        callback = self._exits.pop(pid, None)
        if callback is not None:
            callback(returncode)
            return
        cgroup = self.pool.pop(pid, None)  # a prepared child died unused
        if cgroup is not None:
            cgroup.remove()
        for pool in self.started.values():
            started = pool.pop(pid, None)  # a started runtime died unused
            if started is not None:
                os.close(started.log_fd)
                started.cgroup.remove()
                self.refill()

    def _lost(self) -> None:
        """The zygote is gone, and with it every sandbox it forked (they die with it)."""
        if not self.alive:
            return
        self.alive = False
        if not self._closing:
            logger.warning("the zygote of %s ended; a new one starts when needed", self.interpreter)
        if self._sock is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._sock.fileno())
            loop.remove_writer(self._sock.fileno())
            self._sock.close()
            self._sock = None
        for writer in self._writers:
            _resolve(writer)  # the sender finds the socket gone and says so
        for future in self._pending.values():
            if not future.done():
                future.set_result({"op": "failed", "error": "the zygote ended"})
        exits, self._exits = self._exits, {}
        for pid, callback in exits.items():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            callback(-9)
        for pid, cgroup in self.pool.items():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
            cgroup.remove()  # a child still leaving it is killed, the removal retried
        self.pool.clear()
        for pool in self.started.values():
            for started in pool.values():
                self._let_go(started)
            pool.clear()

    async def close(self) -> None:
        """Stop the zygote and its prepared children (sandboxes are stopped before)."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for pid in [*self.pool, *(pid for pool in self.started.values() for pid in pool)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        # The zygote reaps them and says so; each cgroup is removed then.
        for _ in range(200):
            if not (self.pool or any(self.started.values())) or not self.alive:
                break
            await asyncio.sleep(0.01)
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        self._lost()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Zygotes:
    """The zygotes of a host, one per interpreter, started on first use."""

    def __init__(
        self,
        support: CgroupSupport,
        sandboxes_dir: Path,
        preload: Path | None,
        sdk_packages: list[Path],
        *,
        prepared: int,
        next_uid: Callable[[], int] | None = None,
    ) -> None:
        self.support = support
        #: Users for runtimes started ahead of their sandboxes.
        self.next_uid = next_uid
        #: Every sandbox mounts its root here, each in its own mount namespace.
        self.mount_point = sandboxes_dir / "root"
        self.preload = preload
        self.sdk_packages = sdk_packages
        self.prepared = prepared
        self._zygotes: dict[str, Zygote] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    def __len__(self) -> int:
        """How many zygotes run (one per interpreter that has started sandboxes)."""
        return len(self._zygotes)

    def started(self, key: str) -> list[Started]:
        """The runtimes of ``key``'s kind started ahead of need, waiting (every zygote's)."""
        return [
            s for zygote in self._zygotes.values() for s in zygote.started.get(key, {}).values()
        ]

    async def get(self, interpreter: str) -> Zygote:
        zygote = self._zygotes.get(interpreter)
        if zygote is not None and zygote.alive:
            return zygote
        async with self._lock:
            if self._closed:
                raise ZygoteError("the server is stopping")
            zygote = self._zygotes.get(interpreter)
            if zygote is None or not zygote.alive:
                await asyncio.to_thread(self.mount_point.mkdir, parents=True, exist_ok=True)
                base = root_base(
                    root=self.mount_point,
                    interpreter=interpreter,
                    bootstrap=self.preload,
                    sdk_packages=self.sdk_packages,
                )
                zygote = Zygote(
                    interpreter,
                    self.preload,
                    self.support,
                    base,
                    prepared=self.prepared,
                    next_uid=self.next_uid,
                )
                await zygote.start()
                self._zygotes[interpreter] = zygote
        return zygote

    async def close(self) -> None:
        async with self._lock:  # no zygote starts after this
            self._closed = True
        zygotes = list(self._zygotes.values())
        self._zygotes.clear()
        for zygote in zygotes:
            await zygote.close()
