"""Event source mappings of queues: a queue drained through a function, and a message's
time from send to handler, beside floors measured in the same run.

Run: ``python benchmarks/mappings.py [--messages 20000] [--latency 200]`` (the echo
floor needs ``wrk``: ``apt-get install wrk``).

- Drain: ``--messages`` messages sent first (SendMessageBatch), then a mapping with
  batches of 10 to a no-op Python function; messages per second until the queue is
  empty. Budget: >= 5,000 messages/s on SQLite. Floors: the same queue drained by a
  plain client (ReceiveMessage 10 + DeleteMessageBatch, 8 threads: the queue's own
  rate), and the echo server's requests/s under wrk.
- Latency when idle: one message at a time; the handler computes the time from the
  client's send (in the body) to its own start. Budget: p50 <= 20 ms.
- The same for a Kinesis stream's record (budget p50 <= 20 ms when idle, a stream of
  one shard), and under 2,000 records/s put in batches of 100 into a stream of four
  shards (a Kinesis shard takes 1,000 records a second): how far behind the handler
  runs (its iterator age), p50, p99 and the most.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from async_invoke import client, logged_lags  # noqa: E402
from concurrency import wrk  # noqa: E402
from invoke_latency import create_function, echo_and_gureum, percentile  # noqa: E402

NOOP = "def handler(event, context):\n    return None\n"
LAG = (
    "import base64, json, time\n"
    "def handler(event, context):\n"
    "    for record in event['Records']:\n"
    "        if 'kinesis' in record:\n"
    "            sent = json.loads(base64.b64decode(record['kinesis']['data']))['sent']\n"
    "        else:\n"
    "            sent = json.loads(record['body'])['sent']\n"
    "        print('LAG %.3f' % ((time.time() - sent) * 1000))\n"
)


def fill(sqs: Any, url: str, count: int, threads: int = 8) -> None:
    def send(share: int) -> None:
        for start in range(0, share, 10):
            entries = [
                {"Id": str(n), "MessageBody": f"message {start + n}"}
                for n in range(min(10, share - start))
            ]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)

    workers = [threading.Thread(target=send, args=(count // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def client_drain(sqs: Any, url: str, threads: int = 8) -> float:
    """Messages/s a plain client drains the queue at (receive 10, delete the batch)."""
    total = depth(sqs, url)
    started = time.perf_counter()

    def work() -> None:
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)
                ],
            )

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--latency", type=int, default=200)
    args = parser.parse_args()
    with echo_and_gureum() as (echo_port, port):
        lam, sqs, logs = client("lambda", port), client("sqs", port), client("logs", port)
        if shutil.which("wrk") is not None:
            floor = wrk(echo_port, "/", {}, 64, 5)
            print(f"floor: bare ASGI echo under wrk (64 clients)   {floor:9.0f} requests/s")
        url = sqs.create_queue(QueueName="floor")["QueueUrl"]
        fill(sqs, url, args.messages)
        drained = client_drain(sqs, url)
        print(f"floor: a plain client drains the queue        {drained:9.0f} messages/s")

        create_function(port, "noop", NOOP, memory=1769)
        url = sqs.create_queue(QueueName="drain")["QueueUrl"]
        fill(sqs, url, args.messages)
        arn = "arn:aws:sqs:us-east-1:000000000000:drain"
        started = time.perf_counter()
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="noop", BatchSize=10)
        while depth(sqs, url):
            time.sleep(0.05)
        took = time.perf_counter() - started
        print(
            f"drain: {args.messages} messages, batches of 10      "
            f"{args.messages / took:9.0f} messages/s   (budget >= 5,000)"
        )

        create_function(port, "lag", LAG)
        url = sqs.create_queue(QueueName="lag")["QueueUrl"]
        lam.create_event_source_mapping(
            EventSourceArn="arn:aws:sqs:us-east-1:000000000000:lag", FunctionName="lag"
        )
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"sent": time.time()}))  # warm
        time.sleep(3)
        for _ in range(args.latency):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"sent": time.time()}))
            time.sleep(0.05)
        lags = logged_lags(logs, "/aws/lambda/lag", args.latency + 1)[1:]  # (the warm-up's)
        print(
            f"latency when idle, send -> handler: p50 {statistics.median(lags):.1f} ms, "
            f"p99 {percentile(lags, 0.99):.1f} ms (n={len(lags)})   (budget: p50 <= 20 ms)"
        )
        streams(args, port, lam, logs)


def streams(args: argparse.Namespace, port: int, lam: Any, logs: Any) -> None:
    """A Kinesis stream's record from put to handler: idle, on a stream of one shard, and
    under 2,000 records/s, on a stream of four (a Kinesis shard takes 1,000 records a
    second)."""
    kinesis = client("kinesis", port)

    def mapped(stream: str, shards: int, function: str) -> None:
        kinesis.create_stream(StreamName=stream, ShardCount=shards)
        arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        create_function(port, function, LAG)
        lam.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=function, StartingPosition="LATEST"
        )

    mapped("idle", 1, "stream-lag")
    mapped("lagging", 4, "stream-load")
    time.sleep(3)  # (the shards leased, their pollers at the streams' ends)
    for _ in range(args.latency + 1):
        data = json.dumps({"sent": time.time()}).encode()
        kinesis.put_record(StreamName="idle", Data=data, PartitionKey="p")
        time.sleep(0.05)
    lags = logged_lags(logs, "/aws/lambda/stream-lag", args.latency + 1)[1:]
    print(
        f"stream record when idle, put -> handler: p50 {statistics.median(lags):.1f} ms, "
        f"p99 {percentile(lags, 0.99):.1f} ms (n={len(lags)})   (budget: p50 <= 20 ms)"
    )
    seconds, rate = 5, 2000
    started = time.monotonic()
    for tick in range(seconds * rate // 100):
        due = started + tick * 100 / rate
        time.sleep(max(0.0, due - time.monotonic()))
        entries = [
            {"Data": json.dumps({"sent": time.time()}).encode(), "PartitionKey": str(n)}
            for n in range(100)
        ]
        answer = kinesis.put_records(StreamName="lagging", Records=entries)
        assert answer["FailedRecordCount"] == 0, answer["Records"]
    sent_rate = seconds * rate / (time.monotonic() - started)
    lags = logged_lags(logs, "/aws/lambda/stream-load", seconds * rate, timeout=120)
    print(
        f"iterator age under {sent_rate:.0f} records/s (batches of 100, 4 shards): put -> "
        f"handler p50 {statistics.median(lags):.1f} ms, p99 {percentile(lags, 0.99):.1f} ms, "
        f"max {max(lags):.1f} ms (n={len(lags)})"
    )


if __name__ == "__main__":
    main()
