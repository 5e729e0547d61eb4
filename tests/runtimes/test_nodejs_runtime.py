"""gureum's Node.js runtime client against gureum's real Runtime API server.

The server is the one sandboxes use (``RuntimeAPIServer``); a small recording handler
stands in for the sandbox behind it, handing out invocations and keeping the replies.
Each test writes a function's code to a temporary task root and runs
``node runtimes/nodejs/runtime.cjs`` with the environment a sandbox gives, its
stdout and stderr in one pipe cut into records at newlines, as the sandbox cuts them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

import gureum.runtimes
from gureum.workers.runtime_api import (
    Invocation,
    ResponseStream,
    RuntimeAPIServer,
    RuntimeReply,
)

NODE = shutil.which("node")
RUNTIME = Path(gureum.runtimes.__file__).parent / "nodejs" / "runtime.cjs"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:my-function"
TRACE = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not on PATH")

T = TypeVar("T")


class RecordingSandbox:
    """The sandbox's side of the Runtime API: queued invocations handed out one at a
    time (the deadline set on delivery, as the sandbox sets it), replies recorded."""

    def __init__(self, timeout_s: float = 3.0) -> None:
        self.loop = asyncio.get_running_loop()
        self.timeout_s = timeout_s
        self.queue: collections.deque[Invocation] = collections.deque()
        self.waiter: asyncio.Future[Invocation] | None = None
        self.current: Invocation | None = None
        #: perf_counter() of every /invocation/next the runtime sent
        self.next_calls: list[float] = []
        self.init_failure: asyncio.Future[RuntimeReply] = self.loop.create_future()
        #: answers that named no current invocation (403 for the runtime)
        self.rejected: list[tuple[str, RuntimeReply]] = []

    def submit(self, invocation: Invocation) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            self.waiter = None
            self._deliver(waiter, invocation)
        else:
            self.queue.append(invocation)

    def _deliver(self, waiter: asyncio.Future[Invocation], invocation: Invocation) -> None:
        invocation.deadline_ms = int(time.time() * 1000) + int(self.timeout_s * 1000)
        self.current = invocation
        waiter.set_result(invocation)

    # RuntimeAPIHandler
    def next_invocation(self) -> asyncio.Future[Invocation]:
        self.next_calls.append(time.perf_counter())
        waiter: asyncio.Future[Invocation] = self.loop.create_future()
        if self.queue:
            self._deliver(waiter, self.queue.popleft())
        else:
            self.waiter = waiter
        return waiter

    def invocation_response(self, request_id: str, reply: RuntimeReply) -> bool:
        current = self.current
        if current is None or current.request_id != request_id or current.result.done():
            self.rejected.append((request_id, reply))
            return False
        self.current = None
        current.result.set_result(reply)
        return True

    def invocation_stream(self, request_id: str, stream: ResponseStream) -> bool:
        current = self.current
        if current is None or current.request_id != request_id or current.result.done():
            return False
        current.response_stream = stream
        if current.streamed is not None and not current.streamed.done():
            current.streamed.set_result(stream.take())
        return True

    def init_error(self, reply: RuntimeReply) -> None:
        if not self.init_failure.done():
            self.init_failure.set_result(reply)


def sandbox_environment(
    task_root: Path, handler: str, address: str, extra: Mapping[str, str]
) -> dict[str, str]:
    """What ``Sandbox.start`` gives an unisolated runtime process, for nodejs20.x."""
    environ = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": str(RUNTIME.parent),
        "AWS_LAMBDA_FUNCTION_NAME": "my-function",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/my-function",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EXECUTION_ENV": "AWS_Lambda_nodejs20.x",
    }
    environ.update(extra)
    return environ


class NodeRuntime:
    """One ``node runtime.cjs`` process serving the recording sandbox."""

    def __init__(self, sandbox: RecordingSandbox, process: asyncio.subprocess.Process) -> None:
        self.sandbox = sandbox
        self.process = process
        self.started = time.perf_counter()
        self.output = bytearray()
        self.last: Invocation | None = None
        self._exited = asyncio.ensure_future(process.wait())
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := await self.process.stdout.read(65536):
            self.output += chunk

    async def invoke(
        self,
        payload: Any = None,
        *,
        trace_id: str | None = TRACE,
        client_context: str | None = None,
        cognito_identity: str | None = None,
        wait_s: float = 10,
    ) -> RuntimeReply:
        """Hand the runtime one event and wait for its answer (failing if it dies)."""
        invocation = Invocation(
            str(uuid.uuid4()),
            json.dumps({} if payload is None else payload).encode(),
            0,
            ARN,
            trace_id=trace_id,
            client_context=client_context,
            cognito_identity=cognito_identity,
        )
        self.last = invocation
        self.sandbox.submit(invocation)
        either: set[asyncio.Future[Any]] = {invocation.result, self._exited}
        await asyncio.wait(either, timeout=wait_s, return_when="FIRST_COMPLETED")
        if not invocation.result.done():
            await self.stop()
            raise AssertionError(
                f"no answer (exit {self.process.returncode}); output:\n{self.text()}"
            )
        return invocation.result.result()

    async def init_failure(self, wait_s: float = 10) -> RuntimeReply:
        """The runtime's /init/error report, once it has exited after sending it."""
        reply = await asyncio.wait_for(asyncio.shield(self.sandbox.init_failure), wait_s)
        await asyncio.wait_for(asyncio.shield(self._exited), wait_s)
        return reply

    async def wait_for_output(self, text: str, wait_s: float = 5) -> None:
        deadline = time.monotonic() + wait_s
        while text not in self.text():
            assert time.monotonic() < deadline, f"{text!r} never came; output:\n{self.text()}"
            await asyncio.sleep(0.01)

    async def exit_code(self, wait_s: float = 5) -> int | None:
        """Wait for the process to end by itself."""
        await asyncio.wait_for(asyncio.shield(self._exited), wait_s)
        return self.process.returncode

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self._exited
        await self._reader

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def records(self) -> list[str]:
        """The output as the sandbox turns it into log events: one per ``\\n``."""
        return [line for line in self.text().split("\n") if line]

    def fields(self) -> list[list[str]]:
        """TEXT-format records split at tabs (timestamp, request id, level, message)."""
        return [record.split("\t", 3) for record in self.records() if "\t" in record]

    def json_records(self) -> list[dict[str, Any]]:
        return [json.loads(record) for record in self.records() if record.startswith("{")]


