"""Built-in durable queues: SQS's semantics on the store (SQLite or PostgreSQL).

One implementation serves both engines. A receive claims visible messages in one
transaction (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that several nodes
never claim one message; SQLite has one writer and ignores the clause) and hides them
for the visibility timeout. Every claim gets a fresh receipt nonce, so only the newest
receipt handle deletes or changes a message.

Writes are committed in groups: concurrent writes queue up while one transaction is
being written and go together in the next (one commit for many 202s and SendMessage
answers); on PostgreSQL, sends commit on writers of their own, side by side. Long polls
wait on an in-process signal raised by each commit, and look again at least every
``poll_interval`` seconds for what other nodes sent.

Queues whose names hold a colon (``gureum:async``) are the platform's own: the SQS API
cannot name them (SQS names are letters, digits, ``-`` and ``_``) and ListQueues leaves
them out.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import secrets
import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.errors import (
    MessageNotInflight,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from gureum.ids import new_uuid
from gureum.store import Store, bulk
from gureum.store.tables import queue_messages, queues

#: Attributes every queue has, with SQS's defaults (values are strings, as on the wire).
DEFAULT_ATTRIBUTES = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
}
#: SQS refuses a second PurgeQueue within this many seconds.
PURGE_INTERVAL_MS = 60_000
#: A receive that finds only moved or expired messages looks again at most this often.
_CLAIM_ROUNDS = 5


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue as stored: attributes as SQS spells them (defaults filled in)."""

    name: str
    attributes: dict[str, str]
    tags: dict[str, str]
    created_ms: int
    modified_ms: int

    def int_attribute(self, key: str) -> int:
        return int(self.attributes.get(key, DEFAULT_ATTRIBUTES.get(key, "0")))

    @property
    def redrive(self) -> tuple[str, int] | None:
        """(dead-letter queue name, maxReceiveCount) of the RedrivePolicy, if any."""
        raw = self.attributes.get("RedrivePolicy")
        if not raw:
            return None
        policy = json.loads(raw)
        return arn_queue_name(str(policy["deadLetterTargetArn"])), int(policy["maxReceiveCount"])


class _Digests:
    """SQS's digests of a message's body and attributes, computed when asked for (the
    platform's own sends and receives never ask)."""

    __slots__ = ()
    body: str
    message_attributes: dict[str, dict[str, str]] | None

    @property
    def md5_of_body(self) -> str:
        return hashlib.md5(self.body.encode()).hexdigest()

    @property
    def md5_of_message_attributes(self) -> str | None:
        return md5_of_attributes(self.message_attributes)


@dataclass(frozen=True, slots=True)
class Message(_Digests):
    """A received message."""

    message_id: str
    receipt_handle: str
    body: str
    message_attributes: dict[str, dict[str, str]] | None
    sent_ms: int
    receive_count: int
    first_receive_ms: int


@dataclass(frozen=True, slots=True)
class Sent(_Digests):
    """What a send answers: the new message's id (and its digests)."""

    message_id: str
    body: str
    message_attributes: dict[str, dict[str, str]] | None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send: its body, attributes and delay (None: the queue's)."""

    body: str
    message_attributes: dict[str, dict[str, str]] | None = None
    delay_seconds: int | None = None
    message_id: str = field(default_factory=new_uuid)


class QueueObserver(Protocol):
    """Who counts what is done to the queues (SQS's metrics: ``observe/queue_metrics``)."""

    def sent(self, queue: str, sizes: list[int]) -> None: ...
    def received(self, queue: str, count: int) -> None: ...
    def deleted(self, queue: str, count: int) -> None: ...


def _size(message: Outgoing) -> int:
    """A message's size as SQS counts it: its body and its attributes' names, types
    and values, in bytes."""
    size = len(message.body.encode())
    for name, value in (message.message_attributes or {}).items():
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        size += len(str(value.get("StringValue") or value.get("BinaryValue") or "").encode())
    return size


def md5_of_attributes(attributes: dict[str, dict[str, str]] | None) -> str | None:
    """SQS's digest of message attributes: name, type and value of each, sorted by name,
    each length-prefixed (4 bytes, big-endian), the value after a transport byte (1 for
    strings and numbers, 2 for binary)."""
    if not attributes:
        return None
    digest = hashlib.md5()

    def put(data: bytes) -> None:
        digest.update(struct.pack(">I", len(data)) + data)

    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]
        put(name.encode())
        put(data_type.encode())
        if "BinaryValue" in value:
            digest.update(b"\x02")
            put(base64.b64decode(value["BinaryValue"]))
        else:
            digest.update(b"\x01")
            put(value["StringValue"].encode())
    return digest.hexdigest()


