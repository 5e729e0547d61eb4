"""Kinesis's API through boto3's ``kinesis`` client, on both engines: streams and their
pages, tags and retention, records in sequence, the iterator types, resharding's order,
retention's trimming, and the typed error of every bad input."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gureum.streams import hash_keys, sequence_numbers
from gureum.streams.stream_store import StreamStore
from gureum.tables import shard_iterators
from gureum.tables.shard_iterators import ShardIterator
from tests.conftest import RunningServer, unique_name

ACCOUNT = "000000000000"


def arn_of(name: str) -> str:
    return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    details = caught.value.response["Error"]
    return details["Code"], details["Message"]


def shard_ids(kinesis: Any, name: str, **extra: Any) -> list[str]:
    return [s["ShardId"] for s in kinesis.list_shards(StreamName=name, **extra)["Shards"]]


def iterator(kinesis: Any, name: str, shard: str, kind: str = "TRIM_HORIZON", **extra: Any) -> str:
    return str(
        kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType=kind, **extra)[
            "ShardIterator"
        ]
    )


def read_all(kinesis: Any, text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every record from an iterator until a read finds none (or the shard ends); the
    last answer."""
    records: list[dict[str, Any]] = []
    while True:
        got = kinesis.get_records(ShardIterator=text)
        records += got["Records"]
        if not got["Records"] or "NextShardIterator" not in got:
            return records, got
        text = got["NextShardIterator"]


def test_create_describe_list_delete(kinesis: Any, new_stream: Callable[..., str]) -> None:
    name = new_stream(3)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
    described = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert described["StreamStatus"] == "ACTIVE"
    assert described["StreamARN"] == arn_of(name)
    assert described["RetentionPeriodHours"] == 24
    assert described["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert described["HasMoreShards"] is False
    shards = described["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
    assert shards[0]["HashKeyRange"]["StartingHashKey"] == "0"
    assert shards[2]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)
    for shard in shards:
        start = shard["SequenceNumberRange"]["StartingSequenceNumber"]
        assert len(start) == 56 and "EndingSequenceNumber" not in shard["SequenceNumberRange"]
    summary = kinesis.describe_stream_summary(StreamARN=arn_of(name))["StreamDescriptionSummary"]
    assert (summary["OpenShardCount"], summary["StreamStatus"]) == (3, "ACTIVE")
    # Shards in pages.
    first = kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
    assert [s["ShardId"] for s in first["Shards"]] == shards_of(shards[:2])
    assert first["HasMoreShards"] is True
    rest = kinesis.describe_stream(
        StreamName=name, ExclusiveStartShardId=first["Shards"][-1]["ShardId"]
    )["StreamDescription"]
    assert shards_of(rest["Shards"]) == shards_of(shards[2:])
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
    assert name not in kinesis.list_streams()["StreamNames"]


def shards_of(shards: list[dict[str, Any]]) -> list[str]:
    return [s["ShardId"] for s in shards]


def test_on_demand_starts_with_four_shards(kinesis: Any) -> None:
    name = unique_name("ondemand")
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["OpenShardCount"] == 4
    kinesis.update_stream_mode(
        StreamARN=arn_of(name), StreamModeDetails={"StreamMode": "PROVISIONED"}
    )
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamModeDetails"
    ] == {"StreamMode": "PROVISIONED"}


def test_list_streams_in_pages(kinesis: Any) -> None:
    prefix = unique_name("page")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        kinesis.create_stream(StreamName=name, ShardCount=1)
    seen: list[str] = []
    answer = kinesis.list_streams(Limit=2, ExclusiveStartStreamName=f"{prefix}-")
    while True:
        mine = [s for s in answer["StreamSummaries"] if s["StreamName"].startswith(prefix)]
        seen += [s["StreamName"] for s in mine]
        for summary in mine:
            assert summary["StreamARN"] == arn_of(summary["StreamName"])
            assert summary["StreamStatus"] == "ACTIVE"
        if not answer["HasMoreStreams"]:
            break
        answer = kinesis.list_streams(NextToken=answer["NextToken"], Limit=2)
    assert seen == names
    paged = [
        n
        for page in kinesis.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 2})
        for n in page["StreamNames"]
    ]
    assert [n for n in paged if n.startswith(prefix)] == names


