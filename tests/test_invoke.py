"""Invoke through boto3 against a real server: results, errors, logs, warm and cold starts."""

from __future__ import annotations

import base64
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files

HELLO = """
import os, uuid
SANDBOX = uuid.uuid4().hex  # one per sandbox (pids repeat: each sandbox has its own PID 1)
COLD = True
def handler(event, context):
    global COLD
    start, COLD = ("cold" if COLD else "warm"), False
    print("hello from", context.function_name)
    return {"start": start, "event": event, "sandbox": SANDBOX}
"""


def invoke(lambda_client: Any, name: str, payload: Any = None, **kwargs: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"FunctionName": name, **kwargs}
    if payload is not None:
        args["Payload"] = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    response = lambda_client.invoke(**args)
    response["Body"] = response["Payload"].read()
    return response  # type: ignore[no-any-return]


def test_invoke_returns_result_and_reuses_the_sandbox(lambda_client: Any, deploy: Any) -> None:
    name = deploy(HELLO)
    first = invoke(lambda_client, name, {"n": 1})
    assert first["StatusCode"] == 200
    assert "FunctionError" not in first
    assert first["ExecutedVersion"] == "$LATEST"
    body = json.loads(first["Body"])
    assert body["event"] == {"n": 1}
    assert body["start"] == "cold"
    second = json.loads(invoke(lambda_client, name, {"n": 2})["Body"])
    assert second["start"] == "warm"
    assert second["sandbox"] == body["sandbox"]


