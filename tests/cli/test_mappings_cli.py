"""``gureum mappings list|describe`` against a real server: a mapping's State, the node
polling it (its lease's owner) and the lease's expiry."""

from __future__ import annotations

import json
import time

import pytest

from tests.cli.conftest import run
from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files


def test_mappings_list_and_describe(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    sqs, lam = client("sqs", gureum_server.endpoint), client("lambda", gureum_server.endpoint)
    name = unique_name("climap")
    sqs.create_queue(QueueName=name)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": "def handler(event, context):\n    return None\n"})},
    )
    uuid = lam.create_event_source_mapping(
        EventSourceArn=f"arn:aws:sqs:us-east-1:000000000000:{name}", FunctionName=name
    )["UUID"]
    # (the session's server would poll it for the rest of the session)
    request.addfinalizer(lambda: lam.delete_event_source_mapping(UUID=uuid))
    node = gureum_server.platform.node_id
    deadline = time.monotonic() + 30
    while True:
        code, out, _ = run(capsys, "mappings", "describe", uuid, "--json", *endpoint)
        described = json.loads(out)
        leases = described["Leases"]
        if (leases and leases[0]["Owner"]) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert code == 0 and described["State"] == "Enabled"
    assert [lease["Owner"] for lease in leases] == [node]
    assert 0 < leases[0]["ExpiresInSeconds"] <= 4
    code, out, _ = run(capsys, "mappings", "list", "--function", name, *endpoint)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "UUID",
        "STATE",
        "SOURCE",
        "FUNCTION",
        "BATCH",
        "POLLED",
        "BY",
    ]
    assert lines[1].split() == [uuid, "Enabled", name, name, "10", node[:8]]
    code, out, _ = run(capsys, "mappings", "describe", uuid, *endpoint)
    assert code == 0 and "OWNER" in out and node in out and "Enabled" in out
    code, _, err = run(capsys, "mappings", "describe", "no-such-uuid", *endpoint)
    assert code == 1 and "ResourceNotFoundException" in err


def test_describe_shows_a_shards_iterator_age_and_duplicates(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    kinesis = client("kinesis", gureum_server.endpoint)
    lam = client("lambda", gureum_server.endpoint)
    name = unique_name("clistream")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": "def handler(event, context):\n    return None\n"})},
    )
    uuid = lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        ParallelizationFactor=2,
    )["UUID"]
    request.addfinalizer(lambda: lam.delete_event_source_mapping(UUID=uuid))
    for n in range(10):
        kinesis.put_record(StreamName=name, Data=b"x", PartitionKey=f"key {n}")
    deadline = time.monotonic() + 30
    while True:
        code, out, _ = run(capsys, "mappings", "describe", uuid, "--json", *endpoint)
        leases = json.loads(out)["Leases"]
        ages = [lease["IteratorAgeMilliseconds"] for lease in leases]
        if (len(ages) == 2 and None not in ages) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(lease["Shard"].rsplit("/", 1)[-1] for lease in leases) == ["1-of-2", "2-of-2"]
    assert None not in ages and all(lease["Duplicates"] == 0 for lease in leases)
    code, out, _ = run(capsys, "mappings", "describe", uuid, *endpoint)
    header = next(line for line in out.splitlines() if line.startswith("LEASE"))
    assert code == 0 and "ITERATOR AGE" in header and "DUPLICATES" in header
    assert "ParallelizationFactor:" in out and " ms " in out
