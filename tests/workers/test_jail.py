"""jail.py: the frames it shares with the server, the parts that need no root, and (as
root, with namespaces) a sandbox run through an exec'd jail and through a zygote."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gureum.functions.code import CodeStore
from gureum.functions.config import FunctionVersion
from gureum.observe.log_store import LogStore
from gureum.observe.logs import LogSink
from gureum.runtimes import (
    BOOTSTRAP,
    InvalidRuntimeException,
    python_interpreter,
    sdk_packages,
    sdk_path,
)
from gureum.store import open_store
from gureum.workers import frames, isolation
from gureum.workers.environment import SandboxEnvironment
from gureum.workers.isolation import JAIL
from gureum.workers.runtime_api import Invocation
from gureum.workers.sandbox import Sandbox
from gureum.workers.zygote import Zygotes, send_frame
from tests.conftest import free_port, zip_files


def load_jail_as_is(path: Path = JAIL) -> ModuleType:
    """jail.py as the server runs it: by path, with its own directory first on sys.path."""
    spec = importlib.util.spec_from_file_location("gureum_jail_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def load_jail() -> ModuleType:
    """jail.py, loaded without writing its own bytecode into the source tree."""
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        return load_jail_as_is()
    finally:
        sys.dont_write_bytecode = writes


@pytest.fixture(scope="module")
def jail() -> ModuleType:
    return load_jail()


# frames
def test_frames_come_out_whole_however_the_stream_cuts_them() -> None:
    messages = [{"op": "spawn", "id": 1, "spec": {"env": {"A": "é"}}}, {"op": "exit", "id": 2}]
    stream = b"".join(frames.encode(m) for m in messages)
    for cut in range(len(stream) + 1):
        buffer = bytearray(stream[:cut])
        taken = []
        while (message := frames.take(buffer)) is not None:
            taken.append(message)
        buffer += stream[cut:]
        while (message := frames.take(buffer)) is not None:
            taken.append(message)
        assert taken == messages and buffer == bytearray()


def test_the_jail_uses_the_servers_frames_module(jail: ModuleType) -> None:
    assert Path(jail.frames.__file__) == Path(frames.__file__)
    # Imported as the jail's sibling and not left in sys.modules, where it would be
    # found by a function that has a module of its own called frames.
    assert "frames" not in sys.modules


@pytest.mark.parametrize("writes", [True, False])
def test_the_jail_writes_no_bytecode_of_frames_and_leaves_the_setting_be(
    tmp_path: Path, writes: bool
) -> None:
    for name in ("jail.py", "frames.py"):
        shutil.copy(JAIL.parent / name, tmp_path / name)
    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = not writes
    try:
        load_jail_as_is(tmp_path / "jail.py")
        assert sys.dont_write_bytecode is (not writes)
    finally:
        sys.dont_write_bytecode = before
    written = [p.name for p in tmp_path.glob("__pycache__/*")]
    assert not [name for name in written if name.startswith("frames.")]


def test_a_descriptor_rides_with_its_frame_from_the_server_to_the_jail() -> None:
    """The server's asyncio end sends (as to a snapshot's child); the jail's blocking
    end receives the frame and the log pipe that came with it."""
    server, jail_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_fd, write_fd = os.pipe()
    with server, jail_end:
        server.setblocking(False)

        async def send() -> None:
            await send_frame(server, frames.encode({"op": "go", "tmp_mb": 512}), (write_fd,))
            await send_frame(server, frames.encode({"op": "next"}))

        asyncio.run(send())
        os.close(write_fd)
        buffer = bytearray()
        message, fds = frames.receive(jail_end, buffer)
        assert message == {"op": "go", "tmp_mb": 512} and len(fds) == 1
        os.write(fds[0], b"through the passed pipe")
        os.close(fds[0])
        assert os.read(read_fd, 100) == b"through the passed pipe"
        os.close(read_fd)
        assert frames.receive(jail_end, buffer) == ({"op": "next"}, [])
        frames.send(jail_end, {"op": "exit", "kind": "signal", "value": 9})
        server.setblocking(True)
        reply = bytearray()
        while (answer := frames.take(reply)) is None:
            reply += server.recv(4096)
        assert answer == {"op": "exit", "kind": "signal", "value": 9}
        server.close()
        with pytest.raises(ConnectionError):
            frames.receive(jail_end, bytearray())


def interpreters() -> list[str]:
    """The oldest and the newest Python the host has, of those a function may use."""
    found = []
    for runtime in ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13"):
        try:
            found.append(python_interpreter(runtime))
        except InvalidRuntimeException:
            continue
    return sorted({found[0], found[-1]}) if found else [sys.executable]


@pytest.mark.parametrize("interpreter", interpreters())
def test_a_zygote_under_any_python_speaks_frames_and_writes_no_bytecode(
    tmp_path: Path, interpreter: str
) -> None:
    # A copy of the two files, so that anything written beside them would be seen.
    for name in ("jail.py", "frames.py"):
        shutil.copy(JAIL.parent / name, tmp_path / name)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours:
        zygote = subprocess.Popen(
            [interpreter, "-S", str(tmp_path / "jail.py"), "--zygote", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
            stderr=subprocess.PIPE,
        )
        theirs.close()
        ours.settimeout(30)
        ours.sendall(frames.encode({"op": "nope", "id": 7}))
        buffer = bytearray()
        while (reply := frames.take(buffer)) is None:
            data = ours.recv(4096)
            assert data, zygote.communicate()[1]
            buffer += data
        assert reply == {
            "op": "failed",
            "id": 7,
            "error": "ValueError(\"unknown operation 'nope'\")",
        }
    assert zygote.wait(timeout=30) == 0  # the server's end closed: the zygote ends
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.py", "jail.py"]


# the parts that need no root
def test_a_runtime_in_the_jails_interpreter_never_sees_the_jails_directory(
    jail: ModuleType,
) -> None:
    path = ["/srv/gureum/workers", "/usr/lib/python311.zip", "/usr/lib/python3.11", "/elsewhere"]
    assert jail.runtime_path("/var/task:/opt/python::/var/runtime", path, "/usr") == [
        "/var/task",
        "/opt/python",
        "/var/runtime",
        "/usr/lib/python311.zip",
        "/usr/lib/python3.11",
    ]


def test_joining_cgroups_writes_to_each_procs_file(jail: ModuleType, tmp_path: Path) -> None:
    procs = [tmp_path / "memory.procs", tmp_path / "pids.procs"]
    for path in procs:
        path.touch()
    jail.join_cgroups([str(p) for p in procs])
    assert [p.read_text() for p in procs] == ["0", "0"]  # "0": the writer itself


def test_the_relay_carries_a_sandboxs_loopback_to_the_api_socket(
    jail: ModuleType, tmp_path: Path
) -> None:
    """A sandbox without a network reaches its Runtime API through its init's relay."""
    api_path = str(tmp_path / "api.sock")
    api = socket.socket(socket.AF_UNIX)
    api.bind(api_path)
    api.listen(1)
    port = free_port()
    relay = jail.Relay(port, api_path)
    wakeup_read, wakeup_write = os.pipe()
    relaying = threading.Thread(target=relay.serve, args=(wakeup_read,))
    relaying.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as runtime:
            api.settimeout(10)
            server_end, _ = api.accept()
            with server_end:
                runtime.sendall(b"GET /2018-06-01/runtime/invocation/next")
                assert server_end.recv(100) == b"GET /2018-06-01/runtime/invocation/next"
                server_end.sendall(b"HTTP/1.1 200 OK")
                assert runtime.recv(100) == b"HTTP/1.1 200 OK"
    finally:
        os.write(wakeup_write, b"x")  # what SIGCHLD does: the relay returns
        relaying.join(timeout=10)
        relay.listener.close()
        api.close()
        os.close(wakeup_read)
        os.close(wakeup_write)
    assert not relaying.is_alive()