def test_tags(kinesis: Any, new_stream: Callable[..., str]) -> None:
    name = new_stream(1, Tags={"team": "a"})
    kinesis.add_tags_to_stream(StreamName=name, Tags={"env": "test", "team": "b"})
    tags = kinesis.list_tags_for_stream(StreamName=name)
    assert tags["Tags"] == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "b"}]
    assert tags["HasMoreTags"] is False
    page = kinesis.list_tags_for_stream(StreamARN=arn_of(name), Limit=1)
    assert page["Tags"] == [{"Key": "env", "Value": "test"}] and page["HasMoreTags"]
    after = kinesis.list_tags_for_stream(StreamName=name, ExclusiveStartTagKey="env")
    assert after["Tags"] == [{"Key": "team", "Value": "b"}]
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["team", "absent"])
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == [
        {"Key": "env", "Value": "test"}
    ]
    for batch in range(5):  # (49 more: 50 in all)
        count = 10 if batch < 4 else 9
        kinesis.add_tags_to_stream(
            StreamName=name, Tags={f"k{batch}-{i}": "v" for i in range(count)}
        )
    with pytest.raises(kinesis.exceptions.LimitExceededException):
        kinesis.add_tags_to_stream(StreamName=name, Tags={"one": "more"})


def test_resource_tags_and_limits(kinesis: Any, new_stream: Callable[..., str]) -> None:
    name = new_stream(2)
    kinesis.tag_resource(ResourceARN=arn_of(name), Tags={"a": "1", "b": "2"})
    kinesis.untag_resource(ResourceARN=arn_of(name), TagKeys=["b"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn_of(name))["Tags"] == [
        {"Key": "a", "Value": "1"}
    ]
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.list_tags_for_resource(ResourceARN=arn_of("absent"))
    limits = kinesis.describe_limits()
    assert limits["ShardLimit"] == 500 and limits["OpenShardCount"] >= 2


def test_retention(kinesis: Any, new_stream: Callable[..., str]) -> None:
    name = new_stream()
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert (
        kinesis.describe_stream(StreamName=name)["StreamDescription"]["RetentionPeriodHours"] == 48
    )
    kinesis.decrease_stream_retention_period(StreamARN=arn_of(name), RetentionPeriodHours=24)
    cases = [
        (kinesis.increase_stream_retention_period, 23, "is too short"),
        (kinesis.increase_stream_retention_period, 8761, "is too long"),
        (kinesis.decrease_stream_retention_period, 48, "Use IncreaseRetentionPeriod API."),
    ]
    for call, hours, message in cases:
        with pytest.raises(kinesis.exceptions.InvalidArgumentException) as caught:
            call(StreamName=name, RetentionPeriodHours=hours)
        assert message in error(caught)[1]
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8760)
    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as caught:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=100)
    assert "Use DecreaseRetentionPeriod API." in error(caught)[1]


