"""The Worker Manager: idle and busy sandboxes per function version.

An invoke claims an idle sandbox of its function version (a warm start) or creates one
(a cold start). A cold start waits for admission (``admission``: no more inits at once
than the CPU can run); an invoke that is waiting takes the first sandbox of its version
that frees up, if that comes before its admission. Idle sandboxes are reused
most-recently-used first, so the least recently used ones age out and are reaped after
the keep-alive. A configuration or code change gives a function version a new revision:
new invokes then go to new sandboxes, idle sandboxes of the old revision are stopped at
once and busy ones when they finish.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gureum.functions.code import CodeStore
from gureum.functions.config import FunctionVersion
from gureum.observe.logs import LogSink
from gureum.workers.admission import ColdStartAdmission
from gureum.workers.environment import SandboxEnvironment
from gureum.workers.placement import Placement
from gureum.workers.runtime_api import Invocation
from gureum.workers.sandbox import InitTimedOut, InvokeOutcome, Sandbox, SandboxState
from gureum.workers.snapshot import Snapshot

logger = logging.getLogger(__name__)


@dataclass
class Pool:
    """The sandboxes of one revision of one function version."""

    revision_id: str
    idle: list[Sandbox] = field(default_factory=list)
    busy: set[Sandbox] = field(default_factory=set)
    starting: set[Sandbox] = field(default_factory=set)  # provisioned, still in init
    #: invokes waiting for a sandbox of this revision to free up (or for admission)
    waiters: collections.deque[asyncio.Future[Sandbox]] = field(default_factory=collections.deque)
    #: admissions kept, after a warm sandbox came first, to start a spare sandbox with
    spares_pending: int = 0
    retired: bool = False

    def waiting(self) -> int:
        """Invokes still waiting for a sandbox of this pool."""
        return sum(1 for waiter in self.waiters if not waiter.done())


class WorkerManager:
    """Claims warm sandboxes or creates cold ones; reaps idle ones after the keep-alive."""

    def __init__(
        self,
        env: SandboxEnvironment | None,
        code: CodeStore,
        logs: LogSink,
        *,
        idle_timeout: float,
        placement: Placement,
        admission: ColdStartAdmission | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._env = env
        self.code = code
        self.logs = logs
        self.idle_timeout = idle_timeout
        self.placement = placement
        self.admission = admission or ColdStartAdmission()
        self._placed: dict[Sandbox, int] = {}
        #: (function, version) -> (the version, how many sandboxes to keep initialized)
        self.provisioned: dict[tuple[str, str], tuple[FunctionVersion, int]] = {}
        self.provisioning_errors: dict[tuple[str, str], str] = {}
        self.clock = clock
        self.pools: dict[tuple[str, str], Pool] = {}
        #: (function, version) -> the snapshot its SnapStart sandboxes restore from
        self.snapshots: dict[tuple[str, str], Snapshot] = {}
        self._code_dirs: dict[str, Path] = {}
        #: the merged /opt of each combination of layers (by ``CodeStore.opt_key``)
        self._opt_dirs: dict[str, Path] = {}
        self._inflight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._reaper: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.cold_starts = 0
        self.warm_starts = 0

    @property
    def env(self) -> SandboxEnvironment:
        """What every sandbox on this host is given (known once the host is examined)."""
        if self._env is None:
            raise RuntimeError("the Worker Manager has not started")
        return self._env

    def start(self, env: SandboxEnvironment | None = None) -> None:
        if env is not None:
            self._env = env
        self._reaper = asyncio.create_task(self._reap_forever(), name="gureum-reaper")

    # invoke path
    async def invoke(
        self, function: FunctionVersion, invocation: Invocation, *, tail: bool = False
    ) -> InvokeOutcome:
        """Run ``invocation`` in a sandbox of ``function``, warm if one is idle."""
        self._inflight += 1
        self._drained.clear()
        try:
            sandbox, pool = await self._claim(function)
            try:
                return await sandbox.invoke(invocation, tail=tail)
            except InitTimedOut as timed_out:
                retry = timed_out
            finally:
                self._release(sandbox, pool)
            # Lambda's suppressed init: init runs again inside the invoke, under the
            # function's own timeout, in the same log stream.
            sandbox, pool = await self._claim(function, suppressed_init=retry.log_stream)
            sandbox.carried_log = retry.log
            try:
                return await sandbox.invoke(invocation, tail=tail)
            finally:
                self._release(sandbox, pool)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._drained.set()

    def _pool(self, function: FunctionVersion) -> Pool:
        key = (function.name, function.version)
        pool = self.pools.get(key)
        if pool is None or pool.revision_id != function.revision_id:
            if pool is not None:
                self._retire(pool)
            pool = self.pools[key] = Pool(function.revision_id)
        return pool

    async def _claim(
        self, function: FunctionVersion, *, suppressed_init: str | None = None
    ) -> tuple[Sandbox, Pool]:
        """An idle sandbox of ``function``, else a new one (``suppressed_init``: always a
        new one, writing to that log stream, whose init is part of its first invoke)."""
        pool = self._pool(function)
        warm_ok = suppressed_init is None
        sandbox = self._take_idle(pool) if warm_ok else None
        if sandbox is not None:
            return sandbox, pool
        if not self.admission.try_admit():
            sandbox = await self._wait_for_room(function, pool, warm_ok=warm_ok)
            if sandbox is not None:
                return sandbox, pool
        try:
            return await self._cold_start(function, pool, suppressed_init)
        except BaseException:
            self.admission.leave()
            raise

    def _take_idle(self, pool: Pool) -> Sandbox | None:
        while pool.idle:
            sandbox = pool.idle.pop()
            if sandbox.state is SandboxState.IDLE:
                pool.busy.add(sandbox)
                self.warm_starts += 1
                return sandbox
        return None

    async def _wait_for_room(
        self, function: FunctionVersion, pool: Pool, *, warm_ok: bool
    ) -> Sandbox | None:
        """Wait for admission or, with ``warm_ok``, for a sandbox of ``pool`` to free up,
        whichever comes first: the sandbox, or None once admitted.

        A warm sandbox coming first does not cancel the admission: when it is granted,
        a new sandbox starts all the same and joins the pool (idle, or handed to the
        next invoke waiting). The pool grows to the concurrency it is asked for, as on
        Lambda, where every invocation running at once has an environment (and its
        share of CPU) of its own; only no faster than admission lets it."""
        admitted = self.admission.wait()
        if not warm_ok:
            try:
                await admitted
            except BaseException:
                if admitted.done() and not admitted.cancelled():
                    self.admission.leave()
                admitted.cancel()
                raise
            return None
        warm: asyncio.Future[Sandbox] = asyncio.get_running_loop().create_future()
        pool.waiters.append(warm)
        try:
            await asyncio.wait((admitted, warm), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            self._abandon(pool, warm, admitted)
            raise
        if warm.done():
            if pool.waiting() > pool.spares_pending:
                # others still wait: this admission starts a sandbox for them
                self._spare_when_admitted(admitted, function, pool)
            else:  # the pool serves what it is asked for: no sandbox more
                self._give_back(admitted)
            self.warm_starts += 1
            return warm.result()
        warm.cancel()
        return None

    def _spare_when_admitted(
        self, admitted: asyncio.Future[None], function: FunctionVersion, pool: Pool
    ) -> None:
        """Start a sandbox for ``pool`` once ``admitted`` is granted (not if cancelled),
        if an invoke is still waiting for one then."""
        pool.spares_pending += 1

        def granted(future: asyncio.Future[None]) -> None:
            pool.spares_pending -= 1
            if future.cancelled():
                return
            if pool.waiting():
                self._spawn(self._start_spare(function, pool))
            else:
                self.admission.leave()

        if admitted.done():
            granted(admitted)
        else:
            admitted.add_done_callback(granted)

    async def _start_spare(self, function: FunctionVersion, pool: Pool) -> None:
        """A sandbox started (admitted) for the pool's next invoke rather than for one."""
        if pool.retired or self._closing:
            self.admission.leave()
            return
        try:
            sandbox, _ = await self._cold_start(function, pool, None)
        except Exception as exc:
            self.admission.leave()
            logger.debug("a spare sandbox of %s did not start: %s", function.name, exc)
            return
        if await sandbox.ready:
            self._release(sandbox, pool)
        else:
            pool.busy.discard(sandbox)

    def _give_back(self, admitted: asyncio.Future[None]) -> None:
        """An admission not wanted any more: its place, if it was granted already."""
        if admitted.done() and not admitted.cancelled():
            self.admission.leave()
        admitted.cancel()

    def _abandon(
        self, pool: Pool, warm: asyncio.Future[Sandbox], admitted: asyncio.Future[None]
    ) -> None:
        """A waiting invoke went away (cancelled): give back what it was given."""
        self._give_back(admitted)
        if warm.done() and not warm.cancelled():
            self._release(warm.result(), pool)
        warm.cancel()

    async def _cold_start(
        self, function: FunctionVersion, pool: Pool, suppressed_init: str | None
    ) -> tuple[Sandbox, Pool]:
        """A new sandbox (admitted): its place is given back when its init ends."""
        code_dir = await self._code_dir(function)
        opt_dir = await self._opt_dir(function)
        snapshot = None
        # A function without a network reaches its Runtime API through its template's
        # relay, which serves one port: such functions initialize as usual (for now).
        if (
            function.snap_start
            and self.env.zygotes is not None
            and function.network != "none"
            and suppressed_init is None
        ):
            snapshot = await self._snapshot(function, code_dir, opt_dir)
        memory = function.memory_size
        self._make_room(memory)  # 429 when the host is full
        sandbox = Sandbox(
            function,
            code_dir,
            self.env,
            self.logs,
            opt_dir=opt_dir,
            restore_from=snapshot,
            suppressed_init=suppressed_init is not None,
            log_stream=suppressed_init,
        )
        self._placed[sandbox] = memory
        try:
            await sandbox.start()
        except BaseException:
            self._free(sandbox)
            raise
        sandbox.ready.add_done_callback(lambda _: self.admission.leave())
        sandbox.stopped.add_done_callback(lambda _: self._free(sandbox))
        pool.busy.add(sandbox)
        self.cold_starts += 1
        return sandbox, pool

    async def _code_dir(self, function: FunctionVersion) -> Path:
        """The unpacked code of a function version (unpacked once per content hash)."""
        code_dir = self._code_dirs.get(function.code_sha256_hex)
        if code_dir is None:
            code_dir = await asyncio.to_thread(self.code.unpacked, function.code_sha256_hex)
            self._code_dirs[function.code_sha256_hex] = code_dir
        return code_dir

    async def _opt_dir(self, function: FunctionVersion) -> Path | None:
        """The merged ``/opt`` of a function version's layers (built once per
        combination of layers); None without layers."""
        if not function.layer_digests:
            return None
        key = self.code.opt_key(function.layer_digests)
        opt_dir = self._opt_dirs.get(key)
        if opt_dir is None:
            opt_dir = await asyncio.to_thread(self.code.merged_opt, function.layer_digests)
            self._opt_dirs[key] = opt_dir
        return opt_dir

    async def _snapshot(
        self, function: FunctionVersion, code_dir: Path, opt_dir: Path | None
    ) -> Snapshot:
        """The version's snapshot: its template is started (its init run) on first use."""
        key = (function.name, function.version)
        snapshot = self.snapshots.get(key)
        if snapshot is not None and snapshot.alive:
            await snapshot.ready
            return snapshot
        self._make_room(function.memory_size)
        template = Sandbox(
            function,
            code_dir,
            self.env,
            self.logs,
            opt_dir=opt_dir,
            snapshot_dir=self.env.isolation.sandboxes_dir / f"snapshot-{uuid.uuid4().hex}",
        )
        self._placed[template] = function.memory_size
        template.stopped.add_done_callback(lambda _: self._free(template))
        assert template.snapshot_dir is not None
        prepared = self.env.zygotes.prepared if self.env.zygotes is not None else 0
        snapshot = self.snapshots[key] = Snapshot(
            template, template.snapshot_dir, prepared=prepared
        )
        try:
            await snapshot.start()
        except BaseException:
            self._free(template)
            self.snapshots.pop(key, None)
            raise
        await snapshot.ready
        return snapshot

    def _make_room(self, memory_mb: int) -> None:
        """Account a new sandbox, evicting idle ones first if it does not fit (else 429)."""
        if not self.placement.fits(memory_mb):
            self.evict_idle(memory_mb)
        self.placement.place(memory_mb)

    def _release(self, sandbox: Sandbox, pool: Pool) -> None:
        if pool.retired or self._closing or sandbox.state is not SandboxState.IDLE:
            pool.busy.discard(sandbox)
            self._stop(sandbox)
            return
        while pool.waiters:
            waiter = pool.waiters.popleft()
            if not waiter.done():
                waiter.set_result(sandbox)  # still busy: it is the waiter's now
                return
        pool.busy.discard(sandbox)
        pool.idle.append(sandbox)

    # provisioned concurrency
    def provision(self, function: FunctionVersion, count: int | None) -> None:
        """Keep ``count`` sandboxes of ``function`` initialized (None: stop keeping them)."""
        key = (function.name, function.version)
        self.provisioning_errors.pop(key, None)
        if count is None:
            self.provisioned.pop(key, None)
            pool = self.pools.get(key)
            for sandbox in (*pool.idle, *pool.busy, *pool.starting) if pool else ():
                sandbox.provisioned = False  # ordinary from now on: reaped when idle
            return
        self.provisioned[key] = (function, count)
        self._top_up(function, count)

    def provisioning_error(self, name: str, version: str) -> str | None:
        """Why a version's provisioned sandboxes could not be kept, if they could not."""
        return self.provisioning_errors.get((name, version))

    def provisioned_ready(self, name: str, version: str) -> int:
        """How many provisioned sandboxes of a version are initialized and alive."""
        pool = self.pools.get((name, version))
        if pool is None:
            return 0
        return sum(
            1
            for s in (*pool.idle, *pool.busy)
            if s.provisioned and s.state is not SandboxState.DEAD
        )

    def _top_up(self, function: FunctionVersion, count: int) -> None:
        pool = self._pool(function)
        live = [
            s
            for s in (*pool.idle, *pool.busy, *pool.starting)
            if s.provisioned and s.state is not SandboxState.DEAD
        ]
        for extra in live[count:]:  # fewer wanted now
            extra.provisioned = False
        for _ in range(count - len(live)):
            task = asyncio.create_task(self._start_provisioned(function, pool))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _start_provisioned(self, function: FunctionVersion, pool: Pool) -> None:
        key = (function.name, function.version)
        if not self.admission.try_admit():
            await self.admission.wait()
        try:
            self._make_room(function.memory_size)
        except Exception as exc:
            self.admission.leave()
            self.provisioning_errors[key] = str(exc)
            return
        sandbox: Sandbox | None = None
        try:
            code_dir = await self._code_dir(function)
            opt_dir = await self._opt_dir(function)
            sandbox = Sandbox(
                function, code_dir, self.env, self.logs, opt_dir=opt_dir, provisioned=True
            )
            self._placed[sandbox] = function.memory_size
            pool.starting.add(sandbox)
            await sandbox.start()
            sandbox.stopped.add_done_callback(lambda _: self._free(sandbox))
            ready = await sandbox.ready
        except Exception as exc:
            ready = False
            self.provisioning_errors[key] = f"the sandbox failed to start: {exc}"
        self.admission.leave()
        if sandbox is None:
            self.placement.release(function.memory_size)
            return
        pool.starting.discard(sandbox)
        if not ready:
            self.provisioning_errors.setdefault(key, "the function's init failed")
            self._stop(sandbox)
        elif pool.retired or self._closing:
            self._stop(sandbox)
        else:
            pool.busy.add(sandbox)
            self._release(sandbox, pool)  # to an invoke waiting for one, else idle

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # memory
    # code
    async def collect_code(
        self,
        referenced: set[str],
        *,
        older_than: float,
        combinations: Collection[tuple[str, ...]] = (),
    ) -> int:
        """Remove stored code that no function or layer version names (``referenced``)
        and no live sandbox or snapshot template runs, and the merged ``/opt`` of layer
        combinations that neither a version (``combinations``) nor a live sandbox uses;
        returns how many zips and trees went."""
        running = [sandbox.function for sandbox in self._placed]
        keep = referenced | {f.code_sha256_hex for f in running}
        for function in running:
            keep.update(function.layer_digests)
        used = {*combinations, *(f.layer_digests for f in running if f.layer_digests)}
        keep_opt = {self.code.opt_key(layers) for layers in used}
        removed = await asyncio.to_thread(
            self.code.collect, keep, older_than=older_than, keep_opt=keep_opt
        )
        for digest in [d for d in self._code_dirs if d not in keep]:
            del self._code_dirs[digest]
        for key in [k for k in self._opt_dirs if k not in keep_opt]:
            del self._opt_dirs[key]
        return removed

    def _free(self, sandbox: Sandbox) -> None:
        memory = self._placed.pop(sandbox, None)
        if memory is not None:
            self.placement.release(memory, used_mb=sandbox.max_memory_used_mb())

    def _stop(self, sandbox: Sandbox) -> None:
        """Kill a sandbox the manager no longer wants; its memory is free at once."""
        sandbox.kill()
        self._free(sandbox)

    def evict_idle(self, memory_mb: int) -> int:
        """Stop idle sandboxes, least recently used first, until ``memory_mb`` fits."""
        idle = sorted(
            ((sandbox, pool) for pool in self.pools.values() for sandbox in pool.idle),
            key=lambda pair: pair[0].last_used,
        )
        evicted = 0
        for sandbox, pool in idle:
            if self.placement.fits(memory_mb):
                break
            pool.idle.remove(sandbox)
            self._stop(sandbox)
            evicted += 1
        return evicted

    # changes
    def retire(self, name: str) -> None:
        """Send a function's future invokes to new sandboxes (after an update or delete)."""
        for key in [key for key in self.pools if key[0] == name]:
            self._retire(self.pools.pop(key))
        for key in [key for key in self.snapshots if key[0] == name]:
            self._spawn(self.snapshots.pop(key).close())

    def _retire(self, pool: Pool) -> None:
        pool.retired = True
        for sandbox in pool.idle:
            self._stop(sandbox)
        pool.idle.clear()

    # keep-alive
    def reap(self) -> int:
        """Stop sandboxes idle for longer than the keep-alive; return how many."""
        deadline = self.clock() - self.idle_timeout
        reaped = 0
        for pool in self.pools.values():
            keep = []
            for sandbox in pool.idle:
                if sandbox.state is not SandboxState.IDLE or (
                    sandbox.last_used < deadline and not sandbox.provisioned
                ):
                    self._stop(sandbox)
                    reaped += 1
                else:
                    keep.append(sandbox)
            pool.idle[:] = keep
        return reaped

    async def _reap_forever(self) -> None:
        interval = max(min(self.idle_timeout / 2, 5.0), 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                self.reap()
                shortage = self.placement.shortage_mb()
                if shortage:
                    evicted = self.evict_idle(0)
                    logger.warning(
                        "memory is short by %d MB: %d idle sandboxes stopped", shortage, evicted
                    )
                for key, (function, count) in list(self.provisioned.items()):
                    # Replace provisioned sandboxes that died; a config whose init fails
                    # stays FAILED until it is put again, as on Lambda (no retry loop).
                    if key not in self.provisioning_errors:
                        self._top_up(function, count)
            except Exception:
                logger.exception("reaping idle sandboxes failed")

    def sandboxes(self) -> list[Sandbox]:
        return [s for pool in self.pools.values() for s in (*pool.idle, *pool.busy, *pool.starting)]

    # shutdown
    async def shutdown(self, grace: float) -> None:
        """Let in-flight invokes finish (up to ``grace`` s), then stop every sandbox."""
        self._closing = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), grace)
        snapshots = list(self.snapshots.values())
        self.snapshots.clear()
        for snapshot in snapshots:
            await snapshot.close()
        sandboxes = self.sandboxes()
        for sandbox in sandboxes:
            sandbox.kill()
        if sandboxes:
            await asyncio.wait([asyncio.ensure_future(s.stopped) for s in sandboxes], timeout=10)
        self.pools.clear()
