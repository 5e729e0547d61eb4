"""Streams (Kinesis's API): PutRecord's latency and PutRecords' throughput, beside the
echo floor of the same run.

Run: ``python benchmarks/streams.py [--requests 2000] [--clients 16] [--seconds 5]
[--batch 100] [--shards 4] [--database-url postgresql+psycopg://...]`` (the throughput
part needs ``wrk``: ``apt-get install wrk``).

- PutRecord, sequential on one keep-alive connection (100-byte records, a partition key
  per request, 4 shards): p50 beside two floors, a bare ASGI echo server (what HTTP on
  this machine costs) and ListStreams on gureum's own edge (SigV4, the JSON protocol's
  routing and one small read: what the edge costs before a write).
- PutRecords throughput: ``--clients`` keep-alive clients (wrk) each sending PutRecords
  of ``--batch`` records round and round; records per second beside the echo server's
  requests per second. The server runs with ``--stream-throughput unlimited``: this
  measures the store, far past the 1,000 records a second a Kinesis shard takes (the
  limits are still counted, only not enforced).

Requests are signed before the clock starts (a signature stays valid for five minutes),
so the client's signing stays out of the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from invoke_latency import echo_and_gureum  # noqa: E402
from tables import measure, report, wrk  # noqa: E402

TARGET = "Kinesis_20131202."
STREAM = "bench"


def signed(port: int, operation: str, params: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A Kinesis request's body and SigV4 headers, as boto3 sends them."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps(params, separators=(",", ":")).encode()
    request = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{port}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": TARGET + operation,
        },
    )
    SigV4Auth(Credentials("test", "test"), "kinesis", "us-east-1").add_auth(request)
    return body, dict(request.headers)


def data(i: int) -> str:
    return base64.b64encode(f"{i:08d}".encode() * 12 + b"\n" * 4).decode()  # 100 bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per figure")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100, help="records per PutRecords")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--database-url", help="a PostgreSQL store instead of SQLite")
    args = parser.parse_args()
    # (the throughput part writes far more than 4 shards take under Kinesis's limits)
    server_args = ["--stream-throughput", "unlimited"]
    if args.database_url:
        server_args += ["--database-url", args.database_url]
    n = args.requests + args.requests // 10

    with echo_and_gureum(*server_args) as (echo_port, port):
        print(f"store: {'PostgreSQL' if args.database_url else 'SQLite'}")
        create = signed(port, "CreateStream", {"StreamName": STREAM, "ShardCount": args.shards})
        measure(port, [create])
        lists = [signed(port, "ListStreams", {"Limit": 1})] * n
        puts = [
            signed(
                port,
                "PutRecord",
                {"StreamName": STREAM, "Data": data(i), "PartitionKey": f"key-{i}"},
            )
            for i in range(n)
        ]
        print("sequential, one keep-alive client:")
        echo_p50 = report("floor: bare ASGI echo", measure(echo_port, lists))
        edge_p50 = report("floor: ListStreams on the edge", measure(port, lists))
        p50 = report("PutRecord (100 bytes)", measure(port, puts))
        print(f"    {p50 / echo_p50:.2f}x the echo, {p50 / edge_p50:.2f}x ListStreams")

        if shutil.which("wrk") is None:
            print("PutRecords throughput: skipped (needs wrk: apt-get install wrk)")
            return
        batches = [
            signed(
                port,
                "PutRecords",
                {
                    "StreamName": STREAM,
                    "Records": [
                        {"Data": data(b * args.batch + i), "PartitionKey": f"key-{b}-{i}"}
                        for i in range(args.batch)
                    ],
                },
            )
            for b in range(64)
        ]
        print(f"PutRecords of {args.batch} records, {args.clients} clients:")
        floor = wrk(echo_port, lists[:1], args.clients, args.seconds)
        print(f"  floor: bare ASGI echo                {floor:9.0f} requests/s")
        rate = wrk(port, batches, args.clients, args.seconds)
        print(
            f"  PutRecords                           {rate:9.0f} requests/s = "
            f"{rate * args.batch:9.0f} records/s   ({rate / floor:.0%} of the echo's requests)"
        )


if __name__ == "__main__":
    main()
