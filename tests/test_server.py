"""``gureum server`` as a user runs it: a real process, stopped by signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, client, free_port, zip_files

SLOW = """
import os, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "child": event.get("child") and __import__("subprocess").Popen(
        ["sleep", "300"]).pid}
"""


#: Sandboxes of the servers started here run as uids from this base, so the test can
#: find every process they left (pids inside sandboxes are namespace-local).
UID_BASE = 310000


def sandbox_processes() -> list[int]:
    """Host pids of live processes owned by this test's sandbox users."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        uid = int(fields.get("Uid", "0").split()[0])
        if UID_BASE <= uid < UID_BASE + 60000 and fields.get("State", "").split()[0] != "Z":
            found.append(int(status.parent.name))
    return found


class ServerProcess:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gureum",
                "server",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                "--log-level",
                "warning",
                "--sandbox-uid-base",
                str(UID_BASE),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        lam = client("lambda", self.endpoint)
        while True:
            try:
                lam.list_functions()
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    out = self.process.stdout.read() if self.process.stdout else b""
                    raise RuntimeError(f"server did not start: {out.decode()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "data")
    yield server
    server.stop()


def wait_gone(timeout: float = 10) -> list[int]:
    """Wait until no process of this test's sandbox users is left; return any left."""
    deadline = time.monotonic() + timeout
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    return sandbox_processes()


def deploy_slow(endpoint: str) -> Any:
    lam = client("lambda", endpoint)
    lam.create_function(
        FunctionName="slow",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Timeout=30,
        Code={"ZipFile": zip_files({"app.py": SLOW})},
    )
    return lam


#: The orphan checks find sandbox processes by their users, which only namespaces give.
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="sandboxes run as their own users only when the server is root"
)


@needs_root
def test_sigterm_drains_inflight_invokes_and_leaves_no_orphans(
    server_process: ServerProcess,
) -> None:
    lam = deploy_slow(server_process.endpoint)
    lam.invoke(FunctionName="slow", Payload=b'{"child": true}')  # leaves a `sleep 300` behind
    results: list[Any] = []

    def slow_invoke() -> None:
        response = lam.invoke(FunctionName="slow", Payload=b'{"sleep": 1.5}')
        results.append(json.loads(response["Payload"].read()))

    thread = threading.Thread(target=slow_invoke)
    thread.start()
    time.sleep(0.6)  # the invoke is in flight
    assert len(sandbox_processes()) >= 2  # the runtime and the child it left running
    server_process.process.send_signal(signal.SIGTERM)
    thread.join(timeout=30)
    assert results and "pid" in results[0], "the in-flight invoke was not drained"
    # uvicorn re-raises the signal once it has shut down cleanly
    assert server_process.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert wait_gone() == []


@needs_root
def test_sigkill_of_the_server_takes_the_sandboxes_along(server_process: ServerProcess) -> None:
    lam = deploy_slow(server_process.endpoint)
    lam.invoke(FunctionName="slow", Payload=b'{"child": true}')
    assert sandbox_processes()
    server_process.process.kill()
    server_process.process.wait()
    assert wait_gone() == []


def test_state_survives_a_restart(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path / "data")
    try:
        deploy_slow(first.endpoint)
    finally:
        first.process.send_signal(signal.SIGINT)
        first.process.wait(timeout=30)
    second = ServerProcess(tmp_path / "data")
    try:
        lam = client("lambda", second.endpoint)
        assert lam.get_function(FunctionName="slow")["Configuration"]["Timeout"] == 30
        assert "pid" in json.loads(lam.invoke(FunctionName="slow")["Payload"].read())
    finally:
        second.stop()


def test_the_server_says_where_it_listens_and_that_it_stopped(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gureum",
            "server",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--xray-address",
            "127.0.0.1:0",
            "--tls-port",
            str(tls_port := free_port()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "store: " in line:
                break
        said = "".join(lines)
        assert f"ready: edge http://127.0.0.1:{port}" in said
        assert f"edge over HTTPS: https://127.0.0.1:{tls_port} " in said
        assert f"trust {tmp_path / 'data' / 'tls' / 'ca.pem'}" in said
        assert "X-Ray daemon: 127.0.0.1:" in said
        assert f"data directory: {tmp_path / 'data'}; store: SQLite at " in said
        assert "alembic" not in said  # no migration names on a first start
        client("lambda", f"http://127.0.0.1:{port}").list_functions()  # it is ready
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert rest.rstrip().endswith("gureum: stopped")
