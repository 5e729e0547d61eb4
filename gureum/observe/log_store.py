"""Log storage: the SQL of function logs (CloudWatch's groups, streams and events).

Writes come from the :class:`~gureum.observe.logs.LogSink` in batches; reads serve the
Logs API. Its queries live here beside their concept, as the queues' and the traces'
do in their own modules; what differs between SQLite and PostgreSQL is asked of the
store (``insert``, ``contains``, ``least_greatest``). Methods are synchronous and run on
the store's thread through :meth:`LogStore.run`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.store import Store, bulk
from gureum.store.tables import log_events, log_streams

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One log line of a log stream (``timestamp`` in epoch milliseconds)."""

    log_group: str
    log_stream: str
    timestamp: int
    message: str


def _text(message: str) -> str:
    """A log message as both engines keep it: PostgreSQL's text cannot hold NUL, which
    becomes U+FFFD (as undecodable bytes already do), and one such line must not cost
    the whole batch."""
    return message.replace("\x00", "\ufffd") if "\x00" in message else message


def _stream_token(token: str | None) -> tuple[str, int] | None:
    """``f/<id>`` or ``b/<id>`` as (direction, id); ValueError for anything else."""
    if not token:
        return None
    direction, _, position = token.partition("/")
    if direction not in ("f", "b") or not position.isdigit():
        raise ValueError(f"invalid token {token!r}")
    return direction, int(position)


