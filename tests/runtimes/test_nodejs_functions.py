"""Node.js functions on a real server, through boto3: the seed's own handler styles, in
the same sandboxes as Python's (isolation, limits, logs, errors, timeouts, tracing)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from gureum.runtimes import node_executable
from gureum.workers import zygote as zygote_module
from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not on PATH")


def host_runtime() -> str:
    """The nodejsNN.x the host's node serves."""
    assert NODE is not None
    for major in (24, 22, 20, 18):
        try:
            node_executable(f"nodejs{major}.x")
        except Exception:
            continue
        return f"nodejs{major}.x"
    pytest.skip("no Node.js 18-24 on this host")


@pytest.fixture
def node_deploy(lambda_client: Any) -> Callable[..., str]:
    def create(files: dict[str, str], handler: str = "index.handler", **config: Any) -> str:
        name = unique_name("node")
        lambda_client.create_function(
            FunctionName=name,
            Runtime=config.pop("Runtime", host_runtime()),
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": zip_files(files)},
            **config,
        )
        return name

    return create


def invoke(lambda_client: Any, name: str, payload: Any = None, **params: Any) -> Any:
    response = lambda_client.invoke(
        FunctionName=name, Payload=json.dumps(payload or {}), LogType="Tail", **params
    )
    response["Body"] = json.loads(response["Payload"].read())
    response["Log"] = base64.b64decode(response["LogResult"]).decode()
    return response


SEED_WARM_COLD = """
let isWarmStart = false;
exports.handler = function(event, context, callback) {
  const start = isWarmStart ? 'warm start' : 'cold start';
  isWarmStart = true;
  console.log('start:', start);
  callback(null, {start: start, requestId: context.awsRequestId});
};
"""


def test_the_seeds_callback_handler_starts_cold_then_warm(
    lambda_client: Any, node_deploy: Callable[..., str]
) -> None:
    name = node_deploy({"index.js": SEED_WARM_COLD})
    first, second = invoke(lambda_client, name), invoke(lambda_client, name)
    assert first["Body"]["start"] == "cold start" and second["Body"]["start"] == "warm start"
    assert first["Body"]["requestId"] == first["ResponseMetadata"]["RequestId"]
    assert "Init Duration" in first["Log"] and "Init Duration" not in second["Log"]
    # console.log in Lambda's Node format: time, request id, level, message
    line = next(x for x in second["Log"].splitlines() if "start: warm start" in x)
    stamp, request_id, level, message = line.split("\t")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    assert (request_id, level, message) == (
        second["Body"]["requestId"],
        "INFO",
        "start: warm start",
    )


def test_modules_context_and_sandbox(lambda_client: Any, node_deploy: Callable[..., str]) -> None:
    code = """
import { readFileSync, writeFileSync } from 'node:fs';
const loaded = await Promise.resolve('top-level await');
export const handler = async (event, context) => {
  let readOnly = 'writable';
  try { writeFileSync('/var/task/x', 'x'); } catch (e) { readOnly = e.code; }
  writeFileSync('/tmp/scratch', 'mine');
  return {
    loaded, readOnly, uid: process.getuid(), cwd: process.cwd(),
    tmp: readFileSync('/tmp/scratch', 'utf8'),
    fields: [context.functionName, context.functionVersion, context.memoryLimitInMB,
             context.logGroupName, context.invokedFunctionArn.split(':').slice(-1)[0]],
    remaining: context.getRemainingTimeInMillis(),
    nodePath: process.env.NODE_PATH, runtimeDir: process.env.LAMBDA_RUNTIME_DIR,
    execEnv: process.env.AWS_EXECUTION_ENV, trace: process.env._X_AMZN_TRACE_ID,
  };
};
"""
    name = node_deploy({"app.mjs": code}, handler="app.handler", MemorySize=256, Timeout=5)
    body = invoke(lambda_client, name, {"a": 1})["Body"]
    assert body["loaded"] == "top-level await"
    assert body["readOnly"] == "EROFS" and body["tmp"] == "mine"
    assert body["uid"] != 0 and body["cwd"] == "/var/task"
    assert body["fields"] == [name, "$LATEST", "256", f"/aws/lambda/{name}", name]
    assert 0 < body["remaining"] <= 5000
    runtime = host_runtime()
    major = runtime[6:-2]
    assert body["nodePath"] == (
        f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:"
        "/var/runtime/node_modules:/var/runtime:/var/task"
    )
    assert body["runtimeDir"] == "/var/runtime"
    assert body["execEnv"] == f"AWS_Lambda_{runtime}"
    assert body["trace"].startswith("Root=1-")  # set for every invoke, as aws-xray-sdk reads


