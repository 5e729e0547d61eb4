"""Cold starts from the zygote: forked, prepared ahead of need, and replaced if it dies."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gureum.workers.zygote import Prepared
from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files


@pytest.fixture(autouse=True)
def _needs_namespaces(gureum_server: RunningServer) -> None:
    if not gureum_server.platform.isolation.isolated:
        pytest.skip("the zygote serves isolated sandboxes; isolation is rlimits here")


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def create(lam: Any, code: str, handler: str = "app.handler", **files: str) -> str:
    name = unique_name("zyg")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": zip_files({"app.py": code, **files})},
    )
    return name


WHO = "import os\ndef handler(e, c):\n    return [os.getpid(), os.getppid(), os.getuid()]\n"


def test_a_cold_start_is_forked_from_the_zygote(
    gureum_server: RunningServer, lambda_client: Any
) -> None:
    name = create(lambda_client, WHO)
    pid, ppid, uid = json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read())
    assert (pid, ppid) == (2, 1)  # the runtime, under the sandbox's init
    assert uid >= gureum_server.settings.sandbox_uid_base
    sandbox = next(s for s in gureum_server.platform.workers.sandboxes() if s.function.name == name)
    assert "--zygote" in cmdline(parent_of(sandbox.process.pid))


def test_prepared_children_wait_in_cgroups_of_their_own(start_server: Any) -> None:
    server = start_server(zygote_prepared=2)
    lam = client("lambda", server.endpoint)
    name = create(lam, WHO)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read())[0] == 2
    zygote = next(iter(server.platform.zygotes._zygotes.values()))
    wait_for(lambda: len(zygote.pool) == 2)
    prepared = [Prepared(pid, cgroup) for pid, cgroup in zygote.pool.items()]
    for child in prepared:
        groups = Path(f"/proc/{child.pid}/cgroup").read_text()
        for controller in ("memory", "pids", "cpu"):
            line = next(g for g in groups.splitlines() if controller in g.split(":")[1].split(","))
            assert line.endswith("/" + child.cgroup.dirs[controller].name), line
        # It has entered namespaces of its own already (it is its PID namespace's init).
        assert os.readlink(f"/proc/{child.pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
        assert os.readlink(f"/proc/{child.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    server.stop()
    for child in prepared:
        assert (
            not Path(f"/proc/{child.pid}").exists()
            or "Z" in Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        )
        for directory in child.cgroup.dirs.values():
            assert not directory.exists()


def test_a_dead_zygote_takes_its_sandboxes_and_a_new_one_starts(start_server: Any) -> None:
    server = start_server()
    lam = client("lambda", server.endpoint)
    slow = create(lam, "import time\ndef handler(e, c):\n    time.sleep(30)\n")
    quick = create(lam, WHO)
    assert json.loads(lam.invoke(FunctionName=quick)["Payload"].read())[0] == 2
    zygote = next(iter(server.platform.zygotes._zygotes.values()))
    result: dict[str, Any] = {}

    def invoke_slow() -> None:
        response = lam.invoke(FunctionName=slow)
        result["error"] = response.get("FunctionError")
        result["body"] = json.loads(response["Payload"].read())

    thread = threading.Thread(target=invoke_slow)
    thread.start()
    wait_for(lambda: any(s.function.name == slow for s in server.platform.workers.sandboxes()))
    time.sleep(0.3)
    assert zygote._process is not None
    os.kill(zygote._process.pid, signal.SIGKILL)
    thread.join(timeout=20)
    assert result["error"] == "Unhandled"
    assert result["body"]["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in result["body"]["errorMessage"]
    # The next cold start gets a new zygote.
    assert json.loads(lam.invoke(FunctionName=quick)["Payload"].read())[0] == 2
    replacement = next(iter(server.platform.zygotes._zygotes.values()))
    assert replacement is not zygote and replacement.alive


def test_exec_mode_starts_a_jail_per_sandbox(start_server: Any) -> None:
    server = start_server(cold_start="exec")
    assert server.platform.zygotes is None
    lam = client("lambda", server.endpoint)
    name = create(lam, WHO)
    pid, ppid, uid = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert (pid, ppid) == (2, 1)
    assert uid >= server.settings.sandbox_uid_base
    crash = create(lam, "import os\ndef handler(e, c):\n    os._exit(3)\n")
    body = json.loads(lam.invoke(FunctionName=crash)["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in body["errorMessage"]


def test_a_function_may_have_a_module_called_bootstrap(lambda_client: Any) -> None:
    # The zygote loads gureum's runtime under a private name, not as "bootstrap".
    name = create(
        lambda_client,
        "",
        handler="bootstrap.handler",
        **{"bootstrap.py": "def handler(e, c):\n    return 'mine'\n"},
    )
    assert json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read()) == "mine"


def test_a_burst_of_cold_starts_all_get_sandboxes(gureum_server: RunningServer) -> None:
    # More spawn requests at once than a socket's queue holds: none may be lost.
    lam = client("lambda", gureum_server.endpoint, max_pool_connections=100, read_timeout=30)
    name = create(lam, "import time\ndef handler(e, c):\n    time.sleep(0.5)\n")
    with concurrent.futures.ThreadPoolExecutor(100) as pool:
        responses = list(pool.map(lambda _: lam.invoke(FunctionName=name), range(100)))
    assert all("FunctionError" not in r for r in responses)
