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
  the shard (and only it) waits. The destination is a queue, or a function invoked
  asynchronously with the record.

With a ``ParallelizationFactor`` over 1 a shard is read by that many lanes (:class:`Lane`),
each under a lease of its own and taking the records whose partition key hashes to it:
a key's records stay in order, and a failing batch holds up its lane only.

With ``TumblingWindowInSeconds`` a lane's batches are cut at the windows' edges (by
the records' arrival), each invocation carries the window and the ``state`` the last
one answered, and a window that has ended gets a last invocation with no records and
``isFinalInvokeForWindow``. The open window is saved with each checkpoint, so a reader
taking a lease over carries it on.

A lease also records what was handed to the function before each invocation, so that
records handed on again after a takeover (those past the last checkpoint) are counted
as duplicates, and the age of the last record done (Lambda's IteratorAge).

The :class:`StreamTracker` says which lanes to read: those of every shard whose
parents are read to their end (a closed shard's leases end with the checkpoint
``END``), so after a resharding the children follow their parents.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from gureum.clock import now_ms
from gureum.errors import ResourceNotFoundException, ServiceError, TooManyRequestsException
from gureum.events.invoke_config import parse_target
from gureum.events.leasing import Lease, LeasingService
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
#: A tumbling window's state: over it, Lambda ends the window early.
WINDOW_STATE_BYTES = 1024 * 1024


async def invoke_batch(
    host: PollerHost,
    mapping: Mapping,
    records: list[dict[str, Any]],
    where: str,
    extra: dict[str, Any] | None = None,
) -> InvokeOutcome | None:
    """A batch's invocation of the mapping's function (Lambda's event of ``records``,
    with ``extra``'s members): its outcome, or None when the function could not run
    (throttled, not there: a function that is gone disables the mapping, as Lambda
    does)."""
    try:
        invoked = await host.invoke.invoke(
            mapping.function_arn,
            None,
            orjson.dumps({"Records": records, **(extra or {})}),
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


@dataclass(frozen=True, slots=True)
class Lane:
    """One reader of a shard: with a ParallelizationFactor of ``factor``, the shard's
    records are shared among ``factor`` lanes by their partition key's hash, each lane
    read in order under a lease of its own (so a key's records stay in order, and a
    failing batch holds up its lane only). With a factor of 1 the lane is the shard."""

    shard_id: str
    lane: int  # from 0
    factor: int

    @property
    def name(self) -> str:
        """The lease's shard: the shard's id, or ``{shard}/{lane}-of-{factor}``."""
        if self.factor == 1:
            return self.shard_id
        return f"{self.shard_id}/{self.lane + 1}-of-{self.factor}"

    @classmethod
    def parse(cls, name: str) -> Lane:
        shard_id, _, part = name.partition("/")
        lane, _, factor = part.partition("-of-")
        if lane.isdigit() and factor.isdigit():
            return cls(shard_id, int(lane) - 1, int(factor))
        return cls(name, 0, 1)

    def takes(self, record: SourceRecord) -> bool:
        if self.factor == 1:
            return True
        digest = hashlib.md5(record.partition.encode(), usedforsecurity=False).digest()
        return int.from_bytes(digest[:8], "big") % self.factor == self.lane


class StreamTracker:
    """Which shards of a mapping's stream to read now, and with how many readers each
    (the seed's Stream Tracker): every shard whose parents are read to their end (a
    closed shard's leases end with the checkpoint ``END``), in ParallelizationFactor
    lanes."""

    def __init__(self, leasing: LeasingService) -> None:
        self.leasing = leasing

    async def shards_to_read(self, mapping: Mapping, source: StreamSource) -> list[str]:
        """The lanes (lease shard names) to read now."""
        shards = await source.shards()
        factor = mapping.parallelization
        by_shard: dict[str, dict[str, Lease]] = {}
        for lease in await self.leasing.leases(mapping.uuid):
            if lease.shard is not None:
                by_shard.setdefault(Lane.parse(lease.shard).shard_id, {})[lease.shard] = lease
        listed = {shard.shard_id for shard in shards}

        def done(shard_id: str) -> bool:
            """Read to its end by every lane of some factor."""
            lanes: dict[int, list[Lease]] = {}
            for name, lease in by_shard.get(shard_id, {}).items():
                lanes.setdefault(Lane.parse(name).factor, []).append(lease)
            return any(
                len(held) == n and all(lease.checkpoint == END for lease in held)
                for n, held in lanes.items()
            )

        wanted: list[str] = []
        stale: list[str] = []
        for shard in shards:
            if done(shard.shard_id):
                continue
            if not all(done(parent) or parent not in listed for parent in shard.parents):
                continue
            held = by_shard.get(shard.shard_id, {})
            lanes = [Lane(shard.shard_id, n, factor).name for n in range(factor)]
            wanted += [name for name in lanes if name not in held or held[name].checkpoint != END]
            earlier = [lease.key for name, lease in held.items() if name not in lanes]
            if earlier and all(held.get(name) and held[name].checkpoint for name in lanes):
                stale += earlier  # (the new lanes have taken over from them)
        if stale:
            await self.leasing.forget(mapping.uuid, stale)
        return wanted

    async def resume_from(self, mapping: Mapping, name: str) -> str | None:
        """Where a new lane starts when its shard was read with another factor: the
        earliest checkpoint of those lanes (their records after it come again); None
        where the shard was not read yet (the mapping's StartingPosition). Its sibling
        lanes (the same factor) say nothing of where it is: each passes over the others'
        records, so one that started first is ahead of it."""
        lane = Lane.parse(name)
        positions = []
        for lease in await self.leasing.leases(mapping.uuid):
            if lease.shard is None or lease.checkpoint is None or not lease.checkpoint.isdigit():
                continue
            other = Lane.parse(lease.shard)
            if other.shard_id == lane.shard_id and other.factor != lane.factor:
                positions.append(int(lease.checkpoint))
        return str(min(positions)) if positions else None


class LeaseLost(Exception):
    """The lease a shard's reader works under is not its node's any more."""


@dataclass(slots=True)
class Window:
    """An open tumbling window of a lane: its start (ms) and the function's state."""

    start_ms: int
    state: dict[str, Any]

    def encode(self) -> str:
        return orjson.dumps({"start": self.start_ms, "state": self.state}).decode()

    @classmethod
    def decode(cls, text: str | None) -> Window | None:
        if not text:
            return None
        stored = orjson.loads(text)
        return cls(int(stored["start"]), dict(stored["state"]))


def _window_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ShardPoller:
    """One lane of a shard of a mapping's stream, read in order while this node holds
    its lease."""

    def __init__(
        self,
        pollers: PollerHost,
        mapping: Mapping,
        source: StreamSource,
        lease: Lease,
    ) -> None:
        assert lease.shard is not None
        self.pollers = pollers
        self.mapping = mapping
        self.source = source
        self.lane = Lane.parse(lease.shard)
        self.shard_id = self.lane.shard_id
        self.key = lease.key
        self._checkpoint = lease.checkpoint
        #: records before this position were handed to the function already: a record
        #: before it handed on again is a duplicate (after a takeover or a restart)
        self._delivered = lease.delivered or 0
        self._window = Window.decode(lease.window)
        self._task: asyncio.Task[None] | None = None
        #: this shard is read to its end (its lease says END)
        self.finished = False
        #: the age of the last record done, when it was done (Lambda's IteratorAge)
        self.iterator_age_ms: int | None = lease.iterator_age_ms

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"gureum-shard-{self.key}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def stopped(self) -> bool:
        """Its reader ended without reading the shard to its end (it lost its lease, or
        failed): the node replaces it, from the lease's checkpoint."""
        return self._task is not None and self._task.done() and not self.finished

    async def scale(self) -> None:
        """(A lane is read one batch at a time: nothing to scale.)"""

    @property
    def _window_ms(self) -> int:
        return int(self.mapping.config.get("TumblingWindowInSeconds") or 0) * 1000

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
                batch, next_position, ended, read = await self._gather(position)
                window = self._window
                if window is not None and (
                    (batch and self._window_of(batch[0]) != window.start_ms)
                    or (not batch and now_ms() >= window.start_ms + self._window_ms)
                    or (not batch and ended)
                ):
                    await self._close_window(window, position)
                    continue
                if batch:
                    await self._deliver(batch)
                    self.iterator_age_ms = now_ms() - batch[-1].arrival_ms
                    await self._save(next_position, self.iterator_age_ms)
                    position = next_position
                    continue
                if ended:
                    await self.pollers.leasing.checkpoint(self.key, END)
                    self.finished = True
                    return
                if read:  # (records passed over: other lanes', or filtered out)
                    await self._save(next_position)
                    position = next_position
                else:  # (nothing new)
                    await self.source.idle(self.shard_id, IDLE_POLL_SECONDS)
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            logger.warning("shard %s: the lease is not ours any more", self.key)
        except ResourceNotFoundException:
            await self.pollers.gone(self.mapping, "the stream does not exist any more")
        except Exception:
            logger.exception("the poller of shard %s failed", self.key)

    async def _save(self, position: int, iterator_age_ms: int | None = None) -> None:
        """The checkpoint (with the open window): records before ``position`` are done."""
        if not await self.pollers.leasing.checkpoint(
            self.key,
            str(position),
            iterator_age_ms=iterator_age_ms,
            window=self._window.encode() if self._window else None,
        ):
            raise LeaseLost

    def _window_of(self, record: SourceRecord) -> int:
        size = self._window_ms
        return record.arrival_ms // size * size if size else 0

    async def _gather(self, position: int) -> tuple[list[SourceRecord], int, bool, bool]:
        """A batch from ``position``: what one read gives, or with a batching window what
        arrives before it closes; only this lane's records, of one tumbling window,
        filtered (the others are passed over). Also where to read next, whether the
        shard is read to its end, and whether anything was read at all."""
        mapping = self.mapping
        page = await self.source.read(self.shard_id, position, mapping.batch_size)
        read = bool(page.records)
        records = [r for r in page.records if self.lane.takes(r)]
        position, ended = page.next_position, page.ended
        if records and mapping.batching_window > 0 and not ended:
            closes = time.monotonic() + mapping.batching_window
            while len(records) < mapping.batch_size and time.monotonic() < closes:
                await asyncio.sleep(min(IDLE_POLL_SECONDS * 5, closes - time.monotonic()))
                more = await self.source.read(
                    self.shard_id, position, mapping.batch_size - len(records)
                )
                records += [r for r in more.records if self.lane.takes(r)]
                position = more.next_position
                if more.ended:
                    ended = True
                    break
        if self._window_ms and records:
            first = self._window_of(records[0])
            cut = next((n for n, r in enumerate(records) if self._window_of(r) != first), None)
            if cut is not None:  # (the next window's records are read again for it)
                position, ended = records[cut].position, False
                records = records[:cut]
        filters = mapping.filters if mapping.config.get("FilterCriteria") else None
        if filters is not None:
            records = [r for r in records if filters.passes_record(r.event)]
        return records, position, ended and not records, read

    async def _deliver(self, batch: list[SourceRecord]) -> None:
        """Invoke the function with ``batch`` until it is done with (succeeded, or sent
        to the OnFailure destination)."""
        mapping = self.mapping
        config = mapping.config
        retries = int(config.get("MaximumRetryAttempts", -1))
        max_age = int(config.get("MaximumRecordAgeInSeconds", -1))
        again = sum(1 for r in batch if r.position < self._delivered)
        if not await self.pollers.leasing.delivering(self.key, batch[-1].position + 1, again):
            raise LeaseLost
        self._delivered = max(self._delivered, batch[-1].position + 1)
        if self._window_ms and self._window is None:
            self._window = Window(self._window_of(batch[0]), {})
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

    def _window_event(self, window: Window, final: bool, early: bool) -> dict[str, Any]:
        return {
            "window": {
                "start": _window_iso(window.start_ms),
                "end": _window_iso(window.start_ms + self._window_ms),
            },
            "state": window.state,
            "shardId": self.shard_id,
            "eventSourceARN": self.source.arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": early,
        }

    async def _invoke(self, part: list[SourceRecord]) -> int | None:
        """None: the batch succeeded; 0: it failed; n > 0: records from ``n`` on failed
        (``ReportBatchItemFailures``, the records before them done). In a tumbling
        window the answer's ``state`` is carried on (an answer without one failed)."""
        mapping = self.mapping
        # IteratorAge: how old the batch's last record is as the function gets it.
        name, _, qualifier = mapping.function_arn.rsplit(":function:", 1)[-1].partition(":")
        age_ms = max(0.0, time.time() * 1000 - part[-1].arrival_ms)
        self.pollers.invoke.metrics.put(
            "IteratorAge", name, qualifier or None, age_ms, "Milliseconds"
        )
        window = self._window
        extra = self._window_event(window, False, False) if window is not None else None
        outcome = await invoke_batch(
            self.pollers, mapping, [r.event for r in part], self.key, extra
        )
        if outcome is None or outcome.function_error:
            return 0
        if window is not None:
            state = _answered_state(outcome.body)
            if state is None:
                logger.warning("shard %s: the function's answer has no state", self.key)
                return 0
            if len(orjson.dumps(state)) > WINDOW_STATE_BYTES:
                # Lambda ends the window early: its last invoke, then a fresh state
                await self._final_invoke(Window(window.start_ms, state), early=True)
                state = {}
            window.state = state
        if not mapping.reports_item_failures:
            return None
        return _first_failed(outcome.body, part)

    async def _close_window(self, window: Window, position: int) -> None:
        """The window's last invoke (no records, its state, ``isFinalInvokeForWindow``),
        then the lane goes on with no window open."""
        await self._final_invoke(window, early=False)
        self._window = None
        await self._save(position)

    async def _final_invoke(self, window: Window, *, early: bool) -> None:
        """Retried until it succeeds (the lane waits, as Lambda's does) or its retries
        are used up."""
        retries = int(self.mapping.config.get("MaximumRetryAttempts", -1))
        attempts = 0
        while True:
            outcome = await invoke_batch(
                self.pollers, self.mapping, [], self.key, self._window_event(window, True, early)
            )
            if outcome is not None and not outcome.function_error:
                return
            attempts += 1
            if retries >= 0 and attempts > retries:
                logger.warning(
                    "shard %s: the window from %s was given up after %d attempts",
                    self.key,
                    _window_iso(window.start_ms),
                    attempts,
                )
                return
            await asyncio.sleep(RETRY_SECONDS)

    async def _failed(self, part: list[SourceRecord], condition: str, attempts: int) -> None:
        """Give a batch up: Lambda's invocation record to the OnFailure destination (a
        queue, or a function invoked asynchronously with it)."""
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
        target = parse_target(destination, "DestinationConfig.OnFailure.Destination")
        try:
            if target.kind == "lambda":
                await self.pollers.invoke.invoke(
                    target.arn, None, orjson.dumps(record), "Event", Caller(new_uuid())
                )
            else:
                await self.pollers.queues.send(
                    target.name, [Outgoing(orjson.dumps(record).decode())]
                )
        except ServiceError as error:
            logger.warning("shard %s: OnFailure %s: %s", self.key, destination, error)


def _answered_state(answer: bytes) -> dict[str, Any] | None:
    """A tumbling window's answer's ``state`` (None: it has none, or not an object)."""
    try:
        result = orjson.loads(answer) if answer else None
    except orjson.JSONDecodeError:
        return None
    state = result.get("state") if isinstance(result, dict) else None
    return state if isinstance(state, dict) else None


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