def test_errors_as_lambda_reports_them(lambda_client: Any, node_deploy: Callable[..., str]) -> None:
    thrown = node_deploy(
        {
            "index.js": "exports.handler = async () => {\n"
            "  const e = new Error('went wrong'); e.name = 'CustomError'; throw e;\n};\n"
        }
    )
    answer = invoke(lambda_client, thrown)
    assert answer["FunctionError"] == "Unhandled"
    assert answer["Body"]["errorType"] == "CustomError"
    assert answer["Body"]["errorMessage"] == "went wrong"
    assert isinstance(answer["Body"]["trace"], list)
    missing = node_deploy({"index.js": "exports.other = () => 1;\n"})
    assert invoke(lambda_client, missing)["Body"]["errorType"] == "Runtime.HandlerNotFound"
    nothing = node_deploy({"other.js": "\n"})
    assert invoke(lambda_client, nothing)["Body"]["errorType"] == "Runtime.ImportModuleError"
    broken = node_deploy({"index.js": "exports.handler = () => {\n"})
    assert invoke(lambda_client, broken)["Body"]["errorType"] == "Runtime.UserCodeSyntaxError"
    escaping = node_deploy({"index.js": "exports.handler = () => 1;\n"}, handler="../index.handler")
    assert invoke(lambda_client, escaping)["Body"]["errorType"] == "Runtime.MalformedHandlerName"


def test_timeouts_and_memory_limits(lambda_client: Any, node_deploy: Callable[..., str]) -> None:
    slow = node_deploy(
        {"index.js": "exports.handler = () => new Promise(r => setTimeout(r, 5000));\n"},
        Timeout=1,
    )
    started = time.monotonic()
    answer = invoke(lambda_client, slow)
    assert time.monotonic() - started < 4
    assert answer["Body"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in answer["Body"]["errorMessage"]
    hog = node_deploy(
        {
            "index.js": "const keep = [];\nexports.handler = async () => {\n"
            "  for (;;) keep.push(Buffer.alloc(16 * 1024 * 1024, 1));\n};\n"
        },
        MemorySize=128,
        Timeout=30,
    )
    assert invoke(lambda_client, hog)["Body"]["errorType"] in (
        "Runtime.OutOfMemory",
        "Runtime.ExitError",
    )


def test_async_invoke_runs_a_node_function(
    gureum_server: RunningServer, lambda_client: Any, node_deploy: Callable[..., str]
) -> None:
    name = node_deploy(
        {"index.js": "exports.handler = async (e) => { console.log('GOT', e.n); };\n"}
    )
    lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 41}')
    reader = client("logs", gureum_server.endpoint)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            found = reader.filter_log_events(
                logGroupName=f"/aws/lambda/{name}", filterPattern="GOT"
            )
        except reader.exceptions.ResourceNotFoundException:
            found = {"events": []}
        if found["events"]:
            assert found["events"][0]["message"].endswith("INFO\tGOT 41")
            return
        time.sleep(0.2)
    raise AssertionError("the asynchronous event never ran")


