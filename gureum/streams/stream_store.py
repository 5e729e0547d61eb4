"""Kinesis streams on the store: streams, their shards, their records in sequence.

This is the interface that the Kinesis API (:mod:`gureum.frontend.kinesis_api`) and
event source mappings' pollers read streams through: :meth:`StreamStore.get`,
:meth:`StreamStore.shards` (a stream's shards, parents before children) and
:meth:`StreamStore.read` (a page of a shard's records from a position, with their
sequence numbers, and whether a closed shard has been read to its end).

Writes (:mod:`gureum.streams.writes`) number a shard's records under its row's lock;
resharding closes shards under the same locks, taken in the same order (by index), so
no record lands in a closed shard and nodes never wait for each other in a circle.

Records are kept ``retention_hours``: reads skip older ones at once, and
:meth:`StreamStore.trim` (every node, in the background) deletes them, and closed shards
whose records are all gone, as Kinesis forgets them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.errors import (
    InvalidArgumentException,
    LimitExceededException,
    ProvisionedThroughputExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from gureum.store import Store
from gureum.store.tables import kinesis_records, kinesis_shards, kinesis_streams
from gureum.streams import hash_keys, sequence_numbers
from gureum.streams.resharding import Merge, Split, uniform_plan
from gureum.streams.writes import Entry, RecordWrites, Throttled, Written

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_HOURS = 24
MAX_RETENTION_HOURS = 8760
#: Open shards an account may have (Kinesis's default quota in most regions).
SHARD_LIMIT = 500
#: An ON_DEMAND stream starts with this many shards, as Kinesis's do.
ON_DEMAND_SHARDS = 4
#: GetRecords answers at most this many bytes of data (and 10,000 records).
PAGE_BYTES = 10 * 1024 * 1024
#: What GetRecords may read of one shard in a second (Kinesis: 5 calls, 2 MiB).
SHARD_READS_PER_SECOND = 5
SHARD_READ_BYTES_PER_SECOND = 2 * 1024 * 1024
_HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Stream:
    """A stream's row."""

    name: str
    arn: str
    status: str
    mode: str
    retention_hours: int
    created_ms: int
    tags: dict[str, str]

    @property
    def key(self) -> int:
        """What its sequence numbers carry to tell them from other streams'."""
        return sequence_numbers.stream_key(self.name, self.created_ms)

    def horizon_ms(self, now_ms: int) -> int:
        """Records that arrived before this are past the retention period."""
        return now_ms - self.retention_hours * _HOUR_MS


@dataclass(frozen=True, slots=True)
class Shard:
    """A shard of a stream, open or closed."""

    index: int
    parent: int | None
    adjacent_parent: int | None
    hash_start: int
    hash_end: int
    last_position: int
    created_ms: int
    closed_ms: int | None

    @property
    def shard_id(self) -> str:
        return sequence_numbers.shard_id(self.index)

    @property
    def open(self) -> bool:
        return self.closed_ms is None

    @property
    def parents(self) -> list[str]:
        return [
            sequence_numbers.shard_id(index)
            for index in (self.parent, self.adjacent_parent)
            if index is not None
        ]


@dataclass(frozen=True, slots=True)
class Record:
    """A stored record: its position in its shard and sequence number, its partition
    key, its data (base64), its size in bytes and when it arrived."""

    position: int
    sequence_number: str
    partition_key: str
    data: str
    size: int
    arrival_ms: int


@dataclass(frozen=True, slots=True)
class Page:
    """A read of one shard from a position."""

    records: list[Record]
    #: The position to read next.
    next_position: int
    #: The shard is closed and nothing is left to read in it: go on to ``children``.
    ended: bool
    children: list[Shard]
    millis_behind: int
    #: The stream read (:attr:`Stream.key`: which of the streams ever called so).
    stream_key: int


def _shard(row: Any) -> Shard:
    return Shard(
        index=row.shard_index,
        parent=row.parent_index,
        adjacent_parent=row.adjacent_parent_index,
        hash_start=int(row.hash_start),
        hash_end=int(row.hash_end),
        last_position=row.last_position,
        created_ms=row.created_ms,
        closed_ms=row.closed_ms,
    )


