"""DynamoDB Streams' API (``DynamoDBStreams_20120810``, AWS JSON 1.0) on the tables'
streams, so that boto3's ``dynamodbstreams`` client, the Kinesis adapter's readers and
the AWS CLI read them unchanged.

Each stream has one shard (:mod:`gureum.tables.streams`); its iterators are opaque
strings that carry their position (:mod:`gureum.tables.shard_iterators`), so that any
node serves any reader. Requests are checked as DynamoDB checks them, with its
ValidationException wording; records are answered exactly as the write stored them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gureum.errors import (
    ExpiredIteratorException,
    ResourceNotFoundException,
    TrimmedDataAccessException,
    ValidationException,
)
from gureum.frontend import json_rpc
from gureum.tables import shard_iterators
from gureum.tables.schema import TABLE_NAME
from gureum.tables.shard_iterators import ShardIterator
from gureum.tables.streams import Stream, Streams
from gureum.tables.table_store import sequence_number

ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
MAX_STREAMS = 100
MAX_SHARDS = 100
MAX_RECORDS = 1000
TRIMMED = "The data you are trying to access has been trimmed"


def _invalid(value: object, member: str, rule: str) -> ValidationException:
    shown = "null" if value is None else f"'{value}'"
    return ValidationException(
        f"1 validation error detected: Value {shown} at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def _string(
    params: Mapping[str, Any], name: str, low: int, high: int, *, required: bool = True
) -> str | None:
    member = name[0].lower() + name[1:]
    value = params.get(name)
    if value is None:
        if required:
            raise _invalid(None, member, "Member must not be null")
        return None
    if not isinstance(value, str):
        raise ValidationException(f"Invalid value for {name}: it must be a string")
    if len(value) < low:
        raise _invalid(value, member, f"Member must have length greater than or equal to {low}")
    if len(value) > high:
        raise _invalid(value, member, f"Member must have length less than or equal to {high}")
    return value


def _required(params: Mapping[str, Any], name: str, low: int, high: int) -> str:
    value = _string(params, name, low, high)
    assert value is not None
    return value


def _limit(params: Mapping[str, Any], most: int) -> int:
    value = params.get("Limit")
    if value is None:
        return most
    if type(value) is not int:
        raise ValidationException("Invalid value for Limit: it must be an integer")
    if value < 1:
        raise _invalid(value, "limit", "Member must have value greater than or equal to 1")
    if value > most:
        raise _invalid(value, "limit", f"Member must have value less than or equal to {most}")
    return value


def _sequence(text: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValidationException(f"Invalid SequenceNumber: {text}")
    return int(text)


def _answered(stored: str) -> dict[str, Any]:
    """A stored record as GetRecords answers it: as it was written, but for the
    ``userIdentity`` of TTL's deletions, kept as Lambda's events spell it (``type``,
    ``principalId``) and named as this API's model names its members."""
    record: dict[str, Any] = orjson.loads(stored)
    identity = record.get("userIdentity")
    if identity is not None:
        record["userIdentity"] = {
            "PrincipalId": identity["principalId"],
            "Type": identity["type"],
        }
    return record