def test_context_and_environment(lambda_client: Any, deploy: Any) -> None:
    code = """
import os, time
def handler(event, context):
    return {
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "env": {k: os.environ.get(k) for k in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "AWS_DEFAULT_REGION",
            "LAMBDA_TASK_ROOT", "_HANDLER", "AWS_LAMBDA_RUNTIME_API", "AWS_EXECUTION_ENV",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GREETING", "TZ")},
        "cwd": os.getcwd(),
    }
"""
    name = deploy(
        code,
        MemorySize=256,
        Timeout=7,
        Environment={"Variables": {"GREETING": "hi"}},
        runtime="python3.12",
    )
    response = invoke(lambda_client, name)
    result = json.loads(response["Body"])
    assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert result["function_name"] == name
    assert result["function_version"] == "$LATEST"
    assert result["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert result["memory"] == "256"
    assert result["log_group"] == f"/aws/lambda/{name}"
    assert result["log_stream"].endswith("]" + result["log_stream"].split("]")[-1])
    assert "[$LATEST]" in result["log_stream"]
    assert 5000 < result["remaining"] <= 7000
    env = result["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["GREETING"] == "hi"
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert env["LAMBDA_TASK_ROOT"] == result["cwd"]
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")


def test_invoked_arn_carries_the_qualifier(lambda_client: Any, deploy: Any) -> None:
    name = deploy("def handler(e, c):\n    return c.invoked_function_arn\n")
    result = invoke(lambda_client, name, Qualifier="$LATEST")
    assert json.loads(result["Body"]).endswith(f"function:{name}:$LATEST")


def test_boto3_inside_a_function_reaches_gureum(lambda_client: Any, deploy: Any) -> None:
    code = """
import boto3
def handler(event, context):
    client = boto3.client("lambda")
    return client.get_function(FunctionName=context.function_name)["Configuration"]["Handler"]
"""
    name = deploy(code)
    assert json.loads(invoke(lambda_client, name)["Body"]) == "app.handler"


def test_function_error_shape(lambda_client: Any, deploy: Any) -> None:
    code = """
class OrderError(Exception):
    pass
def handler(event, context):
    raise OrderError("no such order: " + event["id"])
"""
    name = deploy(code)
    response = invoke(lambda_client, name, {"id": "42"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == "OrderError"
    assert error["errorMessage"] == "no such order: 42"
    assert any("raise OrderError" in line for line in error["stackTrace"])
    # the sandbox survives a handled function error
    assert invoke(lambda_client, name, {"id": "43"})["FunctionError"] == "Unhandled"


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {},
            "missing.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'missing': No module named 'missing'",
        ),
        (
            {"app.py": "x = 1\n"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        (
            {"app.py": "def handler(e, c)\n    return 1\n"},
            "app.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'app'",
        ),
        (
            {"app.py": "def handler(e, c):\n    return {1, 2}\n"},
            "app.handler",
            "Runtime.MarshalError",
            "Unable to marshal response",
        ),
        ({"app.py": "raise ValueError('bad config')\n"}, "app.handler", "ValueError", "bad config"),
        ({"app.py": "x = 1\n"}, "app", "Runtime.MalformedHandlerName", "Bad handler 'app'"),
        (
            {"app.py": "x = 1\n"},
            "../../etc/passwd",
            "Runtime.MalformedHandlerName",
            "Bad handler '../../etc/passwd': the module part must be a path of names",
        ),
        ({"app.py": "x = 1\n"}, "/app.handler", "Runtime.MalformedHandlerName", "Bad handler"),
        (
            {"my-app.py": "def handler(e, c):\n    return 1\n"},
            "my-app.nothing",
            "Runtime.HandlerNotFound",  # (a dash is fine: the module is imported by path)
            "Handler 'nothing' missing on module 'my-app'",
        ),
    ],
)
def test_runtime_error_types(
    lambda_client: Any, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    name = unique_name("err")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": zip_files({"other.txt": "", **files})},
    )
    response = invoke(lambda_client, name, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == error_type, base64.b64decode(response["LogResult"]).decode()
    assert message in error["errorMessage"]


def test_log_tail_has_start_end_report(lambda_client: Any, deploy: Any) -> None:
    name = deploy(HELLO)
    response = invoke(lambda_client, name, LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {request_id} Version: $LATEST" in log
    assert f"hello from {name}" in log
    assert f"END RequestId: {request_id}" in log
    report = next(line for line in log.splitlines() if line.startswith("REPORT"))
    assert f"REPORT RequestId: {request_id}\tDuration: " in report
    assert "Billed Duration: " in report and "Memory Size: 128 MB" in report
    assert "Max Memory Used: " in report and "Init Duration: " in report
    warm = invoke(lambda_client, name, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(warm["LogResult"]).decode()
    assert "LogResult" not in invoke(lambda_client, name)


def test_a_cold_start_s_tail_shows_what_the_init_logged(lambda_client: Any, deploy: Any) -> None:
    """Lambda's tail of a cold start has the init's lines (before START); a warm one has
    only its own."""
    name = deploy(
        "import time\nprint('init says hi', flush=True)\ntime.sleep(0.3)\n"
        "def handler(e, c):\n    print('handler says hi')\n"
    )
    cold = base64.b64decode(invoke(lambda_client, name, LogType="Tail")["LogResult"]).decode()
    assert cold.index("init says hi") < cold.index("START RequestId") < cold.index("handler")
    warm = base64.b64decode(invoke(lambda_client, name, LogType="Tail")["LogResult"]).decode()
    assert "init says hi" not in warm and "handler says hi" in warm


def test_log_tail_is_the_last_4kb(lambda_client: Any, deploy: Any) -> None:
    name = deploy("def handler(e, c):\n    for i in range(2000):\n        print('line', i)\n")
    log = base64.b64decode(invoke(lambda_client, name, LogType="Tail")["LogResult"])
    assert len(log) == 4096
    assert b"line 1999" in log and b"REPORT RequestId" in log and b"line 5\n" not in log


def test_timeout_kills_and_replaces_the_sandbox(lambda_client: Any, deploy: Any) -> None:
    code = """
import time, uuid
SANDBOX = uuid.uuid4().hex
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return SANDBOX
"""
    name = deploy(code, Timeout=1)
    sandbox = json.loads(invoke(lambda_client, name)["Body"])
    started = time.monotonic()
    response = invoke(lambda_client, name, {"sleep": 30}, LogType="Tail")
    assert time.monotonic() - started < 10
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert "Task timed out after 1.00 seconds" in base64.b64decode(response["LogResult"]).decode()
    # the next invoke runs in a new sandbox, and works
    assert json.loads(invoke(lambda_client, name)["Body"]) != sandbox


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("import sys\ndef handler(e, c):\n    sys.exit(3)\n", "exit status 3"),
        ("import os\ndef handler(e, c):\n    os._exit(7)\n", "exit status 7"),
        (
            "import os, signal\ndef handler(e, c):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
            "signal: killed",
        ),
        (
            "import ctypes\ndef handler(e, c):\n    ctypes.string_at(0)\n",
            "signal: segmentation fault",
        ),
    ],
)
def test_runtime_exit_is_an_exit_error(
    lambda_client: Any, deploy: Any, code: str, status: str
) -> None:
    name = deploy(code)
    response = invoke(lambda_client, name)
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == "Runtime.ExitError"
    assert f"Runtime exited with error: {status}" in error["errorMessage"]


def test_concurrent_invokes_get_their_own_sandboxes(lambda_client: Any, deploy: Any) -> None:
    import concurrent.futures

    code = (
        "import time, uuid\nS = uuid.uuid4().hex\n"
        "def handler(e, c):\n    time.sleep(0.5)\n    return S\n"
    )
    name = deploy(code)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda _: json.loads(invoke(lambda_client, name)["Body"]), range(4)))
    assert len(set(ids)) == 4


def test_update_sends_invokes_to_new_sandboxes(lambda_client: Any, deploy: Any) -> None:
    name = deploy(HELLO)
    assert json.loads(invoke(lambda_client, name)["Body"])["start"] == "cold"
    assert json.loads(invoke(lambda_client, name)["Body"])["start"] == "warm"
    lambda_client.update_function_configuration(FunctionName=name, Description="changed")
    assert json.loads(invoke(lambda_client, name)["Body"])["start"] == "cold"
    lambda_client.update_function_code(
        FunctionName=name, ZipFile=zip_files({"app.py": "def handler(e, c):\n    return 'v2'\n"})
    )
    assert json.loads(invoke(lambda_client, name)["Body"]) == "v2"


def test_response_too_large(lambda_client: Any, deploy: Any) -> None:
    name = deploy("def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n")
    response = invoke(lambda_client, name)
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Body"])
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert "6291556" in error["errorMessage"]


def test_large_payload_round_trip(lambda_client: Any, deploy: Any) -> None:
    name = deploy("def handler(e, c):\n    return e\n")
    payload = {"data": "y" * (5 * 1024 * 1024)}
    assert json.loads(invoke(lambda_client, name, payload)["Body"]) == payload


def test_invoke_errors(lambda_client: Any, deploy: Any) -> None:
    name = deploy(HELLO)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as missing:
        lambda_client.invoke(FunctionName="no-such-function")
    assert (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-function"
        in str(missing.value)
    )
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName=name, Payload=b"{not json")
    with pytest.raises(lambda_client.exceptions.RequestTooLargeException):
        lambda_client.invoke(FunctionName=name, Payload=json.dumps("z" * (6 * 1024 * 1024 + 10)))
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName=name, ClientContext="!!notbase64")
    with pytest.raises(lambda_client.exceptions.RequestTooLargeException):
        lambda_client.invoke(
            FunctionName=name,
            InvocationType="Event",
            Payload=json.dumps("z" * (1024 * 1024 + 10)),
        )
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName=name, InvocationType="Event", Payload=b"{not json")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="no-such-function", InvocationType="Event")


