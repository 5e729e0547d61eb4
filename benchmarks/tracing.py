"""Tracing: segments ingested over UDP without drops, and GetTraceSummaries with an
annotation filter over a million stored segments, each beside a floor of the same run.

Run: ``python benchmarks/tracing.py [--rates 10000,20000,40000] [--seconds 5]
[--segments 1000000]``.

- Ingestion: a sender process sends segment documents (about 300 bytes, ten per
  trace) to the daemon at a fixed rate for a few seconds; the figure is how many the
  store holds afterwards (drops: the kernel's buffer overflowing, or the daemon
  refusing). Floor: a bare asyncio UDP receiver that only counts, at the same rates.
  Budget (README): >= 20,000 segments/s without drops.
- Query: ``--segments`` segments (ten per trace, each trace with a ``customer``
  annotation among 1,000 values) are written through the trace store, then
  GetTraceSummaries with ``annotation.customer = "c42"`` over the whole time range is
  timed (first page). Floor: the bare ASGI echo server's request latency.
  Budget: p50 <= 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from invoke_latency import (  # noqa: E402
    ECHO_APP,
    free_port,
    percentile,
    sign,
    wait_for_port,
)

HEADER = b'{"format":"json","version":1}\n'


def documents(count: int, start: float) -> list[bytes]:
    """``count`` segment documents, ten to a trace, as an SDK would send them."""
    out = []
    trace = ""
    for n in range(count):
        if n % 10 == 0:
            trace = f"1-{int(start):08x}-{secrets.token_hex(12)}"
        begin = start + n * 1e-6
        out.append(
            HEADER
            + json.dumps(
                {
                    "name": f"svc-{n % 10}",
                    "id": secrets.token_hex(8),
                    "trace_id": trace,
                    "start_time": begin,
                    "end_time": begin + 0.01,
                    "annotations": {"customer": f"c{(n // 10) % 1000}"},
                    "http": {"request": {"method": "GET", "url": "https://x/y"}},
                }
            ).encode()
        )
    return out


def send(port: int, rate: int, seconds: float, payloads: list[bytes]) -> None:
    """Send ``payloads`` at ``rate`` datagrams a second (in 1 ms slices)."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    per_slice = max(1, rate // 1000)
    index = 0
    begin = time.perf_counter()
    total = int(rate * seconds)
    while index < total:
        due = begin + index / rate
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        for payload in payloads[index : index + per_slice]:
            sock.sendto(payload, ("127.0.0.1", port))
        index += per_slice
    sock.close()


COUNTER = """
import asyncio, sys, socket
class Count(asyncio.DatagramProtocol):
    n = 0
    def datagram_received(self, data, addr):
        Count.n += 1
async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    await asyncio.get_running_loop().create_datagram_endpoint(Count, sock=sock)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(Count.n, flush=True)
asyncio.run(main())
"""


def floor_udp(rate: int, seconds: float, payloads: list[bytes]) -> int:
    port = free_port()
    counter = subprocess.Popen(
        [sys.executable, "-c", COUNTER, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    sender = multiprocessing.Process(target=send, args=(port, rate, seconds, payloads))
    sender.start()
    sender.join()
    time.sleep(0.5)
    out, _ = counter.communicate("done\n", timeout=30)
    return int(out.strip() or 0)


def start_gureum(data_dir: Path, port: int, xray_port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gureum",
            "server",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--xray-address",
            f"127.0.0.1:{xray_port}",
            "--log-level",
            "warning",
        ]
    )
    wait_for_port(port)
    return process


def stored_segments(data_dir: Path) -> int:
    with sqlite3.connect(f"file:{data_dir / 'gureum.db'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM trace_segments").fetchone()[0])