@contextlib.asynccontextmanager
async def node_runtime(
    task_root: Path,
    handler: str = "app.handler",
    *,
    timeout_s: float = 3.0,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[NodeRuntime]:
    sandbox = RecordingSandbox(timeout_s)
    server = RuntimeAPIServer(sandbox)
    await server.start()
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(RUNTIME),
        env=sandbox_environment(task_root, handler, server.address, env or {}),
        cwd=str(task_root),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    runtime = NodeRuntime(sandbox, process)
    try:
        yield runtime
    finally:
        await runtime.stop()
        server.close()


def run(scenario: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(scenario)


def write(root: Path, files: Mapping[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


@dataclass
class Outcome:
    """A whole session: the replies to each event, then the output once node is gone."""

    replies: list[RuntimeReply]
    runtime: NodeRuntime

    def body(self, index: int = 0) -> Any:
        return json.loads(self.replies[index].body)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(reply.body) for reply in self.replies]


def invoke(
    task_root: Path,
    files: Mapping[str, str],
    *payloads: Any,
    handler: str = "app.handler",
    until_exit: bool = False,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Run the function in ``files`` on each payload (one empty event by default);
    ``until_exit``: then wait for the process to end by itself."""
    write(task_root, files)

    async def scenario() -> Outcome:
        async with node_runtime(task_root, handler, env=env) as runtime:
            replies = [await runtime.invoke(payload) for payload in payloads or ({},)]
            if until_exit:
                await runtime.exit_code()
        return Outcome(replies, runtime)

    return run(scenario())


def init_failure(
    task_root: Path,
    files: Mapping[str, str],
    handler: str = "app.handler",
    env: Mapping[str, str] | None = None,
) -> tuple[RuntimeReply, dict[str, Any], NodeRuntime]:
    """The /init/error of a function whose init fails: the reply, its body, the runtime."""
    write(task_root, files)

    async def scenario() -> tuple[RuntimeReply, NodeRuntime]:
        async with node_runtime(task_root, handler, env=env) as runtime:
            reply = await runtime.init_failure()
        return reply, runtime

    reply, runtime = run(scenario())
    assert not runtime.sandbox.next_calls, "init failed, yet the runtime asked for an event"
    return reply, json.loads(reply.body), runtime


# ---------------------------------------------------------------------------------------
# Handler styles


def test_an_async_handler_answers_with_its_value_and_keeps_module_state_warm(
    tmp_path: Path,
) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "let calls = 0;\n"
            "const started = process.pid;\n"
            "exports.handler = async (event) => ({ calls: ++calls, pid: started, "
            "echo: event });\n"
        },
        {"n": 1},
        {"n": 2},
        {"n": 3},
    )
    assert [body["calls"] for body in outcome.bodies] == [1, 2, 3]
    assert {body["pid"] for body in outcome.bodies} == {outcome.runtime.process.pid}
    assert [body["echo"] for body in outcome.bodies] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert all(reply.error_type is None for reply in outcome.replies)


def test_a_plain_function_returning_a_promise_answers_when_it_settles(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = (event) => new Promise((resolve) => "
            "setTimeout(() => resolve({ late: event.v }), 20));\n"
        },
        {"v": 7},
    )
    assert outcome.body() == {"late": 7}


def test_a_callback_handler_answers_with_the_callbacks_result(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = function (event, context, callback) {\n"
            "  setTimeout(() => callback(null, { got: event.v }), 10);\n"
            "};\n"
        },
        {"v": "x"},
    )
    assert outcome.body() == {"got": "x"}
    # Lambda warns about callback handlers ahead of Node.js 24, once, at init.
    warning = [f for f in outcome.runtime.fields() if f[2] == "WARN"]
    assert len(warning) == 1 and warning[0][1] == "undefined"
    assert warning[0][3].startswith("AWS Lambda plans to remove support for callback-based")


def test_the_callback_warning_can_be_turned_off(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": "exports.handler = (e, c, callback) => callback(null, 1);\n"},
        env={"AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING": "1"},
    )
    assert outcome.body() == 1
    assert not [f for f in outcome.runtime.fields() if f[2] == "WARN"]


def test_a_callback_error_is_the_invocations_error(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": "exports.handler = (e, c, callback) => callback(new RangeError('too far'));\n"},
    )
    reply = outcome.replies[0]
    assert reply.error_type == "RangeError"
    body = outcome.body()
    assert body["errorType"] == "RangeError" and body["errorMessage"] == "too far"
    assert body["trace"][0] == "RangeError: too far"


def test_the_first_of_callback_and_the_context_methods_wins(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = (e, context, callback) => {\n"
            "  callback(null, 'first');\n"
            "  context.succeed('second');\n"
            "  callback(new Error('third'));\n"
            "};\n"
        },
    )
    assert outcome.body() == "first"


@pytest.mark.parametrize(
    ("call", "answer", "error_type"),
    [
        ("context.succeed({ ok: true })", {"ok": True}, None),
        ("context.done(null, 'done')", "done", None),
        ("context.done(new Error('nope'))", None, "Error"),
        ("context.fail(new TypeError('bad'))", None, "TypeError"),
        ("context.fail('plain words')", None, "string"),
        ("context.fail()", None, "string"),
    ],
)
def test_the_legacy_context_methods(
    tmp_path: Path, call: str, answer: Any, error_type: str | None
) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": f"exports.handler = (event, context) => {{\n  {call};\n}};\n"},
    )
    assert outcome.replies[0].error_type == error_type
    if error_type is None:
        assert outcome.body() == answer
    elif call == "context.fail()":
        assert outcome.body() == {"errorType": "string", "errorMessage": "handled", "trace": []}


def test_a_plain_function_that_never_calls_back_answers_null_once_the_loop_drains(
    tmp_path: Path,
) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": "exports.handler = (event) => { setTimeout(() => {}, 50); return 42; };\n"},
    )
    # Up to nodejs22.x a plain function's return value is not the answer.
    assert outcome.replies[0].error_type is None
    assert outcome.body() is None


def test_an_async_handler_that_never_settles_fails_with_nodejsexit_and_serves_on(
    tmp_path: Path,
) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = async (event) => {\n"
            "  if (event.hang) { await new Promise(() => {}); }\n"
            "  return 'fine';\n"
            "};\n"
        },
        {"hang": True},
        {},
    )
    assert outcome.replies[0].error_type == "Runtime.NodeJsExit"
    assert outcome.body(0)["errorMessage"].startswith(
        "The Lambda runtime client detected an unexpected Node.js exit code."
    )
    assert outcome.body(1) == "fine"


# ---------------------------------------------------------------------------------------
# callbackWaitsForEmptyEventLoop


TIMER_AFTER_CALLBACK = """
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => console.log('timer fired'), 200);
  callback(null, 'answered');
};
"""


def timed_invokes(task_root: Path, code: str, *payloads: Any) -> tuple[list[float], NodeRuntime]:
    write(task_root, {"app.js": code})

    async def scenario() -> tuple[list[float], NodeRuntime]:
        elapsed = []
        async with node_runtime(task_root) as runtime:
            await runtime.invoke({"wait": False})  # warm: the first invoke pays for JIT
            for payload in payloads:
                start = time.perf_counter()
                reply = await runtime.invoke(payload)
                elapsed.append(time.perf_counter() - start)
                assert json.loads(reply.body) == "answered"
            await runtime.wait_for_output("timer fired")
        return elapsed, runtime

    return run(scenario())


def test_with_callback_waits_for_empty_event_loop_the_answer_waits_for_pending_timers(
    tmp_path: Path,
) -> None:
    (elapsed,), runtime = timed_invokes(tmp_path, TIMER_AFTER_CALLBACK, {"wait": True})
    assert elapsed >= 0.19
    # The timer ran inside the invocation: its record carries the request id.
    assert runtime.last is not None
    assert [runtime.last.request_id, "INFO", "timer fired"] in [f[1:] for f in runtime.fields()]


def test_without_it_the_answer_goes_at_once_and_the_rest_runs_on(tmp_path: Path) -> None:
    (elapsed,), _ = timed_invokes(tmp_path, TIMER_AFTER_CALLBACK, {"wait": False})
    assert elapsed < 0.15


def test_the_flag_defaults_to_true_and_async_handlers_never_wait(tmp_path: Path) -> None:
    code = (
        "exports.handler = async (event, context) => {\n"
        "  setTimeout(() => console.log('timer fired'), 200);\n"
        "  return context.callbackWaitsForEmptyEventLoop === true ? 'answered' : 'wrong';\n"
        "};\n"
    )
    (elapsed,), _ = timed_invokes(tmp_path, code, {})
    assert elapsed < 0.15


# ---------------------------------------------------------------------------------------
# Module kinds and handler names


def test_an_es_module_with_top_level_await(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.mjs": "const config = await new Promise((r) => setTimeout(() => "
            "r({ greeting: 'hello' }), 10));\n"
            "export const handler = async (event) => `${config.greeting} ${event.who}`;\n"
        },
        {"who": "esm"},
    )
    assert outcome.body() == "hello esm"


def test_a_js_file_under_a_type_module_package_is_an_es_module(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "package.json": '{"name": "fn", "type": "module"}',
            "app.js": "import { basename } from 'node:path';\n"
            "export async function handler() { return [basename(import.meta.url), "
            "typeof require]; }\n",
        },
    )
    assert outcome.body() == ["app.js", "undefined"]


def test_a_cjs_file(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "package.json": '{"type": "module"}',
            "app.cjs": "exports.handler = async () => typeof require;\n",
        },
    )
    assert outcome.body() == "function"


def test_lambdas_order_js_before_mjs_before_cjs(tmp_path: Path) -> None:
    files = {
        "app.js": "exports.handler = async () => 'js';\n",
        "app.mjs": "export const handler = async () => 'mjs';\n",
        "app.cjs": "exports.handler = async () => 'cjs';\n",
    }
    assert invoke(tmp_path / "a", files).body() == "js"
    del files["app.js"]
    assert invoke(tmp_path / "b", files).body() == "mjs"
    del files["app.mjs"]
    assert invoke(tmp_path / "c", files).body() == "cjs"


def test_nested_directories_and_nested_exports(tmp_path: Path) -> None:
    files = {"src/handlers/api.js": "exports.routes = { users: { list: async () => ['ann'] } };\n"}
    outcome = invoke(tmp_path, files, handler="src/handlers/api.routes.users.list")
    assert outcome.body() == ["ann"]


def test_a_handler_module_that_is_a_directory(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {"lib/index.js": "exports.handler = async () => 'from index';\n"},
        handler="lib.handler",
    )
    assert outcome.body() == "from index"


def test_an_absolute_handler_path_inside_the_task_root(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": "exports.handler = async () => 'absolute';\n"},
        handler=f"{tmp_path}/app.handler",
    )
    assert outcome.body() == "absolute"


def test_handlers_are_resolved_from_the_task_root_whatever_the_working_directory(
    tmp_path: Path,
) -> None:
    task = write(tmp_path / "task", {"app.js": "exports.handler = async () => process.cwd();\n"})

    async def scenario() -> Any:
        sandbox = RecordingSandbox()
        server = RuntimeAPIServer(sandbox)
        await server.start()
        assert NODE is not None
        process = await asyncio.create_subprocess_exec(
            NODE,
            str(RUNTIME),
            env=sandbox_environment(task, "app.handler", server.address, {}),
            cwd="/",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        runtime = NodeRuntime(sandbox, process)
        try:
            return json.loads((await runtime.invoke()).body)
        finally:
            await runtime.stop()
            server.close()

    assert run(scenario()) == str(task)


def test_node_path_is_set_as_lambda_sets_it(tmp_path: Path) -> None:
    runtime_dir = write(
        tmp_path / "runtime",
        {"node_modules/greeting/index.js": "module.exports = (who) => `hi ${who}`;\n"},
    )
    task = tmp_path / "task"
    outcome = invoke(
        task,
        {
            "app.js": "const greet = require('greeting');\n"
            "exports.handler = async () => [process.env.NODE_PATH, greet('node')];\n"
        },
        env={"LAMBDA_RUNTIME_DIR": str(runtime_dir)},
    )
    assert outcome.body() == [
        f"/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:{runtime_dir}/node_modules:"
        f"{runtime_dir}:{task}",
        "hi node",
    ]


def test_a_node_path_the_sandbox_sets_is_kept(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": "exports.handler = async () => process.env.NODE_PATH;\n"},
        env={"NODE_PATH": "/somewhere/node_modules"},
    )
    assert outcome.body() == "/somewhere/node_modules"


# ---------------------------------------------------------------------------------------
# Init errors: reported to /init/error with the type in the header, then the process ends


def test_a_missing_module_is_an_import_module_error(tmp_path: Path) -> None:
    reply, body, runtime = init_failure(tmp_path, {}, handler="missing.handler")
    assert reply.error_type == "Runtime.ImportModuleError"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith(
        "Error: Cannot find module 'missing'\nRequire stack:\n- "
    )
    assert body["trace"][:2] == [
        "Runtime.ImportModuleError: Error: Cannot find module 'missing'",
        "Require stack:",
    ]
    assert runtime.returncode == 129
    # Logged as Lambda logs it: an uncaught exception, outside any invocation.
    (record,) = [f for f in runtime.fields() if f[2] == "ERROR"]
    assert record[1] == "undefined"
    assert record[3].startswith("Uncaught Exception \t{")
    logged = json.loads(record[3].split("\t", 1)[1].replace("\r", "\n"))
    assert logged["errorType"] == "Runtime.ImportModuleError"
    assert logged["stack"][0] == "Runtime.ImportModuleError: Error: Cannot find module 'missing'"


def test_a_missing_dependency_of_the_handler_is_an_import_module_error(tmp_path: Path) -> None:
    reply, body, _ = init_failure(
        tmp_path, {"app.js": "const x = require('not-installed');\nexports.handler = x;\n"}
    )
    assert reply.error_type == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith(
        f"Error: Cannot find module 'not-installed'\nRequire stack:\n- {tmp_path}/app.js\n"
    )


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ("app.nope", "app.nope is undefined or not exported"),
        ("app.config", "app.config is not a function"),
        ("app.config.missing.deeper", "app.config.missing.deeper is undefined or not exported"),
    ],
)
def test_a_missing_handler_is_handler_not_found(tmp_path: Path, handler: str, message: str) -> None:
    reply, body, _ = init_failure(
        tmp_path, {"app.js": "exports.config = { a: 1 };\n"}, handler=handler
    )
    assert reply.error_type == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == message


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("app.js", "exports.handler = async () => {\n"),
        ("app.mjs", "export const handler = async () => { return 1 }}\n"),
    ],
)
def test_a_syntax_error_is_user_code_syntax_error(tmp_path: Path, name: str, code: str) -> None:
    reply, body, runtime = init_failure(tmp_path, {name: code})
    assert reply.error_type == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("SyntaxError: ")
    assert body["trace"][0] == f"Runtime.UserCodeSyntaxError: {body['errorMessage']}"
    assert runtime.returncode == 129


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ("app", "Bad handler"),
        ("", "Bad handler"),
        (
            "../app.handler",
            "'../app.handler' is not a valid handler name. Use absolute paths when specifying "
            "root directories in handler names.",
        ),
        (
            "src/../../app.handler",
            "'src/../../app.handler' is not a valid handler name. Use absolute paths when "
            "specifying root directories in handler names.",
        ),
    ],
)
def test_a_malformed_handler_name(tmp_path: Path, handler: str, message: str) -> None:
    reply, body, _ = init_failure(
        tmp_path, {"app.js": "exports.handler = async () => 1;\n"}, handler=handler
    )
    assert reply.error_type == "Runtime.MalformedHandlerName"
    assert body["errorMessage"] == message


def test_an_absolute_handler_path_outside_the_task_root_and_opt_is_malformed(
    tmp_path: Path,
) -> None:
    outside = write(tmp_path / "elsewhere", {"app.js": "exports.handler = async () => 1;\n"})
    reply, body, _ = init_failure(tmp_path / "task", {}, handler=f"{outside}/app.handler")
    assert reply.error_type == "Runtime.MalformedHandlerName"
    assert body["errorMessage"].startswith(f"'{outside}/app.handler' is not a valid handler name")


def test_an_init_that_throws_reports_the_error_itself(tmp_path: Path) -> None:
    reply, body, runtime = init_failure(
        tmp_path,
        {
            "app.js": "class ConfigError extends Error { get name() { return 'ConfigError'; } }\n"
            "throw new ConfigError('no table name');\n"
        },
    )
    assert reply.error_type == "ConfigError"
    assert body["errorType"] == "ConfigError" and body["errorMessage"] == "no table name"
    assert body["trace"][0] == "ConfigError: no table name"
    assert runtime.returncode == 129


def test_a_rejected_top_level_await_fails_init(tmp_path: Path) -> None:
    reply, body, _ = init_failure(
        tmp_path,
        {
            "app.mjs": "await Promise.reject(new Error('no secrets'));\n"
            "export const handler = async () => 1;\n"
        },
    )
    assert (reply.error_type, body["errorMessage"]) == ("Error", "no secrets")


# ---------------------------------------------------------------------------------------
# Invoke errors


def test_a_thrown_error_has_nodes_shape_and_is_logged(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path, {"app.js": "exports.handler = async () => { throw new Error('boom'); };\n"}
    )
    reply = outcome.replies[0]
    assert reply.error_type == "Error"
    body = outcome.body()
    assert set(body) == {"errorType", "errorMessage", "trace"}
    assert (body["errorType"], body["errorMessage"]) == ("Error", "boom")
    assert body["trace"][0] == "Error: boom"
    assert body["trace"][1].startswith(f"    at exports.handler ({tmp_path}/app.js:1:")
    runtime = outcome.runtime
    assert runtime.last is not None
    (record,) = [f for f in runtime.fields() if f[2] == "ERROR"]
    assert record[1] == runtime.last.request_id
    assert record[3].startswith('Invoke Error \t{"errorType":"Error","errorMessage":"boom"')


def test_an_error_with_a_custom_name_and_properties(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "class ValidationError extends Error {\n"
            "  constructor(m) { super(m); this.name = 'ValidationError'; this.field = 'email'; }\n"
            "}\n"
            "exports.handler = async () => { throw new ValidationError('bad email'); };\n"
        },
    )
    assert outcome.replies[0].error_type == "ValidationError"
    assert outcome.body()["errorType"] == "ValidationError"
    # The log keeps the error's own properties; the answer does not.
    (record,) = [f for f in outcome.runtime.fields() if f[2] == "ERROR"]
    logged = json.loads(record[3].split("\t", 1)[1].replace("\r", "\n"))
    assert logged["field"] == "email" and logged["errorType"] == "ValidationError"


@pytest.mark.parametrize(
    ("throw", "expected"),
    [
        (
            "throw 'plain words'",
            {"errorType": "string", "errorMessage": "plain words", "trace": []},
        ),
        ("throw 42", {"errorType": "number", "errorMessage": "42", "trace": []}),
        (
            "throw { code: 1 }",
            {"errorType": "object", "errorMessage": "[object Object]", "trace": []},
        ),
    ],
)
def test_a_thrown_non_error_value(tmp_path: Path, throw: str, expected: dict[str, Any]) -> None:
    outcome = invoke(tmp_path, {"app.js": f"exports.handler = async () => {{ {throw}; }};\n"})
    assert outcome.body() == expected
    assert outcome.replies[0].error_type == expected["errorType"]


def test_a_synchronous_throw_in_a_callback_handler(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": "exports.handler = (e, c, cb) => { null.x; };\n"},
    )
    assert outcome.replies[0].error_type == "TypeError"


def test_an_uncaught_exception_is_reported_and_ends_the_process(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = async () => {\n"
            "  setTimeout(() => { throw new TypeError('late failure'); }, 10);\n"
            "  await new Promise((r) => setTimeout(r, 1000));\n"
            "  return 'never';\n"
            "};\n"
        },
        until_exit=True,
    )
    assert outcome.replies[0].error_type == "TypeError"
    assert outcome.body()["errorMessage"] == "late failure"
    assert outcome.runtime.returncode == 129
    assert any(f[3].startswith("Uncaught Exception \t{") for f in outcome.runtime.fields())


def test_an_unhandled_rejection_is_reported_as_lambda_reports_it(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = async () => {\n"
            "  Promise.reject(new Error('forgotten'));\n"
            "  await new Promise((r) => setTimeout(r, 1000));\n"
            "  return 'never';\n"
            "};\n"
        },
        until_exit=True,
    )
    reply = outcome.replies[0]
    assert reply.error_type == "Runtime.UnhandledPromiseRejection"
    body = outcome.body()
    assert body["errorMessage"] == "Error: forgotten"
    assert body["trace"][0] == "Runtime.UnhandledPromiseRejection: Error: forgotten"
    assert outcome.runtime.returncode == 128
    (record,) = [f for f in outcome.runtime.fields() if f[2] == "ERROR"]
    assert record[3].startswith("Unhandled Promise Rejection \t{")
    logged = json.loads(record[3].split("\t", 1)[1].replace("\r", "\n"))
    assert logged["reason"]["errorMessage"] == "forgotten" and logged["promise"] == {}


def test_a_result_that_is_not_json_serialisable(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": "exports.handler = async () => { const a = {}; a.self = a; return a; };\n"},
        {},
        {},
    )
    # Lambda's Node.js runtimes answer a plain Error here, not Runtime.MarshalError.
    assert outcome.replies[0].error_type == "Error"
    assert outcome.body(0)["errorMessage"] == "Unable to stringify response body"
    assert outcome.replies[1].error_type == "Error"  # and it serves on


def test_a_response_over_6_mb_is_refused_and_the_runtime_serves_on(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": "exports.handler = async (e) => e.big ? 'x'.repeat(7 * 1024 * 1024) : 'ok';\n"},
        {"big": True},
        {},
    )
    assert outcome.replies[0].error_type == "Function.ResponseSizeTooLarge"
    assert outcome.body(1) == "ok"
    assert "Failed to post handler success response. Http response code: 413." in (
        outcome.runtime.text()
    )


def test_a_crash_after_the_answer_ends_the_process_without_a_report(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = (event, context, callback) => {\n"
            "  context.callbackWaitsForEmptyEventLoop = false;\n"
            "  setTimeout(() => { throw new Error('after the answer'); }, 50);\n"
            "  callback(null, 'answered');\n"
            "};\n"
        },
        until_exit=True,
    )
    assert outcome.body() == "answered"
    assert outcome.runtime.returncode == 129
    # Nothing left to report it to: the sandbox sees the exit when it next invokes.
    assert outcome.runtime.sandbox.rejected == []


def test_a_crash_while_waiting_for_the_first_event_ends_the_process(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app.js": "setTimeout(() => { throw new Error('background'); }, 100);\n"
            "exports.handler = async () => 1;\n"
        },
    )

    async def scenario() -> NodeRuntime:
        async with node_runtime(tmp_path) as runtime:
            assert await runtime.exit_code() == 129
        return runtime

    runtime = run(scenario())
    assert runtime.sandbox.next_calls and not runtime.sandbox.init_failure.done()


def test_large_and_non_ascii_events_and_answers(tmp_path: Path) -> None:
    text = "é" * 1_500_000 + "구름"
    outcome = invoke(
        tmp_path,
        {"app.js": "exports.handler = async (event) => [event.text.length, event.text];\n"},
        {"text": text},
        {"text": "small"},
    )
    assert outcome.bodies == [[len(text), text], [5, "small"]]


# ---------------------------------------------------------------------------------------
# context and the trace id


CONTEXT = """
exports.handler = async (event, context) => {
  const remaining = context.getRemainingTimeInMillis();
  const now = Date.now();
  return {
    keys: Object.keys(context),
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    identity: context.identity ?? null,
    clientContext: context.clientContext ?? null,
    waits: context.callbackWaitsForEmptyEventLoop,
    remaining,
    now,
  };
};
"""


def test_the_context(tmp_path: Path) -> None:
    write(tmp_path, {"app.js": CONTEXT})
    client_context = {"client": {"app_title": "demo"}, "custom": {"k": "v"}, "env": {"x": "y"}}
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}

    async def scenario() -> tuple[Any, Any, Invocation]:
        async with node_runtime(tmp_path, timeout_s=30) as runtime:
            first = json.loads(
                (
                    await runtime.invoke(
                        client_context=json.dumps(client_context),
                        cognito_identity=json.dumps(identity),
                    )
                ).body
            )
            invocation = runtime.last
            second = json.loads((await runtime.invoke()).body)
        assert invocation is not None
        return first, second, invocation

    first, second, invocation = run(scenario())
    assert first["keys"] == [
        "callbackWaitsForEmptyEventLoop",
        "succeed",
        "fail",
        "done",
        "functionVersion",
        "functionName",
        "memoryLimitInMB",
        "logGroupName",
        "logStreamName",
        "clientContext",
        "identity",
        "invokedFunctionArn",
        "awsRequestId",
        "tenantId",
        "getRemainingTimeInMillis",
    ]
    assert first["functionName"] == "my-function"
    assert first["functionVersion"] == "$LATEST"
    assert first["invokedFunctionArn"] == ARN
    assert first["memoryLimitInMB"] == "256"  # a string, as Lambda gives it
    assert first["awsRequestId"] == invocation.request_id
    assert first["logGroupName"] == "/aws/lambda/my-function"
    assert first["logStreamName"] == "2024/01/01/[$LATEST]0123456789abcdef"
    assert first["identity"] == identity
    assert first["clientContext"] == client_context
    assert first["waits"] is True
    assert abs(first["remaining"] + first["now"] - invocation.deadline_ms) <= 2
    assert 25_000 < first["remaining"] <= 30_000
    assert second["identity"] is None and second["clientContext"] is None


def test_the_trace_id_is_in_the_environment_for_each_invoke(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"app.js": "exports.handler = async () => process.env._X_AMZN_TRACE_ID ?? null;\n"},
    )

    async def scenario() -> list[Any]:
        async with node_runtime(tmp_path) as runtime:
            return [
                json.loads((await runtime.invoke(trace_id=trace)).body)
                for trace in (TRACE, None, "Root=1-00000000-000000000000000000000001")
            ]

    assert run(scenario()) == [TRACE, None, "Root=1-00000000-000000000000000000000001"]


def test_it_is_not_set_during_init(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "const atInit = process.env._X_AMZN_TRACE_ID ?? null;\n"
            "exports.handler = async () => atInit;\n"
        },
    )
    assert outcome.body() is None


# ---------------------------------------------------------------------------------------
# console


CONSOLE = """
console.log('at init');
exports.handler = async () => {
  console.log('%s is %d', 'x', 5);
  console.info({ a: 1 }, [2]);
  console.warn('warned');
  console.error('failed', new Error('why'));
  console.debug('debugged');
  console.trace('traced');
  console.log('two\\nlines');
  console.log();
  process.stdout.write('raw output\\n');
  return 1;
};
"""


def test_console_records_in_lambdas_text_format(tmp_path: Path) -> None:
    outcome = invoke(tmp_path, {"app.js": CONSOLE})
    runtime = outcome.runtime
    assert runtime.last is not None
    request_id = runtime.last.request_id
    fields = runtime.fields()
    assert all(STAMP.match(f[0]) for f in fields)
    rows = [f[1:] for f in fields]
    assert rows[0] == ["undefined", "INFO", "at init"]
    assert rows[1] == [request_id, "INFO", "x is 5"]
    assert rows[2] == [request_id, "INFO", "{ a: 1 } [ 2 ]"]
    assert rows[3] == [request_id, "WARN", "warned"]
    assert rows[4][:2] == [request_id, "ERROR"]
    # A stack trace stays one record: its newlines travel as carriage returns.
    assert rows[4][2].startswith("failed Error: why\r    at exports.handler (")
    assert rows[5] == [request_id, "DEBUG", "debugged"]
    assert rows[6] == [request_id, "TRACE", "traced"]  # no stack: Lambda's console.trace
    assert rows[7] == [request_id, "INFO", "two\rlines"]
    assert rows[8] == [request_id, "INFO", "undefined"]
    assert "raw output" in runtime.records()


def test_the_log_level_filters_text_records(tmp_path: Path) -> None:
    outcome = invoke(tmp_path, {"app.js": CONSOLE}, env={"AWS_LAMBDA_LOG_LEVEL": "warn"})
    levels = [f[2] for f in outcome.runtime.fields()]
    assert levels == ["WARN", "ERROR"]


def test_console_records_in_lambdas_json_format(tmp_path: Path) -> None:
    outcome = invoke(tmp_path, {"app.js": CONSOLE}, env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    runtime = outcome.runtime
    assert runtime.last is not None
    request_id = runtime.last.request_id
    records = runtime.json_records()
    assert all(STAMP.match(r.pop("timestamp")) for r in records)
    assert records[0] == {"level": "INFO", "message": "at init"}  # no request id at init
    assert records[1] == {"level": "INFO", "requestId": request_id, "message": "x is 5"}
    assert records[2]["message"] == "{ a: 1 } [ 2 ]"
    error = records[4]
    assert error["level"] == "ERROR" and error["message"].startswith("failed Error: why\n")
    assert (error["errorType"], error["errorMessage"]) == ("Error", "why")
    assert error["stackTrace"][0] == "Error: why"
    assert records[7]["message"] == "two\nlines"
    assert "message" not in records[8]  # console.log(): nothing to say
    assert len(records) == 9


def test_a_lone_object_or_error_stays_structured_in_json(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = async () => {\n"
            "  console.info({ order: 7, items: ['a'] });\n"
            "  console.error(new RangeError('off'));\n"
            "  throw new Error('gone');\n"
            "};\n"
        },
        env={"AWS_LAMBDA_LOG_FORMAT": "json"},
    )
    records = outcome.runtime.json_records()
    assert records[0]["message"] == {"order": 7, "items": ["a"]}
    assert records[1]["message"]["errorType"] == "RangeError"
    assert records[1]["message"]["errorMessage"] == "off"
    assert records[1]["message"]["stackTrace"][0] == "RangeError: off"
    # The runtime's own report of the invoke error.
    assert records[2]["level"] == "ERROR"
    assert records[2]["message"]["errorMessage"] == "gone"


def test_the_log_level_filters_json_records(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {"app.js": CONSOLE},
        env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"},
    )
    levels = [r["level"] for r in outcome.runtime.json_records()]
    assert levels == ["INFO", "INFO", "INFO", "WARN", "ERROR", "INFO", "INFO"]


# ---------------------------------------------------------------------------------------
# nodejs24.x: Lambda's Node.js 24 runtime dropped callback handlers


NODE24 = {"AWS_EXECUTION_ENV": "AWS_Lambda_nodejs24.x"}


def test_nodejs24_refuses_callback_handlers_at_init(tmp_path: Path) -> None:
    reply, body, _ = init_failure(
        tmp_path,
        {"app.js": "exports.handler = (e, c, callback) => callback(null, 1);\n"},
        env=NODE24,
    )
    assert reply.error_type == "Runtime.CallbackHandlerDeprecated"
    assert body["errorMessage"].startswith(
        "ERROR: AWS Lambda has removed support for callback-based function handlers"
    )


def test_nodejs24_answers_with_a_plain_functions_value_and_has_no_legacy_context(
    tmp_path: Path,
) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = (event, context) => ({\n"
            "  succeed: typeof context.succeed,\n"
            "  waits: typeof context.callbackWaitsForEmptyEventLoop,\n"
            "  trace: context.xRayTraceId,\n"
            "});\n"
        },
        env=NODE24,
    )
    assert outcome.body() == {"succeed": "undefined", "waits": "undefined", "trace": TRACE}


def test_nodejs24_errors(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path,
        {
            "app.js": "exports.handler = async (e) => {\n"
            "  if (e.kind === 'throw') throw new TypeError('no');\n"
            "  if (e.kind === 'hang') await new Promise(() => {});\n"
            "  const a = {}; a.a = a; return a;\n"
            "};\n"
        },
        {"kind": "throw"},
        {"kind": "circular"},
        {"kind": "hang"},
        env=NODE24,
    )
    assert [reply.error_type for reply in outcome.replies] == [
        "TypeError",
        "Runtime.JSONStringifyError",
        "Runtime.NodeJsExit",
    ]
    assert outcome.body(1)["errorMessage"] == "Unable to stringify response body"


def test_nodejs24_also_finds_the_handler_under_the_default_export(tmp_path: Path) -> None:
    files = {"app.mjs": "export default { handler: async () => 'default' };\n"}
    assert invoke(tmp_path / "a", files, env=NODE24).body() == "default"
    reply, body, _ = init_failure(tmp_path / "b", files)
    assert reply.error_type == "Runtime.HandlerNotFound"


def test_nodejs24_node_path_names_node24(tmp_path: Path) -> None:
    outcome = invoke(
        tmp_path, {"app.js": "exports.handler = async () => process.env.NODE_PATH;\n"}, env=NODE24
    )
    assert outcome.body().startswith("/opt/nodejs/node24/node_modules:/opt/nodejs/node_modules:")


def test_the_runtime_needs_no_npm_packages() -> None:
    required = set()
    for source in RUNTIME.parent.glob("*.cjs"):
        required |= set(re.findall(r"require\('([^']+)'\)", source.read_text()))
    local = {f"./{p.name}" for p in RUNTIME.parent.glob("*.cjs")}
    assert required - local <= {"dns", "fs", "module", "net", "path", "stream", "url", "util"}
    assert os.access(RUNTIME, os.R_OK)