def test_records_go_to_the_shard_their_hash_key_falls_in(
    kinesis: Any, new_stream: Callable[..., str]
) -> None:
    name = new_stream(4)
    ranges = {
        s["ShardId"]: (
            int(s["HashKeyRange"]["StartingHashKey"]),
            int(s["HashKeyRange"]["EndingHashKey"]),
        )
        for s in kinesis.list_shards(StreamName=name)["Shards"]
    }
    keys = [f"key-{i}" for i in range(40)]
    for key in keys:
        put = kinesis.put_record(StreamName=name, Data=key.encode(), PartitionKey=key)
        low, high = ranges[put["ShardId"]]
        assert low <= hash_keys.hash_key(key) <= high
        assert len(put["SequenceNumber"]) == 56
    explicit = kinesis.put_record(
        StreamARN=arn_of(name), Data=b"x", PartitionKey="any", ExplicitHashKey=str(2**128 - 1)
    )
    assert explicit["ShardId"] == "shardId-000000000003"
    batch = kinesis.put_records(
        StreamName=name,
        Records=[
            {"Data": b"\x00\xff binary", "PartitionKey": "p", "ExplicitHashKey": "0"},
            *({"Data": f"r{i}".encode(), "PartitionKey": f"key-{i}"} for i in range(10)),
        ],
    )
    assert batch["FailedRecordCount"] == 0
    assert batch["Records"][0]["ShardId"] == "shardId-000000000000"
    assert all("ErrorCode" not in r for r in batch["Records"])
    got = kinesis.get_records(ShardIterator=iterator(kinesis, name, "shardId-000000000000"))
    assert [r["Data"] for r in got["Records"] if r["PartitionKey"] == "p"] == [b"\x00\xff binary"]
    total = sum(len(read_all(kinesis, iterator(kinesis, name, shard))[0]) for shard in ranges)
    assert total == 40 + 1 + 11


def test_sequence_numbers_increase_and_iterator_types(
    kinesis: Any, new_stream: Callable[..., str]
) -> None:
    name = new_stream()
    shard = "shardId-000000000000"
    latest = iterator(kinesis, name, shard, "LATEST")
    before = datetime.now(UTC)
    numbers = [
        kinesis.put_record(StreamName=name, Data=f"{i}".encode(), PartitionKey="k")[
            "SequenceNumber"
        ]
        for i in range(10)
    ]
    assert numbers == sorted(numbers, key=int) and len(set(numbers)) == 10
    records, last = read_all(kinesis, iterator(kinesis, name, shard))
    assert [r["SequenceNumber"] for r in records] == numbers
    assert [r["Data"] for r in records] == [f"{i}".encode() for i in range(10)]
    assert last["MillisBehindLatest"] == 0
    stamps = [r["ApproximateArrivalTimestamp"] for r in records]
    assert stamps == sorted(stamps)
    assert stamps[0] >= before - timedelta(seconds=1)
    # LATEST, taken before the writes, reads them all.
    assert [r["SequenceNumber"] for r in read_all(kinesis, latest)[0]] == numbers
    at = iterator(kinesis, name, shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=numbers[3])
    assert [r["SequenceNumber"] for r in read_all(kinesis, at)[0]] == numbers[3:]
    after = iterator(
        kinesis, name, shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=numbers[3]
    )
    assert [r["SequenceNumber"] for r in read_all(kinesis, after)[0]] == numbers[4:]
    stamp = records[5]["ApproximateArrivalTimestamp"]
    timed = iterator(kinesis, name, shard, "AT_TIMESTAMP", Timestamp=stamp)
    assert [r["SequenceNumber"] for r in read_all(kinesis, timed)[0]][-5:] == numbers[5:]
    future = iterator(kinesis, name, shard, "AT_TIMESTAMP", Timestamp=time.time() + 60)
    assert kinesis.get_records(ShardIterator=future)["Records"] == []
    # The shard's StartingSequenceNumber comes before its first record, AT or AFTER it.
    start = kinesis.list_shards(StreamName=name)["Shards"][0]["SequenceNumberRange"][
        "StartingSequenceNumber"
    ]
    assert int(start) < int(numbers[0])
    for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        text = iterator(kinesis, name, shard, kind, StartingSequenceNumber=start)
        assert read_all(kinesis, text)[0][0]["SequenceNumber"] == numbers[0]
    # A limit, and the next iterator goes on from there.
    page = kinesis.get_records(ShardIterator=iterator(kinesis, name, shard), Limit=4)
    assert len(page["Records"]) == 4 and page["MillisBehindLatest"] >= 0
    rest = read_all(kinesis, page["NextShardIterator"])[0]
    assert [r["SequenceNumber"] for r in rest] == numbers[4:]
    # LATEST now: nothing until the next write.
    latest = iterator(kinesis, name, shard, "LATEST")
    got = kinesis.get_records(ShardIterator=latest)
    assert got["Records"] == []
    kinesis.put_record(StreamName=name, Data=b"new", PartitionKey="k")
    got = kinesis.get_records(ShardIterator=got["NextShardIterator"])
    assert [r["Data"] for r in got["Records"]] == [b"new"]


