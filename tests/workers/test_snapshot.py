"""Snapshot mode (SnapStart): init runs once per published version; sandboxes restore."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import time
from typing import Any

import pytest

from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files

CODE = """
import os, random, time
from snapshot_restore_py import register_after_restore, register_before_snapshot

INIT = {"token": random.random(), "pid": os.getpid(), "restores": 0, "before": []}
open("/tmp/from-init", "w").write("x")

@register_before_snapshot
def first():
    INIT["before"].append("first")

@register_before_snapshot
def second():
    INIT["before"].append("second")

@register_after_restore
def reseed():
    INIT["restores"] += 1
    random.seed()

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {
        **INIT,
        "pid_now": os.getpid(),
        "uid": os.getuid(),
        "tmp": sorted(os.listdir("/tmp")),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "init_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "stream": os.environ["AWS_LAMBDA_LOG_STREAM_NAME"],
    }
"""


@pytest.fixture(autouse=True)
def _needs_namespaces(gureum_server: RunningServer) -> None:
    if not gureum_server.platform.isolation.isolated:
        pytest.skip("snapshot mode needs isolated sandboxes; isolation is rlimits here")


def snap_function(lam: Any, code: str = CODE) -> str:
    name = unique_name("snap")
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": code})},
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    assert created["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    version = lam.publish_version(FunctionName=name)
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    return name


def test_sandboxes_restore_from_one_init(gureum_server: RunningServer) -> None:
    lam = client("lambda", gureum_server.endpoint, max_pool_connections=4)
    name = snap_function(lam)

    def invoke(_: int) -> Any:
        response = lam.invoke(
            FunctionName=name, Qualifier="1", Payload=json.dumps({"sleep": 0.5}), LogType="Tail"
        )
        return json.loads(response["Payload"].read()), base64.b64decode(response["LogResult"])

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(invoke, range(3)))
    bodies = [body for body, _ in results]
    assert len({b["stream"] for b in bodies}) == 3  # three sandboxes
    assert len({b["token"] for b in bodies}) == 1  # one init
    for body, log in results:
        assert body["before"] == ["second", "first"]  # reverse order of registration
        assert body["restores"] == 1
        assert body["init_type"] == "snap-start"
        assert body["tmp"] == []  # the template's /tmp is not theirs
        assert body["pids"] == [1]  # a PID namespace of its own
        assert body["uid"] >= gureum_server.settings.sandbox_uid_base
        assert b"Restore Duration:" in log and b"Init Duration" not in log
    # $LATEST is not restored: it initializes as usual.
    latest = lam.invoke(FunctionName=name, LogType="Tail")
    assert json.loads(latest["Payload"].read())["init_type"] == "on-demand"


def test_a_failing_init_fails_the_snapshot(gureum_server: RunningServer) -> None:
    lam = client("lambda", gureum_server.endpoint)
    name = snap_function(lam, "raise RuntimeError('no snapshot')\n")
    with pytest.raises(lam.exceptions.ClientError) as error:
        lam.invoke(FunctionName=name, Qualifier="1")
    assert error.value.response["Error"]["Code"] == "SnapStartException"
    assert "no snapshot" in error.value.response["Error"]["Message"]


def test_a_restored_sandbox_reports_its_exit(gureum_server: RunningServer) -> None:
    lam = client("lambda", gureum_server.endpoint)
    name = snap_function(lam, "import os\ndef handler(e, c):\n    os._exit(7)\n")
    body = json.loads(lam.invoke(FunctionName=name, Qualifier="1")["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in body["errorMessage"]


def test_a_failing_after_restore_hook_fails_the_invoke(gureum_server: RunningServer) -> None:
    lam = client("lambda", gureum_server.endpoint)
    code = (
        "from snapshot_restore_py import register_after_restore\n"
        "def boom():\n    raise ValueError('cannot restore')\n"
        "register_after_restore(boom)\n"
        "def handler(e, c):\n    return 1\n"
    )
    name = snap_function(lam, code)
    response = lam.invoke(FunctionName=name, Qualifier="1")
    body = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.AfterRestoreError"
    assert "cannot restore" in body["errorMessage"]


def test_updating_the_function_lets_its_snapshots_go(gureum_server: RunningServer) -> None:
    lam = client("lambda", gureum_server.endpoint)
    name = snap_function(lam)
    first = json.loads(lam.invoke(FunctionName=name, Qualifier="1")["Payload"].read())
    snapshot = gureum_server.platform.workers.snapshots[(name, "1")]
    lam.update_function_configuration(FunctionName=name, Description="changed")
    deadline = time.monotonic() + 10
    while snapshot.alive and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not snapshot.alive
    # Version 1 is unchanged: its next cold start makes a new snapshot (init runs again).
    second = json.loads(lam.invoke(FunctionName=name, Qualifier="1")["Payload"].read())
    assert second["token"] != first["token"]


def test_a_failing_before_snapshot_hook_fails_the_snapshot(gureum_server: RunningServer) -> None:
    lam = client("lambda", gureum_server.endpoint)
    code = (
        "from snapshot_restore_py import register_before_snapshot\n"
        "@register_before_snapshot\n"
        "def boom():\n    raise ValueError('cannot snapshot')\n"
        "def handler(e, c):\n    return 1\n"
    )
    name = snap_function(lam, code)
    with pytest.raises(lam.exceptions.ClientError) as error:
        lam.invoke(FunctionName=name, Qualifier="1")
    assert error.value.response["Error"]["Code"] == "SnapStartException"
    assert "Runtime.BeforeSnapshotError" in error.value.response["Error"]["Message"]
    assert "cannot snapshot" in error.value.response["Error"]["Message"]
