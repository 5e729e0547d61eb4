"""A sandbox's process: how it starts, what confines it, how it ends and what it leaves.

A sandbox's runtime process starts one of three ways: restored from its version's
snapshot, forked from its runtime's zygote, or exec'd (the jail where sandboxes are
isolated, else the runtime itself under rlimits). It runs in a session of its own, so
its whole process group can be killed. An isolated one has a cgroup (memory, pids, CPU)
and a root of its own (or its zygote's shared one) and, without a network, a directory
for its Runtime API's unix socket; they are removed once its processes are gone. Its
end is reported once, whichever way it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from gureum.functions.config import FunctionVersion
from gureum.runtimes import (
    BOOTSTRAP,
    NODEJS_RUNTIMES,
    RuntimeCommand,
    node_flags,
    runtime_command,
)
from gureum.runtimes.paths import layer_environment, node_path, python_path
from gureum.workers import cgroups
from gureum.workers.cgroups import Cgroup
from gureum.workers.environment import SandboxEnvironment
from gureum.workers.isolation import (
    HOST_DIRS,
    JAIL,
    PIDS_MAX,
    jail_spec,
    root_base,
    trust_binds,
    trust_environment,
)
from gureum.workers.snapshot import SOCKET_DIR, Snapshot
from gureum.workers.zygote import Prepared, Prestart

SETPRIV = shutil.which("setpriv")
PRLIMIT = shutil.which("prlimit")


def sandbox_pythonpath(runtime: str) -> str:
    """Where a Python function's imports come from inside its sandbox: its code, its
    layers, the runtime (and the SDK beside it)."""
    return ":".join([*python_path(runtime, task="/var/task", opt="/opt"), "/var/runtime"])


class _ExitWatcher(asyncio.SubprocessProtocol):
    def __init__(self, exited: Callable[[int | None], None]) -> None:
        self.exited = exited
        self.transport: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.SubprocessTransport, transport)  # uvloop's is no subclass

    def process_exited(self) -> None:
        assert self.transport is not None
        returncode = self.transport.get_returncode()
        self.transport.close()
        self.exited(returncode)


class SandboxProcess:
    """The runtime process of one sandbox and its confinement (cgroup, root, uid)."""

    def __init__(
        self,
        function: FunctionVersion,
        code_dir: Path,
        env: SandboxEnvironment,
        sandbox_id: str,
        *,
        opt_dir: Path | None = None,
        on_exit: Callable[[int | None], None],
        snapshot_dir: Path | None = None,
        restore_from: Snapshot | None = None,
    ) -> None:
        self.function = function
        self.code_dir = code_dir
        #: The merged layers of the function version (bound at /opt); None: it has none.
        self.opt_dir = opt_dir
        self.env = env
        self.id = sandbox_id
        #: Called once, with the runtime's return code (``-N``: signal N), when it ends.
        self.on_exit = on_exit
        #: Snapshot mode: this sandbox is a template (its socket's directory), or is
        #: restored from one (and runs as the template's user).
        self.snapshot_dir = snapshot_dir
        self.restore_from = restore_from
        self.uid: int | None
        if restore_from is not None:
            self.uid = restore_from.template.uid
        else:
            self.uid = env.isolation.next_uid() if env.isolation.isolated else None
        self.pid: int | None = None
        self.returncode: int | None = None
        #: Started and not yet reaped.
        self.running = False
        self.cgroup: Cgroup | None = None
        self._command: RuntimeCommand | None = None
        self._root: Path | None = None
        self._api_dir: Path | None = None
        self._status_fd: int | None = None
        self._final_memory_mb: int | None = None
        #: The output pipe of a runtime started ahead of need, once it is this sandbox's.
        self.adopted_log_fd: int | None = None

    # before the start
    def prepare(self) -> str | None:
        """Resolve the runtime's command; return where the Runtime API is to listen on a
        unix socket (a sandbox without a network, whose init relays the API's port on
        its own loopback there), else None."""
        self._command = runtime_command(
            self.function.runtime, self.code_dir, self.env.sdk_dir, self.opt_dir
        )
        if not self.env.isolation.isolated or self.function.network != "none":
            return None
        self._api_dir = self.env.isolation.sandboxes_dir / f"{self.id}.api"
        self._api_dir.mkdir(mode=0o700, parents=True)
        return str(self._api_dir / "api.sock")

    def environment(
        self, *, api_address: str, log_stream: str, provisioned: bool
    ) -> dict[str, str]:
        """The runtime's environment: Lambda's reserved variables and the function's own."""
        fn = self.function
        isolated = self.env.isolation.isolated
        assert self._command is not None, "prepare() first"
        task = "/var/task" if isolated else str(self.code_dir)
        runtime_dir = "/var/runtime" if isolated else str(self._runtime_dir())
        # Without isolation the layers are where they are merged on the host.
        opt = str(self.opt_dir) if self.opt_dir is not None and not isolated else "/opt"
        environ = {
            **layer_environment(fn.runtime, task=task, opt=opt, runtime_dir=runtime_dir),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            # A sandbox's user has no entry in the host's passwd: without HOME, Node's
            # os.homedir() throws (the AWS SDK for JavaScript asks it for ~/.aws)
            **({"HOME": "/tmp"} if isolated else {}),
            **fn.environment,
            **self._command.env,
            "AWS_LAMBDA_RUNTIME_API": api_address,
            "_HANDLER": fn.handler,
            "LAMBDA_TASK_ROOT": task,
            "LAMBDA_RUNTIME_DIR": runtime_dir,
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": (
                "provisioned-concurrency"
                if provisioned
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
        # The HTTPS edge's CA, unless the function names CAs of its own.
        for name, value in trust_environment(self.env.trust, isolated=isolated).items():
            environ.setdefault(name, value)
        if self.env.xray_address:
            environ["AWS_XRAY_DAEMON_ADDRESS"] = self.env.xray_address
            environ["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
        return environ

    def _runtime_dir(self) -> Path:
        """Where the runtime's own files are on the host (``/var/runtime`` in a jail)."""
        if self.function.runtime in NODEJS_RUNTIMES:
            return self.env.sdk_dir.parent / "nodejs"
        return BOOTSTRAP.parent

    # the start
    async def launch(
        self,
        environ: dict[str, str],
        log_fd: int,
        *,
        api_port: int,
        spawning: Callable[[], None],
    ) -> None:
        """Start the runtime with its output on ``log_fd`` (which the caller closes).

        ``spawning`` is called just before the process is asked for (its init starts).
        On failure the caller removes what was made for it (``cleanup``).
        """
        command = self._command
        assert command is not None, "prepare() first"
        self.running = True  # a zygote may report the end in the same breath as the fork
        try:
            if self.restore_from is not None:
                await self._restore(environ, log_fd, spawning)
            elif self.env.isolation.isolated and self.env.zygotes is not None:
                await self._fork(command, environ, log_fd, api_port, spawning)
            else:
                await self._exec(command, environ, log_fd, api_port, spawning)
        except BaseException:
            self.running = False
            raise

    async def _restore(
        self, environ: dict[str, str], log_fd: int, spawning: Callable[[], None]
    ) -> None:
        """A cold start forked from the version's snapshot: no init runs."""
        assert self.restore_from is not None
        fn = self.function
        environ["PYTHONPATH"] = sandbox_pythonpath(fn.runtime)
        spawning()
        self.pid, self.cgroup = await self.restore_from.restore(
            environ, fn.ephemeral_storage_mb, fn.memory_size, log_fd, self._exited
        )

    async def _fork(
        self,
        command: RuntimeCommand,
        environ: dict[str, str],
        log_fd: int,
        api_port: int,
        spawning: Callable[[], None],
    ) -> None:
        """A cold start from the runtime's zygote: into a runtime started ahead of need
        (Node.js), or a prepared child, if one is ready."""
        assert self.env.zygotes is not None
        zygote = await self.env.zygotes.get(self._interpreter(command))
        fn = self.function
        started = None
        prestarted: set[str] = set()
        if self.can_use_started():
            prestart = node_prestart(fn.runtime, fn.memory_size, self.env)
            zygote.keep_started(prestart, self.env.started_runtimes)
            started = zygote.take_started(prestart.key)
            prestarted = {target for _, target in prestart.binds}
        if started is not None:
            # Its user and its output pipe are the sandbox's from now on.
            self.uid = started.uid
            self.adopted_log_fd = started.log_fd
            self.cgroup = started.cgroup
            self.cgroup.limit_memory(fn.memory_size)
            spec = self._jail_spec(command, environ, zygote.base, api_port)
            # (its runtime's files, node and the trust files are in its root already)
            spec["binds"] = [b for b in spec["binds"] if b[1] not in prestarted]
            spawning()
            self.pid = await zygote.spawn_started(spec, started, self._exited)
            return
        prepared: Prepared | None = zygote.take()
        if prepared is not None:
            self.cgroup = prepared.cgroup
            self.cgroup.limit_memory(self.function.memory_size)
            spec = self._jail_spec(command, environ, zygote.base, api_port)
        else:
            spec = await asyncio.to_thread(self._jail_spec, command, environ, zygote.base, api_port)
        spawning()
        self.pid = await zygote.spawn(spec, log_fd, self._exited, prepared)

    async def _exec(
        self,
        command: RuntimeCommand,
        environ: dict[str, str],
        log_fd: int,
        api_port: int,
        spawning: Callable[[], None],
    ) -> None:
        """A cold start from a new process: the jail (isolated) or the runtime itself."""
        fn = self.function
        if self.env.isolation.isolated:
            spec = await asyncio.to_thread(self._jail_spec, command, environ, None, api_port)
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
        spawning()
        transport, _ = await asyncio.get_running_loop().subprocess_exec(
            lambda: _ExitWatcher(self._exited),
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            env=environ,
            cwd=str(self.code_dir),
            start_new_session=True,
        )
        self.pid = transport.get_pid()

    def can_use_started(self) -> bool:
        """Whether a runtime started ahead of need can be this sandbox's: a Node.js one
        (Python forks from its zygote instead) on the host's network (a sandbox without
        one gets its network namespace before its runtime starts) that names no CAs of
        its own for Node."""
        fn = self.function
        return (
            fn.runtime in NODEJS_RUNTIMES
            and fn.network != "none"
            # Node reads it once, at its start: a function's own must start its own node.
            and "NODE_EXTRA_CA_CERTS" not in fn.environment
        )

    def _interpreter(self, command: RuntimeCommand) -> str:
        """The interpreter the jail runs under: the function's own for Python runtimes."""
        return command.argv[0] if self.function.runtime.startswith("python") else sys.executable

    def _jail_spec(
        self,
        command: RuntimeCommand,
        environ: dict[str, str],
        base: dict[str, Any] | None,
        api_port: int,
    ) -> dict[str, Any]:
        """Create the sandbox's cgroup (unless it has one); what the jail builds.

        ``base``: the shared part of the root (a zygote's); None: a root of its own.
        """
        fn = self.function
        isolation = self.env.isolation
        assert self.uid is not None  # isolated sandboxes get theirs at construction
        if self.cgroup is None:
            self.cgroup = Cgroup(isolation.cgroup_support, cgroups.sandbox_group(self.id))
            self.cgroup.create(fn.memory_size, PIDS_MAX)
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
        argv = ["/var/task/bootstrap"]
        binds: list[tuple[str, str]] = []
        if python:
            environ["PYTHONPATH"] = sandbox_pythonpath(fn.runtime)
        elif fn.runtime in NODEJS_RUNTIMES:
            # The runtime's files and the SDK beside them at /var/runtime, as on Lambda;
            # the host's node where it is (bound when outside the host's system dirs).
            node_binds, node = node_runtime_binds(command.argv[0], self._runtime_dir())
            binds += node_binds
            environ["NODE_PATH"] = node_path(
                fn.runtime, task="/var/task", opt="/opt", runtime_dir="/var/runtime"
            )
            argv = [node, *node_flags(fn.memory_size), "/var/runtime/runtime.cjs"]
        # A provided runtime's bootstrap: the function's own, else its layers'.
        if self.opt_dir is not None and command.argv[0] == str(self.opt_dir / "bootstrap"):
            argv = ["/opt/bootstrap"]
        spec = jail_spec(
            base=base,
            code_dir=self.code_dir,
            opt_dir=self.opt_dir,
            python=python,
            tmp_mb=fn.ephemeral_storage_mb,
            uid=self.uid,
            procs=self.cgroup.procs_files,
            env=environ,
            argv=argv,
            network=fn.network,
        )
        spec["binds"] += binds + trust_binds(self.env.trust)
        if self._api_dir is not None:
            spec["binds"].append((str(self._api_dir), "/run/gureum"))
            spec["api_socket"] = "/run/gureum/api.sock"
            spec["api_port"] = api_port
        if self.snapshot_dir is not None:
            spec["binds"].append((str(self.snapshot_dir), SOCKET_DIR))
            environ["GUREUM_SNAPSHOT_SOCKET"] = f"{SOCKET_DIR}/snap.sock"
        return spec

    # while it runs
    def limit_cpu(self) -> None:
        """From now on its CPU is in proportion to its memory (init ran with the host's)."""
        if self.cgroup is not None:
            self.cgroup.limit_cpu(self.function.memory_size)

    def oom_killed(self) -> bool:
        """The cgroup's memory limit killed a process of the sandbox."""
        return self.cgroup is not None and self.cgroup.oom_kills() > 0

    def max_memory_used_mb(self) -> int:
        """Peak memory: the cgroup's own counter, else the runtime process's VmHWM, in MB."""
        if self._final_memory_mb is not None:
            return self._final_memory_mb
        if self.cgroup is not None:
            return math.ceil(self.cgroup.memory_peak_bytes() / (1024 * 1024))
        if self.pid is None:
            return 0
        try:
            if self._status_fd is None:
                self._status_fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY)
            status = os.pread(self._status_fd, 4096, 0)
            start = status.index(b"VmHWM:") + 6
            return math.ceil(int(status[start : status.index(b"kB", start)]) / 1024)
        except (OSError, ValueError):
            return 0

    # the end
    def kill(self) -> None:
        """Kill its whole process group (what the runtime left behind too)."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def _exited(self, returncode: int | None) -> None:
        self.running = False
        self.returncode = returncode
        self.on_exit(returncode)

    def cleanup(self) -> None:
        """Remove the sandbox's cgroup and root directory once its processes are gone."""
        if self._status_fd is not None:
            os.close(self._status_fd)
            self._status_fd = None
        if self.cgroup is not None:
            self._final_memory_mb = self.max_memory_used_mb()
            self.cgroup.remove()
            self.cgroup = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
        if self._api_dir is not None:
            shutil.rmtree(self._api_dir, ignore_errors=True)


def node_runtime_binds(node: str, runtime_dir: Path) -> tuple[list[tuple[str, str]], str]:
    """The Node runtime's files at /var/runtime, and the host's node where a sandbox
    sees it: the binds, and that path."""
    binds = [(str(runtime_dir), "/var/runtime")]
    prefix = Path(node).resolve().parent.parent
    if not str(prefix).startswith(HOST_DIRS):
        # A node of its own (installed by gureum, nvm): at /var/lang, as Lambda has it
        # (its own path could be under the host's /tmp, which the sandbox's /tmp hides).
        binds.append((str(prefix), "/var/lang"))
        node = f"/var/lang/{Path(node).resolve().relative_to(prefix)}"
    return binds, node


def node_prestart(runtime: str, memory_mb: int, env: SandboxEnvironment) -> Prestart:
    """What every sandbox of a Node.js runtime and memory size shares (node's heap
    limits follow the memory, as on Lambda), to keep some started ahead of need
    (``Zygote.keep_started``): the runtime starts chrooted in the shared root, from the
    paths a sandbox sees."""
    command = runtime_command(runtime, Path("/var/task"), env.sdk_dir)
    binds, node = node_runtime_binds(command.argv[0], env.sdk_dir.parent / "nodejs")
    trust = trust_environment(env.trust, isolated=True)
    return Prestart(
        key=f"{runtime}/{memory_mb}",
        argv=(node, *node_flags(memory_mb), "/var/runtime/runtime.cjs"),
        env={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "HOME": "/tmp",
            "NODE_PATH": node_path(
                runtime, task="/var/task", opt="/opt", runtime_dir="/var/runtime"
            ),
            # Read once, as node starts (the file itself at its first TLS connection).
            **{k: v for k, v in trust.items() if k == "NODE_EXTRA_CA_CERTS"},
        },
        binds=(*binds, *trust_binds(env.trust)),
    )