def test_split_and_merge_keep_each_keys_order(kinesis: Any, new_stream: Callable[..., str]) -> None:
    name = new_stream(2)
    keys = [f"user-{i}" for i in range(30)]
    written: dict[str, list[bytes]] = {key: [] for key in keys}

    def write(round_: int) -> None:
        records = [{"Data": f"{key}:{round_}".encode(), "PartitionKey": key} for key in keys]
        kinesis.put_records(StreamName=name, Records=records)
        for key in keys:
            written[key].append(f"{key}:{round_}".encode())

    write(0)
    kinesis.split_shard(
        StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**126)
    )
    write(1)
    kinesis.merge_shards(
        StreamName=name,
        ShardToMerge="shardId-000000000002",
        AdjacentShardToMerge="shardId-000000000003",
    )
    write(2)
    kinesis.update_shard_count(StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    write(3)
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=name)["Shards"]}
    parent = shards["shardId-000000000000"]
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    assert shards["shardId-000000000002"]["ParentShardId"] == "shardId-000000000000"
    assert shards["shardId-000000000004"]["ParentShardId"] == "shardId-000000000002"
    assert shards["shardId-000000000004"]["AdjacentParentShardId"] == "shardId-000000000003"
    open_ids = shard_ids(kinesis, name, ShardFilter={"Type": "AT_LATEST"})
    assert len(open_ids) == 3
    assert sorted(
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in kinesis.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    ) == hash_keys.uniform_ranges(3)
    assert shard_ids(kinesis, name, ShardFilter={"Type": "AT_TRIM_HORIZON"}) == [
        "shardId-000000000000",
        "shardId-000000000001",
    ]
    # Read as a consumer does: a shard once its parents are done, following ChildShards.
    seen: dict[str, list[bytes]] = {key: [] for key in keys}
    done: set[str] = set()
    waiting = ["shardId-000000000000", "shardId-000000000001"]
    while waiting:
        shard = waiting.pop(0)
        if shard in done:
            continue
        info = shards[shard]
        parents = [info.get("ParentShardId"), info.get("AdjacentParentShardId")]
        if any(p is not None and p in shards and p not in done for p in parents):
            waiting.append(shard)
            continue
        records, last = read_all(kinesis, iterator(kinesis, name, shard))
        for record in records:
            seen[record["PartitionKey"]].append(record["Data"])
        done.add(shard)
        if shard in open_ids:
            assert "NextShardIterator" in last and "ChildShards" not in last
            continue
        assert last.get("NextShardIterator") is None
        children = [child["ShardId"] for child in last["ChildShards"]]
        assert children
        for child in last["ChildShards"]:
            assert shard in child["ParentShards"]
        waiting += children
    assert seen == written
    assert done == set(shards)


def test_a_parents_sequence_range_ends_and_children_number_higher(
    kinesis: Any, new_stream: Callable[..., str]
) -> None:
    name = new_stream()
    first = kinesis.put_record(StreamName=name, Data=b"a", PartitionKey="k")["SequenceNumber"]
    kinesis.split_shard(
        StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
    )
    parent = kinesis.list_shards(StreamName=name)["Shards"][0]["SequenceNumberRange"]
    assert parent["EndingSequenceNumber"] == first
    later = kinesis.put_record(
        StreamName=name, Data=b"b", PartitionKey="k", SequenceNumberForOrdering=first
    )
    assert int(later["SequenceNumber"]) > int(first)
    assert later["ShardId"] in ("shardId-000000000001", "shardId-000000000002")


