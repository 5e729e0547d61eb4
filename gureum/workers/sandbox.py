"""A sandbox: one execution environment of one function version.

A sandbox is a runtime process (in its own session, so its whole process group can be
killed), the Runtime API it talks to, and its log stream. It starts cold (init runs
until the runtime first asks for ``/invocation/next``), then serves one invocation at a
time, warm, until it is stopped, times out or dies.

Every way an invocation can end resolves the invocation's future exactly once: the
runtime's response or error, an init failure, a timeout, or the process exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import math
import os
import shutil
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from gureum.functions.config import FunctionVersion
from gureum.observe.logs import LogSink
from gureum.runtimes import BOOTSTRAP, RuntimeCommand, runtime_command
from gureum.workers.cgroups import Cgroup
from gureum.workers.isolation import JAIL, PIDS_MAX, Isolation, jail_spec, root_base
from gureum.workers.runtime_api import Invocation, RuntimeAPIServer, RuntimeReply
from gureum.workers.snapshot import SOCKET_DIR, Snapshot
from gureum.workers.zygote import Prepared, Zygotes

logger = logging.getLogger(__name__)

SETPRIV = shutil.which("setpriv")
#: Where a Python function's imports come from inside its sandbox.
SANDBOX_PYTHONPATH = "/var/task:/opt/python:/var/runtime"
PRLIMIT = shutil.which("prlimit")
_READ_CHUNK = 65536


class SandboxState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class SandboxEnvironment:
    """What every sandbox on a host is given, besides its function's own configuration."""

    region: str
    account_id: str
    access_key_id: str
    secret_access_key: str
    endpoint_url: str
    sdk_dir: Path
    init_timeout: float
    log_tail_bytes: int
    log_limit_bytes: int
    isolation: Isolation
    sdk_packages: list[Path]
    #: Fork servers for cold starts (isolated sandboxes only); None: exec a jail each time.
    zygotes: Zygotes | None = None
    #: HOST:PORT of the X-Ray daemon (AWS_XRAY_DAEMON_ADDRESS), if one runs.
    xray_address: str | None = None


@dataclass(frozen=True, slots=True)
class InvokeOutcome:
    """How one invocation ended, as the Front End needs it."""

    request_id: str
    body: bytes
    error_type: str | None
    log_tail: bytes
    duration_ms: float
    init_duration_ms: float | None

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


class _ExitWatcher(asyncio.SubprocessProtocol):
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.transport: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.SubprocessTransport, transport)  # uvloop's is no subclass

    def process_exited(self) -> None:
        assert self.transport is not None
        returncode = self.transport.get_returncode()
        self.transport.close()
        self.sandbox._process_exited(returncode)


