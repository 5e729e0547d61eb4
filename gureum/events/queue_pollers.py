"""Queue pollers: the seed's "a poller takes events off the queue", for SQS mappings.

Each node runs :class:`QueuePollers`. Once a second it settles mappings in a passing
State (:meth:`EventSourceMappings.settle`), and for every Enabled mapping it asks the
Leasing Service for the mapping's lease: the node that holds it runs the mapping's
poller, renewing the lease with heartbeats; a node that stops beating loses it, and
another node's next tick takes it over. A poller runs its batches as Lambda does:

- it gathers up to ``BatchSize`` messages, waiting up to
  ``MaximumBatchingWindowInSeconds`` for more (and never past 6 MB of payload);
- it invokes the function synchronously with Lambda's SQS event (``Records``);
- on success it deletes the batch, or with ``ReportBatchItemFailures`` all but the
  messages the answer names (an answer that names a message not in the batch, or none
  at all, fails the whole batch, as Lambda's rules say);
- on failure (a function error, a throttle, a timeout) it deletes nothing: the messages
  show again after the queue's visibility timeout, and the queue's RedrivePolicy moves
  them to its dead-letter queue after ``maxReceiveCount`` receives.

A poller gathers batches one after another and runs several at once: five at first, as
Lambda starts, then as many as the State Manager (:mod:`gureum.events.state_manager`)
says each second from the queue's depth, under ``ScalingConfig.MaximumConcurrency``
and the function's reserved concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import Any

import orjson

from gureum.errors import (
    QueueDoesNotExist,
    ServiceError,
)
from gureum.events import state_manager
from gureum.events.filters import FilterSet
from gureum.events.leasing import HEARTBEAT_SECONDS, LeasingService, lease_key
from gureum.events.mappings import EventSourceMappings, Mapping
from gureum.events.stream_pollers import ShardPoller, StreamTracker, invoke_batch
from gureum.events.stream_sources import (
    DynamoDBSource,
    KinesisSource,
    StreamSource,
    source_kind_of,
)
from gureum.front_end_invoke import FrontEndInvoke
from gureum.functions.registry import FunctionRegistry
from gureum.queues.queues import Message, Queues, md5_of_attributes
from gureum.streams.stream_store import StreamStore
from gureum.tables.streams import Streams

logger = logging.getLogger(__name__)

#: Lambda's limit of a batch's payload.
BATCH_BYTES = 6 * 1024 * 1024
#: How long a receive waits for a message before the poller looks at its mapping again.
RECEIVE_WAIT = 2.0
#: A throttled or failing batch's pause before the poller receives again.
BACKOFF_SECONDS = 1.0


def sqs_record(message: Message, source_arn: str, region: str, account_id: str) -> dict[str, Any]:
    """A message as Lambda's SQS event hands it to a function."""
    record: dict[str, Any] = {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": {
            "ApproximateReceiveCount": str(message.receive_count),
            "SentTimestamp": str(message.sent_ms),
            "SenderId": account_id,
            "ApproximateFirstReceiveTimestamp": str(message.first_receive_ms),
        },
        "messageAttributes": {
            name: {
                **(
                    {"stringValue": value["StringValue"]}
                    if "StringValue" in value
                    else {"binaryValue": value.get("BinaryValue")}
                ),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType"),
            }
            for name, value in (message.message_attributes or {}).items()
        },
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": region,
    }
    if message.message_attributes:
        record["md5OfMessageAttributes"] = md5_of_attributes(message.message_attributes)
    return record


def failed_items(answer: bytes, batch: list[Message]) -> set[str] | None:
    """The message ids a ``ReportBatchItemFailures`` answer says failed; None when the
    answer is invalid (the whole batch failed, as Lambda reads it)."""
    try:
        result = orjson.loads(answer) if answer else None
    except orjson.JSONDecodeError:
        return set()  # (not an object with batchItemFailures: the batch succeeded)
    if not isinstance(result, dict) or result.get("batchItemFailures") is None:
        return set()
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return None
    ids = {message.message_id for message in batch}
    failed = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(item, str) or item not in ids:
            return None
        failed.add(item)
    return failed


