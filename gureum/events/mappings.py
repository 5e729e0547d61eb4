"""Event source mappings: a queue read for a function, as the Lambda API keeps them.

A mapping is a row in the store: the function (an ARN, qualified when the request
named a version or alias), the event source's ARN, its configuration as the Lambda API
names its members (``BatchSize``, ``MaximumBatchingWindowInSeconds``,
``FunctionResponseTypes``, ``ScalingConfig``, ...) and its State. States move as
Lambda's do: a mapping is ``Creating`` when made, ``Updating`` (``Enabling``,
``Disabling``) when changed and ``Deleting`` when deleted, and any node's pollers
(:mod:`gureum.events.queue_pollers`) settle it to ``Enabled`` or ``Disabled`` (or
remove it) within a second, in the store, so every node sees the same State.

The rules here are Lambda's for SQS sources, with its words where they are known.
Stream sources (Kinesis, DynamoDB Streams) are refused for now with a message saying
so, rather than accepted and never polled. ``FilterCriteria`` is checked here and
applied by the pollers (:mod:`gureum.events.filters`).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from gureum.events.filters import FilterSet
from gureum.events.invoke_config import parse_target
from gureum.events.stream_sources import source_kind_of
from gureum.ids import new_uuid
from gureum.store import Store
from gureum.store.tables import event_source_mappings

#: Lambda's limits of an SQS source.
SQS_BATCH = (1, 10_000)
SQS_DEFAULT_BATCH = 10
STREAM_DEFAULT_BATCH = 100
BATCHING_WINDOW = (0, 300)
MAXIMUM_CONCURRENCY = (2, 1000)
#: The members an SQS mapping may set (others are the streams' and Kafka's).
SQS_MEMBERS = {
    "EventSourceArn",
    "FunctionName",
    "Enabled",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "FilterCriteria",
    "Tags",
}
STREAM_MEMBERS = {
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
}
#: States a poller settles (to Enabled or Disabled), and the one it removes.
SETTLING = ("Creating", "Enabling", "Disabling", "Updating")
DELETING = "Deleting"


@dataclass(frozen=True, slots=True)
class Mapping:
    uuid: str
    function_arn: str
    event_source_arn: str
    config: dict[str, Any]
    state: str
    state_reason: str
    last_result: str
    modified_ms: int

    @property
    def enabled(self) -> bool:
        return bool(self.config.get("Enabled", True))

    @property
    def kind(self) -> str:
        """``sqs``, ``kinesis`` or ``dynamodb``: what the mapping reads."""
        return (
            "sqs"
            if self.event_source_arn.split(":")[2] == "sqs"
            else source_kind_of(self.event_source_arn)
        )

    @property
    def queue_name(self) -> str:
        return self.event_source_arn.rsplit(":", 1)[-1]

    @property
    def batch_size(self) -> int:
        return int(self.config.get("BatchSize") or SQS_DEFAULT_BATCH)

    @property
    def batching_window(self) -> float:
        return float(self.config.get("MaximumBatchingWindowInSeconds") or 0)

    @property
    def maximum_concurrency(self) -> int | None:
        scaling = self.config.get("ScalingConfig") or {}
        value = scaling.get("MaximumConcurrency")
        return int(value) if value is not None else None

    @property
    def filters(self) -> FilterSet:
        return FilterSet.parse(self.config.get("FilterCriteria"))

    @property
    def parallelization(self) -> int:
        """A stream's readers per shard (ParallelizationFactor)."""
        return int(self.config.get("ParallelizationFactor") or 1)

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in (self.config.get("FunctionResponseTypes") or [])


def _mapping(row: Any) -> Mapping:
    return Mapping(
        row.uuid,
        row.function_arn,
        row.event_source_arn,
        row.config,
        row.state,
        row.state_reason,
        row.last_result,
        row.modified_ms,
    )


def _int(params: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    member = key[0].lower() + key[1:]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationException(f"Value '{value}' at '{member}' must be an integer")
    if not low <= value <= high:
        bound = (
            f"less than or equal to {high}" if value > high else f"greater than or equal to {low}"
        )
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must have value {bound}"
        )
    return value


def source_kind(arn: Any) -> str:
    """``sqs`` for a queue's ARN, ``kinesis`` or ``dynamodb`` for a stream's."""
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise ValidationException(
            f"1 validation error detected: Value '{arn}' at 'eventSourceArn' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:"
            "(\\d{12})?:(.*)"
        )
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    if service == "sqs":
        return "sqs"
    return source_kind_of(arn)