def ingestion(rates: list[int], seconds: float) -> None:
    print(f"UDP ingestion, {seconds:.0f} s at each rate (segments of ~300 bytes):")
    biggest = max(rates)
    payloads = documents(int(biggest * seconds), time.time())
    for rate in rates:
        sent = int(rate * seconds)
        floor = floor_udp(rate, seconds, payloads)
        with tempfile.TemporaryDirectory() as tmp:
            port, xray_port = free_port(), free_port()
            server = start_gureum(Path(tmp), port, xray_port)
            try:
                sender = multiprocessing.Process(
                    target=send, args=(xray_port, rate, seconds, payloads)
                )
                sender.start()
                sender.join()
                stored, last_change = 0, time.monotonic()
                while time.monotonic() - last_change < 2:
                    count = stored_segments(Path(tmp))
                    if count != stored:
                        stored, last_change = count, time.monotonic()
                    if stored >= sent:
                        break
                    time.sleep(0.2)
            finally:
                server.terminate()
                server.wait(timeout=60)
        print(
            f"  {rate:>6}/s: floor (bare UDP receiver) got {floor}/{sent}; "
            f"gureum stored {stored}/{sent} ({'no drops' if stored == sent else 'DROPS'})"
        )


def fill(data_dir: Path, count: int) -> float:
    """Write ``count`` segments through the trace store; the time range's start."""
    from gureum.store import open_store
    from gureum.tracing.segments import parse_document
    from gureum.tracing.trace_store import TraceStore

    store = open_store(f"sqlite:///{data_dir / 'gureum.db'}")
    traces = TraceStore(store)
    start = time.time() - 3600
    began = time.perf_counter()
    chunk = 50_000
    for offset in range(0, count, chunk):
        batch = [
            parse_document(raw.partition(b"\n")[2])
            for raw in documents(min(chunk, count - offset), start + offset * 1e-3)
        ]
        traces._write(batch)
    store.close()
    elapsed = time.perf_counter() - began
    print(
        f"  wrote {count} segments in {elapsed:.0f} s ({count / elapsed:.0f}/s through the store)"
    )
    return start


def query(count: int, samples: int) -> None:
    print(f"GetTraceSummaries, annotation filter, over {count} stored segments:")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        start = fill(data_dir, count)
        echo_port, port = free_port(), free_port()
        Path(tmp, "echo_app.py").write_text(ECHO_APP)
        echo = subprocess.Popen(
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
                "--log-level",
                "warning",
            ],
            cwd=tmp,
        )
        server = start_gureum(data_dir, port, free_port())
        try:
            wait_for_port(echo_port)
            body = json.dumps(
                {
                    "StartTime": start - 60,
                    "EndTime": time.time() + 60,
                    "FilterExpression": 'annotation.customer = "c42"',
                }
            ).encode()
            floor = timed(echo_port, "/", b"{}", {}, samples)
            latencies = []
            found: dict[str, Any] = {}
            for _ in range(samples):
                headers = sign(port, "POST", "/TraceSummaries", body)
                began = time.perf_counter()
                found = post(port, "/TraceSummaries", body, headers)
                latencies.append((time.perf_counter() - began) * 1000)
            print(
                f"  floor: bare ASGI echo   p50 {statistics.median(floor):7.2f} ms\n"
                f"  gureum                  p50 {statistics.median(latencies):7.2f} ms   "
                f"p99 {percentile(latencies, 0.99):7.2f} ms   "
                f"({len(found.get('TraceSummaries', []))} traces on the first page; "
                "budget p50 <= 100 ms)"
            )
        finally:
            for process in (server, echo):
                process.terminate()
                process.wait(timeout=60)


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, body, headers)
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status} {answer[:300]!r}")
    return dict(json.loads(answer))


def timed(port: int, path: str, body: bytes, headers: dict[str, str], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("POST", path, body, headers)
        connection.getresponse().read()
        connection.close()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10000,20000,40000")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--segments", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--skip-ingestion", action="store_true")
    parser.add_argument("--skip-query", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if not args.skip_ingestion:
        ingestion([int(r) for r in args.rates.split(",")], args.seconds)
    if not args.skip_query:
        query(args.segments, args.samples)


if __name__ == "__main__":
    main()