# as root: a real sandbox
WHO = """
import os, sys
import frames
def handler(event, context):
    if "exit" in event:
        os._exit(event["exit"])
    return [os.getpid(), os.getppid(), os.getuid(), frames.MINE, sys.dont_write_bytecode]
"""


@pytest.fixture
def namespaces(tmp_path: Path) -> isolation.Isolation:
    if os.geteuid() != 0:
        pytest.skip("namespaces and cgroups need root")
    try:
        # clean=False: never the stale-cgroup sweep, which would kill other servers' sandboxes
        return isolation.detect("namespaces", tmp_path / "data", 250000, clean=False)
    except RuntimeError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("cold_start", ["exec", "zygote"])
def test_a_sandbox_runs_in_the_jail(
    tmp_path: Path, namespaces: isolation.Isolation, cold_start: str
) -> None:
    code = CodeStore(tmp_path / "code")
    digest = code.put_zip(zip_files({"app.py": WHO, "frames.py": "MINE = True\n"})).sha256_hex
    config: dict[str, Any] = {
        "FunctionName": "jailed",
        "Version": "$LATEST",
        "RevisionId": "r1",
        "FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:jailed",
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "MemorySize": 128,
        "Timeout": 30,
    }
    function = FunctionVersion(config, digest)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")

    async def scenario() -> tuple[list[Any], str, str]:
        zygotes = None
        if cold_start == "zygote":
            zygotes = Zygotes(
                namespaces.cgroup_support,
                namespaces.sandboxes_dir,
                BOOTSTRAP,
                sdk_packages(),
                prepared=0,
            )
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
            isolation=namespaces,
            sdk_packages=sdk_packages(),
            zygotes=zygotes,
        )
        logs = LogSink(LogStore(store))
        code_dir = code.unpacked(digest)
        try:
            answers = []
            for event in ({}, {"exit": 3}):
                sandbox = Sandbox(function, code_dir, env, logs)
                await sandbox.start()
                invocation = Invocation(
                    str(uuid.uuid4()), json.dumps(event).encode(), 0, function.arn
                )
                outcome = await sandbox.invoke(invocation, tail=True)
                answers.append(outcome)
                await sandbox.stop()
                assert not (namespaces.sandboxes_dir / sandbox.id).exists()  # cleaned up
        finally:
            if zygotes is not None:
                await zygotes.close()
            await logs.close()
        ok, crashed = answers
        assert ok.error_type is None, ok.body
        assert crashed.error_type == "Runtime.ExitError"
        return json.loads(ok.body), json.loads(crashed.body)["errorMessage"], ok.log_tail.decode()

    who, crash, log = asyncio.run(scenario())
    store.close()
    pid, ppid, uid, own_frames, no_bytecode = who
    assert (pid, ppid) == (2, 1)  # the runtime, under the sandbox's init
    assert uid >= 250000
    assert own_frames is True  # the function's frames.py, not the jail's
    assert no_bytecode is False  # the jail put back what it found
    assert "exit status 3" in crash
    assert "START RequestId" in log and "REPORT RequestId" in log
