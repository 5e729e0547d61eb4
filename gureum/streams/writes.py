"""Writes of records, committed in groups, numbered under their shards' row locks.

A write takes its shard's next positions by updating the shard's row (``last_position``)
in the transaction that inserts its records, so the row's lock orders the writers of a
shard: two nodes on one PostgreSQL never hand out one position twice, and a reader never
sees a later record of a shard before an earlier one is committed. The update only
matches an open shard: a write that lost a race with a resharding (which closes the
shard under the same lock) is done again over the new shards. Writes that arrive while
one transaction is being written go together in the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gureum.errors import InvalidArgumentException, ServiceError
from gureum.store import Store
from gureum.store.tables import kinesis_records, kinesis_shards, kinesis_streams
from gureum.streams import hash_keys, sequence_numbers

#: A write that lost this many races with resharding gives up.
_WRITE_ROUNDS = 10


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class Entry:
    """A record to write: partition key, data (base64) and its size, hash key."""

    partition_key: str
    data: str
    size: int
    hash_key: int


@dataclass(frozen=True, slots=True)
class Written:
    """Where a written record went."""

    shard_id: str
    sequence_number: str


@dataclass(slots=True)
class _Write:
    stream: str
    entries: Sequence[Entry]
    future: asyncio.Future[list[Written]]
    result: list[Written] | BaseException | None = field(default=None)


class _Resharded(Exception):
    """A shard a write chose was closed meanwhile: write again over the new shards."""


class RecordWrites:
    """The group commits of one process's writes; coroutines for the event loop."""

    def __init__(
        self,
        store: Store,
        not_found: Callable[[str], ServiceError],
        *,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.store = store
        self.not_found = not_found
        self.clock = clock
        self._waiting: list[_Write] = []
        self._writing_now = False
        self._commits: set[asyncio.Task[None]] = set()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction (on SQLite it takes the write lock at once)."""
        with self.store.engine.begin() as connection:
            if self.store.dialect == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    async def put(self, name: str, entries: Sequence[Entry]) -> list[Written]:
        """Write records (committed when this returns), each to the open shard whose
        range holds its hash key; where each went, in order."""
        future: asyncio.Future[list[Written]] = asyncio.get_running_loop().create_future()
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
        for write in batch:
            if write.future.done():
                continue
            if isinstance(write.result, BaseException):
                write.future.set_exception(write.result)
            else:
                assert write.result is not None
                write.future.set_result(write.result)

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
        s = kinesis_shards.c
        now = self.clock()
        names = {write.stream for write in batch}
        keys = {
            row.name: sequence_numbers.stream_key(row.name, row.created_ms)
            for row in connection.execute(
                sa.select(kinesis_streams.c.name, kinesis_streams.c.created_ms).where(
                    kinesis_streams.c.name.in_(names)
                )
            )
        }
        layouts: dict[str, tuple[list[int], list[int]]] = {}
        for row in connection.execute(
            sa.select(s.stream_name, s.shard_index, s.hash_start)
            .where(s.stream_name.in_(list(keys)), s.closed_ms.is_(None))
            .order_by(s.stream_name, s.hash_start)
        ):
            starts, indexes = layouts.setdefault(row.stream_name, ([], []))
            starts.append(int(row.hash_start))
            indexes.append(row.shard_index)
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
        _, greatest = self.store.least_greatest()
        placed: dict[tuple[int, int], Written] = {}
        rows: list[dict[str, Any]] = []
        # Shards are locked in one order, so that writers never wait for each other in a
        # circle (resharding locks them in this order too).
        for (stream, index), entries in sorted(targets.items()):
            taken = connection.execute(
                kinesis_shards.update()
                .where(s.stream_name == stream, s.shard_index == index, s.closed_ms.is_(None))
                .values(
                    last_position=s.last_position + len(entries),
                    last_arrival_ms=greatest(s.last_arrival_ms, now),
                )
                .returning(s.last_position, s.last_arrival_ms)
            ).first()
            if taken is None:
                raise _Resharded
            first = taken.last_position - len(entries) + 1
            for offset, (write, number) in enumerate(entries):
                entry = write.entries[number]
                position = first + offset
                rows.append(
                    {
                        "stream_name": stream,
                        "shard_index": index,
                        "position": position,
                        "partition_key": entry.partition_key,
                        "data": entry.data,
                        "size": entry.size,
                        "arrival_ms": taken.last_arrival_ms,
                    }
                )
                placed[(id(write), number)] = Written(
                    sequence_numbers.shard_id(index),
                    sequence_numbers.sequence_number(keys[stream], index, position),
                )
        if rows:
            connection.execute(kinesis_records.insert(), rows)
        for write in batch:
            if write.result is None:
                write.result = [placed[(id(write), n)] for n in range(len(write.entries))]