def test_list_shards_pages_and_filters(kinesis: Any, new_stream: Callable[..., str]) -> None:
    name = new_stream(5)
    first = kinesis.list_shards(StreamName=name, MaxResults=2)
    assert shards_of(first["Shards"]) == ["shardId-000000000000", "shardId-000000000001"]
    second = kinesis.list_shards(NextToken=first["NextToken"], MaxResults=2)
    assert shards_of(second["Shards"]) == ["shardId-000000000002", "shardId-000000000003"]
    third = kinesis.list_shards(NextToken=second["NextToken"])
    assert shards_of(third["Shards"]) == ["shardId-000000000004"] and "NextToken" not in third
    assert shard_ids(kinesis, name, ExclusiveStartShardId="shardId-000000000003") == [
        "shardId-000000000004"
    ]
    assert shard_ids(
        kinesis, name, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000002"}
    ) == ["shardId-000000000003", "shardId-000000000004"]
    assert len(shard_ids(kinesis, name, ShardFilter={"Type": "FROM_TRIM_HORIZON"})) == 5
    now = datetime.now(UTC)
    assert (
        len(shard_ids(kinesis, name, ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": now})) == 5
    )
    kinesis.merge_shards(
        StreamName=name,
        ShardToMerge="shardId-000000000000",
        AdjacentShardToMerge="shardId-000000000001",
    )
    assert shard_ids(kinesis, name, ShardFilter={"Type": "AT_LATEST"}) == [
        "shardId-000000000002",
        "shardId-000000000003",
        "shardId-000000000004",
        "shardId-000000000005",
    ]
    assert "shardId-000000000000" in shard_ids(
        kinesis, name, ShardFilter={"Type": "FROM_TIMESTAMP", "Timestamp": now}
    )
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.list_shards(NextToken=first["NextToken"], StreamName=name)
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.list_shards(NextToken="not a token")


def test_an_iterator_expires_after_five_minutes(
    kinesis: Any, new_stream: Callable[..., str]
) -> None:
    name = new_stream()
    good = shard_iterators.decode(iterator(kinesis, name, "shardId-000000000000"), "kinesis")
    old = ShardIterator(good.stream_arn, good.shard_id, 1, int(time.time() * 1000) - 301_000)
    with pytest.raises(kinesis.exceptions.ExpiredIteratorException) as caught:
        kinesis.get_records(ShardIterator=shard_iterators.encode(old))
    assert "tolerated delay of 300000 milliseconds" in error(caught)[1]
    # Any node takes an iterator: it is its position, nothing kept on the server.
    fresh = ShardIterator(good.stream_arn, good.shard_id, 1, int(time.time() * 1000))
    assert kinesis.get_records(ShardIterator=shard_iterators.encode(fresh))["Records"] == []


def test_an_iterator_of_a_deleted_stream_does_not_read_its_successor(
    kinesis: Any, new_stream: Callable[..., str]
) -> None:
    name = new_stream()
    kinesis.put_record(StreamName=name, Data=b"old", PartitionKey="k")
    stale = iterator(kinesis, name, "shardId-000000000000")
    kinesis.delete_stream(StreamName=name)
    time.sleep(0.002)  # (a later creation time)
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.put_record(StreamName=name, Data=b"new", PartitionKey="k")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.get_records(ShardIterator=stale)
    fresh = iterator(kinesis, name, "shardId-000000000000")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=fresh)["Records"]] == [b"new"]


