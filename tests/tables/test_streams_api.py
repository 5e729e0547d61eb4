"""DynamoDB Streams through boto3's ``dynamodbstreams`` client, on both engines: the
records each write leaves (once, in order, none for a write that changes nothing), the
iterator types, streams replaced and outliving their table, and time to live's sweeper."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from gureum.store.tables import ddb_items, ddb_stream_records, ddb_tables
from gureum.tables import shard_iterators
from gureum.tables.expiry import TableExpiry
from gureum.tables.shard_iterators import ShardIterator
from gureum.tables.table_store import sequence_number
from tests.conftest import RunningServer, client, make_settings, signed_request, store_settings
from tests.tables.conftest import serve_tables

KEY = [{"AttributeName": "pk", "KeyType": "HASH"}]
DEFINITIONS = [{"AttributeName": "pk", "AttributeType": "S"}]
#: TTL's deletions, as DynamoDB Streams' model spells userIdentity.
SERVICE = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def tables_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """The tables' server, sweeping for expired items five times a second."""
    yield from serve_tables(request, tmp_path_factory, table_expiry_interval=0.2)


@pytest.fixture
def streams(tables_server: RunningServer) -> Any:
    return client("dynamodbstreams", tables_server.endpoint)


@pytest.fixture
def unchecked(tables_server: RunningServer) -> Any:
    """A client that sends what it is given (the server's own checks answer)."""
    return client("dynamodbstreams", tables_server.endpoint, parameter_validation=False)


@pytest.fixture
def stream_table(new_table: Callable[..., str], dynamodb: Any) -> Callable[..., tuple[str, str]]:
    """A table with a stream of the view type given: (table name, stream ARN)."""

    def create(view: str = "NEW_AND_OLD_IMAGES") -> tuple[str, str]:
        name = new_table(StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
        return name, dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]

    return create


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    details = caught.value.response["Error"]
    return details["Code"], details["Message"]


def shard_of(streams: Any, arn: str) -> str:
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    assert len(shards) == 1
    return str(shards[0]["ShardId"])


def iterator(streams: Any, arn: str, kind: str = "TRIM_HORIZON", **extra: Any) -> str:
    return str(
        streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard_of(streams, arn), ShardIteratorType=kind, **extra
        )["ShardIterator"]
    )


def read(streams: Any, shard_iterator: str | None, **extra: Any) -> list[dict[str, Any]]:
    """Every record from the iterator on, until a page comes back empty or the shard
    ends."""
    records: list[dict[str, Any]] = []
    while shard_iterator:
        page = streams.get_records(ShardIterator=shard_iterator, **extra)
        records += page["Records"]
        if not page["Records"]:
            break
        shard_iterator = page.get("NextShardIterator")
    return records


def put(dynamodb: Any, name: str, pk: str, **attributes: Any) -> None:
    dynamodb.put_item(TableName=name, Item={"pk": {"S": pk}, **attributes})


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_records_of_each_view_type(
    dynamodb: Any, streams: Any, stream_table: Callable[..., tuple[str, str]], view: str
) -> None:
    name, arn = stream_table(view)
    key = {"pk": {"S": "a"}}
    first, second = {**key, "v": {"N": "1"}}, {**key, "v": {"N": "2"}}
    dynamodb.put_item(TableName=name, Item=first)
    dynamodb.put_item(TableName=name, Item=second)
    dynamodb.delete_item(TableName=name, Key=key)
    records = read(streams, iterator(streams, arn))
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    news = [None, first, second, None]
    for number, record in enumerate(records):
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventVersion"] == "1.1"
        assert record["awsRegion"] == "us-east-1"
        assert "userIdentity" not in record
        body = record["dynamodb"]
        assert body["Keys"] == key
        assert body["StreamViewType"] == view
        assert body["SizeBytes"] > 0
        assert isinstance(body["ApproximateCreationDateTime"], datetime)
        new, old = news[number + 1], news[number]
        if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
            assert body["NewImage"] == new
        else:
            assert "NewImage" not in body
        if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
            assert body["OldImage"] == old
        else:
            assert "OldImage" not in body
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3


