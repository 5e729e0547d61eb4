"""Tables (DynamoDB's API): item latency and mixed throughput, beside the floors of the
same run.

Run: ``python benchmarks/tables.py [--requests 2000] [--clients 64] [--seconds 5]
[--database-url postgresql+psycopg://...] [--processes N]`` (the throughput part needs ``wrk``:
``apt-get install wrk``).

- PutItem and GetItem, sequential on one keep-alive connection: p50 beside two floors,
  a bare ASGI echo server (DESIGN.md's floor: what HTTP on this machine costs) and
  DescribeLimits on gureum's own edge (SigV4, the JSON protocol's routing and an
  answer, no store work: what the edge costs before the tables do anything).
  Budget: p50 <= 1 ms and <= 4x the echo floor.
- Query of 100 items (one partition, one page): p50.
- Mixed throughput: 64 keep-alive clients (wrk) sending GetItem and PutItem in equal
  parts over 10,000 keys, beside wrk against the echo server and DescribeLimits.
  Budget: >= 5,000 operations/s on SQLite. Measured twice: with one server process,
  and with ``gureum server --processes N`` (``--processes``, default one per core)
  beside as many echo processes on one port.

Requests are signed before the clock starts (a signature stays valid for five
minutes), so the client's signing, which the floors do not pay, stays out of the
figures. Items are small (a key and two attributes, ~60 bytes).

AWS's DynamoDB Local is not measured beside these: the host has a Java 17, but the
package lists mark DynamoDB Local (``com.amazonaws:DynamoDBLocal``) as under the
vendor's own terms, not an open-source licence, not to be used; and npm's
``dynamodb-local`` only fetches that same jar from AWS at install time, which this
machine (no network but the package registries) cannot reach.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from invoke_latency import echo_and_gureum, percentile  # noqa: E402

TARGET = "DynamoDB_20120810."
TABLE = "bench"
KEYS = 10_000


def signed(port: int, operation: str, params: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A DynamoDB request's body and SigV4 headers, as boto3 sends them."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps(params, separators=(",", ":")).encode()
    request = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{port}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": TARGET + operation,
        },
    )
    SigV4Auth(Credentials("test", "test"), "dynamodb", "us-east-1").add_auth(request)
    return body, dict(request.headers)


def call(port: int, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    body, headers = signed(port, operation, params)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", "/", body, headers)
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{operation}: {response.status} {answer!r}")
    return dict(json.loads(answer))


def put(key: int, value: int = 0) -> dict[str, Any]:
    return {
        "TableName": TABLE,
        "Item": {
            "pk": {"S": f"user#{key}"},
            "name": {"S": f"name {key}"},
            "n": {"N": str(value)},
        },
    }


def get(key: int) -> dict[str, Any]:
    return {"TableName": TABLE, "Key": {"pk": {"S": f"user#{key}"}}}


def measure(port: int, requests: list[tuple[bytes, dict[str, str]]]) -> list[float]:
    """The requests in turn on one keep-alive connection; latencies in ms, the first
    tenth (the warm-up) left out."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    samples = []
    warm_up = len(requests) // 11
    for i, (body, headers) in enumerate(requests):
        start = time.perf_counter()
        connection.request("POST", "/", body, headers)
        response = connection.getresponse()
        answer = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise RuntimeError(f"answered {response.status}: {answer[:200]!r}")
        if i >= warm_up:
            samples.append(elapsed)
    connection.close()
    return samples


def report(label: str, samples: list[float]) -> float:
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    print(f"  {label:<36} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   (n={len(samples)})")
    return p50


def _lua(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "\\r").replace("\n", "\\n") + '"'