def arn_queue_name(arn: str) -> str:
    """The queue name of ``arn:aws:sqs:REGION:ACCOUNT:NAME`` (ValueError otherwise)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not parts[5]:
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    return parts[5]


def _receipt(row_id: int, nonce: str) -> str:
    return base64.urlsafe_b64encode(f"{row_id}:{nonce}".encode()).decode()


def parse_receipt(handle: str) -> tuple[int, str]:
    """(row id, nonce) of a receipt handle; ReceiptHandleIsInvalid if it is not one."""
    try:
        row_id, _, nonce = base64.urlsafe_b64decode(handle.encode()).decode().partition(":")
        if not row_id.isdigit() or len(nonce) != 16:
            raise ValueError
        return int(row_id), nonce
    except (ValueError, binascii.Error, UnicodeError):
        raise ReceiptHandleIsInvalid(
            f'The input receipt handle "{handle}" is not a valid receipt handle.'
        ) from None


@dataclass(slots=True)
class _Write:
    """A write waiting for the next group commit: a send (``Outgoing`` messages), a
    delete (receipt keys) or a visibility change ((key, seconds, body))."""

    kind: str
    queue: str
    args: Any
    future: asyncio.Future[Any]


class Queues:
    """Durable queues on a store; methods are coroutines for the event loop."""

    def __init__(self, store: Store, *, poll_interval: float = 1.0) -> None:
        self.store = store
        self.poll_interval = poll_interval
        #: Writes waiting for a group commit: sends (inserts, which conflict with nothing)
        #: and the rest (deletes and visibility changes, which may touch one row twice).
        self._waiting_sends: list[_Write] = []
        self._waiting_changes: list[_Write] = []
        #: Commits in flight: of sends (up to the store's parallel writers, where it has
        #: several), and whether one holding other writes is (never more than one).
        self._sending = 0
        self._changing = False
        self._commits: set[asyncio.Task[None]] = set()
        mark = "?" if store.dialect == "sqlite" else "%s"
        # The hottest statements go straight to the driver, each once per group commit.
        self._insert_rows = bulk.insert(
            store.dialect,
            queue_messages,
            (
                "queue",
                "message_id",
                "body",
                "message_attributes",
                "sent_ms",
                "visible_ms",
                "receive_count",
            ),
        )
        self._delete_rows = bulk.BulkStatement(
            store.dialect,
            "DELETE FROM queue_messages WHERE id = ? AND queue = ? AND receipt = ?",
            {
                "sqlite": "DELETE FROM queue_messages WHERE id IN (SELECT m.id FROM {rows} "
                "JOIN queue_messages AS m ON m.id = j.value->>0 AND m.queue = j.value->>1 "
                "AND m.receipt = j.value->>2)",
                "postgresql": "DELETE FROM queue_messages AS m USING {rows} "
                "WHERE m.id = (j.value->>0)::bigint AND m.queue = j.value->>1 "
                "AND m.receipt = j.value->>2",
            },
        )
        self._hide_sql = (
            f"UPDATE queue_messages SET visible_ms = {mark}, body = COALESCE({mark}, body) "
            f"WHERE id = {mark} AND queue = {mark} AND receipt = {mark}"
        )
        #: queue -> events set by commits that made messages visible there
        self._signals: dict[str, asyncio.Event] = {}
        #: Where the SQS metrics are counted (set by the platform; None: nowhere).
        self.metrics: QueueObserver | None = None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction; on SQLite it takes the write lock at once (BEGIN
        IMMEDIATE), so that a claim's read and its update see no other writer between."""
        with self.store.engine.begin() as connection:
            if self.store.dialect == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    # queues
    async def create(
        self, name: str, attributes: dict[str, str], tags: dict[str, str] | None = None
    ) -> Queue:
        """Create a queue, or return it if it exists with these attributes (SQS's rule)."""
        return await self.store.run(self._create, name, attributes, tags or {})

    def _create(self, name: str, attributes: dict[str, str], tags: dict[str, str]) -> Queue:
        full = {**DEFAULT_ATTRIBUTES, **attributes}
        now = now_ms()
        with self._writing() as connection:
            existing = self._get(connection, name)
            if existing is not None:
                if any(existing.attributes.get(k) != v for k, v in attributes.items()):
                    raise QueueNameExists(
                        f"A queue already exists with the same name and a different value "
                        f"for attribute(s) {', '.join(sorted(attributes))}"
                    )
                return existing
            connection.execute(
                queues.insert().values(
                    name=name, attributes=full, tags=tags, created_ms=now, modified_ms=now
                )
            )
        return Queue(name, full, tags, now, now)

    async def get(self, name: str) -> Queue:
        """The queue called ``name``; QueueDoesNotExist if there is none."""
        return await self.store.run(self._require, name)

    def _require(self, name: str) -> Queue:
        with self.store.engine.connect() as connection:
            queue = self._get(connection, name)
        if queue is None:
            raise QueueDoesNotExist("The specified queue does not exist.")
        return queue

    @staticmethod
    def _get(connection: sa.Connection, name: str) -> Queue | None:
        row = connection.execute(sa.select(queues).where(queues.c.name == name)).first()
        if row is None:
            return None
        return Queue(
            row.name, dict(row.attributes), dict(row.tags), row.created_ms, row.modified_ms
        )

    async def list_queues(self, prefix: str | None = None) -> list[Queue]:
        """User queues (not the platform's own), by name."""
        return await self.store.run(self._list, prefix)

    def _list(self, prefix: str | None) -> list[Queue]:
        query = sa.select(queues).where(~queues.c.name.contains(":"))
        if prefix:
            query = query.where(queues.c.name.startswith(prefix, autoescape=True))
        with self.store.engine.connect() as connection:
            rows = connection.execute(query.order_by(queues.c.name))
            return [
                Queue(r.name, dict(r.attributes), dict(r.tags), r.created_ms, r.modified_ms)
                for r in rows
            ]

    async def set_attributes(self, name: str, attributes: dict[str, str]) -> None:
        """Change attributes (an empty string removes RedrivePolicy, as on SQS)."""
        await self.store.run(self._set_attributes, name, attributes)

    def _set_attributes(self, name: str, attributes: dict[str, str]) -> None:
        with self._writing() as connection:
            queue = self._get(connection, name)
            if queue is None:
                raise QueueDoesNotExist("The specified queue does not exist.")
            merged = {**queue.attributes, **attributes}
            for key in [k for k, v in merged.items() if v == "" and k not in DEFAULT_ATTRIBUTES]:
                del merged[key]
            connection.execute(
                queues.update()
                .where(queues.c.name == name)
                .values(attributes=merged, modified_ms=now_ms())
            )

    async def set_tags(self, name: str, tags: dict[str, str], remove: Sequence[str] = ()) -> None:
        await self.store.run(self._set_tags, name, tags, list(remove))

    def _set_tags(self, name: str, tags: dict[str, str], remove: list[str]) -> None:
        with self._writing() as connection:
            queue = self._get(connection, name)
            if queue is None:
                raise QueueDoesNotExist("The specified queue does not exist.")
            merged = {k: v for k, v in {**queue.tags, **tags}.items() if k not in remove}
            connection.execute(queues.update().where(queues.c.name == name).values(tags=merged))

    async def delete(self, name: str) -> None:
        """Delete a queue and its messages."""
        await self.store.run(self._delete, name)

    def _delete(self, name: str) -> None:
        with self._writing() as connection:
            connection.execute(queue_messages.delete().where(queue_messages.c.queue == name))
            if not connection.execute(queues.delete().where(queues.c.name == name)).rowcount:
                raise QueueDoesNotExist("The specified queue does not exist.")

    async def purge(self, name: str) -> None:
        """Delete every message; a second purge within 60 s is refused, as on SQS."""
        await self.store.run(self._purge, name)

    def _purge(self, name: str) -> None:
        now = now_ms()
        with self._writing() as connection:
            row = connection.execute(
                sa.select(queues.c.purged_ms).where(queues.c.name == name)
            ).first()
            if row is None:
                raise QueueDoesNotExist("The specified queue does not exist.")
            if row.purged_ms is not None and now - row.purged_ms < PURGE_INTERVAL_MS:
                raise PurgeQueueInProgress(
                    f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."
                )
            connection.execute(queue_messages.delete().where(queue_messages.c.queue == name))
            connection.execute(queues.update().where(queues.c.name == name).values(purged_ms=now))

    async def counts(self, name: str) -> dict[str, int]:
        """ApproximateNumberOfMessages, ...NotVisible and ...Delayed."""
        return await self.store.run(self._counts, name)

    def _counts(self, name: str) -> dict[str, int]:
        now = now_ms()
        m = queue_messages.c
        visible = sa.func.sum(sa.case((m.visible_ms <= now, 1), else_=0))
        in_flight = sa.func.sum(sa.case(((m.visible_ms > now) & (m.receive_count > 0), 1), else_=0))
        delayed = sa.func.sum(sa.case(((m.visible_ms > now) & (m.receive_count == 0), 1), else_=0))
        with self.store.engine.connect() as connection:
            row = connection.execute(
                sa.select(visible, in_flight, delayed).where(m.queue == name)
            ).one()
        return {
            "ApproximateNumberOfMessages": int(row[0] or 0),
            "ApproximateNumberOfMessagesNotVisible": int(row[1] or 0),
            "ApproximateNumberOfMessagesDelayed": int(row[2] or 0),
        }

    async def oldest_sent_ms(self, name: str) -> int | None:
        """When the oldest message of ``name`` was sent (None: it is empty)."""
        return await self.store.run(self._oldest_sent_ms, name)

    def _oldest_sent_ms(self, name: str) -> int | None:
        m = queue_messages.c
        with self.store.engine.connect() as connection:
            oldest = connection.execute(
                sa.select(sa.func.min(m.sent_ms)).where(m.queue == name)
            ).scalar()
        return None if oldest is None else int(oldest)

    async def peek(self, name: str, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` messages of a queue, in the order receives take them,
        read without receiving them: no visibility timeout starts, no receive count
        moves (the console's look inside a queue)."""
        return await self.store.run(self._peek, name, limit)

    def _peek(self, name: str, limit: int) -> list[dict[str, Any]]:
        self._require(name)
        m = queue_messages.c
        now = now_ms()
        query = sa.select(queue_messages).where(m.queue == name).order_by(m.id).limit(limit)
        with self.store.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            {
                "MessageId": row.message_id,
                "Body": row.body,
                "MessageAttributes": row.message_attributes or {},
                "SentTimestamp": row.sent_ms,
                "ApproximateReceiveCount": row.receive_count,
                "Visible": row.visible_ms <= now,
            }
            for row in rows
        ]

    async def dead_letter_sources(self, arn: str) -> list[str]:
        """Names of the queues whose RedrivePolicy targets ``arn``."""
        name = arn_queue_name(arn)
        return [q.name for q in await self.list_queues() if q.redrive and q.redrive[0] == name]

    # messages
    async def send(self, queue: str, messages: Sequence[Outgoing]) -> list[Sent]:
        """Store messages durably (committed when this returns)."""
        result: list[Sent] = await self._write("send", queue, list(messages))
        if self.metrics is not None:
            self.metrics.sent(queue, [_size(m) for m in messages])
        return result

    async def _write(self, kind: str, queue: str, args: Any) -> Any:
        """Queue a write for the next group commit and wait for that commit."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiting = self._waiting_sends if kind == "send" else self._waiting_changes
        waiting.append(_Write(kind, queue, args, future))
        self._start_commits()
        return await future

    def _start_commits(self) -> None:
        """Start the group commits the waiting writes and the free writers allow.

        With one writer (SQLite) a commit takes every waiting write. With several
        (PostgreSQL) sends commit side by side, while deletes and visibility changes
        keep to one commit at a time: two of them touching the same rows in opposite
        order would deadlock, and inserts of new rows cannot.
        """
        if self.store.parallel_writers == 1:
            if not self._changing and (self._waiting_sends or self._waiting_changes):
                batch = self._waiting_changes + self._waiting_sends
                self._waiting_changes, self._waiting_sends = [], []
                self._changing = True
                self._commit(batch, serial=True)
            return
        if self._waiting_changes and not self._changing:
            batch, self._waiting_changes = self._waiting_changes, []
            self._changing = True
            self._commit(batch, serial=True)
        while self._waiting_sends and self._sending < self.store.parallel_writers:
            batch, self._waiting_sends = self._waiting_sends, []
            self._sending += 1
            self._commit(batch, serial=False)

    def _commit(self, batch: list[_Write], *, serial: bool) -> None:
        task = asyncio.create_task(self._flush(batch, serial), name="gureum-queue-writes")
        self._commits.add(task)
        task.add_done_callback(self._commits.discard)

    async def _flush(self, batch: list[_Write], serial: bool) -> None:
        """One group commit: on the store's thread (``serial``) or a parallel writer."""
        run = self.store.run if serial else self.store.run_parallel
        try:
            results = await run(self._apply, batch)
        except Exception as exc:
            for write in batch:
                if not write.future.done():
                    write.future.set_exception(exc)
            return
        finally:
            if serial:
                self._changing = False
            else:
                self._sending -= 1
            self._start_commits()
        for write, result in zip(batch, results, strict=True):
            if write.future.done():
                continue
            if isinstance(result, BaseException):
                write.future.set_exception(result)
            else:
                write.future.set_result(result)
        for write in batch:
            if write.kind == "send" or (write.kind == "hide" and write.args[1] == 0):
                self._signal(write.queue)

    def _apply(self, batch: list[_Write]) -> list[Any]:
        """Every write of a batch in one transaction; a result (or error) for each."""
        now = now_ms()
        names = {w.queue for w in batch}
        inserts: list[tuple[Any, ...]] = []
        deletes: list[tuple[Any, ...]] = []
        results: list[Any] = []
        with self._writing() as connection:
            delays = {
                r.name: int(r.attributes.get("DelaySeconds", "0"))
                for r in connection.execute(
                    sa.select(queues.c.name, queues.c.attributes).where(queues.c.name.in_(names))
                )
            }
            for write in batch:
                if write.queue not in delays:
                    results.append(QueueDoesNotExist("The specified queue does not exist."))
                elif write.kind == "send":
                    results.append(self._sends(write, delays[write.queue], now, inserts))
                elif write.kind == "delete":
                    deletes.extend((row_id, write.queue, nonce) for row_id, nonce in write.args)
                    results.append(None)
                else:
                    (row_id, nonce), seconds, body = write.args
                    visible = now + int(seconds * 1000)
                    hidden = connection.exec_driver_sql(
                        self._hide_sql, (visible, body, row_id, write.queue, nonce)
                    )
                    results.append(
                        None
                        if hidden.rowcount
                        else MessageNotInflight("The message referred to isn't in flight.")
                    )
            self._insert_rows.execute(connection, inserts)
            self._delete_rows.execute(connection, deletes)
        return results

    @staticmethod
    def _sends(
        write: _Write, queue_delay: int, now: int, rows: list[tuple[Any, ...]]
    ) -> list[Sent]:
        sent = []
        for message in write.args:
            delay = queue_delay if message.delay_seconds is None else message.delay_seconds
            attributes = message.message_attributes
            rows.append(
                (
                    write.queue,
                    message.message_id,
                    message.body,
                    json.dumps(attributes) if attributes is not None else None,
                    now,
                    now + delay * 1000,
                    0,
                )
            )
            sent.append(Sent(message.message_id, message.body, attributes))
        return sent

    def _signal(self, name: str) -> None:
        event = self._signals.pop(name, None)
        if event is not None:
            event.set()

    async def receive(
        self,
        name: str,
        *,
        max_messages: int = 1,
        visibility_timeout: int | None = None,
        wait_seconds: float | None = None,
    ) -> list[Message]:
        """Claim up to ``max_messages`` visible messages, waiting up to ``wait_seconds``
        (None: the queue's ReceiveMessageWaitTimeSeconds) for one to arrive."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while True:
            signal = self._signals.setdefault(name, asyncio.Event())
            messages, wait, next_visible_ms, moved = await self.store.run(
                self._claim, name, max_messages, visibility_timeout, wait_seconds
            )
            if moved:
                self._signal(moved)
            remaining = started + wait - loop.time()
            if messages or remaining <= 0:
                if self.metrics is not None:
                    self.metrics.received(name, len(messages))
                return messages
            timeout = min(remaining, self.poll_interval)
            if next_visible_ms is not None:
                timeout = min(timeout, max(0.0, next_visible_ms / 1000 - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout)

    def _claim(
        self,
        name: str,
        limit: int,
        visibility_timeout: int | None,
        wait_seconds: float | None,
    ) -> tuple[list[Message], float, int | None, str | None]:
        """(claimed messages, the wait in force, when the next hidden one shows, the
        dead-letter queue that messages were moved to)."""
        m = queue_messages.c
        now = now_ms()
        claimed: list[Message] = []
        moved = None
        with self._writing() as connection:
            queue = self._get(connection, name)
            if queue is None:
                raise QueueDoesNotExist("The specified queue does not exist.")
            if visibility_timeout is None:
                visibility_timeout = queue.int_attribute("VisibilityTimeout")
            if wait_seconds is None:
                wait_seconds = queue.int_attribute("ReceiveMessageWaitTimeSeconds")
            expired_before = now - queue.int_attribute("MessageRetentionPeriod") * 1000
            redrive = queue.redrive
            for _ in range(_CLAIM_ROUNDS):
                wanted = limit - len(claimed)
                rows = list(
                    connection.execute(
                        sa.select(queue_messages)
                        .where((m.queue == name) & (m.visible_ms <= now))
                        .order_by(m.id)
                        .limit(wanted)
                        .with_for_update(skip_locked=True)
                    )
                )
                if not rows:
                    break
                take: list[Any] = []
                expired: list[int] = []
                dead: list[int] = []
                for row in rows:
                    if row.sent_ms < expired_before:
                        expired.append(row.id)
                    elif redrive is not None and row.receive_count >= redrive[1]:
                        dead.append(row.id)
                    else:
                        take.append(row)
                if expired:
                    connection.execute(queue_messages.delete().where(m.id.in_(expired)))
                if dead:
                    assert redrive is not None
                    self._move(connection, dead, redrive[0], now)
                    moved = redrive[0]
                if take:
                    nonce = secrets.token_hex(8)
                    connection.execute(
                        queue_messages.update()
                        .where(m.id.in_([r.id for r in take]))
                        .values(
                            visible_ms=now + visibility_timeout * 1000,
                            receive_count=m.receive_count + 1,
                            first_receive_ms=sa.func.coalesce(m.first_receive_ms, now),
                            receipt=nonce,
                        )
                    )
                    claimed.extend(
                        Message(
                            r.message_id,
                            _receipt(r.id, nonce),
                            r.body,
                            r.message_attributes,
                            r.sent_ms,
                            r.receive_count + 1,
                            r.first_receive_ms or now,
                        )
                        for r in take
                    )
                if len(claimed) >= limit or len(rows) < wanted:
                    break
            next_visible = None
            if not claimed and wait_seconds:
                next_visible = connection.execute(
                    sa.select(sa.func.min(m.visible_ms)).where(
                        (m.queue == name) & (m.visible_ms > now)
                    )
                ).scalar()
        return claimed, float(wait_seconds), next_visible, moved

    def _move(self, connection: sa.Connection, ids: list[int], target: str, now: int) -> None:
        """Move messages to a dead-letter queue (gone if it has been deleted since)."""
        m = queue_messages.c
        exists = connection.execute(sa.select(queues.c.name).where(queues.c.name == target)).first()
        if exists is None:
            connection.execute(queue_messages.delete().where(m.id.in_(ids)))
            return
        connection.execute(
            queue_messages.update()
            .where(m.id.in_(ids))
            .values(
                queue=target, visible_ms=now, receive_count=0, first_receive_ms=None, receipt=None
            )
        )

    async def delete_message(self, name: str, receipt_handle: str) -> None:
        """Delete a message by its newest receipt handle (a stale one deletes nothing)."""
        await self._write("delete", name, [parse_receipt(receipt_handle)])
        if self.metrics is not None:
            self.metrics.deleted(name, 1)

    async def delete_messages(self, name: str, handles: Iterable[str]) -> None:
        keys = [parse_receipt(h) for h in handles]
        await self._write("delete", name, keys)
        if self.metrics is not None:
            self.metrics.deleted(name, len(keys))

    async def change_visibility(
        self, name: str, receipt_handle: str, visibility_timeout: float, *, body: str | None = None
    ) -> None:
        """Hide a message for ``visibility_timeout`` seconds from now (0: show it now), by
        its newest receipt handle, even if its visibility has run out meanwhile (as SQS
        does); MessageNotInflight if the message is gone or was received again since.

        ``body`` replaces the message's body: the platform's own queues keep an
        event's attempt count there (SQS's API never passes it)."""
        key = parse_receipt(receipt_handle)
        await self._write("hide", name, (key, visibility_timeout, body))

    async def release_in_flight(self, name: str) -> int:
        """Make every in-flight message of ``name`` visible now (a single node's restart:
        nobody else can be working on them); the number released."""
        count = await self.store.run(self._release, name)
        if count:
            self._signal(name)
        return count

    def _release(self, name: str) -> int:
        m = queue_messages.c
        now = now_ms()
        with self._writing() as connection:
            return int(
                connection.execute(
                    queue_messages.update()
                    .where((m.queue == name) & (m.visible_ms > now) & (m.receive_count > 0))
                    .values(visible_ms=now)
                ).rowcount
            )