def test_each_change_once_in_order_and_none_for_no_change(
    dynamodb: Any, streams: Any, stream_table: Callable[..., tuple[str, str]]
) -> None:
    name, arn = stream_table("NEW_IMAGE")
    for value in range(10):
        put(dynamodb, name, "a", v={"N": str(value)})
    put(dynamodb, name, "a", v={"N": "9"})  # the same item again: no change
    dynamodb.delete_item(TableName=name, Key={"pk": {"S": "missing"}})
    with pytest.raises(ClientError):
        dynamodb.put_item(
            TableName=name,
            Item={"pk": {"S": "a"}, "v": {"N": "100"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    dynamodb.update_item(
        TableName=name,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "9"}},
    )
    records = read(streams, iterator(streams, arn), Limit=3)
    assert [r["dynamodb"]["NewImage"]["v"]["N"] for r in records] == [str(v) for v in range(10)]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert numbers == sorted(numbers)
    assert len({r["eventID"] for r in records}) == 10


def test_iterator_types(
    dynamodb: Any, streams: Any, stream_table: Callable[..., tuple[str, str]]
) -> None:
    name, arn = stream_table("KEYS_ONLY")
    for pk in "abc":
        put(dynamodb, name, pk)
    records = read(streams, iterator(streams, arn))
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert len(numbers) == 3

    def keys(kind: str, **extra: Any) -> list[str]:
        found = read(streams, iterator(streams, arn, kind, **extra))
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in found]

    assert keys("AT_SEQUENCE_NUMBER", SequenceNumber=numbers[1]) == ["b", "c"]
    assert keys("AFTER_SEQUENCE_NUMBER", SequenceNumber=numbers[1]) == ["c"]
    assert keys("AFTER_SEQUENCE_NUMBER", SequenceNumber=numbers[2]) == []
    latest = iterator(streams, arn, "LATEST")
    page = streams.get_records(ShardIterator=latest)
    assert page["Records"] == []
    put(dynamodb, name, "d")
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read(streams, latest)] == ["d"]
    # An empty page's next iterator waits at the same place.
    again = streams.get_records(ShardIterator=page["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in again["Records"]] == ["d"]


def test_expired_and_invalid_iterators(
    dynamodb: Any, streams: Any, unchecked: Any, stream_table: Callable[..., tuple[str, str]]
) -> None:
    name, arn = stream_table()
    put(dynamodb, name, "a")
    shard = shard_of(streams, arn)
    issued = int(time.time() * 1000) - 16 * 60 * 1000
    old = shard_iterators.encode(ShardIterator(arn, shard, 1, issued))
    with pytest.raises(ClientError) as caught:
        streams.get_records(ShardIterator=old)
    assert error(caught) == ("ExpiredIteratorException", "Shard iterator has expired")
    # Just short of 15 minutes it still reads.
    fresh = shard_iterators.encode(ShardIterator(arn, shard, 1, issued + 2 * 60 * 1000))
    assert len(streams.get_records(ShardIterator=fresh)["Records"]) == 1
    for garbage in ("nonsense", f"{arn}|1|bm90IGpzb24", f"{arn}|1|WyJ4IiwgMCwgMF0="):
        with pytest.raises(ClientError) as caught:
            unchecked.get_records(ShardIterator=garbage)
        assert error(caught) == ("ValidationException", "Invalid ShardIterator")
    other_shard = shard_iterators.encode(
        ShardIterator(arn, "shardId-00000000000000000000-00000000", 1, issued + 10**6)
    )
    with pytest.raises(ClientError) as caught:
        streams.get_records(ShardIterator=other_shard)
    assert error(caught) == ("ValidationException", "Invalid ShardIterator")
    gone = arn.replace("/stream/", "x/stream/")
    missing = shard_iterators.encode(ShardIterator(gone, shard, 1, issued + 10**6))
    with pytest.raises(ClientError) as caught:
        streams.get_records(ShardIterator=missing)
    assert error(caught) == (
        "ResourceNotFoundException",
        f"Requested resource not found: Stream: {gone} not found",
    )


def test_stream_turned_off_and_a_new_one_on(
    dynamodb: Any, streams: Any, stream_table: Callable[..., tuple[str, str]]
) -> None:
    name, first = stream_table("KEYS_ONLY")
    put(dynamodb, name, "a")
    put(dynamodb, name, "b")
    reader = iterator(streams, first, "LATEST")
    dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    put(dynamodb, name, "not streamed")
    time.sleep(0.002)  # (a new label: labels are milliseconds)
    dynamodb.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    second = dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    assert second != first
    put(dynamodb, name, "c")
    listed = streams.list_streams(TableName=name)["Streams"]
    assert sorted(s["StreamArn"] for s in listed) == sorted([first, second])
    assert {s["TableName"] for s in listed} == {name}
    assert all(s["StreamArn"].endswith("/stream/" + s["StreamLabel"]) for s in listed)
    old = streams.describe_stream(StreamArn=first)["StreamDescription"]
    assert old["StreamStatus"] == "DISABLED"
    assert old["StreamViewType"] == "KEYS_ONLY"
    assert old["TableName"] == name
    assert old["KeySchema"] == KEY
    assert isinstance(old["CreationRequestDateTime"], datetime)
    records = read(streams, iterator(streams, first))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == ["a", "b"]
    numbers = old["Shards"][0]["SequenceNumberRange"]
    assert numbers == {
        "StartingSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
        "EndingSequenceNumber": records[1]["dynamodb"]["SequenceNumber"],
    }
    # A closed shard read to its end gives no next iterator.
    page = streams.get_records(ShardIterator=iterator(streams, first))
    assert len(page["Records"]) == 2 and "NextShardIterator" not in page
    assert "NextShardIterator" not in streams.get_records(ShardIterator=reader)
    new = streams.describe_stream(StreamArn=second)["StreamDescription"]
    assert new["StreamStatus"] == "ENABLED"
    assert "EndingSequenceNumber" not in new["Shards"][0]["SequenceNumberRange"]
    records = read(streams, iterator(streams, second))
    assert [r["dynamodb"]["NewImage"]["pk"]["S"] for r in records] == ["c"]


def test_records_outlive_their_table(
    dynamodb: Any, streams: Any, stream_table: Callable[..., tuple[str, str]]
) -> None:
    name, arn = stream_table("OLD_IMAGE")
    put(dynamodb, name, "a", v={"S": "x"})
    dynamodb.delete_table(TableName=name)
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "DISABLED"
    assert description["KeySchema"] == KEY
    records = read(streams, iterator(streams, arn))
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert [s["StreamArn"] for s in streams.list_streams(TableName=name)["Streams"]] == [arn]


def test_describe_stream_shard_options(
    streams: Any, stream_table: Callable[..., tuple[str, str]]
) -> None:
    _, arn = stream_table()
    shard = shard_of(streams, arn)
    assert shard.startswith("shardId-") and len(shard) == len("shardId-") + 20 + 1 + 8

    def shards(**extra: Any) -> list[dict[str, Any]]:
        found = streams.describe_stream(StreamArn=arn, **extra)["StreamDescription"]["Shards"]
        return list(found)

    assert len(shards(Limit=1)) == 1
    assert shards(ExclusiveStartShardId=shard) == []
    assert shards(ShardFilter={"Type": "CHILD_SHARDS", "ShardId": shard}) == []


def test_records_answered_as_stored(
    tables_server: RunningServer,
    dynamodb: Any,
    streams: Any,
    stream_table: Callable[..., tuple[str, str]],
) -> None:
    name, arn = stream_table()
    put(dynamodb, name, "a", n={"N": "1.50"}, b={"B": b"\x00\x01"}, l={"L": [{"NULL": True}]})
    body = json.dumps({"ShardIterator": iterator(streams, arn)}).encode()
    request = signed_request(
        tables_server.endpoint + "/",
        method="POST",
        data=body,
        headers={
            "X-Amz-Target": "DynamoDBStreams_20120810.GetRecords",
            "Content-Type": "application/x-amz-json-1.0",
        },
        service="dynamodb",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answered = json.loads(response.read())["Records"]
    r = ddb_stream_records.c
    with tables_server.platform.store.engine.connect() as connection:
        query = sa.select(r.record).where(r.stream_arn == arn).order_by(r.sequence)
        stored = [json.loads(text) for text in connection.execute(query).scalars()]
    assert answered == stored
    assert isinstance(stored[0]["dynamodb"]["ApproximateCreationDateTime"], int)


def test_list_streams_pages(
    streams: Any, stream_table: Callable[..., tuple[str, str]], new_table: Callable[..., str]
) -> None:
    arns = {stream_table()[1] for _ in range(3)}
    new_table()  # no stream
    seen: list[str] = []
    after: dict[str, str] = {}
    while True:
        page = streams.list_streams(Limit=2, **after)
        seen += [s["StreamArn"] for s in page["Streams"]]
        assert len(page["Streams"]) <= 2
        if "LastEvaluatedStreamArn" not in page:
            break
        after = {"ExclusiveStartStreamArn": page["LastEvaluatedStreamArn"]}
    assert arns <= set(seen)
    assert seen == sorted(seen) and len(seen) == len(set(seen))


def wait_for(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_time_to_live_deletes_expired_items(
    dynamodb: Any, streams: Any, stream_table: Callable[..., tuple[str, str]]
) -> None:
    name, arn = stream_table()
    assert dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"
    }
    now = int(time.time())
    # Stored before TTL is on: its expiry is found when TTL is enabled.
    put(dynamodb, name, "before", ttl={"N": str(now - 60)})
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    assert dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "ttl",
    }
    put(dynamodb, name, "expired", ttl={"N": str(now - 1)})
    put(dynamodb, name, "later", ttl={"N": str(now + 3600)})
    put(dynamodb, name, "ancient", ttl={"N": str(now - 6 * 365 * 86400)})  # ignored
    put(dynamodb, name, "text", ttl={"S": str(now - 60)})  # not a number: ignored
    put(dynamodb, name, "none")

    def left() -> set[str]:
        items = dynamodb.scan(TableName=name, ConsistentRead=True)["Items"]
        return {item["pk"]["S"] for item in items}

    wait_for(lambda: "before" not in left() and "expired" not in left())
    assert left() == {"later", "ancient", "text", "none"}
    removals = [r for r in read(streams, iterator(streams, arn)) if r["eventName"] == "REMOVE"]
    assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in removals) == ["before", "expired"]
    for record in removals:
        assert record["userIdentity"] == SERVICE
        assert record["dynamodb"]["OldImage"]["ttl"]["N"] in (str(now - 60), str(now - 1))
        assert "NewImage" not in record["dynamodb"]


def test_expiry_cleared_when_time_to_live_is_off(
    tables_server: RunningServer, dynamodb: Any, new_table: Callable[..., str]
) -> None:
    name = new_table()
    put(dynamodb, name, "a", ttl={"N": str(int(time.time()) + 3600)})
    table_id = tables_server.platform.tables._schema(name).table_id

    def expiries() -> list[int | None]:
        c = ddb_items.c
        with tables_server.platform.store.engine.connect() as connection:
            query = sa.select(c.expires).where(c.table_id == table_id, c.index_name == "")
            return list(connection.execute(query).scalars())

    assert expiries() == [None]
    specification = {"Enabled": True, "AttributeName": "ttl"}
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=specification)
    (expires,) = expiries()
    assert expires is not None and expires > time.time()
    specification["Enabled"] = False
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=specification)
    assert expiries() == [None]


