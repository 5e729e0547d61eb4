"""What a function can and cannot do, proven from inside real sandboxes.

These need the namespaces mode (root, cgroups, namespaces); they are skipped, loudly,
where the server falls back to rlimits.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    ROLE,
    RunningServer,
    client,
    free_port,
    server_process,
    unique_name,
    zip_files,
)


@pytest.fixture(autouse=True)
def _needs_namespaces(request: pytest.FixtureRequest, gureum_server: RunningServer) -> None:
    if "rlimits" in request.node.name:
        return
    if not gureum_server.platform.isolation.isolated:
        pytest.skip(
            "isolation is rlimits here: " + "; ".join(gureum_server.platform.isolation.missing)
        )


def run(lambda_client: Any, deploy: Any, code: str, payload: Any = None, **config: Any) -> Any:
    name = deploy(code, **config)
    response = lambda_client.invoke(
        FunctionName=name, Payload=json.dumps(payload or {}), LogType="Tail"
    )
    body = json.loads(response["Payload"].read())
    return response, body


PROBE = """
import os, errno
def try_(fn):
    try:
        return fn()
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
def handler(event, context):
    return {
        "uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "state_db": os.path.exists(event["state_db"]),
        "data_dir": os.path.exists(event["data_dir"]),
        "write_code": try_(lambda: open("/var/task/new.py", "w").write("x")),
        "write_root": try_(lambda: open("/evil", "w").write("x")),
        "write_usr": try_(lambda: open("/usr/evil", "w").write("x")),
        "task_root": os.environ["LAMBDA_TASK_ROOT"], "cwd": os.getcwd(),
        "tmp_writable": try_(lambda: open("/tmp/probe", "w").write("ok")),
        "root_dirs": sorted(os.listdir("/")),
        "root_home": sorted(os.listdir("/root")) if os.path.isdir("/root") else [],
        "hostname": os.uname().nodename,
        "shadow": try_(lambda: open("/etc/shadow").read()[:1]),
        "no_new_privs": open("/proc/self/status").read().split("NoNewPrivs:")[1].split()[0],
    }
"""


def test_a_function_sees_only_its_own_world(
    lambda_client: Any, deploy: Any, gureum_server: RunningServer
) -> None:
    data_dir = gureum_server.settings.data_dir.resolve()
    _, seen = run(
        lambda_client,
        deploy,
        PROBE,
        {"state_db": str(data_dir / "gureum.db"), "data_dir": str(data_dir)},
    )
    assert seen["uid"] >= gureum_server.settings.sandbox_uid_base
    assert seen["euid"] == seen["uid"] and seen["gid"] >= gureum_server.settings.sandbox_uid_base
    assert seen["pids"] == [1, 2]  # its init and itself: no other process is visible
    assert seen["state_db"] is False and seen["data_dir"] is False
    assert seen["write_code"] == "EROFS"
    assert seen["write_root"] == "EROFS" and seen["write_usr"] == "EROFS"
    assert seen["task_root"] == "/var/task" == seen["cwd"]
    assert seen["tmp_writable"] == 2
    assert "home" not in seen["root_dirs"]
    # /root exists only where the interpreter lives under it (pyenv), and holds only that
    assert seen["root_home"] in ([], [".pyenv"])
    assert seen["hostname"] == "sandbox"
    assert seen["shadow"] == "EACCES"
    assert seen["no_new_privs"] == "1"


def test_another_functions_code_and_tmp_are_out_of_reach(lambda_client: Any, deploy: Any) -> None:
    secret = deploy(
        "SECRET = 'hunter2'\ndef handler(e, c):\n    open('/tmp/mine', 'w').write("
        "'private')\n    return 1\n",
        Environment={"Variables": {"TOKEN": "s3cr3t"}},
    )
    lambda_client.invoke(FunctionName=secret)
    snoop = """
