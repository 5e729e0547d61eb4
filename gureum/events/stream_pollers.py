"""Stream pollers: the seed's "records of a shard in order, retried until they expire".

A :class:`ShardPoller` reads one shard of a Kinesis stream or a table's stream under
the shard's lease, from the lease's checkpoint (or the mapping's
``StartingPosition``), one batch at a time, strictly in order:

- a batch is up to ``BatchSize`` records (waiting up to
  ``MaximumBatchingWindowInSeconds`` for more), filtered by ``FilterCriteria``;
- the function is invoked with Lambda's event of the source (``Records`` of
  ``kinesis`` records, or DynamoDB stream records);
- on success the checkpoint moves past the batch (with ``ReportBatchItemFailures``, to
  the first failed record, which is read again);
- on failure the same batch is retried, split in halves first with
  ``BisectBatchOnFunctionError``, until it succeeds, ``MaximumRetryAttempts`` is used
  up or its records pass ``MaximumRecordAgeInSeconds``; then it goes to the
  ``OnFailure`` destination (a queue) as Lambda's invocation record with
  ``KinesisBatchInfo`` or ``DDBStreamBatchInfo``, and the shard moves on. Until then
  the shard (and only it) waits.

The :class:`StreamTracker` says which shards to read: every shard whose parents are
read to their end (a closed shard's lease ends with the checkpoint ``END``), so after a
resharding the children follow their parents.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from gureum.errors import ResourceNotFoundException, ServiceError, TooManyRequestsException
from gureum.events.leasing import LeasingService, lease_key
from gureum.events.mappings import EventSourceMappings, Mapping
from gureum.events.stream_sources import SourceRecord, StreamSource
from gureum.front_end_invoke import Caller, FrontEndInvoke
from gureum.ids import new_uuid
from gureum.queues.queues import Outgoing, Queues
from gureum.workers.sandbox import InvokeOutcome


class PollerHost(Protocol):
    """What a shard poller needs of the node's pollers (``queue_pollers.Pollers``)."""

    leasing: LeasingService
    mappings: EventSourceMappings
    invoke: FrontEndInvoke
    queues: Queues

    async def gone(self, mapping: Mapping, why: str) -> None: ...


logger = logging.getLogger(__name__)

#: A shard's checkpoint once it is closed and read to its end.
END = "END"
#: How often an idle shard is read again (Lambda polls each shard about once a second;
#: a shard read here is the store's, so it is asked far more often, for latency).
IDLE_POLL_SECONDS = 0.02
#: A failed batch's pause before it is tried again.
RETRY_SECONDS = 0.5
PAYLOAD_BYTES = 6 * 1024 * 1024


async def invoke_batch(
    host: PollerHost, mapping: Mapping, records: list[dict[str, Any]], where: str
) -> InvokeOutcome | None:
    """A batch's invocation of the mapping's function (Lambda's event of ``records``):
    its outcome, or None when the function could not run (throttled, not there: a
    function that is gone disables the mapping, as Lambda does)."""
    try:
        invoked = await host.invoke.invoke(
            mapping.function_arn,
            None,
            orjson.dumps({"Records": records}),
            "RequestResponse",
            Caller(new_uuid()),
        )
    except TooManyRequestsException:
        return None
    except ResourceNotFoundException:
        await host.gone(mapping, "the function does not exist any more")
        return None
    except ServiceError as error:
        logger.warning("%s: the function was not invoked: %s", where, error)
        return None
    return invoked.outcome


def _iso(ms: float) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class StreamTracker:
    """Which shards of a mapping's stream to read now (the seed's Stream Tracker)."""

    def __init__(self, leasing: LeasingService) -> None:
        self.leasing = leasing

    async def shards_to_read(self, mapping: Mapping, source: StreamSource) -> list[str]:
        shards = await source.shards()
        checkpoints = {
            lease.shard: lease.checkpoint for lease in await self.leasing.leases(mapping.uuid)
        }
        listed = {shard.shard_id for shard in shards}
        wanted = []
        for shard in shards:
            if checkpoints.get(shard.shard_id) == END:
                continue
            parents_done = all(
                checkpoints.get(parent) == END or parent not in listed for parent in shard.parents
            )
            if parents_done:
                wanted.append(shard.shard_id)
        return wanted