def test_a_write_takes_the_spec_a_concurrent_update_commits(
    tables_server: RunningServer, dynamodb: Any, new_table: Callable[..., str]
) -> None:
    """Without this, a write that read the spec just before TTL came on would store no
    expiry over the one the backfill just set, and its item would never expire."""
    store = tables_server.platform.store
    if store.dialect != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    name = new_table()
    expires = int(time.time()) + 3600
    t = ddb_tables.c
    with store.engine.connect() as connection, connection.begin():
        # An UpdateTable of another node, holding the table's row while it changes it.
        query = sa.select(t.spec).where(t.name == name).with_for_update()
        spec = connection.execute(query).scalar_one()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            written = pool.submit(put, dynamodb, name, "a", ttl={"N": str(expires)})
            with pytest.raises(concurrent.futures.TimeoutError):
                written.result(timeout=0.5)
            spec = {**spec, "TimeToLive": {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}}
            connection.execute(ddb_tables.update().where(t.name == name).values(spec=spec))
            connection.commit()
            written.result(timeout=30)
    table_id = tables_server.platform.tables._schema(name).table_id
    c = ddb_items.c
    with store.engine.connect() as connection:
        query = sa.select(c.expires).where(c.table_id == table_id, c.index_name == "")
        assert list(connection.execute(query).scalars()) == [expires]