class QueuePoller:
    """The batches of one mapping, while this node holds its lease."""

    def __init__(self, pollers: Pollers, mapping: Mapping) -> None:
        self.pollers = pollers
        self.mapping = mapping
        self._task: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()
        #: messages received ahead of their batch
        self._ahead: list[Message] = []
        #: the mapping's compiled FilterCriteria, with the configuration it came from
        self._filters: dict[str, tuple[dict[str, Any], FilterSet]] = {}
        #: batches running, how many may (the State Manager's figure), and the signal
        #: that one ended or the figure rose
        self._running = 0
        self.concurrency = min(state_manager.FIRST, self.limit)
        self._freed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"gureum-poller-{self.mapping.uuid}")

    async def stop(self) -> None:
        """Stop gathering; a batch in flight is left to its function (its messages show
        again after the visibility timeout if it is cut short)."""
        tasks = [t for t in (self._task, *self._batches) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ahead, self._ahead = self._ahead, []
        for message in ahead:  # (visible again at once, for whoever polls next)
            with contextlib.suppress(Exception):
                await self.pollers.queues.change_visibility(
                    self.mapping.queue_name, message.receipt_handle, 0
                )

    @property
    def limit(self) -> int:
        reserved = self.pollers.reserved_concurrency(self.mapping.function_arn)
        return state_manager.limit_of(self.mapping.maximum_concurrency, reserved)

    async def scale(self) -> None:
        """The State Manager's step: this second's concurrency from the queue's depth."""
        counts = await self.pollers.queues.counts(self.mapping.queue_name)
        waiting = counts.get("ApproximateNumberOfMessages", 0) + len(self._ahead)
        wanted = state_manager.next_concurrency(
            self.concurrency, waiting, self.mapping.batch_size, self.limit
        )
        if wanted != self.concurrency:
            self.concurrency = wanted
            self._freed.set()

    async def _run(self) -> None:
        """Gather batches (one after another, so that a batching window fills each) and
        run up to ``concurrency`` of them at once. Without a window, one receive takes
        as many batches as there is room for."""
        while True:
            mapping = self.mapping
            while self._running >= self.concurrency:
                self._freed.clear()
                await self._freed.wait()
            try:
                batches = await self._gather(mapping, self.concurrency - self._running)
            except asyncio.CancelledError:
                raise
            except QueueDoesNotExist:
                await self.pollers.gone(mapping, "the queue does not exist any more")
                return
            except Exception:
                logger.exception("the poller of mapping %s failed to receive", mapping.uuid)
                await asyncio.sleep(BACKOFF_SECONDS)
                continue
            for batch in batches:
                self._running += 1
                task = asyncio.create_task(self._batch(mapping, batch))
                self._batches.add(task)
                task.add_done_callback(self._batches.discard)

    async def _batch(self, mapping: Mapping, batch: list[Message]) -> None:
        try:
            if not await self._process(mapping, batch):
                await asyncio.sleep(BACKOFF_SECONDS)
        except Exception:
            logger.exception("the poller of mapping %s failed a batch", mapping.uuid)
        finally:
            self._running -= 1
            self._freed.set()

    async def _gather(self, mapping: Mapping, room: int) -> list[list[Message]]:
        """Batches of up to BatchSize messages (and 6 MB), at most ``room`` of them: with
        a batching window, one batch of what arrives before it closes; without, taken
        from what the poller received ahead (a receive claims enough for every batch
        that may run at once, so the store sees one claim for several batches)."""
        queues = self.pollers.queues
        if mapping.batching_window > 0:
            return [batch] if (batch := await self._fill(mapping)) else []
        if len(self._ahead) < mapping.batch_size * room:
            wanted = mapping.batch_size * max(room, self.concurrency) - len(self._ahead)
            received = await queues.receive(
                mapping.queue_name,
                max_messages=min(wanted, 1000),
                wait_seconds=0 if self._ahead else RECEIVE_WAIT,
            )
            self._ahead += await self._passing(mapping, received)
        batches: list[list[Message]] = []
        size = 0
        while self._ahead and (batches or room > 0):
            message = self._ahead[0]
            length = len(message.body.encode())
            if not batches or len(batches[-1]) >= mapping.batch_size or size + length > BATCH_BYTES:
                if len(batches) == room:
                    break
                batches.append([])
                size = 0
            batches[-1].append(self._ahead.pop(0))
            size += length
        return batches

    async def _fill(self, mapping: Mapping) -> list[Message]:
        """A batch of up to BatchSize messages gathered until the batching window
        closes (or 6 MB): it opens with the first message."""
        queues = self.pollers.queues
        batch: list[Message] = []
        size = 0
        window_ends: float | None = None
        while len(batch) < mapping.batch_size:
            wait = RECEIVE_WAIT if window_ends is None else window_ends - time.monotonic()
            if wait <= 0:
                break
            received = await queues.receive(
                mapping.queue_name,
                max_messages=min(10, mapping.batch_size - len(batch)),
                wait_seconds=wait,
            )
            for message in await self._passing(mapping, received):
                size += len(message.body.encode())
                if size > BATCH_BYTES and batch:  # (it waits for the next batch)
                    await queues.change_visibility(mapping.queue_name, message.receipt_handle, 0)
                    return batch
                batch.append(message)
            if not batch:
                return batch
            if window_ends is None:
                window_ends = time.monotonic() + mapping.batching_window
        return batch

    async def _passing(self, mapping: Mapping, received: list[Message]) -> list[Message]:
        """The messages the mapping's FilterCriteria let through; the others deleted,
        as Lambda deletes the messages its filters drop."""
        if not received or not mapping.config.get("FilterCriteria"):
            return received
        filters = self._filters.get(mapping.uuid)
        if filters is None or filters[0] is not mapping.config:
            filters = (mapping.config, mapping.filters)
            self._filters[mapping.uuid] = filters
        pollers = self.pollers
        kept: list[Message] = []
        dropped: list[Message] = []
        for message in received:
            record = sqs_record(
                message, mapping.event_source_arn, pollers.region, pollers.account_id
            )
            (kept if filters[1].passes_message(message.body, record) else dropped).append(message)
        if dropped:
            await pollers.queues.delete_messages(
                mapping.queue_name, [m.receipt_handle for m in dropped]
            )
        return kept

    async def _process(self, mapping: Mapping, batch: list[Message]) -> bool:
        """Invoke the function with the batch; delete what succeeded. False: it failed."""
        pollers = self.pollers
        records = [
            sqs_record(m, mapping.event_source_arn, pollers.region, pollers.account_id)
            for m in batch
        ]
        outcome = await invoke_batch(pollers, mapping, records, f"mapping {mapping.uuid}")
        if outcome is None or outcome.function_error:
            return False
        done = batch
        if mapping.reports_item_failures:
            failed = failed_items(outcome.body, batch)
            if failed is None:
                return False
            done = [m for m in batch if m.message_id not in failed]
        if done:
            await pollers.queues.delete_messages(
                mapping.queue_name, [m.receipt_handle for m in done]
            )
        return len(done) == len(batch)


class Pollers:
    """This node's pollers (the seed's pollers): a queue mapping's under the mapping's
    lease, a stream mapping's one a shard under each shard's lease."""

    def __init__(
        self,
        mappings: EventSourceMappings,
        leasing: LeasingService,
        queues: Queues,
        invoke: FrontEndInvoke,
        functions: FunctionRegistry,
        *,
        kinesis: StreamStore,
        table_streams: Streams,
        region: str,
        account_id: str,
        interval: float = 1.0,
    ) -> None:
        self.functions = functions
        self.mappings = mappings
        self.leasing = leasing
        self.queues = queues
        self.invoke = invoke
        self.kinesis = kinesis
        self.table_streams = table_streams
        self.region = region
        self.account_id = account_id
        self.interval = interval
        self.tracker = StreamTracker(leasing)
        #: this node's pollers by lease key (each holding that lease)
        self.pollers: dict[str, QueuePoller | ShardPoller] = {}
        self._task: asyncio.Task[None] | None = None
        self._renewed = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gureum-pollers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        held = list(self.pollers)
        for poller in list(self.pollers.values()):
            await poller.stop()
        self.pollers.clear()
        await self.leasing.release(held)  # (another node takes them at once)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                logger.exception("the pollers' tick failed")
            await asyncio.sleep(self.interval)

    def source_of(self, arn: str) -> StreamSource:
        """The stream an ARN names (a Kinesis stream's, or a table's stream's)."""
        if source_kind_of(arn) == "kinesis":
            return KinesisSource(self.kinesis, arn, self.region)
        return DynamoDBSource(self.table_streams, arn)

    def source(self, mapping: Mapping) -> StreamSource:
        return self.source_of(mapping.event_source_arn)

    async def _wanted(self, mapping: Mapping) -> list[str | None]:
        """The shards of a mapping to read now (None for a queue's one poller)."""
        if mapping.kind == "sqs":
            return [None]
        source = self.source(mapping)
        if not await source.exists():
            await self.gone(mapping, "the stream does not exist any more")
            return []
        return list(await self.tracker.shards_to_read(mapping, source))

    async def tick(self) -> None:
        """Settle States, renew this node's leases, take free ones, start and stop
        pollers to match."""
        for uuid in await self.mappings.settle():
            for key in [k for k, p in self.pollers.items() if p.mapping.uuid == uuid]:
                await self._stop(key)
            await self.leasing.forget(uuid)
        enabled = {m.uuid: m for m in await self.mappings.find() if m.state == "Enabled"}
        if self.pollers and time.monotonic() - self._renewed >= HEARTBEAT_SECONDS / 2:
            held = await self.leasing.renew(self.pollers)
            self._renewed = time.monotonic()
            for key in [k for k in self.pollers if k not in held]:
                logger.warning("lost the lease %s: its poller stops", key)
                await self._stop(key)
        for key in [k for k, p in self.pollers.items() if p.mapping.uuid not in enabled]:
            await self._stop(key)
            await self.leasing.release([key])
        for key in [k for k, p in self.pollers.items() if getattr(p, "finished", False)]:
            await self._stop(key)  # (a shard read to its end: its lease says END)
        for key in [k for k, p in self.pollers.items() if getattr(p, "stopped", False)]:
            logger.warning("the reader of %s stopped: it is started again", key)
            await self._stop(key)  # (taken again below, from its checkpoint, if still free)
        for uuid, mapping in enabled.items():
            wanted = await self._wanted(mapping)
            keys = {lease_key(uuid, shard) for shard in wanted}
            for key in [k for k, p in self.pollers.items() if p.mapping.uuid == uuid]:
                if key not in keys:  # (a lane of another ParallelizationFactor)
                    await self._stop(key)
                    await self.leasing.release([key])
            for shard in wanted:
                key = lease_key(uuid, shard)
                poller = self.pollers.get(key)
                if poller is not None:
                    poller.mapping = mapping  # (a changed configuration: its next batch)
                    await poller.scale()
                    continue
                lease = await self.leasing.take(uuid, shard)
                if lease is None:
                    continue
                if shard is None:
                    made: QueuePoller | ShardPoller = QueuePoller(self, mapping)
                else:
                    if lease.checkpoint is None:  # (read before with another factor?)
                        resumed = await self.tracker.resume_from(mapping, shard)
                        lease = dataclasses.replace(lease, checkpoint=resumed)
                    made = ShardPoller(self, mapping, self.source(mapping), lease)
                self.pollers[key] = made
                made.start()

    def reserved_concurrency(self, function_arn: str) -> int | None:
        try:
            ref = self.functions.ref(function_arn)
            return self.functions.reserved_concurrency(ref.name)
        except ServiceError:
            return None

    async def _stop(self, key: str) -> None:
        poller = self.pollers.pop(key, None)
        if poller is not None:
            await poller.stop()

    async def gone(self, mapping: Mapping, why: str) -> None:
        """The mapping's function or source is gone: Disabled, as Lambda turns it."""
        logger.warning("mapping %s is disabled: %s", mapping.uuid, why)
        await self.mappings.disable(mapping.uuid, f"PROBLEM: {why}")
