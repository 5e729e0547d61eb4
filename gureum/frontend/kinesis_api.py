"""Kinesis's API (``Kinesis_20131202``, AWS JSON 1.1) on the store's streams
(:mod:`gureum.streams.stream_store`), so that boto3's ``kinesis`` client and the AWS CLI
work unchanged.

Requests are checked as Kinesis checks them: a member outside its model's constraints is
a ValidationException in AWS's "1 validation error detected" wording, a request that
breaks Kinesis's rules an InvalidArgumentException. Shard iterators carry their position
(:mod:`gureum.tables.shard_iterators`, the tables' streams' encoding) and expire after
five minutes, so any node serves any reader. Per-shard throughput is not enforced.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from gureum.errors import (
    ExpiredIteratorException,
    ExpiredNextTokenException,
    InvalidArgumentException,
    ProvisionedThroughputExceededException,
    ResourceNotFoundException,
    ValidationException,
)
from gureum.frontend import json_rpc
from gureum.frontend import kinesis_rules as rules
from gureum.streams import sequence_numbers
from gureum.streams.stream_store import (
    MAX_RETENTION_HOURS,
    ON_DEMAND_SHARDS,
    Shard,
    Stream,
    StreamStore,
)
from gureum.streams.writes import Throttled
from gureum.tables import shard_iterators
from gureum.tables.shard_iterators import ShardIterator


def _shard_answer(stream: Stream, shard: Shard) -> dict[str, Any]:
    numbers = {
        "StartingSequenceNumber": sequence_numbers.sequence_number(stream.key, shard.index, 0)
    }
    if not shard.open:
        numbers["EndingSequenceNumber"] = sequence_numbers.sequence_number(
            stream.key, shard.index, shard.last_position
        )
    answer: dict[str, Any] = {"ShardId": shard.shard_id}
    if shard.parent is not None:
        answer["ParentShardId"] = sequence_numbers.shard_id(shard.parent)
    if shard.adjacent_parent is not None:
        answer["AdjacentParentShardId"] = sequence_numbers.shard_id(shard.adjacent_parent)
    answer["HashKeyRange"] = _hash_range(shard)
    answer["SequenceNumberRange"] = numbers
    return answer


def _hash_range(shard: Shard) -> dict[str, str]:
    return {"StartingHashKey": str(shard.hash_start), "EndingHashKey": str(shard.hash_end)}


def _open_at(shard: Shard, at_ms: int) -> bool:
    """Whether ``shard`` was still open at ``at_ms`` (or is open now)."""
    return shard.closed_ms is None or shard.closed_ms >= at_ms


def _roots(shards: list[Shard]) -> list[Shard]:
    """The shards none of whose parents is still kept: those at the trim horizon."""
    kept = {shard.index for shard in shards}
    return [
        shard
        for shard in shards
        if not any(p in kept for p in (shard.parent, shard.adjacent_parent) if p is not None)
    ]


class KinesisAPI:
    """Kinesis's operations over the stored streams."""

    def __init__(
        self,
        streams: StreamStore,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.streams = streams
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _name(self, params: Mapping[str, Any], *, required: bool = True) -> str | None:
        """The stream that StreamName or StreamARN names."""
        name = rules.string(params, "StreamName", 1, 128, rules.STREAM_NAME)
        arn = rules.string(params, "StreamARN", 1, 2048, rules.STREAM_ARN, member="streamARN")
        if arn is not None:
            named = arn.partition(":stream/")[2]
            if arn != self.streams.arn(named):
                raise ResourceNotFoundException(f"Stream {arn} not found.")
            if name is not None and name != named:
                raise InvalidArgumentException(
                    f"StreamARN {arn} and StreamName {name} name different streams."
                )
            return named
        if name is None and required:
            raise InvalidArgumentException("Either StreamName or StreamARN should be provided.")
        return name

    def _stream_name(self, params: Mapping[str, Any]) -> str:
        name = self._name(params)
        assert name is not None
        return name

    # streams
    async def create_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        name = rules.string(params, "StreamName", 1, 128, rules.STREAM_NAME, required=True)
        assert name is not None
        count = rules.integer(params, "ShardCount", 1)
        mode = "PROVISIONED"
        details = params.get("StreamModeDetails")
        if details is not None:
            if not isinstance(details, Mapping):
                raise ValidationException("Invalid value for StreamModeDetails")
            mode = rules.enum(
                details.get("StreamMode"), "streamModeDetails.streamMode", rules.MODES
            )
        if mode == "ON_DEMAND":
            if count is not None:
                raise ValidationException(
                    "ShardCount is not supported for streams in the ON_DEMAND capacity mode."
                )
            count = ON_DEMAND_SHARDS
        elif count is None:
            raise ValidationException(
                "ShardCount is required for streams in the PROVISIONED capacity mode."
            )
        tags = rules.tags(params["Tags"]) if params.get("Tags") is not None else {}
        if len(tags) > 50:
            raise InvalidArgumentException(
                f"Failed to create stream {name}: a stream cannot have more than 50 tags."
            )
        await self.streams.create(name, count, mode, tags)
        return {}

    async def delete_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        enforce = params.get("EnforceConsumerDeletion")
        if enforce is not None and not isinstance(enforce, bool):
            raise ValidationException("Invalid value for EnforceConsumerDeletion")
        # (streams have no consumers here: EnforceConsumerDeletion changes nothing)
        await self.streams.delete(name)
        return {}

    def _summary(self, stream: Stream) -> dict[str, Any]:
        return {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStatus": stream.status,
            "StreamModeDetails": {"StreamMode": stream.mode},
            "StreamCreationTimestamp": stream.created_ms / 1000,
        }

    async def describe_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        limit = rules.integer(params, "Limit", 1, 10000) or 100
        after = rules.string(params, "ExclusiveStartShardId", 1, 128, rules.SHARD_ID)
        stream, shards = await self.streams.shards(name)
        if after is not None:
            shards = [s for s in shards if s.shard_id > after]
        page = shards[:limit]
        return {
            "StreamDescription": {
                **self._summary(stream),
                "Shards": [_shard_answer(stream, shard) for shard in page],
                "HasMoreShards": len(shards) > limit,
                "RetentionPeriodHours": stream.retention_hours,
                "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": "NONE",
            }
        }

    async def describe_stream_summary(self, params: dict[str, Any]) -> dict[str, Any]:
        stream, shards = await self.streams.shards(self._stream_name(params))
        return {
            "StreamDescriptionSummary": {
                **self._summary(stream),
                "RetentionPeriodHours": stream.retention_hours,
                "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": "NONE",
                "OpenShardCount": sum(shard.open for shard in shards),
                "ConsumerCount": 0,
            }
        }

    async def list_streams(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = rules.integer(params, "Limit", 1, 10000) or 100
        after = rules.string(params, "ExclusiveStartStreamName", 1, 128, rules.STREAM_NAME)
        token = rules.string(params, "NextToken", 1, 1048576)
        if token is not None:
            if after is not None:
                raise InvalidArgumentException(
                    "NextToken and ExclusiveStartStreamName cannot be provided together."
                )
            after = self._token(token, "streams")[1]
        found, more = await self.streams.names(after, limit)
        answer: dict[str, Any] = {
            "StreamNames": [stream.name for stream in found],
            "HasMoreStreams": more,
            "StreamSummaries": [self._summary(stream) for stream in found],
        }
        if more:
            answer["NextToken"] = self._new_token("streams", found[-1].name)
        return answer

    # paging tokens: what to list, where the last page ended, when
    def _new_token(self, *parts: Any) -> str:
        body = orjson.dumps([*parts, self._now_ms()])
        return base64.urlsafe_b64encode(body).decode()

    def _token(self, text: str, kind: str) -> list[Any]:
        try:
            parts = orjson.loads(base64.urlsafe_b64decode(text.encode()))
        except (binascii.Error, orjson.JSONDecodeError, ValueError):
            parts = None
        if not isinstance(parts, list) or not parts or parts[0] != kind:
            raise InvalidArgumentException(f"Invalid NextToken: {text}")
        if type(parts[-1]) is not int:
            raise InvalidArgumentException(f"Invalid NextToken: {text}")
        if self._now_ms() - parts[-1] > rules.NEXT_TOKEN_MS:
            raise ExpiredNextTokenException(f"The NextToken has expired: {text}")
        return parts

    async def list_shards(self, params: dict[str, Any]) -> dict[str, Any]:
        token = rules.string(params, "NextToken", 1, 1048576)
        limit = rules.integer(params, "MaxResults", 1, 10000) or 1000
        after = rules.string(params, "ExclusiveStartShardId", 1, 128, rules.SHARD_ID)
        shard_filter = params.get("ShardFilter")
        if token is not None:
            if params.get("StreamName") is not None or params.get("StreamARN") is not None:
                raise InvalidArgumentException(
                    "NextToken and StreamName cannot be provided together."
                )
            if after is not None or shard_filter is not None:
                raise InvalidArgumentException(
                    "NextToken and ExclusiveStartShardId or ShardFilter cannot be provided "
                    "together."
                )
            _, name, after, shard_filter, _ = self._token(token, "shards")
        else:
            name = self._stream_name(params)
        stream, shards = await self.streams.shards(name)
        created = params.get("StreamCreationTimestamp")
        if created is not None and rules.timestamp(created, "StreamCreationTimestamp") // 1000 != (
            stream.created_ms // 1000
        ):
            raise ResourceNotFoundException(
                f"Stream {name} under account {self.streams.account_id} not found."
            )
        if shard_filter is not None:
            shards = self._filtered(stream, shards, shard_filter)
        if after is not None:
            shards = [s for s in shards if s.shard_id > after]
        page = shards[:limit]
        answer: dict[str, Any] = {"Shards": [_shard_answer(stream, shard) for shard in page]}
        if len(shards) > limit:
            answer["NextToken"] = self._new_token("shards", name, page[-1].shard_id, shard_filter)
        return answer

    def _filtered(self, stream: Stream, shards: list[Shard], shard_filter: object) -> list[Shard]:
        if not isinstance(shard_filter, Mapping):
            raise ValidationException("Invalid value for ShardFilter: it must be a structure")
        kind = rules.enum(shard_filter.get("Type"), "shardFilter.type", rules.FILTER_TYPES)
        shard_id = rules.string(
            shard_filter, "ShardId", 1, 128, rules.SHARD_ID, member="shardFilter.shardId"
        )
        timestamp = shard_filter.get("Timestamp")
        if kind == "AFTER_SHARD_ID":
            if shard_id is None:
                raise InvalidArgumentException(
                    "ShardId must be provided for the ShardFilter type AFTER_SHARD_ID."
                )
            return [shard for shard in shards if shard.shard_id > shard_id]
        if shard_id is not None:
            raise InvalidArgumentException(
                f"ShardId cannot be provided for the ShardFilter type {kind}."
            )
        if kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
            if timestamp is None:
                raise InvalidArgumentException(
                    f"Timestamp must be provided for the ShardFilter type {kind}."
                )
            at = rules.timestamp(timestamp, "ShardFilter.Timestamp")
            if at <= stream.created_ms:
                return _roots(shards) if kind == "AT_TIMESTAMP" else shards
            if kind == "AT_TIMESTAMP":
                return [s for s in shards if s.created_ms <= at and _open_at(s, at)]
            return [s for s in shards if _open_at(s, at)]
        if timestamp is not None:
            raise InvalidArgumentException(
                f"Timestamp cannot be provided for the ShardFilter type {kind}."
            )
        if kind == "AT_LATEST":
            return [shard for shard in shards if shard.open]
        if kind == "AT_TRIM_HORIZON":
            return _roots(shards)
        return shards  # FROM_TRIM_HORIZON: every shard still kept

    # tags and settings
    async def add_tags_to_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        if params.get("Tags") is None:
            raise rules.invalid(None, "tags", "Member must not be null")
        tags = rules.tags(params["Tags"])
        if len(tags) > 10:
            raise InvalidArgumentException(
                "Failed to add tags to stream: at most 10 tags can be added in one request."
            )
        await self.streams.set_tags(name, tags)
        return {}

    async def remove_tags_from_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        await self.streams.set_tags(name, {}, rules.tag_keys(params.get("TagKeys")))
        return {}

    async def list_tags_for_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        after = rules.string(params, "ExclusiveStartTagKey", 1, 128)
        limit = rules.integer(params, "Limit", 1, 50) or 50
        stream = await self.streams.get(name)
        keys = sorted(k for k in stream.tags if after is None or k > after)
        return {
            "Tags": [{"Key": k, "Value": stream.tags[k]} for k in keys[:limit]],
            "HasMoreTags": len(keys) > limit,
        }

    def _resource(self, params: Mapping[str, Any]) -> str:
        """The stream a ResourceARN names (consumers' ARNs name nothing here)."""
        arn = rules.string(
            params, "ResourceARN", 1, 2048, rules.RESOURCE_ARN, required=True, member="resourceARN"
        )
        assert arn is not None
        name = arn.partition(":stream/")[2]
        if arn != self.streams.arn(name):
            raise ResourceNotFoundException(f"Resource {arn} not found.")
        return name

    async def tag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._resource(params)
        if params.get("Tags") is None:
            raise rules.invalid(None, "tags", "Member must not be null")
        await self.streams.set_tags(name, rules.tags(params["Tags"]))
        return {}

    async def untag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._resource(params)
        await self.streams.set_tags(name, {}, rules.tag_keys(params.get("TagKeys")))
        return {}

    async def list_tags_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        stream = await self.streams.get(self._resource(params))
        return {"Tags": [{"Key": k, "Value": stream.tags[k]} for k in sorted(stream.tags)]}

    async def describe_limits(self, params: dict[str, Any]) -> dict[str, Any]:
        open_shards, on_demand = await self.streams.limits()
        return {
            "ShardLimit": self.streams.shard_limit,
            "OpenShardCount": open_shards,
            "OnDemandStreamCount": on_demand,
            # (reported as Kinesis's default quota; gureum does not enforce it)
            "OnDemandStreamCountLimit": rules.ON_DEMAND_STREAM_LIMIT,
        }

    async def _retention(self, params: dict[str, Any], *, increase: bool) -> dict[str, Any]:
        name = self._stream_name(params)
        hours = rules.integer(params, "RetentionPeriodHours", required=True)
        assert hours is not None
        if hours < rules.MIN_RETENTION_HOURS:
            raise InvalidArgumentException(
                f"Minimum allowed retention period is {rules.MIN_RETENTION_HOURS} hours. Requested "
                f"retention period ({hours} hours) is too short."
            )
        if hours > MAX_RETENTION_HOURS:
            raise InvalidArgumentException(
                f"Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested "
                f"retention period ({hours} hours) is too long."
            )
        await self.streams.set_retention(name, hours, increase=increase)
        return {}

    async def increase_stream_retention_period(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._retention(params, increase=True)

    async def decrease_stream_retention_period(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._retention(params, increase=False)

    async def update_stream_mode(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = rules.string(
            params, "StreamARN", 1, 2048, rules.STREAM_ARN, required=True, member="streamARN"
        )
        assert arn is not None
        name = self._stream_name({"StreamARN": arn})
        details = params.get("StreamModeDetails")
        if not isinstance(details, Mapping):
            raise rules.invalid(None, "streamModeDetails", "Member must not be null")
        mode = rules.enum(details.get("StreamMode"), "streamModeDetails.streamMode", rules.MODES)
        await self.streams.set_mode(name, mode)
        return {}

    # records
    async def put_record(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        entry = rules.entry(params, "")
        rules.string(params, "SequenceNumberForOrdering", 0, 128, rules.SEQUENCE)
        # (a shard's numbers only grow, and its children's are above its own: the order
        # SequenceNumberForOrdering asks for holds without looking at it)
        [written] = await self.streams.put(name, [entry])
        if isinstance(written, Throttled):
            raise ProvisionedThroughputExceededException(self._rate_exceeded(name, written))
        return {
            "ShardId": written.shard_id,
            "SequenceNumber": written.sequence_number,
            "EncryptionType": "NONE",
        }

    async def put_records(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        records = params.get("Records")
        if records is None:
            raise rules.invalid(None, "records", "Member must not be null")
        if not isinstance(records, list):
            raise ValidationException("Invalid value for Records: it must be a list")
        if not 1 <= len(records) <= rules.MAX_PUT_RECORDS:
            rule = (
                f"Member must have length less than or equal to {rules.MAX_PUT_RECORDS}"
                if records
                else "Member must have length greater than or equal to 1"
            )
            raise rules.invalid("[...]" if records else "[]", "records", rule)
        entries = []
        for number, record in enumerate(records, 1):
            if not isinstance(record, Mapping):
                raise ValidationException("Invalid value for Records: entries must be structures")
            entries.append(rules.entry(record, f"records.{number}.member."))
        total = sum(e.weight for e in entries)
        if total > rules.MAX_PUT_RECORDS_BYTES:
            raise InvalidArgumentException(
                f"Records size exceeds {rules.MAX_PUT_RECORDS_BYTES // (1024 * 1024)} MB limit"
            )
        written = await self.streams.put(name, entries)
        results: list[dict[str, str]] = []
        for w in written:
            if isinstance(w, Throttled):
                results.append(
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": self._rate_exceeded(name, w),
                    }
                )
            else:
                results.append({"SequenceNumber": w.sequence_number, "ShardId": w.shard_id})
        return {
            "FailedRecordCount": sum(1 for w in written if isinstance(w, Throttled)),
            "Records": results,
            "EncryptionType": "NONE",
        }

    def _rate_exceeded(self, name: str, throttled: Throttled) -> str:
        return (
            f"Rate exceeded for shard {throttled.shard_id} in stream {name} under account "
            f"{self.streams.account_id}."
        )

    async def get_shard_iterator(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        shard_id = rules.string(params, "ShardId", 1, 128, rules.SHARD_ID, required=True)
        assert shard_id is not None
        kind = rules.enum(
            params.get("ShardIteratorType"), "shardIteratorType", rules.ITERATOR_TYPES
        )
        text = rules.string(
            params,
            "StartingSequenceNumber",
            0,
            129,
            rules.SEQUENCE,
            member="startingSequenceNumber",
        )
        timestamp = params.get("Timestamp")
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER") and text is None:
            raise InvalidArgumentException(
                f"StartingSequenceNumber must be provided for ShardIteratorType {kind}."
            )
        if kind == "AT_TIMESTAMP" and timestamp is None:
            raise InvalidArgumentException(
                "Timestamp must be provided for ShardIteratorType AT_TIMESTAMP."
            )
        stream, shards = await self.streams.shards(name)
        index = sequence_numbers.shard_index(shard_id)
        shard = next((s for s in shards if s.index == index), None)
        if shard is None:
            raise self.streams.shard_not_found(name, shard_id)
        if kind == "TRIM_HORIZON":
            position = 1
        elif kind == "LATEST":
            position = shard.last_position + 1
        elif kind == "AT_TIMESTAMP":
            at = rules.timestamp(timestamp, "Timestamp")
            position = await self.streams.position_at(name, shard.index, at)
        else:
            assert text is not None
            number = sequence_numbers.parse(text)
            if (
                number is None
                or number.stream_key != stream.key
                or number.shard_index != shard.index
                or number.position > shard.last_position
            ):
                raise InvalidArgumentException(
                    f"StartingSequenceNumber {text} used in GetShardIterator on shard "
                    f"{shard_id} in stream {name} under account {self.streams.account_id} "
                    "is invalid because it did not come from this stream."
                )
            position = number.position + (kind == "AFTER_SEQUENCE_NUMBER")
        iterator = ShardIterator(
            stream.arn, shard.shard_id, max(1, position), self._now_ms(), stream.key
        )
        return {"ShardIterator": shard_iterators.encode(iterator)}

    async def get_records(self, params: dict[str, Any]) -> dict[str, Any]:
        text = rules.required(params, "ShardIterator", 1, 512)
        limit = rules.integer(params, "Limit", 1, rules.MAX_GET_RECORDS) or rules.MAX_GET_RECORDS
        try:
            iterator = shard_iterators.decode(text, "kinesis")
        except shard_iterators.InvalidIterator:
            raise InvalidArgumentException(f"Invalid ShardIterator: {text}") from None
        name = iterator.stream_arn.partition(":stream/")[2]
        if iterator.stream_arn != self.streams.arn(name):
            raise InvalidArgumentException(f"Invalid ShardIterator: {text}")
        named = self._name(params, required=False)
        if named is not None and named != name:
            raise InvalidArgumentException(
                f"The ShardIterator reads stream {name}, not the StreamARN's {named}."
            )
        now = self._now_ms()
        if iterator.expired(now, rules.ITERATOR_MS):
            raise ExpiredIteratorException(
                f"Iterator expired. The iterator was created at time "
                f"{_clock(iterator.issued_ms)} while right now it is {_clock(now)} which is "
                "further in the future than the tolerated delay of "
                f"{rules.ITERATOR_MS} milliseconds."
            )
        index = sequence_numbers.shard_index(iterator.shard_id)
        if index is None:
            raise InvalidArgumentException(f"Invalid ShardIterator: {text}")
        page = await self.streams.metered_read(name, index, iterator.position, limit)
        if iterator.stream_key is not None and iterator.stream_key != page.stream_key:
            # (its stream was deleted, and another made under its name since)
            raise self.streams.not_found(name)
        answer: dict[str, Any] = {
            "Records": [
                {
                    "SequenceNumber": record.sequence_number,
                    "ApproximateArrivalTimestamp": record.arrival_ms / 1000,
                    "Data": record.data,
                    "PartitionKey": record.partition_key,
                }
                for record in page.records
            ],
            "MillisBehindLatest": page.millis_behind,
        }
        if page.ended:
            # A closed shard read to its end: no next iterator, and where to go on.
            answer["ChildShards"] = [
                {
                    "ShardId": child.shard_id,
                    "ParentShards": child.parents,
                    "HashKeyRange": _hash_range(child),
                }
                for child in page.children
            ]
        else:
            following = ShardIterator(
                iterator.stream_arn, iterator.shard_id, page.next_position, now, page.stream_key
            )
            answer["NextShardIterator"] = shard_iterators.encode(following)
        return answer

    # resharding
    async def split_shard(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        shard_id = rules.string(params, "ShardToSplit", 1, 128, rules.SHARD_ID, required=True)
        text = rules.string(params, "NewStartingHashKey", 0, 64, rules.HASH_KEY, required=True)
        assert shard_id is not None and text is not None
        await self.streams.split(name, shard_id, int(text))
        return {}

    async def merge_shards(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        shard_id = rules.string(params, "ShardToMerge", 1, 128, rules.SHARD_ID, required=True)
        adjacent = rules.string(
            params, "AdjacentShardToMerge", 1, 128, rules.SHARD_ID, required=True
        )
        assert shard_id is not None and adjacent is not None
        await self.streams.merge(name, shard_id, adjacent)
        return {}

    async def update_shard_count(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._stream_name(params)
        target = rules.integer(params, "TargetShardCount", 1, required=True)
        assert target is not None
        rules.enum(params.get("ScalingType"), "scalingType", ("UNIFORM_SCALING",))
        current = await self.streams.update_shard_count(name, target)
        return {
            "StreamName": name,
            "CurrentShardCount": current,
            "TargetShardCount": target,
            "StreamARN": self.streams.arn(name),
        }

    def service(self) -> json_rpc.JsonRpcService:
        return json_rpc.JsonRpcService(
            prefix="Kinesis_20131202",
            operations={
                "CreateStream": self.create_stream,
                "DeleteStream": self.delete_stream,
                "DescribeStream": self.describe_stream,
                "DescribeStreamSummary": self.describe_stream_summary,
                "ListStreams": self.list_streams,
                "ListShards": self.list_shards,
                "AddTagsToStream": self.add_tags_to_stream,
                "RemoveTagsFromStream": self.remove_tags_from_stream,
                "ListTagsForStream": self.list_tags_for_stream,
                "IncreaseStreamRetentionPeriod": self.increase_stream_retention_period,
                "DecreaseStreamRetentionPeriod": self.decrease_stream_retention_period,
                "UpdateStreamMode": self.update_stream_mode,
                "TagResource": self.tag_resource,
                "UntagResource": self.untag_resource,
                "ListTagsForResource": self.list_tags_for_resource,
                "DescribeLimits": self.describe_limits,
                "PutRecord": self.put_record,
                "PutRecords": self.put_records,
                "GetShardIterator": self.get_shard_iterator,
                "GetRecords": self.get_records,
                "SplitShard": self.split_shard,
                "MergeShards": self.merge_shards,
                "UpdateShardCount": self.update_shard_count,
            },
            model="kinesis",
            title="Kinesis",
            internal_error="InternalFailureException",
            json_version="1.1",
        )


def _clock(ms: int) -> str:
    """A time as Kinesis's ExpiredIteratorException message writes it
    (``Mon Feb 29 19:02:48 UTC 2016``)."""
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(ms / 1000))