def test_records_past_retention_are_trimmed(
    kinesis: Any, new_stream: Callable[..., str], streams_server: RunningServer
) -> None:
    name = new_stream()
    shard = "shardId-000000000000"
    for i in range(3):
        kinesis.put_record(StreamName=name, Data=f"old{i}".encode(), PartitionKey="k")
    kinesis.split_shard(StreamName=name, ShardToSplit=shard, NewStartingHashKey=str(2**127))
    platform = streams_server.platform
    later = StreamStore(
        platform.store,
        region="us-east-1",
        account_id=ACCOUNT,
        clock=lambda: int(time.time() * 1000) + 25 * 3_600_000,
    )
    records, shards = streams_server.call(later.trim)
    assert records >= 3 and shards >= 1
    # The closed parent is gone; TRIM_HORIZON of a child starts after what was trimmed.
    assert shard not in shard_ids(kinesis, name)
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        iterator(kinesis, name, shard)
    child = "shardId-000000000001"
    kinesis.put_record(StreamName=name, Data=b"new", PartitionKey="x", ExplicitHashKey="0")
    assert [r["Data"] for r in read_all(kinesis, iterator(kinesis, name, child))[0]] == [b"new"]


def test_bad_input_answers_kinesis_typed_errors(
    kinesis: Any, unchecked: Any, new_stream: Callable[..., str]
) -> None:
    name = new_stream(2)
    shard = "shardId-000000000000"
    number = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k", ExplicitHashKey="0")[
        "SequenceNumber"
    ]
    other = new_stream()
    foreign = kinesis.put_record(StreamName=other, Data=b"x", PartitionKey="k")["SequenceNumber"]
    valid = "ValidationException"
    invalid = "InvalidArgumentException"
    missing = "ResourceNotFoundException"
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (
            "create_stream",
            {"StreamName": name, "ShardCount": 1},
            "ResourceInUseException",
            "already exists",
        ),
        (
            "create_stream",
            {"StreamName": "bad name!", "ShardCount": 1},
            valid,
            "regular expression pattern",
        ),
        (
            "create_stream",
            {"StreamName": "x" * 129, "ShardCount": 1},
            valid,
            "less than or equal to 128",
        ),
        (
            "create_stream",
            {"StreamName": unique_name("s"), "ShardCount": 0},
            valid,
            "greater than or equal to 1",
        ),
        ("create_stream", {"StreamName": unique_name("s")}, valid, "ShardCount is required"),
        (
            "create_stream",
            {"StreamName": unique_name("s"), "ShardCount": 501},
            "LimitExceededException",
            "shard limit",
        ),
        (
            "create_stream",
            {
                "StreamName": unique_name("s"),
                "ShardCount": 1,
                "StreamModeDetails": {"StreamMode": "X"},
            },
            valid,
            "enum value set",
        ),
        (
            "describe_stream",
            {"StreamName": "absent"},
            missing,
            "Stream absent under account 000000000000 not found.",
        ),
        ("describe_stream", {}, invalid, "Either StreamName or StreamARN"),
        ("describe_stream", {"StreamName": name, "Limit": 0}, valid, "greater than or equal to 1"),
        (
            "describe_stream",
            {"StreamARN": "arn:aws:sqs:us-east-1:000000000000:q"},
            valid,
            "regular expression",
        ),
        (
            "describe_stream",
            {"StreamARN": "arn:aws:kinesis:eu-west-1:000000000000:stream/x"},
            missing,
            "not found",
        ),
        (
            "describe_stream",
            {"StreamName": other, "StreamARN": arn_of(name)},
            invalid,
            "different streams",
        ),
        ("list_streams", {"Limit": 10001}, valid, "less than or equal to 10000"),
        ("delete_stream", {"StreamName": "absent"}, missing, "not found"),
        (
            "put_record",
            {"StreamName": "absent", "Data": "eA==", "PartitionKey": "k"},
            missing,
            "not found",
        ),
        (
            "put_record",
            {"StreamName": name, "Data": "eA==", "PartitionKey": ""},
            valid,
            "greater than or equal to 1",
        ),
        (
            "put_record",
            {"StreamName": name, "Data": "eA==", "PartitionKey": "k" * 257},
            valid,
            "less than or equal to 256",
        ),
        ("put_record", {"StreamName": name, "Data": "eA=="}, valid, "must not be null"),
        ("put_record", {"StreamName": name, "PartitionKey": "k"}, valid, "must not be null"),
        (
            "put_record",
            {"StreamName": name, "Data": b"x" * (1024 * 1024), "PartitionKey": "k"},
            valid,
            "less than or equal to 1048576",
        ),
        (
            "put_record",
            {
                "StreamName": name,
                "Data": "eA==",
                "PartitionKey": "k",
                "ExplicitHashKey": str(2**128),
            },
            invalid,
            "ExplicitHashKey must be in the range: [0, 2^128-1]",
        ),
        (
            "put_record",
            {"StreamName": name, "Data": "eA==", "PartitionKey": "k", "ExplicitHashKey": "-1"},
            valid,
            "regular expression",
        ),
        ("put_records", {"StreamName": name, "Records": []}, valid, "greater than or equal to 1"),
        (
            "put_records",
            {"StreamName": name, "Records": [{"Data": "eA==", "PartitionKey": "k"}] * 501},
            valid,
            "less than or equal to 500",
        ),
        (
            "put_records",
            {
                "StreamName": name,
                "Records": [{"Data": b"x" * 1_000_000, "PartitionKey": "k"}] * 6,
            },
            invalid,
            "Records size exceeds 5 MB limit",
        ),
        (
            "put_records",
            {
                "StreamName": name,
                "Records": [{"Data": "eA==", "PartitionKey": "k"}, {"Data": "eA=="}],
            },
            valid,
            "records.2.member.partitionKey",
        ),
        (
            "get_shard_iterator",
            {"StreamName": name, "ShardId": shard, "ShardIteratorType": "NEWEST"},
            valid,
            "enum value set",
        ),
        (
            "get_shard_iterator",
            {"StreamName": name, "ShardId": "shardId-000000000009", "ShardIteratorType": "LATEST"},
            missing,
            "does not exist",
        ),
        (
            "get_shard_iterator",
            {"StreamName": "absent", "ShardId": shard, "ShardIteratorType": "LATEST"},
            missing,
            "not found",
        ),
        (
            "get_shard_iterator",
            {"StreamName": name, "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER"},
            invalid,
            "StartingSequenceNumber must be provided",
        ),
        (
            "get_shard_iterator",
            {"StreamName": name, "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP"},
            invalid,
            "Timestamp must be provided",
        ),
        (
            "get_shard_iterator",
            {
                "StreamName": name,
                "ShardId": "shardId-000000000001",
                "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                "StartingSequenceNumber": number,
            },
            invalid,
            "did not come from this stream",
        ),
        (
            "get_shard_iterator",
            {
                "StreamName": name,
                "ShardId": shard,
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": foreign,
            },
            invalid,
            "did not come from this stream",
        ),
        (
            "get_shard_iterator",
            {
                "StreamName": name,
                "ShardId": shard,
                "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                "StartingSequenceNumber": "12ab",
            },
            valid,
            "regular expression",
        ),
        ("get_records", {"ShardIterator": "nonsense"}, invalid, "Invalid ShardIterator"),
        ("get_records", {"ShardIterator": "x" * 513}, valid, "less than or equal to 512"),
        (
            "get_records",
            {"ShardIterator": iterator(kinesis, name, shard), "Limit": 10001},
            valid,
            "less than or equal to 10000",
        ),
        (
            "split_shard",
            {"StreamName": name, "ShardToSplit": shard, "NewStartingHashKey": "0"},
            invalid,
            "NewStartingHashKey 0",
        ),
        (
            "split_shard",
            {"StreamName": name, "ShardToSplit": "shardId-000000000007", "NewStartingHashKey": "5"},
            missing,
            "does not exist",
        ),
        (
            "merge_shards",
            {"StreamName": name, "ShardToMerge": shard, "AdjacentShardToMerge": shard},
            invalid,
            "not an adjacent pair",
        ),
        (
            "update_shard_count",
            {"StreamName": name, "TargetShardCount": 5, "ScalingType": "UNIFORM_SCALING"},
            invalid,
            "between half and double",
        ),
        (
            "update_shard_count",
            {"StreamName": name, "TargetShardCount": 3, "ScalingType": "OTHER"},
            valid,
            "enum value set",
        ),
        (
            "add_tags_to_stream",
            {"StreamName": name, "Tags": {f"k{i}": "v" for i in range(11)}},
            invalid,
            "at most 10 tags",
        ),
        (
            "add_tags_to_stream",
            {"StreamName": name, "Tags": {"k": "v" * 257}},
            valid,
            "less than or equal to 256",
        ),
        (
            "remove_tags_from_stream",
            {"StreamName": name, "TagKeys": []},
            valid,
            "greater than or equal to 1",
        ),
        (
            "list_tags_for_stream",
            {"StreamName": name, "Limit": 51},
            valid,
            "less than or equal to 50",
        ),
        ("increase_stream_retention_period", {"StreamName": name}, valid, "must not be null"),
    ]
    for operation, params, code, message in cases:
        with pytest.raises(ClientError) as caught:
            getattr(unchecked, operation)(**params)
        got_code, got_message = error(caught)
        assert (got_code, message in got_message) == (code, True), (operation, params, got_message)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # The typed exceptions of boto3's model.
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.describe_stream(StreamName="absent")
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.get_records(ShardIterator="nonsense")
    # A split shard cannot be split or merged again.
    kinesis.split_shard(StreamName=name, ShardToSplit=shard, NewStartingHashKey="10")
    with pytest.raises(kinesis.exceptions.InvalidArgumentException) as caught:
        kinesis.split_shard(StreamName=name, ShardToSplit=shard, NewStartingHashKey="5")
    assert "has already been merged or split" in error(caught)[1]
    # What gureum does not build answers 501.
    with pytest.raises(ClientError) as caught:
        kinesis.register_stream_consumer(StreamARN=arn_of(name), ConsumerName="c")
    assert error(caught)[0] == "NotImplementedException"


