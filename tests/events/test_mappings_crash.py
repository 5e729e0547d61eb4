"""Event source mappings survive what kills their pollers: a whole server process
killed with SIGKILL mid-batch (on SQLite: after a restart nothing is lost), and on
PostgreSQL a node holding a mapping's lease killed while another runs (the lease moves
within two heartbeat intervals and the other node polls on)."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

from gureum.events.leasing import LEASE_SECONDS
from tests.conftest import (
    ROLE,
    RunningServer,
    client,
    free_port,
    make_settings,
    server_process,
    store_settings,
    unique_name,
    zip_files,
)

SLOW_RELAY = """
import os
import time

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    time.sleep(float(os.environ.get("PAUSE", "0")))
    for record in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=record["body"])
"""


def setup(endpoint: str, pause: float) -> tuple[str, str]:
    """A queue mapped to a relay function that copies each body to an out queue: the
    two queues' URLs."""
    sqs, lam = client("sqs", endpoint), client("lambda", endpoint)
    out = sqs.create_queue(QueueName=unique_name("out"))["QueueUrl"]
    name = unique_name("in")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    function = unique_name("relay")
    lam.create_function(
        FunctionName=function,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Timeout=5,
        Code={"ZipFile": zip_files({"app.py": SLOW_RELAY})},
        Environment={"Variables": {"OUT": out, "PAUSE": str(pause)}},
    )
    lam.create_event_source_mapping(
        EventSourceArn=f"arn:aws:sqs:us-east-1:000000000000:{name}",
        FunctionName=function,
        BatchSize=5,
    )
    return url, out


def bodies(endpoint: str, out: str, wanted: set[str], timeout: float = 90) -> set[str]:
    """The distinct bodies the relay copied, until ``wanted`` are all there."""
    sqs = client("sqs", endpoint)
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while not wanted <= seen and time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=out, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            seen.add(message["Body"])
            sqs.delete_message(QueueUrl=out, ReceiptHandle=message["ReceiptHandle"])
    return seen


def owners(endpoint: str, uuid: str) -> list[Any]:
    url = f"{endpoint}/_gureum/event-source-mappings/{uuid}/leases"
    with urllib.request.urlopen(url, timeout=30) as answer:
        return [lease["Owner"] for lease in json.loads(answer.read())["Leases"]]


def test_sigkill_mid_batch_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    process = server_process(port, data_dir)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        url, out = setup(endpoint, pause=2.0)
        sqs = client("sqs", endpoint)
        sent = {f"message {n}" for n in range(15)}
        for body in sorted(sent):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        time.sleep(3.0)  # (batches are running: the function sleeps in them)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    process = server_process(port, data_dir)
    try:
        assert bodies(endpoint, out, sent) >= sent
    finally:
        process.terminate()
        process.wait()


def test_a_killed_nodes_lease_moves_to_another(tmp_path: Path) -> None:
    with store_settings("postgres") as overrides:
        port = free_port()
        data_dir = tmp_path / "shared"
        first = server_process(port, data_dir, "--database-url", overrides["database_url"])
        first_endpoint = f"http://127.0.0.1:{port}"
        try:
            url, out = setup(first_endpoint, pause=0)
            lam = client("lambda", first_endpoint)
            uuid = lam.list_event_source_mappings()["EventSourceMappings"][0]["UUID"]
            deadline = time.monotonic() + 30
            while not any(owners(first_endpoint, uuid)) and time.monotonic() < deadline:
                time.sleep(0.2)
            (held_by,) = owners(first_endpoint, uuid)
            # (the second node after the function: a node reads the functions at start)
            second = RunningServer(
                make_settings(tmp_path / "second", data_dir=data_dir, **overrides)
            )
            second.start()
        except BaseException:
            first.kill()
            raise
        try:
            assert second.platform.node_id != held_by
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed = time.monotonic()
            while owners(second.endpoint, uuid) != [second.platform.node_id]:
                # (two heartbeat intervals, and the next tick of the other node)
                assert time.monotonic() - killed < LEASE_SECONDS + 2, "the lease stayed"
                time.sleep(0.1)
            sqs = client("sqs", second.endpoint)
            sent = {f"after {n}" for n in range(12)}
            for body in sorted(sent):
                sqs.send_message(QueueUrl=url, MessageBody=body)
            assert bodies(second.endpoint, out, sent) >= sent
        finally:
            second.stop()