import os, glob
def handler(event, context):
    found = []
    for pattern in ("/var/**/app.py", "/opt/**/app.py", "/tmp/**", "/root/**/app.py"):
        found += [f for f in glob.glob(pattern, recursive=True) if f != "/tmp/"]
    return {"files": found, "environ": [open(f"/proc/{p}/environ", "rb").read().decode()
            for p in os.listdir("/proc") if p.isdigit() and p not in ("1",)]}
"""
    _, seen = run(lambda_client, deploy, snoop)
    assert "files" in seen, seen
    assert seen["files"] == ["/var/task/app.py"]  # its own code only, and no foreign /tmp
    assert not any("s3cr3t" in env for env in seen["environ"])


def test_a_module_it_may_not_read_is_an_import_error(lambda_client: Any) -> None:
    name = unique_name("private")
    code = zip_files({"app.py": "def handler(e, c):\n    return 1\n"}, modes={"app.py": 0o600})
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code},
    )
    error = json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read())
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"].startswith(
        "Unable to import module 'app': [Errno 13] Permission denied: '/var/task/app.py'"
    )


def test_memory_over_the_limit_is_out_of_memory(lambda_client: Any, deploy: Any) -> None:
    hog = (
        "def handler(e, c):\n    blocks = [bytearray(16 * 2**20) for _ in range(40)]\n"
        "    return len(blocks)\n"
    )
    # 128 MB has 1/14 of a vCPU, as on Lambda: faulting in 128 MB takes it 1-3 s
    name = deploy(hog, MemorySize=128, Timeout=30)
    response = lambda_client.invoke(FunctionName=name, LogType="Tail")
    error = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert "Runtime exited with error: signal: killed" in error["errorMessage"]
    # the next invoke works, in a new sandbox
    lambda_client.update_function_code(
        FunctionName=name, ZipFile=zip_files({"app.py": "def handler(e, c):\n    return 'fine'\n"})
    )
    assert json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read()) == "fine"


def test_max_memory_used_comes_from_the_cgroup(lambda_client: Any, deploy: Any) -> None:
    code = "def handler(e, c):\n    b = bytearray(e['mb'] * 2**20)\n    return len(b)\n"
    name = deploy(code, MemorySize=512)
    response = lambda_client.invoke(FunctionName=name, Payload=b'{"mb": 200}', LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    used = int(log.split("Max Memory Used: ")[1].split(" MB")[0])
    assert 200 <= used <= 512


def test_tmp_is_bounded_by_ephemeral_storage(lambda_client: Any, deploy: Any) -> None:
    code = """