def test_a_closed_shard_read_to_its_end_has_no_next_iterator(
    kinesis: Any, new_stream: Callable[..., str]
) -> None:
    name = new_stream()
    shard = "shardId-000000000000"
    for i in range(5):
        kinesis.put_record(StreamName=name, Data=f"{i}".encode(), PartitionKey=f"{i}")
    kinesis.split_shard(StreamName=name, ShardToSplit=shard, NewStartingHashKey=str(2**127))
    page = kinesis.get_records(ShardIterator=iterator(kinesis, name, shard), Limit=3)
    assert len(page["Records"]) == 3 and "NextShardIterator" in page
    assert "ChildShards" not in page
    end = kinesis.get_records(ShardIterator=page["NextShardIterator"])
    assert len(end["Records"]) == 2 and end.get("NextShardIterator") is None
    assert [c["ShardId"] for c in end["ChildShards"]] == [
        "shardId-000000000001",
        "shardId-000000000002",
    ]
    assert end["ChildShards"][1]["HashKeyRange"]["StartingHashKey"] == str(2**127)
    ending = kinesis.list_shards(StreamName=name)["Shards"][0]["SequenceNumberRange"][
        "EndingSequenceNumber"
    ]
    after_end = iterator(
        kinesis, name, shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=ending
    )
    final = kinesis.get_records(ShardIterator=after_end)
    assert final["Records"] == [] and final.get("NextShardIterator") is None
    assert sequence_numbers.parse(ending) is not None