class StreamStore:
    """The streams of one account and region; coroutines for the event loop."""

    def __init__(
        self,
        store: Store,
        *,
        region: str,
        account_id: str,
        clock: Callable[[], int] = now_ms,
        shard_limit: int = SHARD_LIMIT,
        limited: bool = True,
    ) -> None:
        self.store = store
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self.shard_limit = shard_limit
        #: whether shards take and give only so much a second (``--stream-throughput``)
        self.limited = limited
        self.writes = RecordWrites(
            store, self.not_found, clock=clock, limited=limited, wrote=self._wrote
        )
        #: readers of this process waiting for a shard's next records, by (stream, shard)
        self._waiting: dict[tuple[str, str], asyncio.Event] = {}

    # names and messages
    def arn(self, name: str) -> str:
        return f"arn:aws:kinesis:{self.region}:{self.account_id}:stream/{name}"

    def not_found(self, name: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(
            f"Stream {name} under account {self.account_id} not found."
        )

    def shard_not_found(self, name: str, shard_id: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(
            f"Shard {shard_id} in stream {name} under account {self.account_id} does not exist"
        )

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction (on SQLite it takes the write lock at once)."""
        with self.store.engine.begin() as connection:
            if self.store.dialect == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    def _stream(self, row: Any) -> Stream:
        return Stream(
            name=row.name,
            arn=self.arn(row.name),
            status=row.status,
            mode=row.mode,
            retention_hours=row.retention_hours,
            created_ms=row.created_ms,
            tags=dict(row.tags),
        )

    def _locked_stream(self, connection: sa.Connection, name: str) -> Stream:
        row = connection.execute(
            sa.select(kinesis_streams).where(kinesis_streams.c.name == name).with_for_update()
        ).first()
        if row is None:
            raise self.not_found(name)
        return self._stream(row)

    def _open_count(self, connection: sa.Connection) -> int:
        count = connection.execute(
            sa.select(sa.func.count()).where(kinesis_shards.c.closed_ms.is_(None))
        ).scalar()
        return int(count or 0)

    def _check_limit(self, connection: sa.Connection, more: int) -> None:
        current = self._open_count(connection)
        if current + more > self.shard_limit:
            raise LimitExceededException(
                f"This request would exceed the shard limit for the account {self.account_id} "
                f"in {self.region}. Current shard count for the account: {current}. Limit: "
                f"{self.shard_limit}. Number of additional shards that would have resulted "
                f"from this request: {more}. Refer to the AWS Service Limits page "
                "(https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for "
                "current limits and how to request higher limits."
            )

    # streams
    async def create(self, name: str, shard_count: int, mode: str, tags: dict[str, str]) -> Stream:
        """Create a stream of ``shard_count`` shards spread evenly; it is ACTIVE at once."""
        return await self.store.run(self._create, name, shard_count, mode, tags)

    def _create(self, name: str, shard_count: int, mode: str, tags: dict[str, str]) -> Stream:
        now = self.clock()
        try:
            with self._writing() as connection:
                exists = connection.execute(
                    sa.select(kinesis_streams.c.name).where(kinesis_streams.c.name == name)
                ).first()
                if exists is not None:
                    raise ResourceInUseException(
                        f"Stream {name} under account {self.account_id} already exists."
                    )
                self._check_limit(connection, shard_count)
                connection.execute(
                    kinesis_streams.insert().values(
                        name=name,
                        status="ACTIVE",
                        mode=mode,
                        retention_hours=DEFAULT_RETENTION_HOURS,
                        created_ms=now,
                        tags=tags,
                        next_shard_index=shard_count,
                    )
                )
                connection.execute(
                    kinesis_shards.insert(),
                    [
                        self._new_shard(name, index, start, end, now)
                        for index, (start, end) in enumerate(hash_keys.uniform_ranges(shard_count))
                    ],
                )
        except sa.exc.IntegrityError:  # another node created it meanwhile
            raise ResourceInUseException(
                f"Stream {name} under account {self.account_id} already exists."
            ) from None
        return Stream(name, self.arn(name), "ACTIVE", mode, DEFAULT_RETENTION_HOURS, now, tags)

    @staticmethod
    def _new_shard(
        name: str,
        index: int,
        start: int,
        end: int,
        now: int,
        parent: int | None = None,
        adjacent: int | None = None,
    ) -> dict[str, Any]:
        return {
            "stream_name": name,
            "shard_index": index,
            "parent_index": parent,
            "adjacent_parent_index": adjacent,
            "hash_start": hash_keys.stored(start),
            "hash_end": hash_keys.stored(end),
            "last_position": 0,
            "last_arrival_ms": 0,
            "created_ms": now,
            "closed_ms": None,
        }

    async def get(self, name: str) -> Stream:
        """The stream called ``name`` (ResourceNotFoundException if there is none)."""
        return await asyncio.to_thread(self._get, name)

    def _get(self, name: str) -> Stream:
        with self.store.engine.connect() as connection:
            row = connection.execute(
                sa.select(kinesis_streams).where(kinesis_streams.c.name == name)
            ).first()
        if row is None:
            raise self.not_found(name)
        return self._stream(row)

    async def names(self, after: str | None, limit: int) -> tuple[list[Stream], bool]:
        """Streams in name order after ``after``; whether more follow."""
        return await asyncio.to_thread(self._names, after, limit)

    def _names(self, after: str | None, limit: int) -> tuple[list[Stream], bool]:
        query = sa.select(kinesis_streams).order_by(kinesis_streams.c.name).limit(limit + 1)
        if after is not None:
            query = query.where(kinesis_streams.c.name > after)
        with self.store.engine.connect() as connection:
            rows = [self._stream(row) for row in connection.execute(query)]
        return rows[:limit], len(rows) > limit

    async def delete(self, name: str) -> None:
        """Delete a stream, its shards and its records."""
        await self.store.run(self._delete, name)

    def _delete(self, name: str) -> None:
        with self._writing() as connection:
            self._locked_stream(connection, name)
            connection.execute(
                kinesis_records.delete().where(kinesis_records.c.stream_name == name)
            )
            connection.execute(kinesis_shards.delete().where(kinesis_shards.c.stream_name == name))
            connection.execute(kinesis_streams.delete().where(kinesis_streams.c.name == name))

    async def set_retention(self, name: str, hours: int, *, increase: bool) -> None:
        """Increase (or decrease) the retention period, as Kinesis's two operations."""
        await self.store.run(self._set_retention, name, hours, increase)

    def _set_retention(self, name: str, hours: int, increase: bool) -> None:
        with self._writing() as connection:
            stream = self._locked_stream(connection, name)
            current = stream.retention_hours
            if increase and hours < current:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {name} can not be "
                    f"shorter than existing retention period ({current} hours). Use "
                    "DecreaseRetentionPeriod API."
                )
            if not increase and hours > current:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {name} can not be "
                    f"longer than existing retention period ({current} hours). Use "
                    "IncreaseRetentionPeriod API."
                )
            connection.execute(
                kinesis_streams.update()
                .where(kinesis_streams.c.name == name)
                .values(retention_hours=hours)
            )

    async def set_mode(self, name: str, mode: str) -> None:
        await self.store.run(self._set_mode, name, mode)

    def _set_mode(self, name: str, mode: str) -> None:
        with self._writing() as connection:
            self._locked_stream(connection, name)
            connection.execute(
                kinesis_streams.update().where(kinesis_streams.c.name == name).values(mode=mode)
            )

    async def set_tags(
        self, name: str, tags: dict[str, str], remove: Sequence[str] = (), *, most: int = 50
    ) -> None:
        """Add ``tags`` and remove the keys ``remove``; at most ``most`` tags in all."""
        await self.store.run(self._set_tags, name, tags, list(remove), most)

    def _set_tags(self, name: str, tags: dict[str, str], remove: list[str], most: int) -> None:
        with self._writing() as connection:
            stream = self._locked_stream(connection, name)
            merged = {k: v for k, v in {**stream.tags, **tags}.items() if k not in remove}
            if len(merged) > most:
                raise LimitExceededException(
                    f"Failed to add tags to stream {name} under account {self.account_id} "
                    f"because a given stream cannot have more than {most} tags."
                )
            connection.execute(
                kinesis_streams.update().where(kinesis_streams.c.name == name).values(tags=merged)
            )

    async def limits(self) -> tuple[int, int]:
        """(open shards, ON_DEMAND streams) of the account, as DescribeLimits counts them."""
        return await asyncio.to_thread(self._limits)

    def _limits(self) -> tuple[int, int]:
        with self.store.engine.connect() as connection:
            on_demand = connection.execute(
                sa.select(sa.func.count()).where(kinesis_streams.c.mode == "ON_DEMAND")
            ).scalar()
            return self._open_count(connection), int(on_demand or 0)

    # shards
    async def shards(self, name: str) -> tuple[Stream, list[Shard]]:
        """The stream and its shards within the retention period, by index (parents
        before their children); ResourceNotFoundException if there is no stream."""
        return await asyncio.to_thread(self._shards, name)

    def _shards(self, name: str) -> tuple[Stream, list[Shard]]:
        s = kinesis_shards.c
        with self.store.engine.connect() as connection:
            row = connection.execute(
                sa.select(kinesis_streams).where(kinesis_streams.c.name == name)
            ).first()
            if row is None:
                raise self.not_found(name)
            stream = self._stream(row)
            horizon = stream.horizon_ms(self.clock())
            rows = connection.execute(
                sa.select(kinesis_shards)
                .where(s.stream_name == name, sa.or_(s.closed_ms.is_(None), s.closed_ms >= horizon))
                .order_by(s.shard_index)
            )
            return stream, [_shard(r) for r in rows]

    async def position_at(self, name: str, index: int, timestamp_ms: int) -> int:
        """The position of a shard's first record that arrived at or after
        ``timestamp_ms`` (the shard's next one when none did)."""
        return await asyncio.to_thread(self._position_at, name, index, timestamp_ms)

    def _position_at(self, name: str, index: int, timestamp_ms: int) -> int:
        r, s = kinesis_records.c, kinesis_shards.c
        with self.store.engine.connect() as connection:
            found = connection.execute(
                sa.select(sa.func.min(r.position)).where(
                    r.stream_name == name, r.shard_index == index, r.arrival_ms >= timestamp_ms
                )
            ).scalar()
            if found is not None:
                return int(found)
            last = connection.execute(
                sa.select(s.last_position).where(s.stream_name == name, s.shard_index == index)
            ).scalar()
        return int(last or 0) + 1

    async def read(
        self, name: str, index: int, position: int, limit: int, *, max_bytes: int = PAGE_BYTES
    ) -> Page:
        """Up to ``limit`` records of shard ``index`` from ``position`` on, in order, and
        no more than ``max_bytes`` of data (at least one record); records past the
        retention period are skipped. ResourceNotFoundException when the stream or the
        shard is gone."""
        return await asyncio.to_thread(self._read, name, index, position, limit, max_bytes)

    def _read(self, name: str, index: int, position: int, limit: int, max_bytes: int) -> Page:
        r, s = kinesis_records.c, kinesis_shards.c
        now = self.clock()
        with self.store.engine.connect() as connection, connection.begin():
            row = connection.execute(
                sa.select(kinesis_streams).where(kinesis_streams.c.name == name)
            ).first()
            if row is None:
                raise self.not_found(name)
            stream = self._stream(row)
            shard_row = connection.execute(
                sa.select(kinesis_shards).where(s.stream_name == name, s.shard_index == index)
            ).first()
            if shard_row is None:
                raise self.shard_not_found(name, sequence_numbers.shard_id(index))
            shard = _shard(shard_row)
            query = (
                sa.select(r.position, r.partition_key, r.data, r.size, r.arrival_ms)
                .where(
                    r.stream_name == name,
                    r.shard_index == index,
                    r.position >= position,
                    r.arrival_ms >= stream.horizon_ms(now),
                )
                .order_by(r.position)
                .limit(limit)
            )
            records: list[Record] = []
            size = 0
            for found in connection.execute(query):
                size += found.size
                if records and size > max_bytes:
                    break
                records.append(
                    Record(
                        found.position,
                        sequence_numbers.sequence_number(stream.key, index, found.position),
                        found.partition_key,
                        found.data,
                        found.size,
                        found.arrival_ms,
                    )
                )
            next_position = records[-1].position + 1 if records else position
            caught_up = not records or records[-1].position >= shard.last_position
            ended = not shard.open and caught_up
            children: list[Shard] = []
            if ended:
                children = [
                    _shard(child)
                    for child in connection.execute(
                        sa.select(kinesis_shards)
                        .where(
                            s.stream_name == name,
                            sa.or_(s.parent_index == index, s.adjacent_parent_index == index),
                        )
                        .order_by(s.shard_index)
                    )
                ]
        behind = 0 if caught_up else max(0, now - records[-1].arrival_ms)
        return Page(records, next_position, ended, children, behind, stream.key)

    async def metered_read(
        self, name: str, index: int, position: int, limit: int, *, max_bytes: int = PAGE_BYTES
    ) -> Page:
        """:meth:`read`, as GetRecords reads: counted against the shard's five calls and
        2 MiB a second (``ProvisionedThroughputExceededException`` beyond them). A read of
        more bytes than a second allows is answered, and the shard's next reads wait until
        it is paid for (a read of 10 MiB, Kinesis's most, holds reads off about 4 s)."""
        if self.limited:
            await asyncio.to_thread(self._admit_read, name, index)
        page = await self.read(name, index, position, limit, max_bytes=max_bytes)
        size = sum(record.size for record in page.records)
        if self.limited and size:
            await asyncio.to_thread(self._charge_read, name, index, size)
        return page

    def _admit_read(self, name: str, index: int) -> None:
        s = kinesis_shards.c
        now = self.clock()
        second = now // 1000
        with self._writing() as connection:
            admitted = connection.execute(
                kinesis_shards.update()
                .where(
                    s.stream_name == name,
                    s.shard_index == index,
                    sa.or_(s.read_second != second, s.read_calls < SHARD_READS_PER_SECOND),
                    s.read_paid_ms <= now + 1000,
                )
                .values(
                    read_second=second,
                    read_calls=sa.case((s.read_second == second, s.read_calls + 1), else_=1),
                )
            ).rowcount
            if admitted:
                return
            found = connection.execute(
                sa.select(s.shard_index).where(s.stream_name == name, s.shard_index == index)
            ).first()
        if found is not None:  # (a stream or shard that is not there is read's to answer)
            raise ProvisionedThroughputExceededException(
                f"Rate exceeded for Shard - {self.account_id}/{name}/"
                f"{sequence_numbers.shard_id(index)}"
            )

    def _charge_read(self, name: str, index: int, size: int) -> None:
        s = kinesis_shards.c
        now = self.clock()
        cost = size * 1000 // SHARD_READ_BYTES_PER_SECOND
        paid = sa.case((s.read_paid_ms > now, s.read_paid_ms), else_=now) + cost
        with self._writing() as connection:
            connection.execute(
                kinesis_shards.update()
                .where(s.stream_name == name, s.shard_index == index)
                .values(read_paid_ms=paid)
            )

    async def written(self, name: str, shard_id: str, seconds: float) -> None:
        """Wait until this process writes to the shard, for up to ``seconds`` (a reader
        that found nothing; another node's writes it sees when it reads again after)."""
        event = self._waiting.setdefault((name, shard_id), asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def _wrote(self, name: str, shard_id: str) -> None:
        event = self._waiting.pop((name, shard_id), None)
        if event is not None:
            event.set()

    # writes
    async def put(self, name: str, entries: Sequence[Entry]) -> list[Written | Throttled]:
        """Write records (committed when this returns), each to the open shard whose
        range holds its hash key; where each went, in order, or that its shard had taken
        all it takes this second (:mod:`gureum.streams.writes`)."""
        return await self.writes.put(name, entries)

    # resharding
    async def split(self, name: str, shard_id: str, new_start: int) -> None:
        """Close a shard and open two children that split its range at ``new_start``."""
        await self.store.run(
            self._reshard, name, lambda c, st, sh: self._split(c, st, sh, shard_id, new_start)
        )

    async def merge(self, name: str, shard_id: str, adjacent_id: str) -> None:
        """Close two adjacent shards and open one child over both their ranges."""
        await self.store.run(
            self._reshard, name, lambda c, st, sh: self._merge(c, st, sh, shard_id, adjacent_id)
        )

    async def update_shard_count(self, name: str, target: int) -> int:
        """Reshard to ``target`` evenly spread shards (splits, then merges); the number of
        open shards before."""
        result: int = await self.store.run(
            self._reshard, name, lambda c, st, sh: self._uniform(c, st, sh, target)
        )
        return result

    def _reshard(
        self, name: str, change: Callable[[sa.Connection, Stream, dict[int, Shard]], Any]
    ) -> Any:
        s = kinesis_shards.c
        with self._writing() as connection:
            stream = self._locked_stream(connection, name)
            # Every open shard's lock, in index order, as writers take them.
            open_shards = {
                row.shard_index: _shard(row)
                for row in connection.execute(
                    sa.select(kinesis_shards)
                    .where(s.stream_name == name, s.closed_ms.is_(None))
                    .order_by(s.shard_index)
                    .with_for_update()
                )
            }
            return change(connection, stream, open_shards)

    def _open_shard(
        self,
        connection: sa.Connection,
        stream: Stream,
        open_shards: dict[int, Shard],
        shard_id: str,
    ) -> Shard:
        s = kinesis_shards.c
        index = sequence_numbers.shard_index(shard_id)
        shard = open_shards.get(index) if index is not None else None
        if shard is not None:
            return shard
        closed = (
            index is not None
            and connection.execute(
                sa.select(s.shard_index).where(s.stream_name == stream.name, s.shard_index == index)
            ).first()
        )
        if closed:
            raise InvalidArgumentException(
                f"Shard {shard_id} in stream {stream.name} under account {self.account_id} "
                "has already been merged or split, and thus is not eligible for merging or "
                "splitting."
            )
        raise self.shard_not_found(stream.name, shard_id)

    def _children(
        self,
        connection: sa.Connection,
        stream: Stream,
        open_shards: dict[int, Shard],
        parents: list[Shard],
        ranges: list[tuple[int, int]],
    ) -> list[Shard]:
        """Close ``parents`` and open children over ``ranges`` (each child's parents are
        those it overlaps, the first as ParentShardId)."""
        s = kinesis_shards.c
        now = self.clock()
        first = connection.execute(
            kinesis_streams.update()
            .where(kinesis_streams.c.name == stream.name)
            .values(next_shard_index=kinesis_streams.c.next_shard_index + len(ranges))
            .returning(kinesis_streams.c.next_shard_index)
        ).scalar_one() - len(ranges)
        for closing in parents:
            connection.execute(
                kinesis_shards.update()
                .where(s.stream_name == stream.name, s.shard_index == closing.index)
                .values(closed_ms=now)
            )
            del open_shards[closing.index]
        children = []
        rows = []
        for offset, (start, end) in enumerate(ranges):
            over = [p.index for p in parents if p.hash_start <= end and start <= p.hash_end]
            parent = over[0]
            adjacent = over[1] if len(over) > 1 else None
            row = self._new_shard(stream.name, first + offset, start, end, now, parent, adjacent)
            rows.append(row)
            child = Shard(first + offset, parent, adjacent, start, end, 0, now, None)
            open_shards[child.index] = child
            children.append(child)
        connection.execute(kinesis_shards.insert(), rows)
        return children

    def _split(
        self,
        connection: sa.Connection,
        stream: Stream,
        open_shards: dict[int, Shard],
        shard_id: str,
        new_start: int,
    ) -> None:
        shard = self._open_shard(connection, stream, open_shards, shard_id)
        if not shard.hash_start < new_start <= shard.hash_end:
            raise InvalidArgumentException(
                f"NewStartingHashKey {new_start} used in SplitShard() on shard {shard_id} in "
                f"stream {stream.name} under account {self.account_id} is not both greater "
                f"than one plus the shard's StartingHashKey {shard.hash_start} and less than "
                f"the shard's EndingHashKey {shard.hash_end}."
            )
        self._check_limit(connection, 1)
        ranges = [(shard.hash_start, new_start - 1), (new_start, shard.hash_end)]
        self._children(connection, stream, open_shards, [shard], ranges)

    def _merge(
        self,
        connection: sa.Connection,
        stream: Stream,
        open_shards: dict[int, Shard],
        shard_id: str,
        adjacent_id: str,
    ) -> None:
        shard = self._open_shard(connection, stream, open_shards, shard_id)
        adjacent = self._open_shard(connection, stream, open_shards, adjacent_id)
        low, high = sorted([shard, adjacent], key=lambda x: x.hash_start)
        if low.hash_end + 1 != high.hash_start:
            raise InvalidArgumentException(
                f"Shards {shard_id} and {adjacent_id} in stream {stream.name} under account "
                f"{self.account_id} are not an adjacent pair of shards eligible for merging"
            )
        ranges = [(low.hash_start, high.hash_end)]
        self._children(connection, stream, open_shards, [shard, adjacent], ranges)

    def _uniform(
        self, connection: sa.Connection, stream: Stream, open_shards: dict[int, Shard], target: int
    ) -> int:
        current = len(open_shards)
        if not current / 2 <= target <= current * 2:
            raise InvalidArgumentException(
                f"UpdateShardCount failed for stream {stream.name} under account "
                f"{self.account_id}. TargetShardCount {target} must be between half and "
                f"double of the current open shard count {current}."
            )
        if target > current:
            self._check_limit(connection, target - current)
        by_start = {shard.hash_start: shard for shard in open_shards.values()}
        plan = uniform_plan([(s.hash_start, s.hash_end) for s in by_start.values()], target)
        for step in plan:
            if isinstance(step, Split):
                shard = by_start.pop(step.start)
                ranges = [(shard.hash_start, step.new_start - 1), (step.new_start, shard.hash_end)]
                parents = [shard]
            else:
                assert isinstance(step, Merge)
                shard, adjacent = by_start.pop(step.start), by_start.pop(step.adjacent)
                ranges = [(shard.hash_start, adjacent.hash_end)]
                parents = [shard, adjacent]
            for child in self._children(connection, stream, open_shards, parents, ranges):
                by_start[child.hash_start] = child
        return current

    # retention
    async def trim(self) -> tuple[int, int]:
        """Delete records past their stream's retention period, and closed shards whose
        records are all gone: (records, shards) removed. Idempotent: every node runs it."""
        return await self.store.run(self._trim)

    def _trim(self) -> tuple[int, int]:
        r, s = kinesis_records.c, kinesis_shards.c
        now = self.clock()
        records = shards = 0
        with self.store.engine.connect() as connection:
            streams = list(connection.execute(sa.select(kinesis_streams)))
        for row in streams:
            horizon = self._stream(row).horizon_ms(now)
            with self.store.engine.begin() as connection:
                records += connection.execute(
                    kinesis_records.delete().where(
                        r.stream_name == row.name, r.arrival_ms < horizon
                    )
                ).rowcount
                shards += connection.execute(
                    kinesis_shards.delete().where(s.stream_name == row.name, s.closed_ms < horizon)
                ).rowcount
        return records, shards


class StreamTrimmer:
    """Trims the streams every ``interval`` seconds: ``start()`` until ``stop()``."""

    def __init__(self, streams: StreamStore, *, interval: float = 60.0) -> None:
        self.streams = streams
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gureum-stream-trimmer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.streams.trim()
            except Exception:
                logger.exception("trimming the Kinesis streams failed")
