"""The queue core on both engines: claims, visibility, receipts, redrive, long polls."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from gureum.errors import (
    MessageNotInflight,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from gureum.queues.queues import Outgoing, Queues, md5_of_attributes
from gureum.store import Store

T = TypeVar("T")


def run(store: Store, body: Callable[[Queues], Awaitable[T]]) -> T:
    async def main() -> T:
        return await body(Queues(store, poll_interval=0.2))

    return asyncio.run(main())


def test_send_receive_delete(store: Store) -> None:
    async def body(queues: Queues) -> None:
        await queues.create("q", {})
        tag = {"Tag": {"DataType": "String", "StringValue": "é"}}
        sent = await queues.send("q", [Outgoing("one", tag), Outgoing("two")])
        assert [s.md5_of_body for s in sent] == [
            "f97c5d29941bfb1b2fdab0874906ab82",
            "b8a9f715dbb64fd5c56e7783c6820a61",
        ]
        got = await queues.receive("q", max_messages=10)
        assert sorted(m.body for m in got) == ["one", "two"]
        assert {m.body: m.message_attributes for m in got} == {"one": tag, "two": None}
        assert all(m.receive_count == 1 for m in got)
        assert await queues.receive("q", max_messages=10) == []  # in flight
        counts = await queues.counts("q")
        assert counts["ApproximateNumberOfMessagesNotVisible"] == 2
        await queues.delete_messages("q", [m.receipt_handle for m in got])
        assert (await queues.counts("q"))["ApproximateNumberOfMessagesNotVisible"] == 0

    run(store, body)


def test_visibility_timeout_and_stale_receipts(store: Store) -> None:
    async def body(queues: Queues) -> None:
        await queues.create("q", {"VisibilityTimeout": "1"})
        await queues.send("q", [Outgoing("x")])
        (first,) = await queues.receive("q")
        await queues.change_visibility("q", first.receipt_handle, 0)
        (second,) = await queues.receive("q", visibility_timeout=5)
        assert second.receive_count == 2 and second.message_id == first.message_id
        # The older handle no longer acts on the message.
        await queues.delete_message("q", first.receipt_handle)
        with pytest.raises(MessageNotInflight):
            await queues.change_visibility("q", first.receipt_handle, 10)
        with pytest.raises(ReceiptHandleIsInvalid):
            await queues.delete_message("q", "not-a-handle")
        assert (await queues.counts("q"))["ApproximateNumberOfMessagesNotVisible"] == 1
        await queues.delete_message("q", second.receipt_handle)
        # The newest handle still hides a message whose visibility ran out (SQS answers
        # 200 there too), as long as nobody received it since.
        await queues.send("q", [Outgoing("y")])
        (lapsed,) = await queues.receive("q", visibility_timeout=0)
        await queues.change_visibility("q", lapsed.receipt_handle, 30)
        assert await queues.receive("q") == []
        await queues.delete_message("q", lapsed.receipt_handle)
        assert await queues.counts("q") == {
            "ApproximateNumberOfMessages": 0,
            "ApproximateNumberOfMessagesNotVisible": 0,
            "ApproximateNumberOfMessagesDelayed": 0,
        }

    run(store, body)


def test_redrive_moves_poison_messages(store: Store) -> None:
    async def body(queues: Queues) -> None:
        await queues.create("dlq", {})
        policy = {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}
        await queues.create("src", {"RedrivePolicy": json.dumps({**policy, "maxReceiveCount": 2})})
        (sent,) = await queues.send("src", [Outgoing("poison")])
        for _ in range(2):
            (got,) = await queues.receive("src", visibility_timeout=0)
        assert await queues.receive("src") == []
        (dead,) = await queues.receive("dlq")
        assert (dead.message_id, dead.body, dead.receive_count) == (sent.message_id, "poison", 1)
        assert await queues.dead_letter_sources("arn:aws:sqs:us-east-1:000000000000:dlq") == ["src"]

    run(store, body)


def test_delay_retention_and_purge(store: Store) -> None:
    async def body(queues: Queues) -> None:
        await queues.create("q", {"DelaySeconds": "30"})
        await queues.send("q", [Outgoing("late"), Outgoing("now", delay_seconds=0)])
        assert [m.body for m in await queues.receive("q", max_messages=10)] == ["now"]
        assert (await queues.counts("q"))["ApproximateNumberOfMessagesDelayed"] == 1
        await queues.purge("q")
        with pytest.raises(PurgeQueueInProgress):
            await queues.purge("q")
        assert sum((await queues.counts("q")).values()) == 0

        await queues.create("short", {"MessageRetentionPeriod": "60"})
        await queues.send("short", [Outgoing("old")])
        with store.engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE queue_messages SET sent_ms = sent_ms - 61000 WHERE queue = 'short'"
            )
        assert await queues.receive("short") == []
        assert sum((await queues.counts("short")).values()) == 0

    run(store, body)


def test_one_group_commit_answers_each_write_for_itself(store: Store) -> None:
    # Writes that arrive together share one commit (on SQLite, one statement for the
    # sends and one for the deletes); a send to a missing queue fails alone.
    async def body(queues: Queues) -> None:
        await queues.create("a", {"DelaySeconds": "30"})
        await queues.create("b", {})
        await queues.send("b", [Outgoing("first")])
        (received,) = await queues.receive("b", max_messages=1)
        results = await asyncio.gather(
            queues.send("a", [Outgoing("delayed"), Outgoing("now", delay_seconds=0)]),
            queues.send("missing", [Outgoing("lost")]),
            queues.send(
                "b", [Outgoing("second", {"K": {"DataType": "String", "StringValue": "v"}})]
            ),
            queues.delete_message("b", received.receipt_handle),
            return_exceptions=True,
        )
        delayed, missing, second, deleted = results
        assert isinstance(delayed, list) and [m.body for m in delayed] == ["delayed", "now"]
        assert isinstance(missing, QueueDoesNotExist)
        assert isinstance(second, list) and [m.body for m in second] == ["second"]
        assert deleted is None
        assert [m.body for m in await queues.receive("a", max_messages=10)] == ["now"]
        assert (await queues.counts("a"))["ApproximateNumberOfMessagesDelayed"] == 1
        (received_second,) = await queues.receive("b", max_messages=10)
        assert (received_second.body, received_second.message_attributes) == (
            "second",
            {"K": {"DataType": "String", "StringValue": "v"}},
        )
        with store.engine.connect() as connection:
            queues_of_rows = [
                r[0] for r in connection.exec_driver_sql("SELECT queue FROM queue_messages")
            ]
        assert sorted(queues_of_rows) == ["a", "a", "b"]

    run(store, body)


def test_queue_lifecycle_errors(store: Store) -> None:
    async def body(queues: Queues) -> None:
        first = await queues.create("q", {"VisibilityTimeout": "10"})
        assert (
            await queues.create("q", {"VisibilityTimeout": "10"})
        ).created_ms == first.created_ms
        with pytest.raises(QueueNameExists):
            await queues.create("q", {"VisibilityTimeout": "11"})
        await queues.create("gureum:internal", {})
        assert [q.name for q in await queues.list_queues()] == ["q"]
        await queues.delete("q")
        for call in (
            queues.get("q"),
            queues.send("q", [Outgoing("x")]),
            queues.receive("q"),
            queues.purge("q"),
            queues.delete("q"),
        ):
            with pytest.raises(QueueDoesNotExist):
                await call

    run(store, body)


def test_long_poll_wakes_on_send_and_on_visibility(store: Store) -> None:
    async def body(queues: Queues) -> tuple[float, float]:
        await queues.create("q", {})
        waiting = asyncio.create_task(queues.receive("q", wait_seconds=5))
        await asyncio.sleep(0.1)
        sent_at = time.monotonic()
        await queues.send("q", [Outgoing("hello")])
        (message,) = await waiting
        woke = time.monotonic() - sent_at
        # A hidden message shows when its visibility ends, and a long poll sees it then.
        await queues.change_visibility("q", message.receipt_handle, 1)
        started = time.monotonic()
        (again,) = await queues.receive("q", wait_seconds=5)
        assert again.body == "hello"
        return woke, time.monotonic() - started

    woke, shown = run(store, body)
    assert woke < 0.15  # the commit's signal, not the 0.2 s poll
    assert 0.7 < shown < 2.0


def test_concurrent_receivers_never_share_a_message(store: Store) -> None:
    async def body(queues: Queues) -> list[str]:
        await queues.create("q", {})
        await asyncio.gather(
            *(queues.send("q", [Outgoing(f"m{i}-{j}") for j in range(10)]) for i in range(20))
        )
        other = Queues(Store(store.url))  # a second node's view of the same store

        async def drain(q: Queues) -> list[str]:
            bodies: list[str] = []
            while batch := await q.receive("q", max_messages=7):
                bodies.extend(m.body for m in batch)
            return bodies

        try:
            results = await asyncio.gather(drain(queues), drain(other), drain(queues))
        finally:
            other.store.close()
        return [b for r in results for b in r]

    bodies = run(store, body)
    assert sorted(bodies) == sorted(f"m{i}-{j}" for i in range(20) for j in range(10))


def test_md5_of_message_attributes_ignores_their_order() -> None:
    attributes: dict[str, Any] = {
        "City": {"DataType": "String", "StringValue": "Any City"},
        "Population": {"DataType": "Number", "StringValue": "1250800"},
    }
    assert md5_of_attributes(attributes) == md5_of_attributes(dict(reversed(attributes.items())))
    assert md5_of_attributes(None) is None


class HeldStore:
    """A store whose commits wait until the test lets them go: which ones run at once."""

    def __init__(self, parallel_writers: int) -> None:
        self.dialect = "postgresql" if parallel_writers > 1 else "sqlite"
        self.parallel_writers = parallel_writers
        self.in_flight: list[tuple[str, list[str]]] = []
        self.gates: list[asyncio.Event] = []

    async def _held(self, lane: str, fn: Callable[..., Any], batch: list[Any]) -> Any:
        entry = (lane, [w.kind for w in batch])
        gate = asyncio.Event()
        self.in_flight.append(entry)
        self.gates.append(gate)
        await gate.wait()
        self.in_flight.remove(entry)
        return [None if w.kind != "send" else [] for w in batch]

    async def run(self, fn: Callable[..., Any], batch: list[Any]) -> Any:
        return await self._held("serial", fn, batch)

    async def run_parallel(self, fn: Callable[..., Any], batch: list[Any]) -> Any:
        return await self._held("parallel", fn, batch)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_sends_commit_side_by_side_and_changes_one_commit_at_a_time() -> None:
    # Several writers (PostgreSQL): inserts of new rows conflict with nothing, so sends
    # commit side by side; deletes and visibility changes could take the same rows in
    # opposite orders and deadlock, so one such commit at a time.
    async def scenario() -> None:
        store = HeldStore(parallel_writers=2)
        queues = Queues(store)  # type: ignore[arg-type]
        writes = [asyncio.create_task(queues.send("q", [Outgoing(str(n))])) for n in range(3)]
        changes = [
            asyncio.create_task(queues._write("delete", "q", [(n, "0" * 16)])) for n in range(2)
        ]
        await settle()
        assert sorted(store.in_flight) == [
            ("parallel", ["send"]),
            ("parallel", ["send"]),
            ("serial", ["delete"]),
        ]
        store.gates[0].set()  # the first send's commit ends: the waiting send goes next
        await settle()
        assert sorted(store.in_flight) == [
            ("parallel", ["send"]),
            ("parallel", ["send"]),
            ("serial", ["delete"]),
        ]
        for gate in store.gates:
            gate.set()
        await settle()
        assert store.in_flight == [("serial", ["delete"])]  # the second delete, after the first
        for gate in store.gates:
            gate.set()
        await asyncio.gather(*writes, *changes)

    asyncio.run(scenario())


def test_one_writer_takes_every_waiting_write_into_one_commit() -> None:
    async def scenario() -> None:
        store = HeldStore(parallel_writers=1)
        queues = Queues(store)  # type: ignore[arg-type]
        first = asyncio.create_task(queues.send("q", [Outgoing("0")]))
        await settle()
        rest = [
            asyncio.create_task(queues.send("q", [Outgoing("1")])),
            asyncio.create_task(queues._write("delete", "q", [(1, "0" * 16)])),
            asyncio.create_task(queues.send("q", [Outgoing("2")])),
        ]
        await settle()
        assert store.in_flight == [("serial", ["send"])]  # the rest wait for it
        store.gates[0].set()
        await settle()
        assert store.in_flight == [("serial", ["delete", "send", "send"])]
        store.gates[1].set()
        await asyncio.gather(first, *rest)

    asyncio.run(scenario())


def test_peek_reads_messages_without_receiving_them(store: Store) -> None:
    async def body(queues: Queues) -> None:
        await queues.create("q", {})
        await queues.send("q", [Outgoing("one"), Outgoing("two")])
        (first,) = await queues.receive("q", max_messages=1)
        peeked = await queues.peek("q", 10)
        assert [(m["Body"], m["ApproximateReceiveCount"], m["Visible"]) for m in peeked] == [
            ("one", 1, False),
            ("two", 0, True),
        ]
        # Peeking changed nothing: the visible message is still there to receive, once.
        assert (await queues.counts("q"))["ApproximateNumberOfMessages"] == 1
        (second,) = await queues.receive("q", max_messages=10)
        assert (second.body, second.receive_count) == ("two", 1)
        assert len(await queues.peek("q", 1)) == 1
        with pytest.raises(QueueDoesNotExist):
            await queues.peek("nope", 10)

    run(store, body)
