"""WebSocket APIs: idle connections held, ``postToConnection`` fanned out to them, and a
message's round trip through a function, beside floors measured in the same run.

Run: ``python benchmarks/websocket.py [--connections 1000] [--seconds 5] [--round-trips 500]
[--processes N]`` (the fan-out needs ``wrk``: ``apt-get install wrk``; ``--processes``:
the server as ``gureum server --processes N``, whose processes hand each other the
messages for the clients they do not hold).

- Held: ``--connections`` clients connected to one stage (each through ``$connect``'s
  function), the server's PSS before and after, per connection.
- Fan-out: wrk POSTs ``@connections/{id}`` round-robin over every connection (each
  request signed once beforehand, as a backend's SDK signs it) with 64 keep-alive
  clients; the messages the clients receive per second. Budget: >= 10,000 messages/s.
  Floor: the echo server's rate under the same wrk.
- Round trip: one client sends ``{"action": "echo"}`` to a two-way route whose Python
  function answers at once; p50 beside a direct Invoke of the same function (and the
  echo floor). No budget is named but the figure is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).parent))
from async_invoke import client  # noqa: E402
from concurrency import wrk  # noqa: E402
from invoke_latency import echo_and_gureum, measure, percentile, zip_code  # noqa: E402

HANDLERS = """
def connect(event, context):
    return {"statusCode": 200}

def echo(event, context):
    return {"statusCode": 200, "body": "pong"}

def whoami(event, context):
    return {"statusCode": 200, "body": event["requestContext"]["connectionId"]}
"""

FAN_OUT_SCRIPT = """
local requests = {}
local at = 0
init = function(args)
  for line in io.lines("PATHS") do
    local path, date, authorization = line:match("([^\\t]+)\\t([^\\t]+)\\t([^\\t]+)")
    requests[#requests + 1] = wrk.format("POST", path, {
      ["X-Amz-Date"] = date,
      ["Authorization"] = authorization,
      ["X-Amz-Content-SHA256"] = "SHA",
      ["Content-Type"] = "application/octet-stream",
    }, "m")
  end
  at = math.random(#requests)
end
request = function()
  at = at % #requests + 1
  return requests[at]
end
"""


def make_api(port: int) -> str:
    """A WebSocket API: ``$connect`` and two-way routes ``echo`` (``pong``) and
    ``whoami`` (the connection's id) on Python functions."""
    lam, gw = client("lambda", port), client("apigatewayv2", port)
    api = gw.create_api(
        Name="bench", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    for handler, key in (("connect", "$connect"), ("echo", "echo"), ("whoami", "whoami")):
        arn = lam.create_function(
            FunctionName=f"ws-{handler}",
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/bench",
            Handler=f"app.{handler}",
            MemorySize=1769,
            Code={"ZipFile": zip_code(HANDLERS)},
        )["FunctionArn"]
        integration = gw.create_integration(
            ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn
        )["IntegrationId"]
        route = gw.create_route(ApiId=api, RouteKey=key, Target=f"integrations/{integration}")
        if key != "$connect":
            gw.create_route_response(
                ApiId=api, RouteId=route["RouteId"], RouteResponseKey="$default"
            )
    gw.create_stage(ApiId=api, StageName="bench")
    return str(api)


def receivers(port: int, api: str, n: int) -> None:
    """``--receivers`` mode (a process of its own, so that counting costs the clients'
    side no GIL shared with anything): ``n`` raw WebSocket clients, their ids printed as
    a JSON line; then, between ``go`` and ``stop`` on stdin, the messages they received
    (each ``m``: a three-byte frame) printed."""
    import base64
    import selectors
    import socket

    sockets = []
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /_aws/execute-api/{api}/bench HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    whoami = b'{"action": "whoami"}'
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | len(whoami)]) + mask
    frame += bytes(b ^ mask[i % 4] for i, b in enumerate(whoami))
    ids = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"upgrade refused: {head[:100]!r}")
        sock.sendall(frame)
        reply = head.split(b"\r\n\r\n", 1)[1]
        while len(reply) < 2 or len(reply) < 2 + reply[1]:
            reply += sock.recv(4096)
        ids.append(reply[2 : 2 + reply[1]].decode())
        sock.setblocking(False)
        sockets.append(sock)
    print(json.dumps(ids), flush=True)
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    counted, counting = 0, False
    while True:
        for found, _ in selector.select():
            if found.fileobj is sys.stdin:
                line = sys.stdin.readline().strip()
                if line == "go":
                    counted, counting = 0, True
                elif line == "stop":
                    print(counted // 3, flush=True)
                    counting = False
                else:
                    return
                continue
            sock = found.fileobj
            assert isinstance(sock, socket.socket)
            data = sock.recv(65536)
            if counting:
                counted += len(data)


def server_pids(port: int) -> list[int]:
    """The server's process, or with ``--processes`` the supervisor's processes."""
    supervisor = server_pid(port)
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == supervisor:
                children.append(int(entry.name))
    return children or [supervisor]


def server_pid(port: int) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"server" in command and str(port).encode() in command and b"gureum" in command:
                return int(entry.name)
    raise RuntimeError("no gureum server process")


def pss_mb(pid: int) -> float:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def signed_lines(port: int, api: str, ids: list[str]) -> tuple[str, str]:
    """One signed ``@connections`` POST per connection: (lines for wrk, body sha)."""
    import hashlib

    sha = hashlib.sha256(b"m").hexdigest()
    lines = []
    for connection in ids:
        path = f"/_aws/execute-api/{api}/bench/@connections/{connection}"
        request = AWSRequest(
            method="POST",
            url=f"http://127.0.0.1:{port}{path}",
            data=b"m",
            headers={"Content-Type": "application/octet-stream"},
        )
        SigV4Auth(Credentials("test", "test"), "execute-api", "us-east-1").add_auth(request)
        lines.append(f"{path}\t{request.headers['X-Amz-Date']}\t{request.headers['Authorization']}")
    return "\n".join(lines) + "\n", sha


async def run(args: argparse.Namespace, echo_port: int, port: int) -> None:
    api = make_api(port)
    pids = server_pids(port)
    before = sum(pss_mb(pid) for pid in pids)
    started = time.perf_counter()
    clients = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--receivers",
        f"{port}:{api}:{args.connections}",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert clients.stdin is not None and clients.stdout is not None
    ids = json.loads(await clients.stdout.readline())
    took = time.perf_counter() - started
    await asyncio.sleep(2)
    after = sum(pss_mb(pid) for pid in pids)
    which = f" over {len(pids)} processes" if len(pids) > 1 else ""
    print(f"held: {len(ids)} connections opened (and asked their id) in {took:.1f} s{which}")
    print(
        f"  server PSS {before:.1f} MB -> {after:.1f} MB: "
        f"{(after - before) * 1024 / len(ids):.1f} KB per idle connection"
    )
    await fan_out(args, echo_port, port, api, clients, ids)
    clients.stdin.write(b"end\n")
    await clients.stdin.drain()
    await clients.wait()
    async with connect(f"ws://127.0.0.1:{port}/_aws/execute-api/{api}/bench") as ws:
        await round_trips(args, echo_port, port, ws)


def write_script(folder: Path, lines: str, sha: str) -> Path:
    paths = folder / "paths.tsv"
    paths.write_text(lines)
    script = folder / "fan_out.lua"
    script.write_text(FAN_OUT_SCRIPT.replace("PATHS", str(paths)).replace("SHA", sha))
    return script


async def fan_out(
    args: argparse.Namespace,
    echo_port: int,
    port: int,
    api: str,
    clients: asyncio.subprocess.Process,
    ids: list[str],
) -> None:
    if shutil.which("wrk") is None:
        print("fan-out: skipped (needs wrk: apt-get install wrk)")
        return
    assert clients.stdin is not None and clients.stdout is not None
    lines, sha = signed_lines(port, api, ids)
    with tempfile.TemporaryDirectory() as tmp:
        script = write_script(Path(tmp), lines, sha)
        floor = await asyncio.to_thread(wrk, echo_port, "/", {}, 64, args.seconds)
        clients.stdin.write(b"go\n")
        await clients.stdin.drain()
        start = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            "wrk",
            "-t2",
            "-c64",
            f"-d{args.seconds}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/",
            stdout=subprocess.PIPE,
        )
        out, _ = await process.communicate()
        await asyncio.sleep(0.5)  # the last messages on their way
        clients.stdin.write(b"stop\n")
        await clients.stdin.drain()
        received = int(await clients.stdout.readline())
        delivered = received / (time.perf_counter() - start - 0.5)
    text = out.decode()
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    print(f"fan-out: postToConnection over {len(ids)} connections, 64 keep-alive clients")
    print(f"  floor: bare ASGI echo under the same wrk  {floor:9.0f} requests/s")
    answered = float(rate.group(1)) if rate else 0.0
    print(f"  @connections POSTs answered              {answered:9.0f} /s")
    print(f"  messages the clients received            {delivered:9.0f} /s   (budget >= 10,000)")
    if errors:
        print(f"  (wrk saw {errors.group(1)} non-2xx answers)")