def test_payloads_are_read_as_lambda_reads_them(lambda_client: Any, deploy: Any) -> None:
    # A lone surrogate escape and a number past 64 bits are taken (the fast parser refuses
    # them, Lambda does not); NaN is not JSON, as Lambda says; the error of a payload that
    # is not JSON names where it went wrong.
    name = deploy("def handler(event, context):\n    return repr(event)\n")
    response = lambda_client.invoke(FunctionName=name, Payload=b'{"n": 1e999999, "s": "\\ud800"}')
    assert json.loads(response["Payload"].read()) == "{'n': inf, 's': '\\ud800'}"
    for constant in (b"NaN", b"Infinity", b"-Infinity"):
        with pytest.raises(lambda_client.exceptions.InvalidRequestContentException) as refused:
            lambda_client.invoke(FunctionName=name, Payload=b'{"x": ' + constant + b"}")
        assert f"Non-standard token '{constant.decode()}'" in str(refused.value)
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException) as error:
        lambda_client.invoke(FunctionName=name, Payload=b'{"x": 1,}')
    assert "Could not parse payload into json: Expecting property name" in str(error.value)


def test_dry_run(lambda_client: Any, deploy: Any) -> None:
    name = deploy(HELLO)
    response = lambda_client.invoke(FunctionName=name, InvocationType="DryRun")
    assert response["StatusCode"] == 204


def test_invoke_by_arn(lambda_client: Any, deploy: Any) -> None:
    name = deploy("def handler(e, c):\n    return 1\n")
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert json.loads(invoke(lambda_client, arn)["Body"]) == 1
    assert json.loads(invoke(lambda_client, f"000000000000:function:{name}")["Body"]) == 1


def test_client_context_reaches_the_handler(lambda_client: Any, deploy: Any) -> None:
    name = deploy("def handler(e, c):\n    return c.client_context.custom\n")
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    assert json.loads(invoke(lambda_client, name, ClientContext=context)["Body"]) == {"k": "v"}


