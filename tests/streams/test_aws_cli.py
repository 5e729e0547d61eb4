"""The AWS CLI on the streams, as a user types it: create a stream, put records, read
them back, and its error for a stream that is not there."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import RunningServer, unique_name

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="needs the AWS CLI")


def aws(server: RunningServer, *args: str, check: bool = True) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    done = subprocess.run(
        ["aws", "--endpoint-url", server.endpoint, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if check:
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None
    return done


def test_the_aws_cli_works_unchanged(streams_server: RunningServer) -> None:
    name = unique_name("cli")
    aws(streams_server, "kinesis", "create-stream", "--stream-name", name, "--shard-count", "2")
    aws(streams_server, "kinesis", "wait", "stream-exists", "--stream-name", name)
    summary = aws(streams_server, "kinesis", "describe-stream-summary", "--stream-name", name)
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 2
    # (the CLI v1 takes --data as text, and base64-encodes it for the wire)
    put = aws(
        streams_server,
        "kinesis", "put-record", "--stream-name", name,
        "--partition-key", "user-1", "--data", "hello", "--explicit-hash-key", "0",
    )  # fmt: skip
    assert put["ShardId"] == "shardId-000000000000"
    batch = aws(
        streams_server,
        "kinesis", "put-records", "--stream-name", name,
        "--records", json.dumps([{"Data": "b25l", "PartitionKey": "k1"}]),
    )  # fmt: skip
    assert batch["FailedRecordCount"] == 0
    shards = aws(streams_server, "kinesis", "list-shards", "--stream-name", name)["Shards"]
    assert [s["ShardId"] for s in shards] == ["shardId-000000000000", "shardId-000000000001"]
    iterator = aws(
        streams_server,
        "kinesis", "get-shard-iterator", "--stream-name", name,
        "--shard-id", "shardId-000000000000", "--shard-iterator-type", "AT_SEQUENCE_NUMBER",
        "--starting-sequence-number", put["SequenceNumber"],
    )["ShardIterator"]  # fmt: skip
    records = aws(streams_server, "kinesis", "get-records", "--shard-iterator", iterator)
    first = records["Records"][0]
    assert first["SequenceNumber"] == put["SequenceNumber"]
    assert base64.b64decode(first["Data"]) == b"hello"
    listed = aws(streams_server, "kinesis", "list-streams")["StreamNames"]
    assert name in listed
    missing = aws(
        streams_server, "kinesis", "describe-stream", "--stream-name", "absent", check=False
    )
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
    aws(streams_server, "kinesis", "delete-stream", "--stream-name", name)
    aws(streams_server, "kinesis", "wait", "stream-not-exists", "--stream-name", name)
