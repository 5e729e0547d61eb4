"""The Worker Manager on its own: in-process, over real sandboxes, with a clock it is given.

Sandboxes here are plain processes under rlimits (isolation is not the point), so each
cold start is a real runtime's start and each warm start a real Runtime API round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gureum.errors import TooManyRequestsException
from gureum.functions.code import CodeStore
from gureum.functions.config import FunctionVersion
from gureum.observe.log_store import LogStore
from gureum.observe.logs import LogSink
from gureum.runtimes import sdk_packages, sdk_path
from gureum.store import open_store
from gureum.workers import isolation
from gureum.workers.admission import ColdStartAdmission
from gureum.workers.environment import SandboxEnvironment
from gureum.workers.manager import Pool, WorkerManager
from gureum.workers.placement import LocalPlacement
from gureum.workers.runtime_api import Invocation
from gureum.workers.sandbox import Sandbox, SandboxState
from tests.conftest import zip_files

T = TypeVar("T")

#: Answers with its process id, which tells the sandboxes apart; with {"gate": FIFO} it
#: first waits until the test opens that FIFO for writing (a busy sandbox, for as long as
#: the test wants, without a sleep). With INIT_GATE in its environment its init waits so.
CODE = """
import os
if os.environ.get("INIT_GATE"):
    with open(os.environ["INIT_GATE"]) as gate:
        gate.read()
def handler(event, context):
    if "gate" in event:
        with open(event["gate"]) as gate:
            gate.read()
    return os.getpid()
"""
KEEP_ALIVE = 60.0


class Host:
    """A Worker Manager over real sandboxes, whose clock the test moves forward."""

    def __init__(self, tmp_path: Path, *, budget_mb: int, inits: int | None = None) -> None:
        self.tmp_path = tmp_path
        self.store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
        self.logs = LogSink(LogStore(self.store))
        self.code = CodeStore(tmp_path / "code")
        self.digest = self.code.put_zip(zip_files({"app.py": CODE})).sha256_hex
        env = SandboxEnvironment(
            region="us-east-1",
            account_id="000000000000",
            access_key_id="test",
            secret_access_key="test",
            endpoint_url="http://127.0.0.1:9",
            sdk_dir=sdk_path(tmp_path),
            init_timeout=10.0,
            log_tail_bytes=4096,
            log_limit_bytes=1024 * 1024,
            isolation=isolation.detect("rlimits", tmp_path, 200000),
            sdk_packages=sdk_packages(),
        )
        self.placement = LocalPlacement(budget_mb)
        #: How far the test has moved the manager's clock past the real one.
        self.skipped = 0.0
        self.manager = WorkerManager(
            env,
            self.code,
            self.logs,
            idle_timeout=KEEP_ALIVE,
            placement=self.placement,
            admission=(
                ColdStartAdmission(minimum=inits, maximum=inits, pressure=lambda: None)
                if inits
                else None
            ),
            clock=lambda: time.monotonic() + self.skipped,
        )
        self._gates = 0

    def function(
        self, name: str, *, revision: str = "r1", memory: int = 128, init_gate: Path | None = None
    ) -> FunctionVersion:
        config: dict[str, Any] = {
            "FunctionName": name,
            "Version": "$LATEST",
            "RevisionId": revision,
            "FunctionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "MemorySize": memory,
            "Timeout": 30,
        }
        if init_gate is not None:
            config["Environment"] = {"Variables": {"INIT_GATE": str(init_gate)}}
        return FunctionVersion(config, self.digest)

    def gate(self) -> Path:
        """A FIFO that holds whoever reads it until ``open_gate``."""
        self._gates += 1
        gate = self.tmp_path / f"gate-{self._gates}"
        os.mkfifo(gate)
        return gate

    async def invoke(self, function: FunctionVersion, event: dict[str, Any] | None = None) -> int:
        """Invoke through the manager; the pid of the sandbox's runtime that answered."""
        invocation = Invocation(
            str(uuid.uuid4()), json.dumps(event or {}).encode(), 0, function.arn
        )
        outcome = await self.manager.invoke(function, invocation)
        assert outcome.error_type is None, outcome.body
        return int(json.loads(outcome.body))

    def pool(self, function: FunctionVersion) -> Pool:
        return self.manager.pools[(function.name, function.version)]

    async def busy(self, function: FunctionVersion) -> tuple[asyncio.Task[int], Sandbox, Path]:
        """An invocation held in its sandbox until ``open_gate``: its task, sandbox, gate."""
        gate = self.gate()
        key = (function.name, function.version)

        def busy() -> set[Sandbox]:
            pool = self.manager.pools.get(key)
            return set(pool.busy) if pool is not None else set()

        before = busy()
        task = asyncio.create_task(self.invoke(function, {"gate": str(gate)}))
        sandbox = await until(lambda: next(iter(busy() - before), None))
        await sandbox.ready  # init done: the runtime has the invocation
        return task, sandbox, gate

    async def close(self) -> None:
        await self.manager.shutdown(grace=0)
        await self.logs.close()
        self.store.close()