def check(params: dict[str, Any], *, creating: bool, kind: str = "sqs") -> dict[str, Any]:
    """A request's configuration of a mapping of ``kind`` (``sqs``, ``kinesis`` or
    ``dynamodb``), checked as Lambda checks it, with its defaults when ``creating``."""
    given = {key: value for key, value in params.items() if value is not None}
    stream = kind != "sqs"
    allowed = (SQS_MEMBERS - {"ScalingConfig"}) | STREAM_MEMBERS if stream else SQS_MEMBERS
    for key in given:
        if key in STREAM_MEMBERS and not stream:
            raise InvalidParameterValueException(
                f"Unsupported {key} for an SQS event source: it is a stream source's setting"
            )
        if key not in allowed and key != "UUID":
            raise InvalidParameterValueException(
                f"Unsupported parameter for a {kind} event source: {key}"
            )
    if stream:
        _check_stream(given, creating=creating, kind=kind)
    if "FilterCriteria" in given:
        FilterSet.parse(given["FilterCriteria"])
    if "Enabled" in given and not isinstance(given["Enabled"], bool):
        raise ValidationException("Enabled must be a boolean")
    _int(given, "BatchSize", *SQS_BATCH)
    _int(given, "MaximumBatchingWindowInSeconds", *BATCHING_WINDOW)
    if stream and creating:
        given.setdefault("BatchSize", STREAM_DEFAULT_BATCH)
    responses = given.get("FunctionResponseTypes")
    if responses is not None and (
        not isinstance(responses, list)
        or any(kind != "ReportBatchItemFailures" for kind in responses)
    ):
        raise ValidationException(
            f"1 validation error detected: Value '{responses}' at 'functionResponseTypes' "
            "failed to satisfy constraint: Member must satisfy constraint: [Member must "
            "satisfy enum value set: [ReportBatchItemFailures]]"
        )
    scaling = given.get("ScalingConfig")
    if scaling is not None:
        if not isinstance(scaling, dict):
            raise ValidationException("ScalingConfig must be an object")
        value = scaling.get("MaximumConcurrency")
        if value is not None and (
            not isinstance(value, int)
            or not MAXIMUM_CONCURRENCY[0] <= value <= MAXIMUM_CONCURRENCY[1]
        ):
            raise InvalidParameterValueException(
                "Maximum concurrency must be between 2 and 1000 (inclusive)"
            )
    if creating:
        given.setdefault("BatchSize", SQS_DEFAULT_BATCH)
        given.setdefault("MaximumBatchingWindowInSeconds", 0)
        given.setdefault("FunctionResponseTypes", [])
        given.setdefault("Enabled", True)
    return given


def _check_stream(given: dict[str, Any], *, creating: bool, kind: str) -> None:
    starting = given.get("StartingPosition")
    if creating and starting is None:
        raise InvalidParameterValueException(
            "StartingPosition is required for a stream's event source mapping"
        )
    positions = (
        ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
        if kind == "kinesis"
        else (
            "TRIM_HORIZON",
            "LATEST",
        )
    )
    if starting is not None and starting not in positions:
        raise InvalidParameterValueException(
            f"Unsupported starting position {starting} for a {kind} stream: "
            f"it is one of {', '.join(positions)}"
        )
    if starting == "AT_TIMESTAMP" and given.get("StartingPositionTimestamp") is None:
        raise InvalidParameterValueException(
            "StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP"
        )
    _int(given, "ParallelizationFactor", 1, 10)
    _int(given, "TumblingWindowInSeconds", 0, 900)
    _int(given, "MaximumRetryAttempts", -1, 10_000)
    age = _int(given, "MaximumRecordAgeInSeconds", -1, 604_800)
    if age is not None and -1 < age < 60:
        raise InvalidParameterValueException(
            "MaximumRecordAgeInSeconds must be -1 (no limit) or between 60 and 604800"
        )
    if "BisectBatchOnFunctionError" in given and not isinstance(
        given["BisectBatchOnFunctionError"], bool
    ):
        raise ValidationException("BisectBatchOnFunctionError must be a boolean")
    destinations = given.get("DestinationConfig")
    if destinations is not None:
        if not isinstance(destinations, dict):
            raise ValidationException("DestinationConfig must be an object")
        if ((destinations.get("OnSuccess") or {}).get("Destination")) is not None:
            raise InvalidParameterValueException(
                "Unsupported DestinationConfig parameter for given event source mapping type."
            )
        destination = (destinations.get("OnFailure") or {}).get("Destination")
        if destination is not None:  # (a gureum queue or a function)
            parse_target(destination, "destinationConfig.onFailure.destination")
    if creating:
        given.setdefault("MaximumRetryAttempts", -1)
        given.setdefault("MaximumRecordAgeInSeconds", -1)
        given.setdefault("BisectBatchOnFunctionError", False)
        given.setdefault("ParallelizationFactor", 1)
        given.setdefault("TumblingWindowInSeconds", 0)
        given.setdefault("DestinationConfig", {"OnSuccess": {}, "OnFailure": {}})


