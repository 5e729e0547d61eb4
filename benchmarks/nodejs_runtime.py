"""The Node.js runtime client beside the Python one, through the same Runtime API server.

Run: ``python benchmarks/nodejs_runtime.py [--warm 3000] [--cold 20]``

Both runtimes serve a no-op handler for an in-process ``RuntimeAPIServer`` (the one
sandboxes use) behind a minimal stand-in for the sandbox, on the same event loop, so
the difference is the runtime clients' own. Printed per runtime: the time from spawn
to the first ``/invocation/next`` (what a cold start pays before Init Duration ends,
process start included) and the warm round trip, event handed over to answer
received. The Node.js client's budget: warm p50 within 1.3x the Python client's.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from gureum.runtimes import BOOTSTRAP, runtime_command
from gureum.workers.runtime_api import Invocation, RuntimeAPIServer, RuntimeReply

NODE_RUNTIME = BOOTSTRAP.parent.parent / "nodejs" / "runtime.cjs"
PYTHON_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
CODE = {
    "node": ("app.js", "exports.handler = async () => null;\n"),
    "python": ("app.py", "def handler(event, context):\n    return None\n"),
}


class Sandbox:
    """Hands out one invocation at a time and resolves it with the runtime's answer."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: collections.deque[Invocation] = collections.deque()
        self.waiter: asyncio.Future[Invocation] | None = None
        self.current: Invocation | None = None
        self.first_next: asyncio.Future[float] = self.loop.create_future()

    def submit(self, invocation: Invocation) -> None:
        if self.waiter is not None and not self.waiter.done():
            waiter, self.waiter = self.waiter, None
            self.current = invocation
            waiter.set_result(invocation)
        else:
            self.queue.append(invocation)

    def next_invocation(self) -> asyncio.Future[Invocation]:
        if not self.first_next.done():
            self.first_next.set_result(time.perf_counter())
        waiter: asyncio.Future[Invocation] = self.loop.create_future()
        if self.queue:
            self.current = self.queue.popleft()
            waiter.set_result(self.current)
        else:
            self.waiter = waiter
        return waiter

    def invocation_response(self, request_id: str, reply: RuntimeReply) -> bool:
        current = self.current
        if current is None or current.request_id != request_id:
            return False
        self.current = None
        current.result.set_result(reply)
        return True

    def init_error(self, reply: RuntimeReply) -> None:
        raise SystemExit(f"init failed: {reply.body!r}")


def command(runtime: str, task_root: Path, address: str) -> tuple[list[str], dict[str, str]]:
    environ = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": address,
        "_HANDLER": "app.handler",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
    }
    if runtime == "node":
        node = shutil.which("node")
        assert node is not None
        environ |= {
            "LAMBDA_RUNTIME_DIR": str(NODE_RUNTIME.parent),
            "AWS_EXECUTION_ENV": "AWS_Lambda_nodejs20.x",
        }
        return [node, str(NODE_RUNTIME)], environ
    python = runtime_command(PYTHON_RUNTIME, task_root, task_root)
    environ |= python.env | {"LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent)}
    return list(python.argv), environ


async def session(runtime: str, task_root: Path, warm: int) -> tuple[float, list[float]]:
    """One process: ms from spawn to its first /next, and ``warm`` round trips in ms."""
    sandbox = Sandbox()
    server = RuntimeAPIServer(sandbox)
    await server.start()
    argv, environ = command(runtime, task_root, server.address)
    spawned = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=environ,
        cwd=str(task_root),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        startup = (await asyncio.wait_for(sandbox.first_next, 30) - spawned) * 1000
        round_trips = []
        for _ in range(warm):
            invocation = Invocation(str(uuid.uuid4()), b"{}", 2**42, "arn:bench")
            start = time.perf_counter()
            sandbox.submit(invocation)
            await invocation.result
            round_trips.append((time.perf_counter() - start) * 1000)
        return startup, round_trips
    finally:
        process.kill()
        await process.wait()
        server.close()


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def main(warm: int, cold: int) -> None:
    results: dict[str, tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for runtime, (name, code) in CODE.items():
            task_root = Path(tmp) / runtime
            task_root.mkdir()
            (task_root / name).write_text(code)
            startups = []
            for _ in range(cold):
                startup, _ = await session(runtime, task_root, 0)
                startups.append(startup)
            _, round_trips = await session(runtime, task_root, warm)
            # The first invokes warm the JIT and the caches: not what warm means.
            results[runtime] = (startups, round_trips[len(round_trips) // 10 :])
    print(f"{'runtime':8} {'start→next p50':>15} {'p90':>8} {'warm p50':>10} {'p90':>8} {'p99':>8}")
    for runtime, (startups, trips) in results.items():
        print(
            f"{runtime:8} {statistics.median(startups):12.1f} ms {p(startups, 90):5.1f} ms "
            f"{statistics.median(trips) * 1000:7.0f} µs {p(trips, 90) * 1000:5.0f} µs "
            f"{p(trips, 99) * 1000:5.0f} µs"
        )
    ratio = statistics.median(results["node"][1]) / statistics.median(results["python"][1])
    print(f"warm p50 node / python: {ratio:.2f} (budget 1.30)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--warm", type=int, default=3000, help="warm invokes per runtime")
    parser.add_argument("--cold", type=int, default=20, help="process starts per runtime")
    args = parser.parse_args()
    try:
        import uvloop  # the server's own loop, as gureum server runs it
    except ImportError:
        asyncio.run(main(args.warm, args.cold))
    else:
        uvloop.run(main(args.warm, args.cold))
    os._exit(0)