def wrk(
    port: int, requests: list[tuple[bytes, dict[str, str]]], clients: int, seconds: int
) -> float:
    """Requests per second that wrk reaches sending ``requests`` round and round (each
    connection's thread from its own place in the list)."""
    raw = []
    for body, headers in requests:
        lines = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
        raw.append("\r\n".join(lines) + "\r\n\r\n" + body.decode())
    script = "requests = {\n" + ",\n".join(_lua(r) for r in raw) + "\n}\n"
    script += (
        "local i = 0\n"
        "function setup(thread) thread:set('offset', math.random(#requests)) end\n"
        "function init(args) i = offset or 0 end\n"
        "function request() i = i % #requests + 1; return requests[i] end\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{clients}",
                f"-d{seconds}s",
                "-s",
                file.name,
                f"http://127.0.0.1:{port}/",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(file.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  (wrk saw {errors.group(1)} non-2xx responses)")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per figure")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--database-url", help="a PostgreSQL store instead of SQLite")
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="server processes for the second throughput run (default: one per core; "
        "1: no second run)",
    )
    args = parser.parse_args()
    server_args = ["--database-url", args.database_url] if args.database_url else []
    n = args.requests + args.requests // 10

    with echo_and_gureum(*server_args) as (echo_port, port):
        print(f"store: {'PostgreSQL' if args.database_url else 'SQLite'}")
        create_tables(port)
        limits = [signed(port, "DescribeLimits", {})] * n
        puts = [signed(port, "PutItem", put(i % KEYS, i)) for i in range(n)]
        gets = [signed(port, "GetItem", get(i % KEYS)) for i in range(n)]

        print("sequential, one keep-alive client:")
        echo_p50 = report("floor: bare ASGI echo", measure(echo_port, limits))
        edge_p50 = report("floor: DescribeLimits on the edge", measure(port, limits))
        for label, requests in (("PutItem", puts), ("GetItem", gets)):
            p50 = report(label, measure(port, requests))
            print(
                f"    {p50 / echo_p50:.2f}x the echo, {p50 / edge_p50:.2f}x DescribeLimits"
                "   (budget: p50 <= 1 ms and <= 4x the echo)"
            )

        fill_query_table(port)
        query = signed(
            port,
            "Query",
            {
                "TableName": "bench-query",
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": "orders"}},
            },
        )
        answer = call(port, "Query", json.loads(query[0]))
        assert answer["Count"] == 100, answer["Count"]
        report("Query of 100 items", measure(port, [query] * (n // 2)))

        if shutil.which("wrk") is None:
            print("mixed throughput: skipped (needs wrk: apt-get install wrk)")
            return
        mixed_throughput(args, echo_port, port, 1)
    processes = args.processes or os.cpu_count() or 1
    if processes > 1:
        with echo_and_gureum(*server_args, processes=processes) as (echo_port, port):
            create_tables(port)
            mixed_throughput(args, echo_port, port, processes)


def create_tables(port: int) -> None:
    """The two tables (made anew: a PostgreSQL store may hold an earlier run's)."""
    names = call(port, "ListTables", {})["TableNames"]
    for name in {TABLE, "bench-query"} & set(names):
        call(port, "DeleteTable", {"TableName": name})
    call(
        port,
        "CreateTable",
        {
            "TableName": TABLE,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    call(
        port,
        "CreateTable",
        {
            "TableName": "bench-query",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def fill_query_table(port: int) -> None:
    for batch in range(0, 100, 25):
        call(
            port,
            "BatchWriteItem",
            {
                "RequestItems": {
                    "bench-query": [
                        {
                            "PutRequest": {
                                "Item": {
                                    "pk": {"S": "orders"},
                                    "sk": {"N": str(batch + i)},
                                    "total": {"N": "12.5"},
                                    "status": {"S": "shipped"},
                                }
                            }
                        }
                        for i in range(25)
                    ]
                }
            },
        )


def mixed_throughput(args: argparse.Namespace, echo_port: int, port: int, processes: int) -> None:
    """wrk's GetItem and PutItem in equal parts, beside the echo and DescribeLimits, with
    ``processes`` server processes (and as many echo processes)."""
    which = "one process" if processes == 1 else f"{processes} processes (--processes)"
    print(f"mixed throughput, GetItem and PutItem in equal parts, {args.clients} clients, {which}:")
    limits = [signed(port, "DescribeLimits", {})]
    puts = [signed(port, "PutItem", put(i % KEYS, i)) for i in range(KEYS)]
    gets = [signed(port, "GetItem", get(i % KEYS)) for i in range(KEYS)]
    mixed = [request for pair in zip(gets, puts, strict=True) for request in pair]
    floor = wrk(echo_port, limits, args.clients, args.seconds)
    print(f"  floor: bare ASGI echo                {floor:9.0f} requests/s")
    edge = wrk(port, limits, args.clients, args.seconds)
    print(f"  floor: DescribeLimits on the edge    {edge:9.0f} requests/s")
    rate = wrk(port, mixed, args.clients, args.seconds)
    print(
        f"  GetItem + PutItem                    {rate:9.0f} operations/s   "
        f"({rate / floor:.0%} of the echo, {rate / edge:.0%} of DescribeLimits; "
        "budget >= 5,000/s on SQLite)"
    )


if __name__ == "__main__":
    main()
