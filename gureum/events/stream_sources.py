"""The streams a mapping can read, behind one face: Kinesis streams and DynamoDB Streams.

A source lists its shards (with their parents, so that children are read after them),
tells where a shard starts for a ``StartingPosition``, and reads a shard from a
position: records in order, each already in the shape Lambda's event gives it (the
``kinesis`` record or the DynamoDB stream record, with ``eventSourceARN``), and whether
the shard is closed and read to its end. Positions are integers, increasing within a
shard; a checkpoint is the position to read next.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Protocol

from gureum.errors import InvalidParameterValueException
from gureum.streams import sequence_numbers
from gureum.streams.stream_store import StreamStore
from gureum.tables.streams import Streams


@dataclass(frozen=True, slots=True)
class SourceShard:
    shard_id: str
    parents: list[str]


@dataclass(frozen=True, slots=True)
class SourceRecord:
    position: int
    sequence_number: str
    arrival_ms: int
    size: int
    #: the record as the function's event carries it
    event: dict[str, Any]
    #: what keeps records in order under a ParallelizationFactor: a Kinesis record's
    #: partition key, a table stream record's item key
    partition: str = ""


@dataclass(frozen=True, slots=True)
class SourcePage:
    records: list[SourceRecord]
    next_position: int
    #: closed and read to its end: its children come next
    ended: bool


class StreamSource(Protocol):
    kind: str  # "kinesis" or "dynamodb"
    arn: str

    async def exists(self) -> bool: ...

    async def shards(self) -> list[SourceShard]: ...

    async def start(self, shard_id: str, starting: str, timestamp: float | None) -> int: ...

    async def read(self, shard_id: str, position: int, limit: int) -> SourcePage: ...

    async def idle(self, shard_id: str, seconds: float) -> None:
        """Wait up to ``seconds`` for more of the shard to read (a read found none)."""


class KinesisSource:
    kind = "kinesis"

    def __init__(self, kinesis: StreamStore, arn: str, region: str) -> None:
        self.kinesis = kinesis
        self.arn = arn
        self.region = region
        self.name = arn.rsplit(":stream/", 1)[-1]

    async def exists(self) -> bool:
        try:
            await self.kinesis.get(self.name)
        except Exception:
            return False
        return True

    async def shards(self) -> list[SourceShard]:
        _, shards = await self.kinesis.shards(self.name)
        return [SourceShard(s.shard_id, s.parents) for s in shards]

    @staticmethod
    def _index(shard_id: str) -> int:
        index = sequence_numbers.shard_index(shard_id)
        assert index is not None, shard_id
        return index

    async def start(self, shard_id: str, starting: str, timestamp: float | None) -> int:
        index = self._index(shard_id)
        if starting == "AT_TIMESTAMP":
            return await self.kinesis.position_at(self.name, index, int((timestamp or 0) * 1000))
        if starting == "LATEST":
            _, shards = await self.kinesis.shards(self.name)
            shard = next(s for s in shards if s.index == index)
            return shard.last_position + 1
        return 0  # TRIM_HORIZON: the oldest kept (reads skip what is trimmed)

    async def read(self, shard_id: str, position: int, limit: int) -> SourcePage:
        page = await self.kinesis.read(self.name, self._index(shard_id), position, limit)
        records = [
            SourceRecord(
                r.position,
                r.sequence_number,
                r.arrival_ms,
                r.size,
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r.partition_key,
                        "sequenceNumber": r.sequence_number,
                        "data": r.data,
                        "approximateArrivalTimestamp": r.arrival_ms / 1000,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard_id}:{r.sequence_number}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::000000000000:role/gureum",
                    "awsRegion": self.region,
                    "eventSourceARN": self.arn,
                },
                r.partition_key,
            )
            for r in page.records
        ]
        return SourcePage(records, page.next_position, page.ended)

    async def idle(self, shard_id: str, seconds: float) -> None:
        # (a write on this node wakes the reader at once; others' are seen by polling)
        await self.kinesis.written(self.name, shard_id, seconds)


class DynamoDBSource:
    """A table's stream: one shard, named as DynamoDB Streams names it."""

    kind = "dynamodb"

    def __init__(self, streams: Streams, arn: str) -> None:
        self.streams = streams
        self.arn = arn

    async def exists(self) -> bool:
        stream = await self.streams.get(self.arn)
        return stream is not None

    async def shards(self) -> list[SourceShard]:
        stream = await self.streams.get(self.arn)
        return [SourceShard(stream.shard_id, [])] if stream is not None else []

    async def start(self, shard_id: str, starting: str, timestamp: float | None) -> int:
        stream = await self.streams.get(self.arn)
        if stream is None:
            return 0
        return stream.last_sequence + 1 if starting == "LATEST" else stream.first_sequence

    async def read(self, shard_id: str, position: int, limit: int) -> SourcePage:
        found = await self.streams.records(self.arn, position, limit)
        records = []
        for sequence, text in found:
            event = json.loads(text)
            event["eventSourceARN"] = self.arn
            change = event.get("dynamodb", {})
            created = change.get("ApproximateCreationDateTime", 0)
            records.append(
                SourceRecord(
                    sequence,
                    str(change.get("SequenceNumber", sequence)),
                    int(float(created) * 1000),
                    len(text),
                    event,
                    json.dumps(change.get("Keys"), sort_keys=True),
                )
            )
        next_position = found[-1][0] + 1 if found else position
        ended = False
        if not found:
            stream = await self.streams.get(self.arn)
            ended = stream is None or (stream.ended and position > stream.last_sequence)
        return SourcePage(records, next_position, ended)

    async def idle(self, shard_id: str, seconds: float) -> None:
        await asyncio.sleep(seconds)


def source_kind_of(arn: str) -> str:
    """``kinesis`` for a Kinesis stream's ARN, ``dynamodb`` for a table stream's."""
    parts = arn.split(":")
    if len(parts) >= 6 and parts[2] == "kinesis" and parts[5].startswith("stream/"):
        return "kinesis"
    if len(parts) >= 6 and parts[2] == "dynamodb" and "/stream/" in parts[5]:
        return "dynamodb"
    raise InvalidParameterValueException(f"Unrecognized event source: {arn}")