def _pattern_terms(pattern: str | None) -> list[str]:
    """CloudWatch's simple filter pattern: terms that must all appear; quotes keep phrases."""
    if not pattern or not pattern.strip():
        return []
    return [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', pattern)]


class LogStore:
    """Function logs in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._log_insert = bulk.insert(
            store.dialect,
            log_events,
            ("log_group", "log_stream", "timestamp", "ingestion_time", "message"),
        )
        self._stream_upsert = self._log_stream_upsert()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run one of this store's methods on the store's thread."""
        return await self.store.run(fn, *args)

    def _log_stream_upsert(self) -> Any:
        """Insert a log stream or fold a batch's figures into it (executed many)."""
        insert = self.store.insert(log_streams)
        excluded = insert.excluded
        least, greatest = self.store.least_greatest()
        return insert.on_conflict_do_update(
            index_elements=[log_streams.c.log_group, log_streams.c.log_stream],
            set_={
                "first_event_timestamp": least(
                    log_streams.c.first_event_timestamp, excluded.first_event_timestamp
                ),
                "last_event_timestamp": greatest(
                    log_streams.c.last_event_timestamp, excluded.last_event_timestamp
                ),
                "last_ingestion_time": excluded.last_ingestion_time,
                "stored_bytes": log_streams.c.stored_bytes + excluded.stored_bytes,
            },
        )

    def put_log_events(self, events: Sequence[LogEvent]) -> None:
        if not events:
            return
        # Ids then follow time within a batch, so reading a stream by id reads it in order.
        events = sorted(events, key=lambda e: e.timestamp)
        now = now_ms()
        streams: dict[tuple[str, str], dict[str, int]] = {}
        for event in events:
            key = (event.log_group, event.log_stream)
            stats = streams.get(key)
            size = len(event.message.encode())
            if stats is None:
                streams[key] = {"first": event.timestamp, "last": event.timestamp, "bytes": size}
            else:
                stats["first"] = min(stats["first"], event.timestamp)
                stats["last"] = max(stats["last"], event.timestamp)
                stats["bytes"] += size
        with self.store.engine.begin() as connection:
            # Straight to the driver, in one statement: log lines are the store's
            # bulkiest writes (see ``bulk``).
            self._log_insert.execute(
                connection,
                [(e.log_group, e.log_stream, e.timestamp, now, _text(e.message)) for e in events],
            )
            # One statement for every stream of the batch, built once: a statement with
            # its values inlined is compiled afresh each time (it was a fifth of the
            # server's CPU when 200 sandboxes started at once).
            connection.execute(
                self._stream_upsert,
                [
                    {
                        "log_group": group,
                        "log_stream": stream,
                        "creation_time": now,
                        "first_event_timestamp": stats["first"],
                        "last_event_timestamp": stats["last"],
                        "last_ingestion_time": now,
                        "stored_bytes": stats["bytes"],
                    }
                    for (group, stream), stats in streams.items()
                ],
            )

    def get_log_events(
        self,
        group: str,
        stream: str,
        *,
        start_time: int | None,
        end_time: int | None,
        start_from_head: bool,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[dict[str, Any]], str, str]:
        """Events of one stream, ascending, with forward (``f/``) and backward (``b/``) tokens."""
        where = (log_events.c.log_group == group) & (log_events.c.log_stream == stream)
        if start_time is not None:
            where &= log_events.c.timestamp >= start_time
        if end_time is not None:
            where &= log_events.c.timestamp < end_time
        token = _stream_token(next_token)
        after = token[1] if token and token[0] == "f" else None
        before = token[1] if token and token[0] == "b" else None
        forward = after is not None or (before is None and start_from_head)
        query = sa.select(
            log_events.c.id,
            log_events.c.timestamp,
            log_events.c.message,
            log_events.c.ingestion_time,
        ).where(where)
        if after is not None:
            query = query.where(log_events.c.id > after)
        if before is not None:
            query = query.where(log_events.c.id < before)
        order = log_events.c.id.asc() if forward else log_events.c.id.desc()
        with self.store.engine.connect() as connection:
            records = list(connection.execute(query.order_by(order).limit(limit)))
        if not forward:
            records.reverse()
        events = [
            {"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion_time}
            for r in records
        ]
        if records:
            return events, f"f/{records[-1].id}", f"b/{records[0].id}"
        # Nothing (more): the tokens stay where they were, as CloudWatch's do.
        if after is not None:
            return events, f"f/{after}", f"b/{after + 1}"
        if before is not None:
            return events, f"f/{before - 1}", f"b/{before}"
        return events, "f/0", "b/0"

    def filter_log_events(
        self,
        group: str,
        *,
        stream_names: list[str] | None,
        stream_prefix: str | None,
        start_time: int | None,
        end_time: int | None,
        pattern: str | None,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Events of a group, ascending by time, that contain every term of ``pattern``."""
        where = log_events.c.log_group == group
        if stream_names:
            where &= log_events.c.log_stream.in_(stream_names)
        if stream_prefix:
            where &= log_events.c.log_stream.startswith(stream_prefix, autoescape=True)
        if start_time is not None:
            where &= log_events.c.timestamp >= start_time
        if end_time is not None:
            where &= log_events.c.timestamp <= end_time
        for term in _pattern_terms(pattern):
            where &= self.store.contains(log_events.c.message, term)
        if next_token:
            stamp, _, last_id = next_token.partition("/")
            if not (stamp.isdigit() and last_id.isdigit()):
                raise ValueError(f"invalid token {next_token!r}")
            where &= sa.tuple_(log_events.c.timestamp, log_events.c.id) > sa.tuple_(
                sa.literal(int(stamp)), sa.literal(int(last_id))
            )
        query = (
            sa.select(log_events)
            .where(where)
            .order_by(log_events.c.timestamp, log_events.c.id)
            .limit(limit + 1)
        )
        with self.store.engine.connect() as connection:
            records = list(connection.execute(query))
        more = len(records) > limit
        records = records[:limit]
        events = [
            {
                "logStreamName": r.log_stream,
                "timestamp": r.timestamp,
                "message": r.message,
                "ingestionTime": r.ingestion_time,
                "eventId": str(r.id),
            }
            for r in records
        ]
        token = f"{records[-1].timestamp}/{records[-1].id}" if more else None
        return events, token

    def events_after(
        self,
        group: str,
        after_id: int | None,
        *,
        since_ms: int | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """A live tail's next events of a group: those stored after event ``after_id``
        (None: the newest ``limit`` since ``since_ms``), in the order they were stored,
        and the id to go on after (a filter pattern is the caller's to apply: the
        cursor moves past what it does not match)."""
        c = log_events.c
        where = c.log_group == group
        if after_id is not None:
            query = sa.select(log_events).where(where, c.id > after_id).order_by(c.id)
        else:
            if since_ms is not None:
                where &= c.timestamp >= since_ms
            query = sa.select(log_events).where(where).order_by(c.id.desc())
        with self.store.engine.connect() as connection:
            records = list(connection.execute(query.limit(limit)))
            if after_id is None:
                records.reverse()
                if not records:  # nothing yet: go on after whatever the group holds
                    newest = connection.execute(
                        sa.select(sa.func.max(c.id)).where(c.log_group == group)
                    ).scalar()
                    return [], int(newest) if newest is not None else 0
        events = [
            {
                "logStreamName": r.log_stream,
                "timestamp": r.timestamp,
                "message": r.message,
                "eventId": str(r.id),
            }
            for r in records
        ]
        return events, (records[-1].id if records else after_id)

    def describe_log_groups(
        self, prefix: str | None, limit: int, next_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        query = sa.select(
            log_streams.c.log_group,
            sa.func.min(log_streams.c.creation_time).label("created"),
            sa.func.sum(log_streams.c.stored_bytes).label("stored"),
        )
        if prefix:
            query = query.where(log_streams.c.log_group.startswith(prefix, autoescape=True))
        if next_token:
            query = query.where(log_streams.c.log_group > next_token)
        query = query.group_by(log_streams.c.log_group).order_by(log_streams.c.log_group)
        with self.store.engine.connect() as connection:
            records = list(connection.execute(query.limit(limit + 1)))
        more = len(records) > limit
        records = records[:limit]
        groups = [
            {
                "logGroupName": r.log_group,
                "creationTime": int(r.created),
                "storedBytes": int(r.stored or 0),
            }
            for r in records
        ]
        return groups, (records[-1].log_group if more else None)

    def describe_log_streams(
        self,
        group: str,
        *,
        prefix: str | None,
        order_by: str,
        descending: bool,
        limit: int,
        next_token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        query = sa.select(log_streams).where(log_streams.c.log_group == group)
        if prefix:
            query = query.where(log_streams.c.log_stream.startswith(prefix, autoescape=True))
        by_time = order_by == "LastEventTime"
        columns = (
            [log_streams.c.last_event_timestamp, log_streams.c.log_stream]
            if by_time
            else [log_streams.c.log_stream]
        )
        if next_token:
            # Keyset paging: the token names the last stream seen, so streams written
            # between two pages cannot shift what the next page starts with.
            kind, _, rest = next_token.partition("/")
            after: tuple[Any, ...]
            if kind == "n" and not by_time:
                after = (rest,)
            elif kind == "t" and by_time:
                stamp, _, name = rest.partition("/")
                if not stamp.lstrip("-").isdigit():
                    raise ValueError(f"invalid token {next_token!r}")
                after = (int(stamp), name)
            else:
                raise ValueError(f"invalid token {next_token!r}")
            key = sa.tuple_(*columns)
            bound = sa.tuple_(*(sa.literal(value) for value in after))
            query = query.where(key < bound if descending else key > bound)
        ordering = [c.desc() if descending else c.asc() for c in columns]
        with self.store.engine.connect() as connection:
            records = list(connection.execute(query.order_by(*ordering).limit(limit + 1)))
        more = len(records) > limit
        records = records[:limit]
        streams = [
            {
                "logStreamName": r.log_stream,
                "creationTime": r.creation_time,
                "firstEventTimestamp": r.first_event_timestamp,
                "lastEventTimestamp": r.last_event_timestamp,
                "lastIngestionTime": r.last_ingestion_time,
                "storedBytes": r.stored_bytes,
            }
            for r in records
        ]
        if not more:
            return streams, None
        last = records[-1]
        if by_time:
            return streams, f"t/{last.last_event_timestamp}/{last.log_stream}"
        return streams, f"n/{last.log_stream}"

    def log_group_exists(self, group: str) -> bool:
        with self.store.engine.connect() as connection:
            return (
                connection.execute(
                    sa.select(log_streams.c.log_group)
                    .where(log_streams.c.log_group == group)
                    .limit(1)
                ).first()
                is not None
            )

    def delete_log_group(self, group: str) -> bool:
        with self.store.engine.begin() as connection:
            connection.execute(log_events.delete().where(log_events.c.log_group == group))
            deleted = connection.execute(
                log_streams.delete().where(log_streams.c.log_group == group)
            )
        return bool(deleted.rowcount)