async def round_trips(
    args: argparse.Namespace, echo_port: int, port: int, ws: ClientConnection
) -> None:
    message = json.dumps({"action": "echo"})
    samples = []
    for i in range(args.round_trips + args.round_trips // 10):
        start = time.perf_counter()
        await ws.send(message)
        answer = await ws.recv()
        elapsed = (time.perf_counter() - start) * 1000
        if answer != "pong":
            raise RuntimeError(f"the echo route answered {answer!r}")
        if i >= args.round_trips // 10:
            samples.append(elapsed)
    floor = await asyncio.to_thread(measure, echo_port, "/", args.round_trips)
    direct = await asyncio.to_thread(
        measure, port, "/2015-03-31/functions/ws-echo/invocations", args.round_trips, b"{}", True
    )
    print("round trip, one client, sequential:")
    for label, values in (
        ("floor: bare ASGI echo (HTTP)", floor),
        ("direct Invoke of the function", direct),
        ("message -> function -> reply", samples),
    ):
        print(
            f"  {label:<36} p50 {statistics.median(values):7.3f} ms   "
            f"p99 {percentile(values, 0.99):7.3f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="server processes (gureum server --processes; as many echo processes)",
    )
    parser.add_argument("--receivers", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receivers:
        port, api, n = args.receivers.split(":")
        receivers(int(port), api, int(n))
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    print(f"machine: {os.cpu_count()} cores")
    with echo_and_gureum(processes=args.processes) as (echo_port, port):
        asyncio.run(run(args, echo_port, port))


if __name__ == "__main__":
    main()