def _bundle(module: Any) -> dict[str, bytes]:
    """A package (or one-file module) from this interpreter's site-packages, as zip entries."""
    origin = Path(module.__file__)
    if origin.name != "__init__.py":
        return {origin.name: origin.read_bytes()}
    root = origin.parent
    return {
        f"{root.name}/{p.relative_to(root)}": p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_awslambdaric_runs_as_a_custom_runtime(lambda_client: Any) -> None:
    """awslambdaric from PyPI, unchanged and bundled as a user would, as the bootstrap of
    a ``provided.al2023`` function (run by the host's system Python 3.11)."""
    awslambdaric = pytest.importorskip("awslambdaric")
    import runtime_client  # awslambdaric's C extension, beside it in site-packages
    import simplejson
    import snapshot_restore_py

    if sys.version_info[:2] != (3, 11) or not Path("/usr/bin/python3.11").exists():
        pytest.skip("the bundled awslambdaric is built for CPython 3.11")
    bootstrap = "#!/bin/sh\nexec /usr/bin/python3.11 -m awslambdaric app.handler\n"
    code = textwrap.dedent("""
        import uuid
        SANDBOX = uuid.uuid4().hex
        def handler(event, context):
            print("via awslambdaric")
            if event.get("fail"):
                raise KeyError("missing thing")
            return {"echo": event, "request_id": context.aws_request_id,
                    "arn": context.invoked_function_arn, "sandbox": SANDBOX}
    """)
    files: dict[str, str | bytes] = {"bootstrap": bootstrap, "app.py": code}
    for module in (awslambdaric, runtime_client, simplejson, snapshot_restore_py):
        files.update(_bundle(module))
    modes = {name: 0o755 for name in files if name == "bootstrap" or name.endswith(".so")}
    name = unique_name("ric")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files(files, modes)},
    )
    first = invoke(lambda_client, name, {"x": 1}, LogType="Tail")
    result = json.loads(first["Body"])
    assert "echo" in result, base64.b64decode(first.get("LogResult", "")).decode()
    assert result["echo"] == {"x": 1}
    assert result["request_id"] == first["ResponseMetadata"]["RequestId"]
    assert result["arn"].endswith(f"function:{name}")
    assert "via awslambdaric" in base64.b64decode(first["LogResult"]).decode()
    second = json.loads(invoke(lambda_client, name, {"x": 2})["Body"])
    assert second["sandbox"] == result["sandbox"]
    failed = invoke(lambda_client, name, {"fail": True})
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Body"])["errorType"] == "KeyError"


def test_provided_runtime_without_bootstrap(lambda_client: Any) -> None:
    name = unique_name("nobootstrap")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="x",
        Code={"ZipFile": zip_files({"app.py": ""})},
    )
    with pytest.raises(lambda_client.exceptions.ClientError) as error:
        lambda_client.invoke(FunctionName=name)
    assert error.value.response["Error"]["Code"] == "InvalidRuntimeException"


def test_idle_sandboxes_are_reaped(start_server: Any, tmp_path: Path) -> None:
    server = start_server(sandbox_idle_timeout=0.3)
    lam = client("lambda", server.endpoint)
    lam.create_function(
        FunctionName="reap",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": HELLO})},
    )
    assert json.loads(invoke(lam, "reap")["Body"])["start"] == "cold"
    deadline = time.monotonic() + 10
    while server.platform.workers.sandboxes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.platform.workers.sandboxes() == []
    assert json.loads(invoke(lam, "reap")["Body"])["start"] == "cold"


def test_update_drains_a_busy_sandbox(
    lambda_client: Any, deploy: Any, gureum_server: RunningServer
) -> None:
    """An invoke in flight during an update finishes in its (old) sandbox."""
    import threading

    code = (
        "import time, uuid\nS = uuid.uuid4().hex\n"
        "def handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return S\n"
    )
    name = deploy(code)
    results: list[Any] = []
    slow = threading.Thread(
        target=lambda: results.append(invoke(lambda_client, name, {"sleep": 1}))
    )
    slow.start()
    time.sleep(0.5)
    lambda_client.update_function_configuration(FunctionName=name, Timeout=10)
    fresh = invoke(lambda_client, name)
    slow.join()
    assert "FunctionError" not in results[0]
    assert json.loads(fresh["Body"]) != json.loads(results[0]["Body"])

    # the old sandbox is stopped once its invoke is done; only the new one is left
    def sandboxes() -> list[Any]:
        return [s for s in gureum_server.platform.workers.sandboxes() if s.function.name == name]

    deadline = time.monotonic() + 5
    while len(sandboxes()) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sandboxes()) == 1


def test_missing_interpreter_is_a_clear_error() -> None:
    from gureum.runtimes import InvalidRuntimeException, python_interpreter

    with pytest.raises(InvalidRuntimeException, match="python3.99 is not available"):
        python_interpreter("python3.99")