def check_batching(config: dict[str, Any]) -> None:
    """Lambda's rule for batches over 10 messages of a queue: they need a batching
    window (a stream's batches do not)."""
    if "StartingPosition" in config:
        return
    if int(config.get("BatchSize") or 0) > 10 and not config.get("MaximumBatchingWindowInSeconds"):
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size "
            "is greater than 10"
        )


def shape(mapping: Mapping, region: str, account_id: str) -> dict[str, Any]:
    """A mapping as the Lambda API answers it (EventSourceMappingConfiguration)."""
    config = mapping.config
    out: dict[str, Any] = {
        "UUID": mapping.uuid,
        "BatchSize": config.get("BatchSize", SQS_DEFAULT_BATCH),
        "MaximumBatchingWindowInSeconds": config.get("MaximumBatchingWindowInSeconds", 0),
        "EventSourceArn": mapping.event_source_arn,
        "FunctionArn": mapping.function_arn,
        "LastModified": mapping.modified_ms / 1000,
        "State": mapping.state,
        "StateTransitionReason": mapping.state_reason,
        "FunctionResponseTypes": config.get("FunctionResponseTypes", []),
        "EventSourceMappingArn": (
            f"arn:aws:lambda:{region}:{account_id}:event-source-mapping:{mapping.uuid}"
        ),
    }
    if config.get("ScalingConfig"):
        out["ScalingConfig"] = config["ScalingConfig"]
    if (config.get("FilterCriteria") or {}).get("Filters"):
        out["FilterCriteria"] = config["FilterCriteria"]
    for key in (
        "StartingPosition",
        "StartingPositionTimestamp",
        "ParallelizationFactor",
        "MaximumRecordAgeInSeconds",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "DestinationConfig",
        "TumblingWindowInSeconds",
    ):
        if key in config:
            out[key] = config[key]
    if "StartingPosition" in config:
        out["LastProcessingResult"] = mapping.last_result or "No records processed"
    return out


