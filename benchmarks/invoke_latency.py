"""Warm and cold invoke latency, printed beside the floor of a bare ASGI echo server.

Run: ``python benchmarks/invoke_latency.py [--warm 3000] [--cold 30]``

Both servers run as separate processes with the same uvicorn settings (uvloop,
httptools) on loopback, and both are measured by the same keep-alive client in this
process, so the floor is what HTTP on this machine costs and the gap is gureum's own.
Budgets (README): warm p50 <= 1 ms and <= 4x the floor; cold start p50 <= 20 ms from
the zygote and <= 10 ms from a snapshot. With a Node.js 20 on the host, the same for a
Node.js function: warm p50 within 1.3x Python's, the idle sandbox's PSS (<= 25 MB),
and cold starts from a pre-started runtime (<= 25 ms) and from a new one. Cold starts
are measured with isolation on, for each way a sandbox can start (``--cold-start exec``
and ``zygote``), each in a server of its own.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import io
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ECHO_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body or b"null"})
"""
NOOP = "def handler(event, context):\n    return None\n"
HELLO = "def handler(event, context):\n    return {'hello': 'world'}\n"
NODE_NOOP = "exports.handler = async () => null;\n"
NODE_HELLO = "exports.handler = async () => ({ hello: 'world' });\n"
NODE = {"Runtime": "nodejs20.x", "file": "app.js"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def wait_for_nodes(port: int, count: int, timeout: float = 120) -> None:
    """Until ``count`` different nodes have answered ``/metrics`` at ``port`` (the
    processes of ``--processes`` start one after another)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(seen)} of {count} processes answered on {port}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/metrics")
        found = re.search(
            r'gureum_node_info\{node_id="([^"]+)"', connection.getresponse().read().decode()
        )
        connection.close()
        if found:
            seen.add(found.group(1))
        time.sleep(0.02)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sign(
    port: int, method: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> dict[str, str]:
    """SigV4 headers for a request, as boto3 would send them (signed once, then reused:
    a signature stays valid for five minutes, so the client's signing cost, which the
    floor does not pay, stays out of the figures)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method=method,
        url=f"http://127.0.0.1:{port}{path}",
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    return dict(request.headers)


def measure(port: int, path: str, n: int, body: bytes = b"{}", signed: bool = False) -> list[float]:
    """Sequential POSTs on one keep-alive connection; latencies in ms."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = sign(port, "POST", path, body) if signed else {"Content-Type": "application/json"}
    samples = []
    for i in range(n + n // 10):
        start = time.perf_counter()
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
        if i >= n // 10:  # the first tenth warms up
            samples.append(elapsed)
    connection.close()
    return samples


def zip_code(code: str, file: str = "app.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # 0644: as on Lambda, code the sandbox user cannot read fails with EACCES
        info = zipfile.ZipInfo(file)
        info.external_attr = 0o644 << 16
        archive.writestr(info, code)
    return buffer.getvalue()


def create_function(
    port: int, name: str, code: str, memory: int = 128, file: str = "app.py", **extra: Any
) -> dict[str, Any]:
    body = json.dumps(
        {
            "FunctionName": name,
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": "arn:aws:iam::000000000000:role/bench",
            "MemorySize": memory,
            "Code": {"ZipFile": base64.b64encode(zip_code(code, file)).decode()},
            **extra,
        }
    ).encode()
    return call(port, "POST", "/2015-03-31/functions", body, 201)


def call(port: int, method: str, path: str, body: bytes, expected: int) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request(method, path, body, sign(port, method, path, body))
    response = connection.getresponse()
    answer = response.read()
    if response.status != expected:
        raise RuntimeError(f"{method} {path}: {response.status} {answer!r}")
    return dict(json.loads(answer))


#: The echo floor as one of several processes on one port (SO_REUSEPORT), as the
#: processes of ``gureum server --processes`` share theirs.
ECHO_SHARED = """
import socket, sys, uvicorn
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
config = uvicorn.Config("echo_app:app", loop="uvloop", http="httptools", access_log=False,
                        log_level="warning")
uvicorn.Server(config).run(sockets=[sock])
"""


@contextlib.contextmanager
def echo_and_gureum(*gureum_args: str, processes: int = 1) -> Iterator[tuple[int, int]]:
    """Start the floor (a bare ASGI echo server) and a gureum server, as separate
    processes with the same uvicorn settings; yield their ports, stop both after.
    ``processes``: so many of each behind their ports (``gureum server --processes``)."""
    with tempfile.TemporaryDirectory() as tmp:
        echo_port, gureum_port = free_port(), free_port()
        Path(tmp, "echo_app.py").write_text(ECHO_APP)
        Path(tmp, "echo_shared.py").write_text(ECHO_SHARED)
        quiet = ["--log-level", "warning"]
        if processes == 1:
            echoes = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "echo_app:app",
                        "--port",
                        str(echo_port),
                        "--loop",
                        "uvloop",
                        "--http",
                        "httptools",
                        "--no-access-log",
                        *quiet,
                    ],
                    cwd=tmp,
                )
            ]
        else:
            echoes = [
                subprocess.Popen([sys.executable, "echo_shared.py", str(echo_port)], cwd=tmp)
                for _ in range(processes)
            ]
        gureum = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gureum",
                "server",
                "--port",
                str(gureum_port),
                "--data-dir",
                str(Path(tmp, "data")),
                *(["--processes", str(processes)] if processes != 1 else []),
                *quiet,
                *gureum_args,
            ],
        )
        try:
            wait_for_port(echo_port)
            wait_for_port(gureum_port)
            if processes != 1:
                wait_for_nodes(gureum_port, processes)
            print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
            yield echo_port, gureum_port
        finally:
            for process in (*echoes, gureum):
                process.terminate()
                process.wait(timeout=90)


def report(label: str, samples: list[float]) -> tuple[float, float]:
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    print(f"  {label:<34} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   (n={len(samples)})")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=3000, help="warm invokes to time")
    parser.add_argument("--cold", type=int, default=30, help="cold starts to time")
    args = parser.parse_args()
    node = shutil.which("node") is not None  # Node.js 20's sections need a node 20
    node = node and subprocess.run(
        ["node", "--version"], capture_output=True, text=True
    ).stdout.startswith("v20.")

    with echo_and_gureum() as (echo_port, gureum_port):
        print("warm invoke, no-op Python handler, sequential, one keep-alive client:")
        floor_p50, _ = report("floor: bare ASGI echo", measure(echo_port, "/", args.warm))
        # At 1,769 MB a sandbox has a full vCPU (CPU is in proportion to memory, as
        # on Lambda), so this measures gureum's overhead, not a throttled CPU share.
        create_function(gureum_port, "noop", NOOP, memory=1769)
        path = "/2015-03-31/functions/noop/invocations"
        measure(gureum_port, path, 20, signed=True)  # the cold start is not part of it
        warm_p50, _ = report(
            "gureum warm invoke (1769 MB)", measure(gureum_port, path, args.warm, signed=True)
        )
        print(
            f"  ratio to floor: {warm_p50 / floor_p50:.2f}x   (budget: p50 <= 1 ms and <= 4x floor)"
        )
        create_function(gureum_port, "noop-128", NOOP, memory=128)
        small = "/2015-03-31/functions/noop-128/invocations"
        measure(gureum_port, small, 20, signed=True)
        report(
            "same at 128 MB (~7% of a vCPU)",
            measure(gureum_port, small, args.warm, signed=True),
        )
        if node:
            # Idle Node.js sandboxes as a host holds them: ten 128 MB functions, each
            # invoked a few times (node's own pages are shared between them).
            for i in range(10):
                create_function(gureum_port, f"node-idle-{i}", NODE_NOOP, memory=128, **NODE)
                idle_path = f"/2015-03-31/functions/node-idle-{i}/invocations"
                measure(gureum_port, idle_path, 9, signed=True)
            time.sleep(0.5)
            idle = sandbox_pss("/var/runtime/runtime.cjs")
            print(
                f"  idle Node.js sandbox PSS: {statistics.median(idle):.1f} MB each "
                f"({len(idle)} of 128 MB)   (budget: <= 25 MB)"
            )
            # Python and Node.js in turns, so both see the same noise of the machine
            create_function(gureum_port, "node-noop", NODE_NOOP, memory=1769, **NODE)
            node_path = "/2015-03-31/functions/node-noop/invocations"
            measure(gureum_port, node_path, 200, signed=True)  # and the JIT warms up
            python, nodejs = [], []
            for _ in range(4):
                python += measure(gureum_port, path, args.warm // 4, signed=True)
                nodejs += measure(gureum_port, node_path, args.warm // 4, signed=True)
            python_p50, _ = report("Python, in turns with Node.js", python)
            node_p50, _ = report("Node.js warm invoke (1769 MB)", nodejs)
            print(f"  Node.js / Python: {node_p50 / python_p50:.2f}x   (budget: <= 1.3x)")
            time.sleep(0.5)
            busiest = max(sandbox_pss("/var/runtime/runtime.cjs"))
            print(
                f"  the same sandbox after those invokes: {busiest:.1f} MB"
                "   (V8's young generation has grown)"
            )

    print("cold start, hello-world Python handler (a new function each time), isolation on:")
    for mode in ("exec", "zygote"):
        with echo_and_gureum("--cold-start", mode) as (echo_port, gureum_port):
            report("floor: bare ASGI echo", measure(echo_port, "/", 200))
            cold_starts(gureum_port, args.cold, mode)
    if node:
        print("cold start, hello-world Node.js 20 handler, isolation on:")
        for started in ("0", "2"):
            label = "node pre-started" if started != "0" else "node started then"
            with echo_and_gureum("--node-started", started) as (echo_port, gureum_port):
                report("floor: bare ASGI echo", measure(echo_port, "/", 200))
                cold_starts(gureum_port, args.cold, label, NODE_HELLO, **NODE)
        print("  (budget: pre-started p50 <= 25 ms client-seen)")
    # Snapshot: one published version; each sample restores a new sandbox from it (the
    # short keep-alive retires the previous one between samples).
    with echo_and_gureum("--sandbox-idle-timeout", "0.05") as (echo_port, gureum_port):
        report("floor: bare ASGI echo", measure(echo_port, "/", 200))
        restores(gureum_port, args.cold)
    print("  (budgets: zygote p50 <= 20 ms, snapshot p50 <= 10 ms)")


def sandbox_pss(marker: str) -> list[float]:
    """The PSS in MB of each sandbox whose runtime's command line has ``marker``: its
    runtime and its init (PID 1 of its namespace, the runtime's parent). Runtimes
    started ahead of need have no connection to the Runtime API yet: not sandboxes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "cmdline").read_bytes():
                continue
            fds = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        if not any(fd.startswith("socket:") for fd in fds):
            continue
        total = 0
        for pid in (entry.name, parent):
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            pss = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
            total += int(pss.group(1)) if pss else 0
        found.append(total / 1024)
    if not found:
        raise RuntimeError(f"no sandbox runs {marker}")
    return found


def restores(port: int, n: int) -> None:
    """Time ``n`` cold starts restored from a SnapStart snapshot (python3.12)."""
    create_function(
        port, "snap", HELLO, Runtime="python3.12", SnapStart={"ApplyOn": "PublishedVersions"}
    )
    call(port, "POST", "/2015-03-31/functions/snap/versions", b"{}", 201)
    path = "/2015-03-31/functions/snap/invocations?Qualifier=1"
    cold, durations = [], []
    for i in range(n + 1):
        time.sleep(0.3)  # the previous sandbox is reaped: the next invoke restores anew
        connection = http.client.HTTPConnection("127.0.0.1", port)
        headers = sign(port, "POST", path, b"{}", {"X-Amz-Log-Type": "Tail"})
        start = time.perf_counter()
        connection.request("POST", path, b"{}", headers)
        response = connection.getresponse()
        response.read()
        elapsed = (time.perf_counter() - start) * 1000
        log = base64.b64decode(response.getheader("X-Amz-Log-Result") or "").decode()
        found = re.search(r"Restore Duration: ([\d.]+) ms", log)
        connection.close()
        if i == 0:
            continue  # the first makes the snapshot (runs init once)
        cold.append(elapsed)
        if found:
            durations.append(float(found.group(1)))
    report("snapshot: cold invoke (client-seen)", cold)
    if durations:
        report("snapshot:   of which Restore Duration", durations)


def cold_starts(port: int, n: int, mode: str, code: str = HELLO, **extra: Any) -> None:
    """Time ``n`` cold starts: the client-seen invoke and the Init Duration it reports."""
    cold, inits = [], []
    for i in range(n):
        name = f"cold-{i}"
        create_function(port, name, code, **extra)
        # cold starts arrive one at a time, as they do on a quiet host (and the pool of
        # pre-started Node runtimes is topped up again between them)
        time.sleep(0.05 if extra.get("Runtime", "python").startswith("python") else 0.25)
        connection = http.client.HTTPConnection("127.0.0.1", port)
        path = f"/2015-03-31/functions/{name}/invocations"
        headers = sign(port, "POST", path, b"{}", {"X-Amz-Log-Type": "Tail"})
        start = time.perf_counter()
        connection.request("POST", path, b"{}", headers)
        response = connection.getresponse()
        response.read()
        cold.append((time.perf_counter() - start) * 1000)
        log = base64.b64decode(response.getheader("X-Amz-Log-Result") or "").decode()
        found = re.search(r"Init Duration: ([\d.]+) ms", log)
        if found:
            inits.append(float(found.group(1)))
        connection.close()
    report(f"{mode}: cold invoke (client-seen)", cold)
    if inits:
        report(f"{mode}:   of which Init Duration", inits)


if __name__ == "__main__":
    main()
