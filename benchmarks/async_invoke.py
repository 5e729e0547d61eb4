"""Asynchronous invoke: accepted events per second and accept-to-handler latency, beside
the floor of the same run.

Run: ``python benchmarks/async_invoke.py [--clients 64] [--seconds 10] [--latency 200]
[--postgres URL]`` (needs ``wrk``: ``apt-get install wrk``). With ``--postgres`` the
server's store is a new database created through that URL (and dropped after).

- Accepted events/s: ``InvocationType=Event`` invokes of a no-op handler from 64
  keep-alive clients (wrk); each answer is a 202 sent after the event's write committed.
  The poller runs meanwhile, as it would. Beside it: a bare ASGI echo server measured
  by the same wrk. Budget (README): >= 5,000 accepted events/s.
- Then the time the poller takes to run every accepted event (drain rate).
- Latency when idle: one event at a time; the handler computes the time from the
  client's send to its own start. Budget: p50 <= 20 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).parent))
from concurrency import wrk  # noqa: E402
from invoke_latency import create_function, echo_and_gureum, percentile, sign  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
LAG = (
    "import time\n"
    "def handler(event, context):\n"
    "    print('LAG %.3f' % ((time.time() - event['sent']) * 1000))\n"
)


def client(service: str, port: int) -> Any:
    make: Any = boto3.client
    return make(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def logged_lags(logs: Any, group: str, wanted: int, timeout: float = 60) -> list[float]:
    """The ``LAG <ms>`` lines a handler printed in ``group``, in the log's order, once
    ``wanted`` are there (or the timeout passed)."""
    lags: list[float] = []
    deadline = time.monotonic() + timeout
    while len(lags) < wanted and time.monotonic() < deadline:
        time.sleep(0.5)
        lags = []
        kwargs: dict[str, Any] = {"logGroupName": group, "filterPattern": "LAG"}
        while True:
            page = logs.filter_log_events(**kwargs)
            lags += [float(re.findall(r"LAG ([\d.]+)", e["message"])[0]) for e in page["events"]]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return lags


def started_runs(logs: Any, name: str) -> int:
    """How many invocations of ``name`` have started (its START lines)."""
    count = 0
    kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{name}", "filterPattern": "START"}
    while True:
        page = logs.filter_log_events(**kwargs)
        count += len(page["events"])
        if not page.get("nextToken"):
            return count
        kwargs["nextToken"] = page["nextToken"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--latency", type=int, default=200, help="events for the latency run")
    parser.add_argument("--postgres", default=None, help="run on a new database made here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("this benchmark needs wrk: apt-get install wrk")
    with contextlib.ExitStack() as stack:
        extra = []
        if args.postgres:
            extra = ["--database-url", stack.enter_context(fresh_database(args.postgres))]
        echo_port, port = stack.enter_context(echo_and_gureum(*extra))
        print(f"store: {'PostgreSQL' if args.postgres else 'SQLite (embedded)'}")
        run(args, echo_port, port)


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database's URL (dropped after)."""
    import sqlalchemy as sa

    name = f"gureum_bench_{os.getpid()}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def run(args: argparse.Namespace, echo_port: int, port: int) -> None:
    """The latency run, then the accept run and the drain after it."""
    lam, logs = client("lambda", port), client("logs", port)

    print("latency when idle, accept -> handler start (one event at a time):")
    create_function(port, "lag", LAG)
    lam.invoke(FunctionName="lag", Payload=json.dumps({"sent": time.time()}))  # warm
    for _ in range(args.latency):
        lam.invoke(
            FunctionName="lag",
            InvocationType="Event",
            Payload=json.dumps({"sent": time.time()}),
        )
        time.sleep(0.02)
    lags = logged_lags(logs, "/aws/lambda/lag", args.latency + 1)[1:]  # (the warm-up's)
    print(
        f"  p50 {statistics.median(lags):7.2f} ms   p99 {percentile(lags, 0.99):7.2f} ms   "
        f"(n={len(lags)}; budget p50 <= 20 ms)"
    )

    print(f"accepted events/s, no-op handler, {args.clients} keep-alive clients:")
    floor = wrk(echo_port, "/", {}, args.clients, args.seconds)
    print(f"  floor: bare ASGI echo              {floor:9.0f} requests/s")
    create_function(port, "noop", NOOP)
    lam.invoke(FunctionName="noop")  # a warm sandbox before the run
    path = "/2015-03-31/functions/noop/invocations"
    headers = {**sign(port, "POST", path, b"{}"), "X-Amz-Invocation-Type": "Event"}
    started = time.monotonic()
    rate = wrk(port, path, headers, args.clients, args.seconds)
    accepted = int(rate * args.seconds)
    print(
        f"  gureum accepted events             {rate:9.0f} events/s   "
        f"({rate / floor:.0%} of the floor; budget >= 5,000/s)"
    )
    runs, last_change, elapsed = 0, time.monotonic(), 0.0
    while time.monotonic() - last_change < 5:  # until nothing new for 5 s
        count = started_runs(logs, "noop") - 1
        if count != runs:
            runs, last_change = count, time.monotonic()
            elapsed = last_change - started
        if runs >= accepted:
            break
        time.sleep(0.5)
    print(
        f"  all {runs} run {elapsed:.1f} s after the run began "
        f"({runs / elapsed:.0f} events/s through the poller)"
    )


if __name__ == "__main__":
    main()