def test_sweepers_on_many_nodes_delete_once(
    tables_server: RunningServer,
    dynamodb: Any,
    streams: Any,
    stream_table: Callable[..., tuple[str, str]],
) -> None:
    name, arn = stream_table("KEYS_ONLY")
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    for number in range(20):
        put(dynamodb, name, f"i{number}", ttl={"N": str(int(time.time()) - 5)})
    platform = tables_server.platform
    sweepers = [TableExpiry(platform.tables, platform.streams, interval=1) for _ in range(3)]

    async def sweep_together() -> list[int]:
        return list(await asyncio.gather(*(sweeper.sweep() for sweeper in sweepers)))

    tables_server.call(sweep_together)
    assert dynamodb.scan(TableName=name, ConsistentRead=True)["Items"] == []
    removals = [r for r in read(streams, iterator(streams, arn)) if r["eventName"] == "REMOVE"]
    assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in removals) == sorted(
        f"i{number}" for number in range(20)
    )


ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/nothing/stream/2026-01-01T00:00:00.000"
LIMIT = "failed to satisfy constraint: Member must have value"


@pytest.mark.parametrize(
    ("operation", "params", "code", "message"),
    [
        ("list_streams", {"Limit": 0}, "ValidationException", f"'0' at 'limit' {LIMIT}"),
        ("list_streams", {"Limit": 101}, "ValidationException", f"'101' at 'limit' {LIMIT}"),
        ("list_streams", {"Limit": "x"}, "ValidationException", "Limit"),
        ("list_streams", {"TableName": "ab"}, "ValidationException", "at 'tableName'"),
        ("list_streams", {"TableName": "a b c"}, "ValidationException", "pattern"),
        ("list_streams", {"ExclusiveStartStreamArn": "arn"}, "ValidationException", "length"),
        ("describe_stream", {}, "ValidationException", "Value null at 'streamArn'"),
        ("describe_stream", {"StreamArn": 5}, "ValidationException", "StreamArn"),
        ("describe_stream", {"StreamArn": ARN, "Limit": 0}, "ValidationException", LIMIT),
        ("describe_stream", {"StreamArn": ARN, "Limit": 101}, "ValidationException", LIMIT),
        (
            "describe_stream",
            {"StreamArn": ARN, "ExclusiveStartShardId": "short"},
            "ValidationException",
            "exclusiveStartShardId",
        ),
        (
            "describe_stream",
            {"StreamArn": ARN, "ShardFilter": {"Type": "PARENT"}},
            "ValidationException",
            "enum value set: [CHILD_SHARDS]",
        ),
        (
            "describe_stream",
            {"StreamArn": ARN},
            "ResourceNotFoundException",
            f"Requested resource not found: Stream: {ARN} not found",
        ),
        ("get_shard_iterator", {"ShardId": "s" * 28}, "ValidationException", "'streamArn'"),
        ("get_records", {}, "ValidationException", "Value null at 'shardIterator'"),
        ("get_records", {"ShardIterator": "x", "Limit": 0}, "ValidationException", LIMIT),
        ("get_records", {"ShardIterator": "x", "Limit": 1001}, "ValidationException", "1000"),
        ("get_records", {"ShardIterator": "x" * 2049}, "ValidationException", "2048"),
    ],
)
def test_bad_requests(
    unchecked: Any, operation: str, params: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(ClientError) as caught:
        getattr(unchecked, operation)(**params)
    got_code, got_message = error(caught)
    assert got_code == code
    assert message in got_message


def test_a_shard_filter_that_is_no_structure(tables_server: RunningServer) -> None:
    body = json.dumps({"StreamArn": ARN, "ShardFilter": 1}).encode()
    request = signed_request(
        tables_server.endpoint + "/",
        method="POST",
        data=body,
        headers={
            "X-Amz-Target": "DynamoDBStreams_20120810.DescribeStream",
            "Content-Type": "application/x-amz-json-1.0",
        },
        service="dynamodb",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    answer = json.loads(caught.value.read())
    assert answer["__type"] == "com.amazonaws.dynamodb.v20120810#ValidationException"
    assert "ShardFilter" in answer["message"]


def test_bad_shard_iterator_requests(
    dynamodb: Any, streams: Any, unchecked: Any, stream_table: Callable[..., tuple[str, str]]
) -> None:
    name, arn = stream_table()
    put(dynamodb, name, "a")
    shard = shard_of(streams, arn)
    last = read(streams, iterator(streams, arn))[-1]["dynamodb"]["SequenceNumber"]
    beyond = sequence_number(int(last) + 1)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"ShardIteratorType": "AT_TIMESTAMP"}, "ValidationException", "enum value set"),
        ({}, "ValidationException", "Value null at 'shardIteratorType'"),
        ({"ShardIteratorType": "AT_SEQUENCE_NUMBER"}, "ValidationException", "Must provide"),
        (
            {"ShardIteratorType": "LATEST", "SequenceNumber": last},
            "ValidationException",
            "Must not provide",
        ),
        (
            {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": "x" * 21},
            "ValidationException",
            "Invalid SequenceNumber",
        ),
        (
            {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": "12"},
            "ValidationException",
            "length greater than or equal to 21",
        ),
        (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": beyond},
            "ValidationException",
            "Invalid SequenceNumber",
        ),
        (
            {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": "0" * 21},
            "ValidationException",
            "Invalid SequenceNumber",
        ),
        (
            {"ShardIteratorType": "LATEST", "ShardId": "shardId-00000000000000000000-00000000"},
            "ResourceNotFoundException",
            "Shard",
        ),
        (
            {"ShardIteratorType": "LATEST", "StreamArn": ARN},
            "ResourceNotFoundException",
            f"Stream: {ARN} not found",
        ),
    ]
    for params, code, message in cases:
        request = {"StreamArn": arn, "ShardId": shard, **params}
        with pytest.raises(ClientError) as caught:
            unchecked.get_shard_iterator(**request)
        got_code, got_message = error(caught)
        assert (got_code, message in got_message) == (code, True), (params, got_message)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_records_and_ended_streams_trimmed_after_a_day(engine: str, tmp_path: Path) -> None:
    with store_settings(engine) as overrides:
        server = RunningServer(make_settings(tmp_path, table_expiry_interval=3600, **overrides))
        server.start()
        try:
            dynamodb = client("dynamodb", server.endpoint)
            streams = client("dynamodbstreams", server.endpoint)
            arns = []
            for name in ("kept", "deleted"):
                dynamodb.create_table(
                    TableName=name,
                    KeySchema=KEY,
                    AttributeDefinitions=DEFINITIONS,
                    BillingMode="PAY_PER_REQUEST",
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                )
                put(dynamodb, name, "a")
                arns.append(dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"])
            kept, deleted = arns
            first = read(streams, iterator(streams, kept))[0]["dynamodb"]["SequenceNumber"]
            waiting = iterator(streams, kept, "AT_SEQUENCE_NUMBER", SequenceNumber=first)
            dynamodb.delete_table(TableName="deleted")
            platform = server.platform
            later = TableExpiry(
                platform.tables, platform.streams, interval=1, clock=lambda: time.time() + 2 * 86400
            )
            server.call(later.sweep)
            trimmed = (
                "TrimmedDataAccessException",
                "The data you are trying to access has been trimmed",
            )
            with pytest.raises(ClientError) as caught:
                streams.get_records(ShardIterator=waiting)
            assert error(caught) == trimmed
            with pytest.raises(ClientError) as caught:
                iterator(streams, kept, "AT_SEQUENCE_NUMBER", SequenceNumber=first)
            assert error(caught) == trimmed
            # The trim horizon is now after the last record: nothing to read, no error.
            assert read(streams, iterator(streams, kept)) == []
            shard = streams.describe_stream(StreamArn=kept)["StreamDescription"]["Shards"][0]
            assert int(shard["SequenceNumberRange"]["StartingSequenceNumber"]) == int(first) + 1
            put(dynamodb, "kept", "b")
            assert [
                r["dynamodb"]["Keys"]["pk"]["S"] for r in read(streams, iterator(streams, kept))
            ] == ["b"]
            # A stream that ended more than a day ago is gone.
            with pytest.raises(ClientError) as caught:
                streams.describe_stream(StreamArn=deleted)
            assert error(caught)[0] == "ResourceNotFoundException"
            assert [s["StreamArn"] for s in streams.list_streams()["Streams"]] == [kept]
        finally:
            server.stop()


def test_two_nodes_on_one_postgres_expire_each_item_once(tmp_path: Path) -> None:
    with store_settings("postgres") as overrides:
        nodes = [
            RunningServer(
                make_settings(tmp_path / str(number), table_expiry_interval=0.05, **overrides)
            )
            for number in range(2)
        ]
        for node in nodes:
            node.start()
        try:
            dynamodb = client("dynamodb", nodes[0].endpoint)
            dynamodb.create_table(
                TableName="shared",
                KeySchema=KEY,
                AttributeDefinitions=DEFINITIONS,
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
            )
            arn = dynamodb.describe_table(TableName="shared")["Table"]["LatestStreamArn"]
            expired = str(int(time.time()) - 5)
            for number in range(40):
                put(dynamodb, "shared", f"i{number}", ttl={"N": expired})
            # Both nodes find every item expired at once when TTL comes on.
            client("dynamodb", nodes[1].endpoint).update_time_to_live(
                TableName="shared",
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
            )
            wait_for(lambda: not dynamodb.scan(TableName="shared", ConsistentRead=True)["Items"])
            time.sleep(0.3)  # (a few more sweeps of both nodes)
            streams = client("dynamodbstreams", nodes[1].endpoint)
            removals = [
                r["dynamodb"]["Keys"]["pk"]["S"]
                for r in read(streams, iterator(streams, arn))
                if r["eventName"] == "REMOVE"
            ]
            assert sorted(removals) == sorted(f"i{number}" for number in range(40))
        finally:
            for node in nodes:
                node.stop()