class EventSourceMappings:
    """Mappings on a store; methods are coroutines for the event loop."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, function_arn: str, source_arn: str, config: dict[str, Any]) -> Mapping:
        return await self.store.run(self._create, function_arn, source_arn, config)

    def _create(self, function_arn: str, source_arn: str, config: dict[str, Any]) -> Mapping:
        c = event_source_mappings.c
        now = now_ms()
        mapping = Mapping(
            new_uuid(), function_arn, source_arn, config, "Creating", "USER_INITIATED", "", now
        )
        with self.store.engine.begin() as connection:
            if self.store.dialect == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:  # (one creator at a time per source: the duplicate check holds)
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": source_arn}
                )
            existing = connection.execute(
                sa.select(c.uuid).where(
                    c.event_source_arn == source_arn, c.function_arn == function_arn
                )
            ).first()
            if existing is not None:
                function = function_arn.rsplit(":function:", 1)[-1]
                kind = "SQS" if ":sqs:" in source_arn else "event source"
                raise ResourceConflictException(
                    f'An event source mapping with {kind} arn (" {source_arn} ") and function '
                    f'(" {function} ") already exists. Please update or delete the existing '
                    f"mapping with UUID {existing.uuid}"
                )
            connection.execute(
                event_source_mappings.insert().values(
                    uuid=mapping.uuid,
                    function_arn=function_arn,
                    event_source_arn=source_arn,
                    config=config,
                    state=mapping.state,
                    state_reason=mapping.state_reason,
                    last_result="",
                    modified_ms=now,
                )
            )
        return mapping

    async def get(self, uuid: str) -> Mapping:
        found = await self.store.run(self._get, uuid)
        if found is None:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return found

    def _get(self, uuid: str) -> Mapping | None:
        with self.store.engine.connect() as connection:
            row = connection.execute(
                sa.select(event_source_mappings).where(event_source_mappings.c.uuid == uuid)
            ).first()
        return _mapping(row) if row is not None else None

    async def find(
        self, *, source_arn: str | None = None, function_arns: Sequence[str] | None = None
    ) -> list[Mapping]:
        return await self.store.run(self._list, source_arn, function_arns)

    def _list(self, source_arn: str | None, function_arns: Sequence[str] | None) -> list[Mapping]:
        c = event_source_mappings.c
        query = sa.select(event_source_mappings).order_by(c.uuid)
        if source_arn is not None:
            query = query.where(c.event_source_arn == source_arn)
        if function_arns is not None:
            query = query.where(c.function_arn.in_(list(function_arns)))
        with self.store.engine.connect() as connection:
            return [_mapping(row) for row in connection.execute(query).all()]

    async def update(self, uuid: str, changes: dict[str, Any], function_arn: str | None) -> Mapping:
        """Merge ``changes`` into a mapping (which is then Updating, or Enabling or
        Disabling when ``Enabled`` changed); refused while it is being deleted."""
        return await self.store.run(self._update, uuid, changes, function_arn)

    def _update(self, uuid: str, changes: dict[str, Any], function_arn: str | None) -> Mapping:
        c = event_source_mappings.c
        now = now_ms()
        with self.store.engine.begin() as connection:
            query = sa.select(event_source_mappings).where(c.uuid == uuid)
            if self.store.dialect == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).first()
            if row is None:
                raise ResourceNotFoundException("The resource you requested does not exist.")
            current = _mapping(row)
            if current.state == DELETING:
                raise ResourceConflictException(
                    f"Cannot update the event source mapping because it is in use: {uuid} is "
                    "being deleted"
                )
            config = {**current.config, **changes}
            check_batching(config)
            if "Enabled" in changes and changes["Enabled"] != current.enabled:
                state = "Enabling" if changes["Enabled"] else "Disabling"
            else:
                state = "Updating"
            values: dict[str, Any] = {
                "config": config,
                "state": state,
                "state_reason": "USER_INITIATED",
                "modified_ms": now,
            }
            if function_arn is not None:
                values["function_arn"] = function_arn
            connection.execute(event_source_mappings.update().where(c.uuid == uuid).values(values))
        return Mapping(
            uuid,
            function_arn or current.function_arn,
            current.event_source_arn,
            config,
            state,
            "USER_INITIATED",
            current.last_result,
            now,
        )

    async def delete(self, uuid: str) -> Mapping:
        """Mark a mapping Deleting (its pollers stop, then it is removed)."""
        return await self.store.run(self._delete, uuid)

    def _delete(self, uuid: str) -> Mapping:
        c = event_source_mappings.c
        with self.store.engine.begin() as connection:
            row = connection.execute(sa.select(event_source_mappings).where(c.uuid == uuid)).first()
            if row is None:
                raise ResourceNotFoundException("The resource you requested does not exist.")
            connection.execute(
                event_source_mappings.update()
                .where(c.uuid == uuid)
                .values(state=DELETING, state_reason="USER_INITIATED")
            )
        found = _mapping(row)
        return Mapping(
            found.uuid,
            found.function_arn,
            found.event_source_arn,
            found.config,
            DELETING,
            "USER_INITIATED",
            found.last_result,
            found.modified_ms,
        )

    async def settle(self) -> list[str]:
        """Move every mapping in a passing State to where it goes: Enabled or Disabled,
        or out of the store; the UUIDs removed (their leases go with them)."""
        return await self.store.run(self._settle)

    def _settle(self) -> list[str]:
        c = event_source_mappings.c
        with self.store.engine.begin() as connection:
            rows = connection.execute(
                sa.select(c.uuid, c.config, c.state).where(c.state.in_([*SETTLING, DELETING]))
            ).all()
            removed = []
            for row in rows:
                if row.state == DELETING:
                    connection.execute(event_source_mappings.delete().where(c.uuid == row.uuid))
                    removed.append(row.uuid)
                    continue
                state = "Enabled" if row.config.get("Enabled", True) else "Disabled"
                connection.execute(
                    event_source_mappings.update()
                    .where(c.uuid == row.uuid, c.state == row.state)
                    .values(state=state)
                )
        return removed

    async def disable(self, uuid: str, reason: str) -> None:
        """Turn a mapping Disabled for a reason of Lambda's own (its function or queue
        is gone), as Lambda does."""
        await self.store.run(self._disable, uuid, reason)

    def _disable(self, uuid: str, reason: str) -> None:
        c = event_source_mappings.c
        with self.store.engine.begin() as connection:
            row = connection.execute(sa.select(c.config).where(c.uuid == uuid)).first()
            if row is None:
                return
            connection.execute(
                event_source_mappings.update()
                .where(c.uuid == uuid, c.state != DELETING)
                .values(
                    state="Disabled",
                    state_reason=reason,
                    config={**row.config, "Enabled": False},
                    modified_ms=now_ms(),
                )
            )

    async def set_last_result(self, uuid: str, result: str) -> None:
        await self.store.run(self._set_last_result, uuid, result)

    def _set_last_result(self, uuid: str, result: str) -> None:
        c = event_source_mappings.c
        with self.store.engine.begin() as connection:
            connection.execute(
                event_source_mappings.update()
                .where(c.uuid == uuid, c.last_result != result)
                .values(last_result=result)
            )


def page_marker(uuid: str) -> str:
    return base64.urlsafe_b64encode(uuid.encode()).decode()


def after_marker(marker: str) -> str:
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameterValueException(f"Invalid marker: {marker}") from None