def _not_found(arn: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Requested resource not found: Stream: {arn} not found")


class DynamoDBStreamsAPI:
    """DynamoDB Streams' operations over the stored streams."""

    def __init__(self, streams: Streams, *, clock: Callable[[], float] = time.time) -> None:
        self.streams = streams
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def _stream(self, arn: str) -> Stream:
        stream = await self.streams.get(arn)
        if stream is None:
            raise _not_found(arn)
        return stream

    async def list_streams(self, params: dict[str, Any]) -> dict[str, Any]:
        table = _string(params, "TableName", 3, 255, required=False)
        if table is not None and not TABLE_NAME.fullmatch(table):
            raise _invalid(
                table,
                "tableName",
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
            )
        after = _string(params, "ExclusiveStartStreamArn", 37, 1024, required=False)
        limit = _limit(params, MAX_STREAMS)
        found, more = await self.streams.names(table, after, limit)
        answer: dict[str, Any] = {
            "Streams": [
                {
                    "StreamArn": arn,
                    "TableName": table_name,
                    "StreamLabel": arn.rpartition("/stream/")[2],
                }
                for arn, table_name in found
            ]
        }
        if more:
            answer["LastEvaluatedStreamArn"] = found[-1][0]
        return answer

    async def describe_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = _required(params, "StreamArn", 37, 1024)
        limit = _limit(params, MAX_SHARDS)
        after = _string(params, "ExclusiveStartShardId", 28, 65, required=False)
        shard_filter = params.get("ShardFilter")
        if shard_filter is not None:
            if not isinstance(shard_filter, Mapping):
                raise ValidationException("Invalid value for ShardFilter: it must be a structure")
            kind = shard_filter.get("Type")
            if kind is not None and kind != "CHILD_SHARDS":
                raise _invalid(
                    kind, "shardFilter.type", "Member must satisfy enum value set: [CHILD_SHARDS]"
                )
        stream = await self._stream(arn)
        shards: list[dict[str, Any]] = []
        # The one shard has no parent and no children: a filter for children gets none.
        if shard_filter is None and (after is None or after < stream.shard_id) and limit >= 1:
            numbers = {"StartingSequenceNumber": sequence_number(stream.first_sequence)}
            if stream.ended:
                last = max(stream.last_sequence, stream.first_sequence)
                numbers["EndingSequenceNumber"] = sequence_number(last)
            shards.append({"ShardId": stream.shard_id, "SequenceNumberRange": numbers})
        return {
            "StreamDescription": {
                "StreamArn": stream.arn,
                "StreamLabel": stream.label,
                "StreamStatus": "DISABLED" if stream.ended else "ENABLED",
                "StreamViewType": stream.view_type,
                "CreationRequestDateTime": stream.created_ms / 1000,
                "TableName": stream.table_name,
                "KeySchema": stream.key_schema,
                "Shards": shards,
            }
        }

    async def get_shard_iterator(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = _required(params, "StreamArn", 37, 1024)
        shard_id = _required(params, "ShardId", 28, 65)
        kind = params.get("ShardIteratorType")
        if kind not in ITERATOR_TYPES:
            raise _invalid(
                kind,
                "shardIteratorType",
                f"Member must satisfy enum value set: [{', '.join(ITERATOR_TYPES)}]",
            )
        text = _string(params, "SequenceNumber", 21, 40, required=False)
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if text is None:
                raise ValidationException(
                    f"Must provide a SequenceNumber for ShardIteratorType {kind}"
                )
            number: int | None = _sequence(text)
        elif text is not None:
            raise ValidationException(
                f"Must not provide a SequenceNumber for ShardIteratorType {kind}"
            )
        else:
            number = None
        stream = await self._stream(arn)
        if shard_id != stream.shard_id:
            raise ResourceNotFoundException(
                f"Requested resource not found: Shard: {shard_id} in Stream: {arn} not found"
            )
        if kind == "TRIM_HORIZON":
            position = stream.first_sequence
        elif kind == "LATEST":
            position = stream.last_sequence + 1
        else:
            assert number is not None
            if not 1 <= number <= stream.last_sequence:
                raise ValidationException(
                    f"Invalid SequenceNumber {text} for shard {shard_id}: it is beyond the "
                    "shard's records"
                )
            if number < stream.first_sequence:
                raise TrimmedDataAccessException(TRIMMED)
            position = number if kind == "AT_SEQUENCE_NUMBER" else number + 1
        iterator = ShardIterator(stream.arn, stream.shard_id, position, self._now_ms())
        return {"ShardIterator": shard_iterators.encode(iterator)}

    async def get_records(self, params: dict[str, Any]) -> dict[str, Any]:
        text = _required(params, "ShardIterator", 1, 2048)
        limit = _limit(params, MAX_RECORDS)
        try:
            iterator = shard_iterators.decode(text)
        except shard_iterators.InvalidIterator:
            raise ValidationException("Invalid ShardIterator") from None
        now = self._now_ms()
        if iterator.expired(now):
            raise ExpiredIteratorException("Shard iterator has expired")
        stream = await self._stream(iterator.stream_arn)
        if iterator.shard_id != stream.shard_id:
            raise ValidationException("Invalid ShardIterator")
        if iterator.position < stream.first_sequence:
            raise TrimmedDataAccessException(TRIMMED)
        found = await self.streams.records(stream.arn, iterator.position, limit)
        position = found[-1][0] + 1 if found else iterator.position
        answer: dict[str, Any] = {"Records": [_answered(record) for _, record in found]}
        # A closed shard read to its end has no next iterator: the reader is done with it.
        if not (stream.ended and position > stream.last_sequence):
            following = ShardIterator(stream.arn, stream.shard_id, position, now)
            answer["NextShardIterator"] = shard_iterators.encode(following)
        return answer

    def service(self) -> json_rpc.JsonRpcService:
        return json_rpc.JsonRpcService(
            prefix="DynamoDBStreams_20120810",
            operations={
                "ListStreams": self.list_streams,
                "DescribeStream": self.describe_stream,
                "GetShardIterator": self.get_shard_iterator,
                "GetRecords": self.get_records,
            },
            model="dynamodbstreams",
            title="DynamoDB Streams",
            internal_error="InternalServerError",
            json_version="1.0",
            error_namespace="com.amazonaws.dynamodb.v20120810#",
        )