class ShardPoller:
    """One shard of a mapping's stream, read in order while this node holds its lease."""

    def __init__(
        self,
        pollers: PollerHost,
        mapping: Mapping,
        source: StreamSource,
        shard_id: str,
        checkpoint: str | None,
    ) -> None:
        self.pollers = pollers
        self.mapping = mapping
        self.source = source
        self.shard_id = shard_id
        self.key = lease_key(mapping.uuid, shard_id)
        self._checkpoint = checkpoint
        self._task: asyncio.Task[None] | None = None
        #: this shard is read to its end (its lease says END)
        self.finished = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"gureum-shard-{self.key}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def scale(self) -> None:
        """(A shard is read one batch at a time: nothing to scale.)"""

    async def _run(self) -> None:
        try:
            if self._checkpoint is not None:
                position = int(self._checkpoint)
            else:
                config = self.mapping.config
                position = await self.source.start(
                    self.shard_id,
                    str(config.get("StartingPosition", "TRIM_HORIZON")),
                    config.get("StartingPositionTimestamp"),
                )
            while True:
                batch, next_position, ended = await self._gather(position)
                if batch:
                    position = await self._deliver(batch, next_position)
                else:
                    position = next_position
                    if ended:
                        await self.pollers.leasing.checkpoint(self.key, END)
                        self.finished = True
                        return
                    await asyncio.sleep(IDLE_POLL_SECONDS)
                    continue
                if not await self.pollers.leasing.checkpoint(self.key, str(position)):
                    logger.warning("shard %s: the lease is not ours any more", self.key)
                    return
        except asyncio.CancelledError:
            raise
        except ResourceNotFoundException:
            await self.pollers.gone(self.mapping, "the stream does not exist any more")
        except Exception:
            logger.exception("the poller of shard %s failed", self.key)

    async def _gather(self, position: int) -> tuple[list[SourceRecord], int, bool]:
        """A batch from ``position``: what one read gives, or with a batching window what
        arrives before it closes; filtered (the filtered-out ones are passed over)."""
        mapping = self.mapping
        page = await self.source.read(self.shard_id, position, mapping.batch_size)
        records, position, ended = list(page.records), page.next_position, page.ended
        if records and mapping.batching_window > 0 and not ended:
            closes = time.monotonic() + mapping.batching_window
            while len(records) < mapping.batch_size and time.monotonic() < closes:
                await asyncio.sleep(min(IDLE_POLL_SECONDS * 5, closes - time.monotonic()))
                more = await self.source.read(
                    self.shard_id, position, mapping.batch_size - len(records)
                )
                records += more.records
                position = more.next_position
                if more.ended:
                    break
        filters = mapping.filters if mapping.config.get("FilterCriteria") else None
        if filters is not None:
            records = [r for r in records if filters.passes_record(r.event)]
        return records, position, ended and not records

    async def _deliver(self, batch: list[SourceRecord], after: int) -> int:
        """Invoke the function with ``batch`` until it is done with (succeeded, or sent
        to the OnFailure destination); the position to read next."""
        mapping = self.mapping
        config = mapping.config
        retries = int(config.get("MaximumRetryAttempts", -1))
        max_age = int(config.get("MaximumRecordAgeInSeconds", -1))
        parts = [batch]
        while parts:
            part = parts[0]
            attempts = 0
            while True:
                if max_age >= 0:
                    young = [r for r in part if time.time() * 1000 - r.arrival_ms <= max_age * 1000]
                    if len(young) < len(part):
                        await self._failed(part[: len(part) - len(young)], "RecordAgeExceeded", 0)
                        part = young
                        if not part:
                            break
                failed_at = await self._invoke(part)
                if failed_at is None:
                    await self.pollers.mappings.set_last_result(mapping.uuid, "OK")
                    break
                if failed_at > 0:  # ReportBatchItemFailures: the first failed record on
                    parts.insert(1, part[failed_at:])
                    break
                attempts += 1
                await self.pollers.mappings.set_last_result(
                    mapping.uuid, "PROBLEM: Function call failed"
                )
                if config.get("BisectBatchOnFunctionError") and len(part) > 1:
                    half = len(part) // 2
                    parts[1:1] = [part[:half], part[half:]]
                    break
                if retries >= 0 and attempts > retries:
                    await self._failed(part, "RetryAttemptsExhausted", attempts)
                    break
                await asyncio.sleep(RETRY_SECONDS)
            parts.pop(0)
        return after

    async def _invoke(self, part: list[SourceRecord]) -> int | None:
        """None: the batch succeeded; 0: it failed; n > 0: records from ``n`` on failed
        (``ReportBatchItemFailures``, the records before them done)."""
        mapping = self.mapping
        # IteratorAge: how old the batch's last record is as the function gets it.
        name, _, qualifier = mapping.function_arn.rsplit(":function:", 1)[-1].partition(":")
        age_ms = max(0.0, time.time() * 1000 - part[-1].arrival_ms)
        self.pollers.invoke.metrics.put(
            "IteratorAge", name, qualifier or None, age_ms, "Milliseconds"
        )
        outcome = await invoke_batch(self.pollers, mapping, [r.event for r in part], self.key)
        if outcome is None or outcome.function_error:
            return 0
        if not mapping.reports_item_failures:
            return None
        return _first_failed(outcome.body, part)

    async def _failed(self, part: list[SourceRecord], condition: str, attempts: int) -> None:
        """Give a batch up: Lambda's invocation record to the OnFailure destination."""
        mapping = self.mapping
        destination = ((mapping.config.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        logger.warning(
            "shard %s: %d records given up (%s)%s",
            self.key,
            len(part),
            condition,
            f", sent to {destination}" if destination else "",
        )
        if not destination:
            return
        info_key = "KinesisBatchInfo" if self.source.kind == "kinesis" else "DDBStreamBatchInfo"
        record: dict[str, Any] = {
            "requestContext": {
                "requestId": new_uuid(),
                "functionArn": mapping.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": _iso(time.time() * 1000),
            info_key: {
                "shardId": self.shard_id,
                "startSequenceNumber": part[0].sequence_number,
                "endSequenceNumber": part[-1].sequence_number,
                "approximateArrivalOfFirstRecord": _iso(part[0].arrival_ms),
                "approximateArrivalOfLastRecord": _iso(part[-1].arrival_ms),
                "batchSize": len(part),
                "streamArn": self.source.arn,
            },
        }
        queue = destination.rsplit(":", 1)[-1]
        try:
            await self.pollers.queues.send(queue, [Outgoing(orjson.dumps(record).decode())])
        except ServiceError as error:
            logger.warning("shard %s: OnFailure %s: %s", self.key, destination, error)


def _first_failed(answer: bytes, part: list[SourceRecord]) -> int | None:
    """The index of the first record a ``batchItemFailures`` answer names (None: none
    failed; 0: the answer is invalid, and the whole batch failed, as Lambda reads it)."""
    try:
        result = orjson.loads(answer) if answer else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(result, dict) or result.get("batchItemFailures") is None:
        return None
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return 0
    if not failures:
        return None
    by_sequence = {r.sequence_number: n for n, r in enumerate(part)}
    found = []
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(item, str) or item not in by_sequence:
            return 0
        found.append(by_sequence[item])
    return min(found)