def test_a_major_version_the_host_has_not_got_is_refused(lambda_client: Any) -> None:
    missing = []
    for runtime in ("nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x"):
        try:
            node_executable(runtime)
        except Exception:
            missing.append(runtime)
    if not missing:
        pytest.skip("this host serves every Node.js runtime")
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException) as refused:
        lambda_client.create_function(
            FunctionName=unique_name("absent"),
            Runtime=missing[0],
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_files({"index.js": "exports.handler = () => 1;\n"})},
        )
    assert f"no Node.js {missing[0][6:-2]} found" in str(refused.value)


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def wait_for(condition: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


STARTED_PROBE = """
console.log('loaded with', process.env.GREETING);
exports.handler = async () => {
  console.log('said', process.env.GREETING);
  return {
    greeting: process.env.GREETING, cwd: process.cwd(), uid: process.getuid(),
    prestart: process.env.GUREUM_PRESTART_FD ?? null, nodePath: process.env.NODE_PATH,
    name: process.env.AWS_LAMBDA_FUNCTION_NAME, gc: typeof global.gc,
    heapMb: require('v8').getHeapStatistics().heap_size_limit / 1048576,
  };
};
"""


def test_cold_starts_take_runtimes_started_ahead_of_need(
    start_server: Callable[..., RunningServer],
) -> None:
    server = start_server(node_started=1)
    lam = client("lambda", server.endpoint)
    runtime = host_runtime()

    def deploy(greeting: str, memory: int = 128) -> str:
        name = unique_name("started")
        lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_files({"index.js": STARTED_PROBE})},
            Environment={"Variables": {"GREETING": greeting}},
            MemorySize=memory,
        )
        return name

    def pool(memory: int = 128) -> set[int]:
        kind = f"{runtime}/{memory}"
        return {started.pid for started in server.platform.zygotes.started(kind)}

    name = deploy("hi")
    waiting = wait_for(pool)
    assert len(waiting) == 1
    answer = invoke(lam, name)
    # the started runtime became this function's sandbox: its environment, its code,
    # its user, its log, its directory; nothing of the wait is left
    assert answer["Body"]["greeting"] == "hi" and answer["Body"]["name"] == name
    assert answer["Body"]["cwd"] == "/var/task" and answer["Body"]["uid"] != 0
    assert answer["Body"]["prestart"] is None
    assert answer["Body"]["nodePath"].endswith("/var/runtime:/var/task")
    assert "loaded with hi" in answer["Log"] and "said hi" in answer["Log"]
    assert "Init Duration" in answer["Log"]
    # node's heap as Lambda sizes it for the memory (a tenth young, the rest old)
    assert answer["Body"]["gc"] == "function" and 116 <= answer["Body"]["heapMb"] < 160
    refilled = wait_for(lambda: pool() - waiting)
    assert not waiting & pool()

    # A started runtime that dies while it waits (killed, out of memory) is replaced,
    # and no function gets the dead one.
    (idle,) = refilled
    (node,) = wait_for(lambda: children(idle))
    os.kill(node, signal.SIGKILL)
    wait_for(lambda: pool() and idle not in pool())
    other = deploy("again")
    answer = invoke(lam, other)
    assert answer["Body"]["greeting"] == "again" and "FunctionError" not in answer

    # Each memory size has runtimes of its own; a kind no cold start has asked for in
    # a while is let go when another is asked for.
    zygote_module.STARTED_UNWANTED_AFTER = 0.5
    try:
        time.sleep(1)
        larger = deploy("larger", memory=1024)
        answer = invoke(lam, larger)
        assert answer["Body"]["greeting"] == "larger"
        assert 900 <= answer["Body"]["heapMb"] < 1250  # (default: 2-4 GB)
        assert wait_for(lambda: pool(1024))
        assert not pool(128)
    finally:
        zygote_module.STARTED_UNWANTED_AFTER = 600.0


def test_with_no_runtimes_started_ahead_each_cold_start_starts_one(
    start_server: Callable[..., RunningServer],
) -> None:
    server = start_server(node_started=0)
    lam = client("lambda", server.endpoint)
    name = unique_name("unstarted")
    lam.create_function(
        FunctionName=name,
        Runtime=host_runtime(),
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_files({"index.js": STARTED_PROBE})},
        Environment={"Variables": {"GREETING": "plain"}},
    )
    answer = invoke(lam, name)
    assert answer["Body"]["greeting"] == "plain" and answer["Body"]["cwd"] == "/var/task"
    assert answer["Body"]["gc"] == "function" and 116 <= answer["Body"]["heapMb"] < 160
    assert "loaded with plain" in answer["Log"]
    assert server.platform.zygotes.started(f"{host_runtime()}/128") == []


def test_a_layers_node_modules_are_found_by_require_and_import(
    lambda_client: Any, node_deploy: Callable[..., str]
) -> None:
    runtime = host_runtime()
    major = runtime[6:-2]
    layer = lambda_client.publish_layer_version(
        LayerName=unique_name("node-layer"),
        Content={
            "ZipFile": zip_files(
                {
                    "nodejs/node_modules/greeter/index.js": (
                        "exports.greet = (n) => `hello, ${n}`;\n"
                    ),
                    "nodejs/node_modules/shadowed/index.js": "module.exports = 'any node';\n",
                    # the layer's directory for this major version comes first
                    f"nodejs/node{major}/node_modules/shadowed/index.js": (
                        f"module.exports = 'node{major}';\n"
                    ),
                }
            )
        },
        CompatibleRuntimes=[runtime],
    )["LayerVersionArn"]
    esm = node_deploy(
        {
            "app.mjs": "import { greet } from 'greeter';\nimport shadowed from 'shadowed';\n"
            "export const handler = async (e) => ({ said: greet(e.name), shadowed });\n"
        },
        handler="app.handler",
        Layers=[layer],
    )
    body = invoke(lambda_client, esm, {"name": "layers"})["Body"]
    assert body == {"said": "hello, layers", "shadowed": f"node{major}"}
    cjs = node_deploy(
        {
            "index.js": "exports.handler = async () => "
            "require('greeter').greet(require('fs').existsSync('/opt/nodejs') && 'opt');\n"
        },
        Layers=[layer],
    )
    assert invoke(lambda_client, cjs)["Body"] == "hello, opt"
