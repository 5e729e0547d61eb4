"""A sandbox: one execution environment of one function version.

A sandbox is a runtime process (``sandbox_process.py``), the Runtime API it talks to,
and its log stream (``sandbox_log.py``); this module is its state machine. It starts
cold (init runs until the runtime first asks for ``/invocation/next``), then serves one
invocation at a time, warm, until it is stopped, times out or dies.

Every way an invocation can end resolves the invocation's future exactly once: the
runtime's response or error, an init failure, a timeout, or the process exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gureum.functions.config import FunctionVersion
from gureum.observe.logs import LogSink
from gureum.workers.admission import SATURATED, cpu_stall_seconds
from gureum.workers.environment import SandboxEnvironment
from gureum.workers.runtime_api import (
    Invocation,
    ResponseStream,
    RuntimeAPIServer,
    RuntimeReply,
)
from gureum.workers.sandbox_log import SandboxLog
from gureum.workers.sandbox_process import SandboxProcess
from gureum.workers.snapshot import Snapshot

logger = logging.getLogger(__name__)


class SandboxState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class InvokeOutcome:
    """How one invocation ended, as the Front End needs it."""

    request_id: str
    body: bytes
    error_type: str | None
    log_tail: bytes
    duration_ms: float
    init_duration_ms: float | None
    #: It failed because the host could not run it (an init that timed out while the
    #: CPU was saturated), not because of the function: no retry of an event is used up.
    platform_fault: bool = False

    @property
    def function_error(self) -> str | None:
        return "Unhandled" if self.error_type is not None else None


class InitTimedOut(Exception):
    """The sandbox's init passed the init limit before its first invocation was
    delivered: the Worker Manager runs that invocation again in a new sandbox whose init
    is part of the invoke (Lambda's suppressed init)."""

    def __init__(self, log_stream: str, log: bytes) -> None:
        super().__init__(log_stream)
        self.log_stream = log_stream
        #: What the invocation logged so far (its INIT_REPORT), for its log tail.
        self.log = log


def _error(error_type: str, message: str) -> RuntimeReply:
    return RuntimeReply(
        json.dumps({"errorType": error_type, "errorMessage": message}).encode(), error_type
    )


def describe_exit(returncode: int) -> str:
    """Lambda's wording for a runtime's exit: ``exit status 1`` or ``signal: killed``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name.removeprefix("SIG").lower()
        except ValueError:
            name = str(-returncode)
        names = {
            "kill": "killed",
            "segv": "segmentation fault",
            "abrt": "aborted",
            "term": "terminated",
            "bus": "bus error",
            "int": "interrupt",
        }
        return f"signal: {names.get(name, name)}"
    return f"exit status {returncode}"


class Sandbox:
    """One execution environment: the state machine that serves its Runtime API.

    The runtime moves it by the calls of ``RuntimeAPIHandler``, and only by them; the
    platform by ``invoke`` and ``kill``; the clock by the init and invoke timeouts::

        STARTING --next_invocation (init done; template_ready for a template)--> IDLE
        IDLE --invoke--> BUSY --invocation_response--> IDLE
        any --init_error | a timeout | kill | the process's end--> DEAD
    """

    def __init__(
        self,
        function: FunctionVersion,
        code_dir: Path,
        env: SandboxEnvironment,
        logs: LogSink,
        *,
        opt_dir: Path | None = None,
        provisioned: bool = False,
        snapshot_dir: Path | None = None,
        restore_from: Snapshot | None = None,
        suppressed_init: bool = False,
        log_stream: str | None = None,
    ) -> None:
        self.function = function
        self.env = env
        self.id = uuid.uuid4().hex
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self.log_stream = log_stream or f"{day}/[{function.version}]{self.id}"
        #: Init runs inside the first invoke, under the function's timeout (not the init
        #: limit): the retry of an init that timed out, as Lambda retries it.
        self.suppressed_init = suppressed_init
        #: The log the invocation had before it came here (suppressed init).
        self.carried_log = b""
        self.state = SandboxState.STARTING
        self.last_used = time.monotonic()
        self.invocations = 0
        self.stopped = asyncio.get_running_loop().create_future()
        #: True once init is done, False if the sandbox died first.
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        #: Kept initialized for provisioned concurrency: never reaped, no Init Duration.
        self.provisioned = provisioned

        self.process = SandboxProcess(
            function,
            code_dir,
            env,
            self.id,
            opt_dir=opt_dir,
            on_exit=self._process_exited,
            snapshot_dir=snapshot_dir,
            restore_from=restore_from,
        )
        self.log = SandboxLog(
            logs,
            function.log_group,
            self.log_stream,
            tail_bytes=env.log_tail_bytes,
            limit_bytes=env.log_limit_bytes,
        )
        self._api = RuntimeAPIServer(self, expected_uid=self.uid)
        self._spawned_at = 0.0
        self._init_duration_ms: float | None = None
        # Provisioned: its init happened before any invocation; suppressed: its init is
        # part of the invocation's duration.
        self._init_reported = provisioned or suppressed_init
        self._init_timeout_hit = False
        #: An init that timed out on a saturated host (the platform's fault).
        self._starved = False
        self._cpu_stall = cpu_stall_seconds
        self._stall_at_spawn = 0.0
        #: The current invocation has started (START, timer) but the runtime has not had it.
        self._undelivered = False
        self._init_timer: asyncio.TimerHandle | None = None
        self._init_error: RuntimeReply | None = None
        self._waiter: asyncio.Future[Invocation] | None = None
        self._current: Invocation | None = None
        self._delivered_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def init_failure(self) -> RuntimeReply | None:
        """What the runtime reported when its init failed, if it did."""
        return self._init_error

    @property
    def uid(self) -> int | None:
        """The sandbox's own user (isolated sandboxes; a restored one has its template's)."""
        return self.process.uid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def snapshot_dir(self) -> Path | None:
        """A snapshot's template: the directory of the socket it serves restores from."""
        return self.process.snapshot_dir

    @property
    def restore_from(self) -> Snapshot | None:
        return self.process.restore_from

    # lifecycle
    async def start(self) -> None:
        """Spawn the runtime process; init proceeds in the background."""
        await self._api.start(self.process.prepare())
        environ = self.process.environment(
            api_address=self._api.address,
            log_stream=self.log_stream,
            provisioned=self.provisioned,
        )
        write_fd = self.log.open_pipe()
        try:
            await self.process.launch(
                environ, write_fd, api_port=self._api.port, spawning=self._init_start
            )
        except BaseException:
            self.log.close_pipe()
            self._api.close()
            self.process.cleanup()
            self.state = SandboxState.DEAD
            self.stopped.set_result(None)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.close(write_fd)
        if self.process.running and not self.suppressed_init:
            loop = asyncio.get_running_loop()
            self._init_timer = loop.call_later(self.env.init_timeout, self._init_timed_out)

    def _init_start(self) -> None:
        if self.process.adopted_log_fd is not None:
            # A runtime started ahead of need: its user and output are the sandbox's now.
            self._api.expected_uid = self.process.uid
            self.log.adopt_pipe(self.process.adopted_log_fd)
            self.process.adopted_log_fd = None
        self._spawned_at = time.perf_counter()
        self._stall_at_spawn = self._cpu_stall()
        phase = "RESTORE_START" if self.restore_from is not None else "INIT_START"
        self.log.emit(
            f"{phase} Runtime Version: {self.function.runtime}\tgureum sandbox: {self.id}"
        )

    def template_ready(self) -> None:
        """The template's init is done and its snapshot can be restored (no /next comes)."""
        self._init_done()
        self.log.emit(f"INIT_REPORT Init Duration: {self._init_duration_ms:.2f} ms\tPhase: init")

    def _init_done(self) -> None:
        self._init_duration_ms = (time.perf_counter() - self._spawned_at) * 1000
        if self._init_timer is not None:
            self._init_timer.cancel()
            self._init_timer = None
        if self.state is SandboxState.STARTING:
            self.state = SandboxState.IDLE
        if not self.ready.done():
            self.ready.set_result(True)

    def kill(self) -> None:
        """Kill the whole process group now; the sandbox becomes DEAD when it exits."""
        if self.state is SandboxState.DEAD and not self.process.running:
            return
        self.process.kill()
        self._mark_dead()

    async def stop(self) -> None:
        """Kill the sandbox and wait until its process is gone."""
        self.kill()
        await self.stopped

    def _mark_dead(self) -> None:
        if self.state is not SandboxState.DEAD:
            self.state = SandboxState.DEAD
        if not self.ready.done():
            self.ready.set_result(False)
        self._api.close()
        if self._init_timer is not None:
            self._init_timer.cancel()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()

    def _process_exited(self, returncode: int | None) -> None:
        self.log.drain()
        self.process.kill()  # children the handler left behind die with their runtime
        self.log.close_pipe()
        self.log.flush_partial()
        current = self._current
        if current is not None and not current.result.done():
            if self._init_error is not None and not self._init_reported:
                self._finish(current, self._init_error)
            elif self.process.oom_killed():
                message = (
                    f"RequestId: {current.request_id} Error: Runtime exited with error: "
                    f"{describe_exit(returncode or -9)}"
                )
                self.log.emit(message)
                self.log.emit("Runtime.OutOfMemory")
                self._finish(current, _error("Runtime.OutOfMemory", message))
            else:
                self._finish(current, self._exit_error(current.request_id))
        self._mark_dead()
        self.process.cleanup()
        if not self.stopped.done():
            self.stopped.set_result(None)

    def _exit_error(self, request_id: str) -> RuntimeReply:
        status = describe_exit(self.returncode if self.returncode is not None else -9)
        message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
        self.log.emit(message)
        self.log.emit("Runtime.ExitError")
        return _error("Runtime.ExitError", message)

    # the invoke path
    async def invoke(self, invocation: Invocation, *, tail: bool = False) -> InvokeOutcome:
        """Run one invocation in this sandbox (which the caller has claimed).

        ``tail``: keep the end of the invocation's log for the caller (LogType=Tail).
        """
        if self.state is SandboxState.DEAD:
            # It died between its start and this invocation (a failed fork, say).
            self._current = invocation
            self._finish(invocation, self._exit_error(invocation.request_id))
            self._report(invocation.request_id, 0.0, None)
            reply = invocation.result.result()
            return InvokeOutcome(invocation.request_id, reply.body, reply.error_type, b"", 0, None)
        self.state = SandboxState.BUSY
        self.invocations += 1
        self._current = invocation
        # (a sandbox started ahead of this invocation, as a spare for its pool, has
        # logged its init already; one started for it logs the init from here on)
        first = self.invocations == 1 and not self._init_reported
        self.log.begin(self.carried_log, after_init=first)
        self.carried_log = b""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result(invocation)
            self._delivered(invocation)
        elif self._init_error is not None:
            self._finish(invocation, self._init_error)
        elif self.suppressed_init and self.invocations == 1:
            # The invocation (its START, its timer) begins with the init, and its
            # Duration counts the init from the sandbox's start (a moment before this).
            self._delivered(invocation)
            self._delivered_at = self._spawned_at or self._delivered_at
            self._undelivered = True
        reply = await invocation.result
        if self._init_timeout_hit:
            invocation.result = asyncio.get_running_loop().create_future()
            raise InitTimedOut(self.log_stream, self.log.captured())
        duration_ms = (
            (time.perf_counter() - self._delivered_at) * 1000 if self._delivered_at else 0.0
        )
        init_ms = None
        if self._init_duration_ms is not None and not self._init_reported:
            init_ms = self._init_duration_ms
            self._init_reported = True
        self._delivered_at = 0.0
        self.last_used = time.monotonic()
        if self.state is SandboxState.BUSY:
            self.state = SandboxState.IDLE
        # REPORT is written now, not deferred: under concurrency the sandbox may be
        # claimed again before a deferred callback runs, and logs would interleave.
        self._report(invocation.request_id, duration_ms, init_ms)
        log_tail = self.log.tail() if tail else b""
        return InvokeOutcome(
            invocation.request_id,
            reply.body,
            reply.error_type,
            log_tail,
            duration_ms,
            init_ms,
            platform_fault=self._starved,
        )

    def _delivered(self, invocation: Invocation) -> None:
        self._delivered_at = time.perf_counter()
        invocation.deadline_ms = int(time.time() * 1000) + self.function.timeout * 1000
        self.log.start(invocation.request_id, self.function.version)
        self._timer = asyncio.get_running_loop().call_later(
            self.function.timeout, self._timed_out, invocation
        )

    def _report(self, request_id: str, duration_ms: float, init_ms: float | None) -> None:
        self.log.report(
            request_id,
            duration_ms=duration_ms,
            init_ms=init_ms,
            memory_size=self.function.memory_size,
            max_memory_used_mb=self.max_memory_used_mb(),
            restored=self.restore_from is not None,
        )

    def _finish(self, invocation: Invocation, reply: RuntimeReply) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._current = None
        self._undelivered = False
        stream = invocation.response_stream
        if stream is not None and not stream.done:
            # Ended mid-stream (a timeout, the runtime's exit): its reader learns why.
            stream.finish(reply.error_type or "Runtime.Unknown", reply.body)
        if not invocation.result.done():
            invocation.result.set_result(reply)

    def _timed_out(self, invocation: Invocation) -> None:
        self._timer = None
        if invocation.result.done():
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        seconds = f"{self.function.timeout:.2f}"
        self.log.drain()
        if self._init_duration_ms is None:  # a suppressed init that did not finish
            self._starved = self._host_saturated()
            elapsed = (time.perf_counter() - self._spawned_at) * 1000
            self.log.emit(
                f"INIT_REPORT Init Duration: {elapsed:.2f} ms\tPhase: invoke\tStatus: timeout"
            )
        self.log.emit(f"{stamp} {invocation.request_id} Task timed out after {seconds} seconds")
        self._finish(
            invocation,
            _error(
                "Sandbox.Timedout",
                f"RequestId: {invocation.request_id} Error: Task timed out after {seconds} seconds",
            ),
        )
        self.kill()

    def _host_saturated(self) -> bool:
        """Whether runnable tasks waited for a CPU most of the time since the spawn."""
        elapsed = time.perf_counter() - self._spawned_at
        stalled = self._cpu_stall() - self._stall_at_spawn
        return elapsed > 0 and stalled / elapsed >= SATURATED

    def _init_timed_out(self) -> None:
        self._init_timer = None
        if self.state is not SandboxState.STARTING and self._init_duration_ms is not None:
            return
        seconds = f"{self.env.init_timeout:.2f}"
        self.log.emit(
            f"INIT_REPORT Init Duration: {self.env.init_timeout * 1000:.2f} ms\t"
            "Phase: init\tStatus: timeout"
        )
        current = self._current
        if current is not None:
            # Its invocation is run again by a sandbox whose init is part of it.
            self._init_reported = True
            self._init_timeout_hit = True
            self._finish(
                current,
                _error(
                    "Runtime.InitError",
                    f"RequestId: {current.request_id} Error: "
                    f"Init timed out after {seconds} seconds",
                ),
            )
        self.kill()

    # RuntimeAPIHandler
    def next_invocation(self) -> asyncio.Future[Invocation]:
        loop = asyncio.get_running_loop()
        if self._init_duration_ms is None:
            self._init_done()
            # Init ran with the host's CPU (as Lambda boosts it); invokes get their share.
            self.process.limit_cpu()
        waiter: asyncio.Future[Invocation] = loop.create_future()
        current = self._current
        if current is not None and self._undelivered and not current.result.done():
            self._undelivered = False
            waiter.set_result(current)
        elif current is not None and not self._delivered_at and not current.result.done():
            waiter.set_result(current)
            self._delivered(current)
        else:
            self._waiter = waiter
        return waiter

    def invocation_response(self, request_id: str, reply: RuntimeReply) -> bool:
        current = self._current
        if current is None or current.request_id != request_id or current.result.done():
            return False
        # Whatever the runtime printed before answering belongs to this invocation.
        self.log.drain()
        self.log.flush_partial()
        self._finish(current, reply)
        return True

    def invocation_stream(self, request_id: str, stream: ResponseStream) -> bool:
        current = self._current
        if current is None or current.request_id != request_id or current.result.done():
            return False
        current.response_stream = stream
        if current.streamed is not None and not current.streamed.done():
            current.streamed.set_result(stream.take())
        return True

    def init_error(self, reply: RuntimeReply) -> None:
        self.log.drain()
        self.log.flush_partial()
        self._init_error = reply
        if self._init_timer is not None:
            self._init_timer.cancel()
            self._init_timer = None
        current = self._current
        if current is not None:
            self._init_reported = True
            self._finish(current, reply)
        self.kill()

    def max_memory_used_mb(self) -> int:
        """Peak memory: the cgroup's own counter, else the runtime process's VmHWM, in MB."""
        return self.process.max_memory_used_mb()