async def open_gate(gate: Path) -> None:
    """Let the invocation waiting on ``gate`` finish (its read ends when the writer closes)."""
    await asyncio.to_thread(lambda: open(gate, "w").close())


async def until(probe: Callable[[], T | None]) -> T:
    """Wait for what the manager's own tasks bring about (a poll of its state: it has no
    event for a sandbox claimed or a provisioned one ready; not a timed assertion)."""
    async with asyncio.timeout(20):
        while (found := probe()) is None or found is False:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
    return found


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, *, budget_mb: int = 4096, inits: int | None = None
) -> AsyncIterator[Host]:
    host = Host(tmp_path, budget_mb=budget_mb, inits=inits)
    try:
        yield host
    finally:
        await host.close()


def run(tmp_path: Path, scenario: Callable[[Host], Awaitable[None]], **options: int) -> None:
    async def main() -> None:
        async with running(tmp_path, **options) as host:
            await scenario(host)

    asyncio.run(main())


def test_warm_starts_reuse_the_most_recently_used_sandbox(tmp_path: Path) -> None:
    async def scenario(host: Host) -> None:
        fn = host.function("warm")
        # Two at once: neither finds an idle sandbox, so each has a cold start.
        first, second = await asyncio.gather(host.invoke(fn), host.invoke(fn))
        assert first != second
        assert (host.manager.cold_starts, host.manager.warm_starts) == (2, 0)
        pool = host.pool(fn)
        older, newer = pool.idle  # in the order they became idle
        assert older.last_used <= newer.last_used
        assert await host.invoke(fn) == newer.process.pid
        assert await host.invoke(fn) == newer.process.pid  # and again: still the newest
        assert (host.manager.cold_starts, host.manager.warm_starts) == (2, 2)
        assert pool.idle == [older, newer]

    run(tmp_path, scenario)


def test_a_cold_start_when_every_sandbox_is_busy(tmp_path: Path) -> None:
    async def scenario(host: Host) -> None:
        fn = host.function("cold")
        task, held, gate = await host.busy(fn)
        assert held.state is SandboxState.BUSY
        other = await host.invoke(fn)  # the only sandbox is busy: a new one
        assert other != held.process.pid
        assert host.manager.cold_starts == 2
        await open_gate(gate)
        assert await task == held.process.pid
        assert {s.state for s in host.pool(fn).idle} == {SandboxState.IDLE}
        assert len(host.pool(fn).idle) == 2

    run(tmp_path, scenario)


def test_idle_sandboxes_are_reaped_after_the_keep_alive(tmp_path: Path) -> None:
    async def scenario(host: Host) -> None:
        fn = host.function("reaped")
        pid = await host.invoke(fn)
        sandbox = host.pool(fn).idle[0]
        host.skipped = KEEP_ALIVE - 5
        assert host.manager.reap() == 0  # idle, but not for long enough
        host.skipped = KEEP_ALIVE + 1
        assert host.manager.reap() == 1
        assert host.pool(fn).idle == []
        await sandbox.stopped
        assert sandbox.state is SandboxState.DEAD
        assert host.placement.used_mb == 0
        assert await host.invoke(fn) != pid  # a cold start again
        assert host.manager.cold_starts == 2

    run(tmp_path, scenario)


def test_a_change_retires_idle_sandboxes_at_once_and_busy_ones_when_done(
    tmp_path: Path,
) -> None:
    async def scenario(host: Host) -> None:
        fn = host.function("changed")
        task, busy, gate = await host.busy(fn)
        await host.invoke(fn)
        (idle,) = host.pool(fn).idle
        host.manager.retire("changed")  # what an update of the function does
        assert idle.state is SandboxState.DEAD
        await idle.stopped
        assert busy.state is SandboxState.BUSY  # its invocation goes on
        await open_gate(gate)
        assert await task == busy.process.pid
        await busy.stopped  # and then it is stopped, not kept
        changed = host.function("changed", revision="r2")
        assert await host.invoke(changed) not in (busy.process.pid, idle.process.pid)
        assert host.placement.used_mb == 128

    run(tmp_path, scenario)


def test_a_new_revision_sends_invokes_to_new_sandboxes(tmp_path: Path) -> None:
    async def scenario(host: Host) -> None:
        first = await host.invoke(host.function("revised"))
        old = host.pool(host.function("revised")).idle[0]
        second = await host.invoke(host.function("revised", revision="r2"))
        assert second != first
        assert old.state is SandboxState.DEAD  # the old revision's idle sandbox is gone
        assert host.pool(host.function("revised")).revision_id == "r2"

    run(tmp_path, scenario)


def test_a_full_host_evicts_the_least_recently_used_idle_sandbox(tmp_path: Path) -> None:
    async def scenario(host: Host) -> None:
        a, b, c = (host.function(name) for name in "abc")
        await host.invoke(a)
        b_pid = await host.invoke(b)  # used after a
        (a_sandbox,) = host.pool(a).idle
        await host.invoke(c)  # the budget holds two: a, the least recently used, goes
        assert a_sandbox.state is SandboxState.DEAD
        assert host.pool(a).idle == []
        assert await host.invoke(b) == b_pid  # b stayed warm
        assert host.placement.used_mb == 256

    run(tmp_path, scenario, budget_mb=256)