import errno
def handler(event, context):
    written = 0
    try:
        with open("/tmp/fill", "wb") as out:
            while written < 700 * 2**20:
                out.write(b"x" * 2**20)
                written += 2**20
    except OSError as exc:
        return {"errno": errno.errorcode[exc.errno], "mb": written // 2**20}
    return {"errno": None, "mb": written // 2**20}
"""
    _, seen = run(lambda_client, deploy, code, MemorySize=2048, EphemeralStorage={"Size": 512})
    assert seen["errno"] == "ENOSPC" and 500 <= seen["mb"] <= 512


def test_a_fork_bomb_is_contained(lambda_client: Any, deploy: Any) -> None:
    bomb = """
import os, time
def handler(event, context):
    started = 0
    for _ in range(5000):
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
        except OSError:
            break
    return started
"""
    name = deploy(bomb, Timeout=30, MemorySize=1769)
    started = json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read())
    assert isinstance(started, int), started
    assert 100 < started < 1024
    healthy = deploy("def handler(e, c):\n    return 'ok'\n")
    assert json.loads(lambda_client.invoke(FunctionName=healthy)["Payload"].read()) == "ok"


def test_a_stdout_flood_is_truncated_not_buffered(lambda_client: Any, deploy: Any) -> None:
    flood = """
import sys
def handler(event, context):
    line = "y" * 1023 + "\\n"
    for _ in range(200 * 1024):  # 200 MB
        sys.stdout.write(line)
    return "done"
"""
    response, body = run(lambda_client, deploy, flood, Timeout=60)
    assert body == "done"
    log = base64.b64decode(response["LogResult"]).decode()
    assert "[gureum] log truncated:" in log and "REPORT RequestId" in log


def test_background_processes_die_with_the_sandbox(
    lambda_client: Any, deploy: Any, gureum_server: RunningServer
) -> None:
    code = """
import subprocess, time
def handler(event, context):
    subprocess.Popen(["sleep", "300"])
    if event.get("hang"):
        time.sleep(60)
    return "started"
"""
    name = deploy(code, Timeout=1)
    lambda_client.invoke(FunctionName=name, Payload=b'{"hang": true}')  # times out
    # the timed-out sandbox's processes are all gone, its child included
    uid_base = gureum_server.settings.sandbox_uid_base
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        owners = []
        for status in __import__("pathlib").Path("/proc").glob("[0-9]*/status"):
            try:
                text = status.read_text()
            except OSError:
                continue
            uid = int(text.split("Uid:")[1].split()[0])
            if uid >= uid_base and "sleep" in text.split("Name:")[1].split()[0]:
                owners.append(status.parent.name)
        if not owners:
            break
        time.sleep(0.1)
    assert owners == []


def test_an_init_past_the_limit_runs_again_inside_the_invoke(start_server: Any) -> None:
    # Lambda's suppressed init: an init that passes the 10 s limit (1 s here) is killed and
    # run again as part of the invoke, under the function's own timeout.
    server = start_server(init_timeout=1)
    lam = client("lambda", server.endpoint)
    slow, hangs = unique_name("slowinit"), unique_name("hang")
    init = "import time\nprint('init', flush=True)\ntime.sleep({})\n"
    for name, sleep, timeout in ((slow, 1.5, 5), (hangs, 60, 2)):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Timeout=timeout,
            Code={
                "ZipFile": zip_files(
                    {"app.py": init.format(sleep) + "def handler(e, c):\n    return 'ran'\n"}
                )
            },
        )
    response = lam.invoke(FunctionName=slow, LogType="Tail")
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == "ran"
    log = base64.b64decode(response["LogResult"]).decode()
    assert "INIT_REPORT Init Duration: 1000.00 ms\tPhase: init\tStatus: timeout" in log
    assert log.index("Status: timeout") < log.index("START RequestId") < log.rindex("init\n")
    report = log[log.index("REPORT RequestId") :]
    assert "Init Duration" not in report  # the init is part of the invoke's duration
    assert float(report.split("Duration: ")[1].split(" ms")[0]) >= 1500
    assert json.loads(lam.invoke(FunctionName=slow)["Payload"].read()) == "ran"  # warm now

    started = time.monotonic()
    response = lam.invoke(FunctionName=hangs, LogType="Tail")
    assert 3 <= time.monotonic() - started < 10  # the init limit, then the function's own
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in error["errorMessage"]
    log = base64.b64decode(response["LogResult"]).decode()
    assert "Phase: init\tStatus: timeout" in log
    assert "Phase: invoke\tStatus: timeout" in log


def test_cpu_is_in_proportion_to_memory(lambda_client: Any, deploy: Any) -> None:
    burn = """
import time
def handler(event, context):
    start = time.process_time(); wall = time.perf_counter()
    while time.perf_counter() - wall < 0.5:
        pass
    return (time.process_time() - start) / 0.5
"""
    small = json.loads(
        lambda_client.invoke(FunctionName=deploy(burn, MemorySize=128))["Payload"].read()
    )
    large = json.loads(
        lambda_client.invoke(FunctionName=deploy(burn, MemorySize=1769))["Payload"].read()
    )
    assert small < 0.2  # 128 MB is about 7% of a vCPU
    assert large > 0.5


def test_rlimits_mode_runs_functions_and_says_so(start_server: Any) -> None:
    server = start_server(isolation="rlimits")
    assert not server.platform.isolation.isolated
    assert server.platform.isolation.report()[0].startswith("isolation: rlimits only")
    lam = client("lambda", server.endpoint)
    lam.create_function(
        FunctionName="plain",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={
            "ZipFile": zip_files(
                {"app.py": "import os\ndef handler(e, c):\n    return os.getuid()\n"}
            )
        },
    )
    assert json.loads(lam.invoke(FunctionName="plain")["Payload"].read()) == 0


def test_a_sandbox_cannot_use_another_sandboxs_runtime_api(lambda_client: Any, deploy: Any) -> None:
    victim = deploy(
        "import os\ndef handler(e, c):\n    return os.environ['AWS_LAMBDA_RUNTIME_API']\n"
    )
    address = json.loads(lambda_client.invoke(FunctionName=victim)["Payload"].read())
    thief = """
import http.client, os
def handler(event, context):
    host, port = event["address"].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/2018-06-01/runtime/invocation/next")
        return {"status": connection.getresponse().status}
    except OSError as exc:
        return {"error": type(exc).__name__}
"""
    _, stolen = run(lambda_client, deploy, thief, {"address": address})
    assert stolen == {"status": 403}
    # the victim is unharmed
    assert json.loads(lambda_client.invoke(FunctionName=victim)["Payload"].read()) == address


def test_an_infinite_loop_times_out_and_the_server_stays_healthy(
    lambda_client: Any, deploy: Any
) -> None:
    spin = """
import multiprocessing, os
def burn():
    while True:
        pass
def handler(event, context):
    for _ in range(2):
        os.fork() == 0 and burn()  # children spin too
    burn()
"""
    name = deploy(spin, Timeout=1)
    started = time.monotonic()
    response = lambda_client.invoke(FunctionName=name)
    assert time.monotonic() - started < 5
    assert json.loads(response["Payload"].read())["errorType"] == "Sandbox.Timedout"
    ok = deploy("def handler(e, c):\n    return 'ok'\n")
    assert json.loads(lambda_client.invoke(FunctionName=ok)["Payload"].read()) == "ok"


def test_stale_cgroups_are_removed_at_start(start_server: Any) -> None:
    from gureum.workers import cgroups

    support = cgroups.detect()
    stale = cgroups.Cgroup(support, "sandbox-left-behind")
    dead = cgroups.Cgroup(support, "sandbox-999999999x1-gone")
    # Another server that is still running (any live process stands in for it): its
    # sandboxes are not this one's to remove.
    other = subprocess.Popen(["sleep", "30"])
    try:
        started = Path(f"/proc/{other.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        alive = cgroups.Cgroup(support, f"sandbox-{other.pid}x{started}-running")
        for group in (stale, dead, alive):
            group.create(128, 10)
            assert all(path.is_dir() for path in group.dirs.values())
        start_server()  # a new server cleans up what a killed one left
        assert not any(path.exists() for path in stale.dirs.values())
        assert not any(path.exists() for path in dead.dirs.values())
        assert all(path.is_dir() for path in alive.dirs.values())
    finally:
        other.kill()
        other.wait()
        alive.remove()


NET_PROBE = """
import os, socket
def handler(event, context):
    host, port = event["edge"].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        edge = "reachable"
    except OSError as exc:
        edge = type(exc).__name__
    return {"edge": edge, "interfaces": sorted(name for _, name in socket.if_nameindex()),
            "request_id": context.aws_request_id}
"""


def test_a_function_without_network_has_only_its_runtime_api(
    lambda_client: Any, deploy: Any, gureum_server: RunningServer
) -> None:
    edge = f"127.0.0.1:{gureum_server.settings.port}"
    offline = deploy(NET_PROBE, Tags={"gureum:network": "none"})
    for attempt in range(3):  # warm invokes go through the relay too
        response = lambda_client.invoke(FunctionName=offline, Payload=json.dumps({"edge": edge}))
        seen = json.loads(response["Payload"].read())
        assert seen["request_id"] == response["ResponseMetadata"]["RequestId"], attempt
        assert seen["edge"] == "ConnectionRefusedError"
        assert seen["interfaces"] == ["lo"]
    online = deploy(NET_PROBE)
    seen = json.loads(
        lambda_client.invoke(FunctionName=online, Payload=json.dumps({"edge": edge}))[
            "Payload"
        ].read()
    )
    assert seen["edge"] == "reachable"


def test_a_function_without_network_reports_errors_and_timeouts(
    lambda_client: Any, deploy: Any
) -> None:
    code = (
        "import time\ndef handler(e, c):\n    if e.get('sleep'):\n        time.sleep(5)\n"
        "    raise ValueError('offline failure')\n"
    )
    name = deploy(code, Tags={"gureum:network": "none"}, Timeout=1)
    error = json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read())
    assert error["errorType"] == "ValueError"
    timed_out = json.loads(
        lambda_client.invoke(FunctionName=name, Payload=b'{"sleep": true}')["Payload"].read()
    )
    assert timed_out["errorType"] == "Sandbox.Timedout"
    again = json.loads(lambda_client.invoke(FunctionName=name)["Payload"].read())
    assert again["errorType"] == "ValueError"


def test_the_network_tag_is_validated(lambda_client: Any, deploy: Any) -> None:
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        deploy("def handler(e, c):\n    return 1\n", Tags={"gureum:network": "sometimes"})


def test_tagging_a_function_offline_and_back_gives_it_new_sandboxes(
    lambda_client: Any, deploy: Any, gureum_server: RunningServer
) -> None:
    edge = json.dumps({"edge": f"127.0.0.1:{gureum_server.settings.port}"})
    name = deploy(NET_PROBE)
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lambda_client.publish_version(FunctionName=name)

    def seen(qualifier: str = "$LATEST") -> str:
        response = lambda_client.invoke(FunctionName=name, Qualifier=qualifier, Payload=edge)
        return str(json.loads(response["Payload"].read())["edge"])

    assert seen() == "reachable" and seen("1") == "reachable"  # warm sandboxes now
    lambda_client.tag_resource(Resource=arn, Tags={"gureum:network": "none"})
    assert seen() == "ConnectionRefusedError"
    assert seen("1") == "ConnectionRefusedError"  # a version has its function's tags
    lambda_client.untag_resource(Resource=arn, TagKeys=["gureum:network"])
    assert seen() == "reachable"


def test_servers_sharing_a_data_directory_keep_each_others_sandboxes(
    tmp_path: Path, deploy: Any
) -> None:
    """A server that starts removes what servers that are gone left in the sandboxes'
    directory, and nothing of a server still running on the same data directory: the
    first still cold-starts functions after the second has started."""
    data = tmp_path / "data"
    marks = data / "sandboxes" / ".servers"
    marks.mkdir(parents=True)
    (marks / "1x1-0a1b2c3d").touch()  # (a server that has exited)
    old = data / "sandboxes" / "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # (its sandbox's root)
    old.mkdir()
    ports = [free_port(), free_port()]
    first = server_process(ports[0], data)
    try:
        lam = client("lambda", f"http://127.0.0.1:{ports[0]}")

        def cold_start() -> None:
            name = deploy("def handler(event, context):\n    return 'ran'\n", client=lam)
            answer = lam.invoke(FunctionName=name)
            assert "FunctionError" not in answer, answer["Payload"].read()
            assert json.loads(answer["Payload"].read()) == "ran"

        cold_start()
        assert not old.exists() and not (marks / "1x1-0a1b2c3d").exists()
        second = server_process(ports[1], data)
        try:
            assert len(list(marks.iterdir())) == 2
            cold_start()
        finally:
            second.terminate()
            second.wait(timeout=60)
        assert len(list(marks.iterdir())) == 1  # (a server that stops says so)
    finally:
        first.terminate()
        first.wait(timeout=60)
