"""Writes of records, committed in groups, numbered under their shards' row locks.

A write takes its shard's next positions by updating the shard's row (``last_position``)
in the transaction that inserts its records, so the row's lock orders the writers of a
shard: two nodes on one PostgreSQL never hand out one position twice, and a reader never
sees a later record of a shard before an earlier one is committed. The update only
matches an open shard: a write that lost a race with a resharding (which closes the
shard under the same lock) is done again over the new shards. Writes that arrive while
one transaction is being written go together in the next.

Each shard takes 1,000 records and 1 MiB a second, as a Kinesis shard does: the shard's
row counts what the current second has taken (under the same lock, so every node counts
against the same limit), and a record beyond it is not written but answered
:class:`Throttled`, which PutRecords reports per record and PutRecord as
``ProvisionedThroughputExceededException``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.errors import InvalidArgumentException, ServiceError
from gureum.store import Store, bulk
from gureum.store.tables import kinesis_records
from gureum.streams import hash_keys, sequence_numbers

#: A write that lost this many races with resharding gives up.
_WRITE_ROUNDS = 10
#: What one shard takes in a second (Kinesis: 1,000 records, 1 MiB with partition keys).
SHARD_RECORDS_PER_SECOND = 1000
SHARD_BYTES_PER_SECOND = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    """A record to write: partition key, data (base64) and its size, hash key."""

    partition_key: str
    data: str
    size: int
    hash_key: int

    @property
    def weight(self) -> int:
        """The bytes Kinesis counts of it (a call's 5 MB, a shard's 1 MiB a second):
        its data and its partition key."""
        return self.size + len(self.partition_key.encode())


@dataclass(frozen=True, slots=True)
class Written:
    """Where a written record went."""

    shard_id: str
    sequence_number: str


@dataclass(frozen=True, slots=True)
class Throttled:
    """A record not written: its shard has taken what it takes this second."""

    shard_id: str


@dataclass(slots=True)
class _Write:
    stream: str
    entries: Sequence[Entry]
    future: asyncio.Future[list[Written | Throttled]]
    result: list[Written | Throttled] | BaseException | None = field(default=None)


class _Resharded(Exception):
    """A shard a write chose was closed meanwhile: write again over the new shards."""


class RecordWrites:
    """The group commits of one process's writes; coroutines for the event loop."""

    def __init__(
        self,
        store: Store,
        not_found: Callable[[str], ServiceError],
        *,
        clock: Callable[[], int] = now_ms,
        limited: bool = True,
        wrote: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.not_found = not_found
        self.clock = clock
        #: told (stream, shard id) of each shard a commit wrote to, on the event loop
        self.wrote = wrote
        #: whether shards take only so much a second (``--stream-throughput``)
        self.limited = limited
        self._waiting: list[_Write] = []
        self._writing_now = False
        self._commits: set[asyncio.Task[None]] = set()
        # The statements of every write go straight to the driver (SQLAlchemy's
        # expressions cost more to build than SQLite takes to run them).
        sqlite = store.dialect == "sqlite"
        self._mark = mark = "?" if sqlite else "%s"
        self._layout_sql = (
            "SELECT s.name, s.created_ms, h.shard_index, h.hash_start "
            "FROM kinesis_streams AS s JOIN kinesis_shards AS h ON h.stream_name = s.name "
            "WHERE s.name IN ({names}) AND h.closed_ms IS NULL ORDER BY s.name, h.hash_start"
        )
        greatest = "MAX" if sqlite else "GREATEST"
        # The usual write: a shard's next positions taken, and its second's counts moved
        # on, in one statement, which matches only if they all fit in the second.
        fits = (
            f" AND (write_second <> {mark} OR (write_records + {mark} <= "
            f"{SHARD_RECORDS_PER_SECOND} AND write_bytes + {mark} <= {SHARD_BYTES_PER_SECOND}))"
        )
        self._take_all_sql = (
            f"UPDATE kinesis_shards SET last_position = last_position + {mark}, "
            f"last_arrival_ms = {greatest}(last_arrival_ms, {mark}), "
            f"write_records = CASE WHEN write_second = {mark} THEN write_records + {mark} "
            f"ELSE {mark} END, "
            f"write_bytes = CASE WHEN write_second = {mark} THEN write_bytes + {mark} "
            f"ELSE {mark} END, "
            f"write_second = {mark} "
            f"WHERE stream_name = {mark} AND shard_index = {mark} AND closed_ms IS NULL"
            + (fits if limited else "")
            + " RETURNING last_position, last_arrival_ms"
        )
        # Else the shard's row is read under its lock (SQLite's write lock is the whole
        # store's, taken at BEGIN), its records taken one by one while they fit, and the
        # row moved on by those.
        self._shard_sql = (
            "SELECT last_position, last_arrival_ms, write_second, write_records, write_bytes "
            f"FROM kinesis_shards WHERE stream_name = {mark} AND shard_index = {mark} "
            "AND closed_ms IS NULL" + ("" if sqlite else " FOR UPDATE")
        )
        self._take_sql = (
            f"UPDATE kinesis_shards SET last_position = {mark}, last_arrival_ms = {mark}, "
            f"write_second = {mark}, write_records = {mark}, write_bytes = {mark} "
            f"WHERE stream_name = {mark} AND shard_index = {mark}"
        )
        self._insert_rows = bulk.insert(
            store.dialect,
            kinesis_records,
            (
                "stream_name",
                "shard_index",
                "position",
                "partition_key",
                "data",
                "size",
                "arrival_ms",
            ),
        )

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction (on SQLite it takes the write lock at once)."""
        with self.store.engine.begin() as connection:
            if self.store.dialect == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    async def put(self, name: str, entries: Sequence[Entry]) -> list[Written | Throttled]:
        """Write records (committed when this returns), each to the open shard whose
        range holds its hash key; where each went, in order, or that its shard had taken
        all it takes this second."""
        future: asyncio.Future[list[Written | Throttled]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting.append(_Write(name, entries, future))
        self._start_commit()
        return await future

    def _start_commit(self) -> None:
        if self._writing_now or not self._waiting:
            return
        batch, self._waiting = self._waiting, []
        self._writing_now = True
        task = asyncio.create_task(self._flush(batch), name="gureum-stream-writes")
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)

    async def _flush(self, batch: list[_Write]) -> None:
        try:
            await self.store.run_parallel(self._apply, batch)
        except Exception as exc:
            for write in batch:
                if not write.future.done():
                    write.future.set_exception(exc)
            return
        finally:
            self._writing_now = False
            self._start_commit()
        touched: set[tuple[str, str]] = set()
        for write in batch:
            if isinstance(write.result, list):
                touched.update(
                    (write.stream, w.shard_id) for w in write.result if isinstance(w, Written)
                )
            if write.future.done():
                continue
            if isinstance(write.result, BaseException):
                write.future.set_exception(write.result)
            else:
                assert write.result is not None
                write.future.set_result(write.result)
        if self.wrote is not None:
            for stream, shard_id in touched:
                self.wrote(stream, shard_id)

    def _apply(self, batch: list[_Write]) -> None:
        """Every write of a batch in one transaction (done again when a shard it chose
        was closed meanwhile)."""
        for _ in range(_WRITE_ROUNDS):
            try:
                with self._writing() as connection:
                    self._apply_once(connection, batch)
                return
            except _Resharded:
                continue
        raise InvalidArgumentException("The stream was resharded while the records were written")

    def _apply_once(self, connection: sa.Connection, batch: list[_Write]) -> None:
        now = self.clock()
        names = sorted({write.stream for write in batch})
        keys: dict[str, int] = {}
        layouts: dict[str, tuple[list[int], list[int]]] = {}
        marks = ", ".join([self._mark] * len(names))
        for name, created_ms, index, start in connection.exec_driver_sql(
            self._layout_sql.format(names=marks), tuple(names)
        ):
            keys[name] = sequence_numbers.stream_key(name, created_ms)
            starts, indexes = layouts.setdefault(name, ([], []))
            starts.append(int(start))
            indexes.append(index)
        # (stream, shard) -> the entries going there, as (write, entry number)
        targets: dict[tuple[str, int], list[tuple[_Write, int]]] = {}
        for write in batch:
            if write.stream not in keys:
                write.result = self.not_found(write.stream)
                continue
            starts, indexes = layouts[write.stream]
            write.result = None
            for number, entry in enumerate(write.entries):
                shard = indexes[hash_keys.covering(starts, entry.hash_key)]
                targets.setdefault((write.stream, shard), []).append((write, number))
        placed: dict[tuple[int, int], Written | Throttled] = {}
        rows: list[tuple[Any, ...]] = []
        second = now // 1000

        def place(stream: str, index: int, write: _Write, number: int, at: tuple[int, int]) -> None:
            """Record ``number`` of ``write`` written at ``at`` (position, arrival)."""
            entry = write.entries[number]
            position, arrival_ms = at
            rows.append(
                (stream, index, position, entry.partition_key, entry.data, entry.size, arrival_ms)
            )
            placed[(id(write), number)] = Written(
                sequence_numbers.shard_id(index),
                sequence_numbers.sequence_number(keys[stream], index, position),
            )

        # Shards are locked in one order, so that writers never wait for each other in a
        # circle (resharding locks them in this order too).
        for (stream, index), entries in sorted(targets.items()):
            weights = [write.entries[n].weight for write, n in entries]
            count, size = len(entries), sum(weights)
            if not self.limited or (
                count <= SHARD_RECORDS_PER_SECOND and size <= SHARD_BYTES_PER_SECOND
            ):
                parameters: tuple[Any, ...] = (count, now, second, count, count, second, size)
                parameters += (size, second, stream, index)
                if self.limited:
                    parameters += (second, count, size)
                taken = connection.exec_driver_sql(self._take_all_sql, parameters).first()
                if taken is not None:
                    last, arrival_ms = taken
                    for offset, (write, number) in enumerate(entries):
                        at = (last - count + 1 + offset, arrival_ms)
                        place(stream, index, write, number, at)
                    continue
            row = connection.exec_driver_sql(self._shard_sql, (stream, index)).first()
            if row is None:
                raise _Resharded
            last = row[0]
            arrival_ms = max(int(row[1]), now)
            records, size = (int(row[3]), int(row[4])) if row[2] == second else (0, 0)
            position = last
            for (write, number), weight in zip(entries, weights, strict=True):
                if records >= SHARD_RECORDS_PER_SECOND or size + weight > SHARD_BYTES_PER_SECOND:
                    placed[(id(write), number)] = Throttled(sequence_numbers.shard_id(index))
                    continue
                records += 1
                size += weight
                position += 1
                place(stream, index, write, number, (position, arrival_ms))
            if position != last:
                connection.exec_driver_sql(
                    self._take_sql, (position, arrival_ms, second, records, size, stream, index)
                )
        if rows:
            self._insert_rows.execute(connection, rows)
        for write in batch:
            if write.result is None:
                write.result = [placed[(id(write), n)] for n in range(len(write.entries))]