def test_a_full_host_with_nothing_idle_throttles(tmp_path: Path) -> None:
    async def scenario(host: Host) -> None:
        a, b, c = (host.function(name) for name in "abc")
        held = [await host.busy(a), await host.busy(b)]
        with pytest.raises(TooManyRequestsException, match="No worker has 128 MB free"):
            await host.invoke(c)
        assert host.placement.used_mb == 256  # the refused sandbox took nothing
        for task, _, gate in held:
            await open_gate(gate)
            await task
        await host.invoke(c)  # idle sandboxes now: one is evicted to make room
        assert host.placement.used_mb == 256

    run(tmp_path, scenario, budget_mb=256)


def test_provisioned_sandboxes_are_kept_initialized_and_topped_up(tmp_path: Path) -> None:
    async def scenario(host: Host) -> None:
        fn = host.function("provisioned")
        manager = host.manager
        manager.provision(fn, 2)
        await until(lambda: manager.provisioned_ready(fn.name, fn.version) == 2)
        assert manager.cold_starts == 0
        pids = {s.process.pid for s in host.pool(fn).idle}
        assert await host.invoke(fn) in pids  # warm from the first invoke
        assert (manager.cold_starts, manager.warm_starts) == (0, 1)
        host.skipped = KEEP_ALIVE * 10
        assert manager.reap() == 0  # provisioned: never reaped
        # One dies: putting the configuration again brings the count back up.
        lost = host.pool(fn).idle[0]
        await lost.stop()
        assert manager.provisioned_ready(fn.name, fn.version) == 1
        manager.provision(fn, 2)
        await until(lambda: manager.provisioned_ready(fn.name, fn.version) == 2)
        # No longer provisioned: ordinary sandboxes, reaped once idle past the keep-alive.
        manager.provision(fn, None)
        assert manager.provisioned_ready(fn.name, fn.version) == 0
        assert manager.reap() == 3  # the two, and the one that died
        assert host.pool(fn).idle == []

    run(tmp_path, scenario)


def test_no_more_inits_at_once_than_admitted(tmp_path: Path) -> None:
    async def scenario(host: Host) -> None:
        gate = host.gate()
        slow, other = host.function("slow", init_gate=gate), host.function("other")
        first = asyncio.create_task(host.invoke(slow))
        await until(lambda: host.manager.admission.running == 1)
        second = asyncio.create_task(host.invoke(other))
        await until(lambda: host.manager.admission.waiting == 1)
        assert host.manager.cold_starts == 1  # the second waits: its sandbox is not made
        await open_gate(gate)  # the first init ends, and its place goes to the second
        await asyncio.gather(first, second)
        assert host.manager.cold_starts == 2
        assert (host.manager.admission.running, host.manager.admission.peak) == (0, 1)

    run(tmp_path, scenario, inits=1)


def test_a_waiting_invoke_takes_the_sandbox_that_frees_up_first(tmp_path: Path) -> None:
    async def scenario(host: Host) -> None:
        fn = host.function("reused")
        task, held, gate = await host.busy(fn)
        init_gate = host.gate()  # another function's init holds the one place
        blocker = asyncio.create_task(host.invoke(host.function("blocker", init_gate=init_gate)))
        await until(lambda: host.manager.admission.running == 1)
        waiting = asyncio.create_task(host.invoke(fn))
        await until(lambda: host.pool(fn).waiters)
        await open_gate(gate)  # the held sandbox frees up before any place does
        assert await task == held.process.pid
        assert await waiting == held.process.pid  # warm, not a cold start of its own
        assert (host.manager.cold_starts, host.manager.warm_starts) == (2, 1)
        await open_gate(init_gate)
        await blocker

    run(tmp_path, scenario, inits=1)


def test_clients_in_a_loop_get_as_many_sandboxes_as_they_are(tmp_path: Path) -> None:
    # Twelve clients invoking back to back, with admission to 2 inits at once: the
    # waiting ones take sandboxes that free up, and a place admitted after a warm one
    # came first starts a spare only while some invoke still waits. The pool grows to
    # the clients' concurrency (as on Lambda), never past it, and every place is given
    # back.
    clients, rounds = 12, 25

    async def scenario(host: Host) -> None:
        fn = host.function("loop")

        async def client() -> None:
            for _ in range(rounds):
                await host.invoke(fn)

        await asyncio.gather(*(client() for _ in range(clients)))
        await until(lambda: host.manager.admission.running == 0)
        assert host.manager.cold_starts <= clients
        assert host.manager.cold_starts + host.manager.warm_starts >= clients * rounds
        assert host.pool(fn).spares_pending == 0 and host.manager.admission.waiting == 0

    run(tmp_path, scenario, inits=2)