class Sandbox:
    """One execution environment: a runtime process, its Runtime API and its log stream."""

    def __init__(
        self,
        function: FunctionVersion,
        code_dir: Path,
        env: SandboxEnvironment,
        logs: LogSink,
        *,
        provisioned: bool = False,
        snapshot_dir: Path | None = None,
        restore_from: Snapshot | None = None,
        suppressed_init: bool = False,
        log_stream: str | None = None,
    ) -> None:
        self.function = function
        self.code_dir = code_dir
        self.env = env
        self.logs = logs
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
        self.returncode: int | None = None
        self.stopped = asyncio.get_running_loop().create_future()
        #: True once init is done, False if the sandbox died first.
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        #: Kept initialized for provisioned concurrency: never reaped, no Init Duration.
        self.provisioned = provisioned

        #: Snapshot mode: this sandbox is a template (its socket's directory), or is
        #: restored from one (and runs as the template's user).
        self.snapshot_dir = snapshot_dir
        self.restore_from = restore_from
        self.uid: int | None
        if restore_from is not None:
            self.uid = restore_from.template.uid
        else:
            self.uid = env.isolation.next_uid() if env.isolation.isolated else None
        self._api = RuntimeAPIServer(self, expected_uid=self.uid)
        self._running = False  # the process is alive (started and not yet reaped)
        self._pid: int | None = None
        self._log_fd: int | None = None
        self._partial = b""
        self._capture = bytearray()
        self._captured = 0
        self._truncated = 0
        self._spawned_at = 0.0
        self._init_duration_ms: float | None = None
        # Provisioned: its init happened before any invocation; suppressed: its init is
        # part of the invocation's duration.
        self._init_reported = provisioned or suppressed_init
        self._init_timeout_hit = False
        #: The current invocation has started (START, timer) but the runtime has not had it.
        self._undelivered = False
        self._init_timer: asyncio.TimerHandle | None = None
        self._init_error: RuntimeReply | None = None
        self._waiter: asyncio.Future[Invocation] | None = None
        self._current: Invocation | None = None
        self._delivered_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._status_fd: int | None = None
        self._cgroup: Cgroup | None = None
        self._root: Path | None = None
        self._final_memory_mb: int | None = None
        self._api_dir: Path | None = None

    # lifecycle
    async def start(self) -> None:
        """Spawn the runtime process; init proceeds in the background."""
        fn = self.function
        command = runtime_command(fn.runtime, self.code_dir, self.env.sdk_dir)
        isolated = self.env.isolation.isolated
        unix_path = None
        if isolated and fn.network == "none":
            # The sandbox has no network: its init relays the Runtime API to this socket.
            self._api_dir = self.env.isolation.sandboxes_dir / f"{self.id}.api"
            self._api_dir.mkdir(mode=0o700, parents=True)
            unix_path = str(self._api_dir / "api.sock")
        await self._api.start(unix_path)
        task_root = "/var/task" if isolated else str(self.code_dir)
        environ = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            **fn.environment,
            **command.env,
            "AWS_LAMBDA_RUNTIME_API": self._api.address,
            "_HANDLER": fn.handler,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": "/var/runtime" if isolated else str(BOOTSTRAP.parent),
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": (
                "provisioned-concurrency"
                if self.provisioned
                else "snap-start"
                if fn.snap_start
                else "on-demand"
            ),
            "AWS_REGION": self.env.region,
            "AWS_DEFAULT_REGION": self.env.region,
            "AWS_ACCESS_KEY_ID": self.env.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.env.secret_access_key,
            "AWS_ENDPOINT_URL": self.env.endpoint_url,
        }
        environ.setdefault("AWS_EXECUTION_ENV", f"AWS_Lambda_{fn.runtime}")
        if self.env.xray_address:
            environ["AWS_XRAY_DAEMON_ADDRESS"] = self.env.xray_address
            environ["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        loop = asyncio.get_running_loop()
        # Ready for the process's output and end before it exists: a zygote may report
        # both in the same breath as the fork.
        self._log_fd = read_fd
        loop.add_reader(read_fd, self._read_logs)
        self._running = True
        try:
            if self.restore_from is not None:
                await self._restore(environ, write_fd)
            elif isolated and self.env.zygotes is not None:
                await self._fork(command, environ, write_fd)
            else:
                await self._exec(command, environ, write_fd)
        except BaseException:
            self._running = False
            loop.remove_reader(read_fd)
            os.close(read_fd)
            self._log_fd = None
            self._api.close()
            self._cleanup()
            self.state = SandboxState.DEAD
            self.stopped.set_result(None)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.close(write_fd)
        if self._running and not self.suppressed_init:
            self._init_timer = loop.call_later(self.env.init_timeout, self._init_timed_out)

    def _init_start(self) -> None:
        self._spawned_at = time.perf_counter()
        phase = "RESTORE_START" if self.restore_from is not None else "INIT_START"
        self._emit(f"{phase} Runtime Version: {self.function.runtime}\tgureum sandbox: {self.id}")

    async def _restore(self, environ: dict[str, str], log_fd: int) -> None:
        """A cold start forked from the version's snapshot: no init runs."""
        assert self.restore_from is not None
        fn = self.function
        environ["PYTHONPATH"] = SANDBOX_PYTHONPATH
        self._init_start()
        self._pid, self._cgroup = await self.restore_from.restore(
            environ, fn.ephemeral_storage_mb, fn.memory_size, log_fd, self._process_exited
        )

    def template_ready(self) -> None:
        """The template's init is done and its snapshot can be restored (no /next comes)."""
        self._init_done()
        self._emit(f"INIT_REPORT Init Duration: {self._init_duration_ms:.2f} ms\tPhase: init")

    def _init_done(self) -> None:
        self._init_duration_ms = (time.perf_counter() - self._spawned_at) * 1000
        if self._init_timer is not None:
            self._init_timer.cancel()
            self._init_timer = None
        if self.state is SandboxState.STARTING:
            self.state = SandboxState.IDLE
        if not self.ready.done():
            self.ready.set_result(True)

    async def _fork(self, command: RuntimeCommand, environ: dict[str, str], log_fd: int) -> None:
        """A cold start from the runtime's zygote (into a prepared child if one is ready)."""
        assert self.env.zygotes is not None
        zygote = await self.env.zygotes.get(self._interpreter(command))
        prepared: Prepared | None = zygote.take()
        if prepared is not None:
            self._cgroup = prepared.cgroup
            self._cgroup.limit_memory(self.function.memory_size)
            spec = self._jail_spec(command, environ, zygote.base)
        else:
            spec = await asyncio.to_thread(self._jail_spec, command, environ, zygote.base)
        self._init_start()
        self._pid = await zygote.spawn(spec, log_fd, self._process_exited, prepared)

    async def _exec(self, command: RuntimeCommand, environ: dict[str, str], log_fd: int) -> None:
        """A cold start from a new process: the jail (isolated) or the runtime itself."""
        fn = self.function
        if self.env.isolation.isolated:
            spec = await asyncio.to_thread(self._jail_spec, command, environ, None)
            argv = [self._interpreter(command), "-S", str(JAIL)]
            environ = {"PATH": "/usr/local/bin:/usr/bin:/bin", "GUREUM_JAIL_SPEC": json.dumps(spec)}
        else:
            argv = (
                [PRLIMIT, f"--data={fn.memory_size * 1024 * 1024}", "--", *command.argv]
                if PRLIMIT
                else list(command.argv)
            )
        if SETPRIV is not None:
            # The sandbox dies with the server, even on SIGKILL.
            argv = [SETPRIV, "--pdeathsig", "KILL", "--", *argv]
        self._init_start()
        transport, _ = await asyncio.get_running_loop().subprocess_exec(
            lambda: _ExitWatcher(self),
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            env=environ,
            cwd=str(self.code_dir),
            start_new_session=True,
        )
        self._pid = transport.get_pid()

    def _interpreter(self, command: RuntimeCommand) -> str:
        """The interpreter the jail runs under: the function's own for Python runtimes."""
        return command.argv[0] if self.function.runtime.startswith("python") else sys.executable

    def _jail_spec(
        self, command: RuntimeCommand, environ: dict[str, str], base: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Create the sandbox's cgroup (unless it has one); what the jail builds.

        ``base``: the shared part of the root (a zygote's); None: a root of its own.
        """
        fn = self.function
        isolation = self.env.isolation
        assert self.uid is not None  # isolated sandboxes get theirs at construction
        if self._cgroup is None:
            self._cgroup = Cgroup(isolation.cgroup_support, f"sandbox-{self.id}")
            self._cgroup.create(fn.memory_size, PIDS_MAX)
        python = fn.runtime.startswith("python")
        if base is None:
            self._root = isolation.sandboxes_dir / self.id
            self._root.mkdir(parents=True)
            base = root_base(
                root=self._root,
                interpreter=self._interpreter(command) if python else None,
                bootstrap=BOOTSTRAP if python else None,
                sdk_packages=self.env.sdk_packages if python else [],
            )
        if python:
            environ["PYTHONPATH"] = SANDBOX_PYTHONPATH
        spec = jail_spec(
            base=base,
            code_dir=self.code_dir,
            python=python,
            tmp_mb=fn.ephemeral_storage_mb,
            uid=self.uid,
            procs=self._cgroup.procs_files,
            env=environ,
            argv=["/var/task/bootstrap"],
            network=fn.network,
        )
        if self._api_dir is not None:
            spec["binds"].append((str(self._api_dir), "/run/gureum"))
            spec["api_socket"] = "/run/gureum/api.sock"
            spec["api_port"] = self._api.port
        if self.snapshot_dir is not None:
            spec["binds"].append((str(self.snapshot_dir), SOCKET_DIR))
            environ["GUREUM_SNAPSHOT_SOCKET"] = f"{SOCKET_DIR}/snap.sock"
        return spec

    def _cleanup(self) -> None:
        """Remove the sandbox's cgroup and root directory once its processes are gone."""
        if self._cgroup is not None:
            self._final_memory_mb = self.max_memory_used_mb()
            self._cgroup.remove()
            self._cgroup = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        if self._api_dir is not None:
            shutil.rmtree(self._api_dir, ignore_errors=True)

    def kill(self) -> None:
        """Kill the whole process group now; the sandbox becomes DEAD when it exits."""
        if self.state is SandboxState.DEAD and not self._running:
            return
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)
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
        self._running = False
        self.returncode = returncode
        self._drain_logs()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            # Children the handler left behind die with their runtime.
            if self._pid is not None:
                os.killpg(self._pid, signal.SIGKILL)
        if self._log_fd is not None:
            asyncio.get_running_loop().remove_reader(self._log_fd)
            os.close(self._log_fd)
            self._log_fd = None
        self._flush_partial()
        current = self._current
        if current is not None and not current.result.done():
            if self._init_error is not None and not self._init_reported:
                self._finish(current, self._init_error)
            elif self._cgroup is not None and self._cgroup.oom_kills():
                message = (
                    f"RequestId: {current.request_id} Error: Runtime exited with error: "
                    f"{describe_exit(self.returncode or -9)}"
                )
                self._emit(message)
                self._emit("Runtime.OutOfMemory")
                self._finish(current, _error("Runtime.OutOfMemory", message))
            else:
                self._finish(current, self._exit_error(current.request_id))
        self._mark_dead()
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        self._cleanup()
        if not self.stopped.done():
            self.stopped.set_result(None)

    def _exit_error(self, request_id: str) -> RuntimeReply:
        status = describe_exit(self.returncode if self.returncode is not None else -9)
        message = f"RequestId: {request_id} Error: Runtime exited with error: {status}"
        self._emit(message)
        self._emit("Runtime.ExitError")
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
        self._capture = bytearray(self.carried_log)
        self.carried_log = b""
        self._captured = 0
        self._truncated = 0
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result(invocation)
            self._delivered(invocation)
        elif self._init_error is not None:
            self._finish(invocation, self._init_error)
        elif self.suppressed_init and self.invocations == 1:
            # The invocation (its START, its timer) begins with the init.
            self._delivered(invocation)
            self._undelivered = True
        reply = await invocation.result
        if self._init_timeout_hit:
            invocation.result = asyncio.get_running_loop().create_future()
            raise InitTimedOut(self.log_stream, bytes(self._capture))
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
        log_tail = bytes(self._capture[-self.env.log_tail_bytes :]) if tail else b""
        return InvokeOutcome(
            invocation.request_id, reply.body, reply.error_type, log_tail, duration_ms, init_ms
        )

    def _delivered(self, invocation: Invocation) -> None:
        self._delivered_at = time.perf_counter()
        invocation.deadline_ms = int(time.time() * 1000) + self.function.timeout * 1000
        self._emit(f"START RequestId: {invocation.request_id} Version: {self.function.version}")
        self._timer = asyncio.get_running_loop().call_later(
            self.function.timeout, self._timed_out, invocation
        )

    def _finish(self, invocation: Invocation, reply: RuntimeReply) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._current = None
        self._undelivered = False
        if not invocation.result.done():
            invocation.result.set_result(reply)

    def _timed_out(self, invocation: Invocation) -> None:
        self._timer = None
        if invocation.result.done():
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        seconds = f"{self.function.timeout:.2f}"
        self._drain_logs()
        if self._init_duration_ms is None:  # a suppressed init that did not finish
            elapsed = (time.perf_counter() - self._spawned_at) * 1000
            self._emit(
                f"INIT_REPORT Init Duration: {elapsed:.2f} ms\tPhase: invoke\tStatus: timeout"
            )
        self._emit(f"{stamp} {invocation.request_id} Task timed out after {seconds} seconds")
        self._finish(
            invocation,
            _error(
                "Sandbox.Timedout",
                f"RequestId: {invocation.request_id} Error: Task timed out after {seconds} seconds",
            ),
        )
        self.kill()

    def _init_timed_out(self) -> None:
        self._init_timer = None
        if self.state is not SandboxState.STARTING and self._init_duration_ms is not None:
            return
        seconds = f"{self.env.init_timeout:.2f}"
        self._emit(
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
            if self._cgroup is not None:
                # Init ran with the host's CPU (as Lambda boosts it); invokes get their share.
                self._cgroup.limit_cpu(self.function.memory_size)
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
        self._drain_logs()
        self._flush_partial()
        self._finish(current, reply)
        return True

    def init_error(self, reply: RuntimeReply) -> None:
        self._drain_logs()
        self._flush_partial()
        self._init_error = reply
        if self._init_timer is not None:
            self._init_timer.cancel()
            self._init_timer = None
        current = self._current
        if current is not None:
            self._init_reported = True
            self._finish(current, reply)
        self.kill()

    # logs
    def _read_logs(self) -> None:
        if self._log_fd is None:
            return
        try:
            data = os.read(self._log_fd, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._take_log(data)

    def _drain_logs(self) -> None:
        while self._log_fd is not None:
            try:
                data = os.read(self._log_fd, _READ_CHUNK)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self._take_log(data)

    def _take_log(self, data: bytes) -> None:
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        if len(self._partial) > self.env.log_limit_bytes:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._emit_output(line)

    def _flush_partial(self) -> None:
        if self._partial:
            self._emit_output(self._partial)
            self._partial = b""

    def _emit_output(self, line: bytes) -> None:
        if self._captured + len(line) > self.env.log_limit_bytes:
            self._truncated += len(line) + 1
            return
        self._captured += len(line) + 1
        self._emit(line.decode("utf-8", "replace"))

    def _emit(self, message: str) -> None:
        self.logs.emit(self.function.log_group, self.log_stream, message)
        self._capture += message.encode() + b"\n"
        limit = self.env.log_tail_bytes
        if len(self._capture) > 4 * limit:
            del self._capture[:-limit]

    def _report(self, request_id: str, duration_ms: float, init_ms: float | None) -> None:
        if self._truncated:
            self._emit(
                f"[gureum] log truncated: {self._truncated} bytes of output dropped "
                f"(limit {self.env.log_limit_bytes} bytes per invocation)"
            )
        restored = self.restore_from is not None
        billed = math.ceil(duration_ms + (0.0 if restored else init_ms or 0.0))
        line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(billed, 1)} ms\t"
            f"Memory Size: {self.function.memory_size} MB\t"
            f"Max Memory Used: {self.max_memory_used_mb()} MB\t"
        )
        if init_ms is not None:
            if restored:
                line += (
                    f"Restore Duration: {init_ms:.2f} ms\t"
                    f"Billed Restore Duration: {math.ceil(init_ms)} ms\t"
                )
            else:
                line += f"Init Duration: {init_ms:.2f} ms\t"
        self._emit(f"END RequestId: {request_id}")
        self._emit(line)

    def max_memory_used_mb(self) -> int:
        """Peak memory: the cgroup's own counter, else the runtime process's VmHWM, in MB."""
        if self._final_memory_mb is not None:
            return self._final_memory_mb
        if self._cgroup is not None:
            return math.ceil(self._cgroup.memory_peak_bytes() / (1024 * 1024))
        if self._pid is None:
            return 0
        try:
            if self._status_fd is None:
                self._status_fd = os.open(f"/proc/{self._pid}/status", os.O_RDONLY)
            status = os.pread(self._status_fd, 4096, 0)
            start = status.index(b"VmHWM:") + 6
            return math.ceil(int(status[start : status.index(b"kB", start)]) / 1024)
        except (OSError, ValueError):
            return 0