STREAM_RELAY = """
import base64
import os
import time

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    time.sleep(0.5)  # (so that a batch is in flight when the node is killed)
    for record in event["Records"]:
        body = base64.b64decode(record["kinesis"]["data"]).decode()
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=body)
"""


def test_a_killed_nodes_shard_resumes_in_order_on_another(tmp_path: Path) -> None:
    """A shard's lease passes on with its checkpoint: every record arrives, and in each
    shard's order once the duplicates after the last checkpoint are set aside."""
    with store_settings("postgres") as overrides:
        port = free_port()
        data_dir = tmp_path / "shared"
        first = server_process(port, data_dir, "--database-url", overrides["database_url"])
        first_endpoint = f"http://127.0.0.1:{port}"
        try:
            sqs, lam = client("sqs", first_endpoint), client("lambda", first_endpoint)
            kinesis = client("kinesis", first_endpoint)
            out = sqs.create_queue(QueueName=unique_name("out"))["QueueUrl"]
            kinesis.create_stream(StreamName="orders", ShardCount=1)
            arn = kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"][
                "StreamARN"
            ]
            function = unique_name("srelay")
            lam.create_function(
                FunctionName=function,
                Runtime="python3.11",
                Role=ROLE,
                Handler="app.handler",
                Code={"ZipFile": zip_files({"app.py": STREAM_RELAY})},
                Environment={"Variables": {"OUT": out}},
            )
            uuid = lam.create_event_source_mapping(
                EventSourceArn=arn,
                FunctionName=function,
                StartingPosition="TRIM_HORIZON",
                BatchSize=5,
            )["UUID"]
            deadline = time.monotonic() + 30  # (the first node takes the shard's lease)
            while not any(owners(first_endpoint, uuid)) and time.monotonic() < deadline:
                time.sleep(0.1)
            second = RunningServer(
                make_settings(tmp_path / "second", data_dir=data_dir, **overrides)
            )
            second.start()
        except BaseException:
            first.kill()
            raise
        try:
            assert owners(second.endpoint, uuid) not in ([None], [second.platform.node_id])
            for n in range(40):
                kinesis.put_record(StreamName="orders", Data=f"{n}".encode(), PartitionKey="k")
            time.sleep(1.0)  # (some batches done, one likely in flight)
            first.send_signal(signal.SIGKILL)
            first.wait()
            seen: list[int] = []
            sqs = client("sqs", second.endpoint)
            deadline = time.monotonic() + 90
            while len(set(seen)) < 40 and time.monotonic() < deadline:
                for message in sqs.receive_message(
                    QueueUrl=out, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", []):
                    seen.append(int(message["Body"]))
                    sqs.delete_message(QueueUrl=out, ReceiptHandle=message["ReceiptHandle"])
            assert set(seen) == set(range(40))  # nothing lost
            firsts = [n for i, n in enumerate(seen) if n not in seen[:i]]
            assert firsts == sorted(firsts)  # nothing reordered
            assert owners(second.endpoint, uuid) == [second.platform.node_id]
            # the duplicates are counted: every record handed to the function again
            # after the takeover (some may not have reached the out queue the first time,
            # when the node died mid-batch, so it counts at least those seen twice)
            url = f"{second.endpoint}/_gureum/event-source-mappings/{uuid}/leases"
            with urllib.request.urlopen(url, timeout=30) as answer:
                (lease,) = json.loads(answer.read())["Leases"]
            assert lease["Duplicates"] >= len(seen) - len(set(seen))
            assert lease["Duplicates"] > 0  # (a batch was in flight: it came again)
            assert lease["Delivered"] == int(lease["Checkpoint"])  # (all done)
        finally:
            second.stop()
