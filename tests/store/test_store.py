"""The store on SQLite and PostgreSQL: functions, logs, migrations, races."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gureum.errors import (
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from gureum.store import FunctionRow, LogEvent, Store, open_store
from gureum.store.tables import metadata


def row(name: str, revision: str = "r1", **config: Any) -> FunctionRow:
    return FunctionRow(name, "$LATEST", {"FunctionName": name, **config}, "ab" * 32, revision)


def test_create_get_update_delete(store: Store) -> None:
    store.create_function(row("f", MemorySize=128))
    assert store.get_function("f") == row("f", MemorySize=128)
    assert store.get_function("absent") is None
    store.update_function(row("f", "r2", MemorySize=256), expected_revision_id="r1")
    assert store.get_function("f") == row("f", "r2", MemorySize=256)
    store.update_function(row("f", "r3"))  # no revision given: unconditional
    assert store.get_function("f").revision_id == "r3"  # type: ignore[union-attr]
    assert store.delete_function("f") is True
    assert store.delete_function("f") is False
    assert store.get_function("f") is None


def test_errors(store: Store) -> None:
    store.create_function(row("f"))
    with pytest.raises(ResourceConflictException, match="Function already exist: f"):
        store.create_function(row("f"))
    with pytest.raises(PreconditionFailedException):
        store.update_function(row("f", "r2"), expected_revision_id="stale")
    assert store.get_function("f").revision_id == "r1"  # type: ignore[union-attr]
    with pytest.raises(ResourceNotFoundException, match="Function not found: absent"):
        store.update_function(row("absent"))
    with pytest.raises(ResourceNotFoundException):
        store.update_function(row("absent"), expected_revision_id="r1")


def test_versions_are_rows_and_delete_takes_them_all(store: Store) -> None:
    store.create_function(row("f"))
    store.create_function(FunctionRow("f", "1", {"Version": "1"}, "cd" * 32, "r9"))
    store.create_function(row("g"))
    assert store.get_function("f", "1") == FunctionRow("f", "1", {"Version": "1"}, "cd" * 32, "r9")
    assert [r.name for r in store.list_functions(None, 10)] == ["f", "g"]  # $LATEST only
    assert len(store.all_functions()) == 3
    assert store.delete_function("f") is True
    assert store.get_function("f", "1") is None
    assert [(r.name, r.version) for r in store.all_functions()] == [("g", "$LATEST")]


def test_run_uses_the_one_worker_thread(store: Store) -> None:
    store.create_function(row("f"))

    async def main() -> tuple[FunctionRow | None, set[str]]:
        found = await store.run(store.get_function, "f")
        names = await asyncio.gather(
            *(store.run(lambda: threading.current_thread().name) for _ in range(5))
        )
        return found, set(names)

    found, names = asyncio.run(main())
    assert found == row("f")
    assert len(names) == 1 and names.pop().startswith("gureum-store")


def test_list_functions_pages_by_name(store: Store) -> None:
    for name in ["c", "a", "e", "b", "d"]:
        store.create_function(row(name))
    assert [r.name for r in store.list_functions(None, 2)] == ["a", "b"]
    assert [r.name for r in store.list_functions("b", 2)] == ["c", "d"]
    assert [r.name for r in store.list_functions("d", 10)] == ["e"]
    assert sorted(r.name for r in store.all_functions()) == ["a", "b", "c", "d", "e"]


def test_concurrent_create_has_one_winner(store: Store) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            store.create_function(row("race", f"r{i}"))
            outcomes.append("won")
        except ResourceConflictException:
            outcomes.append("conflict")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "won"]


def test_migrate_is_idempotent(store: Store) -> None:
    store.create_function(row("kept"))
    store.migrate()
    assert store.get_function("kept") is not None


def _migrate_in_a_process(url: str) -> None:
    Store(url).migrate()


def test_concurrent_migrations_take_turns(store: Store) -> None:
    """Nodes starting together on an empty database: one creates the schema, none fails."""
    with store.engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(sa.text("DROP TABLE alembic_version"))
    store.engine.dispose()  # no pooled connection for the children to inherit
    # Processes, as nodes are (and Alembic's module-level context is not for threads).
    fork = multiprocessing.get_context("fork")
    nodes = [fork.Process(target=_migrate_in_a_process, args=(store.url,)) for _ in range(3)]
    for node in nodes:
        node.start()
    for node in nodes:
        node.join(60)
    assert [node.exitcode for node in nodes] == [0, 0, 0]
    store.create_function(row("after"))
    assert store.get_function("after") is not None


def test_sqlite_file_in_new_directory_with_wal(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)  # migrations are found from the package, not the cwd
    opened = open_store(f"sqlite:///{tmp_path / 'a' / 'b' / 'store.db'}")
    try:
        with opened.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert (pragma("PRAGMA busy_timeout").scalar() or 0) > 0
        opened.create_function(row("f"))
    finally:
        opened.close()


def events(group: str, stream: str, start: int, messages: list[str]) -> list[LogEvent]:
    return [LogEvent(group, stream, start + i, m) for i, m in enumerate(messages)]


def test_log_streams_and_groups(store: Store) -> None:
    store.put_log_events(events("/aws/lambda/a", "s1", 1000, ["x", "yy"]))
    store.put_log_events(events("/aws/lambda/a", "s2", 500, ["z"]))
    store.put_log_events(events("/aws/lambda/a", "s1", 2000, ["w"]))
    store.put_log_events(events("/aws/lambda/b", "t", 100, ["q"]))
    groups, token = store.describe_log_groups(None, 10, None)
    assert [g["logGroupName"] for g in groups] == ["/aws/lambda/a", "/aws/lambda/b"]
    assert groups[0]["storedBytes"] == 5 and token is None
    first, token = store.describe_log_groups("/aws/lambda/", 1, None)
    assert [g["logGroupName"] for g in first] == ["/aws/lambda/a"] and token
    rest, token = store.describe_log_groups("/aws/lambda/", 1, token)
    assert [g["logGroupName"] for g in rest] == ["/aws/lambda/b"] and token is None
    streams, _ = store.describe_log_streams(
        "/aws/lambda/a",
        prefix=None,
        order_by="LogStreamName",
        descending=False,
        limit=10,
        next_token=None,
    )
    s1 = streams[0]
    assert (s1["logStreamName"], s1["firstEventTimestamp"], s1["lastEventTimestamp"]) == (
        "s1",
        1000,
        2000,
    )
    assert s1["storedBytes"] == 4
    by_time, _ = store.describe_log_streams(
        "/aws/lambda/a",
        prefix=None,
        order_by="LastEventTime",
        descending=True,
        limit=10,
        next_token=None,
    )
    assert [s["logStreamName"] for s in by_time] == ["s1", "s2"]
    by_time, _ = store.describe_log_streams(
        "/aws/lambda/a",
        prefix=None,
        order_by="LastEventTime",
        descending=False,
        limit=10,
        next_token=None,
    )
    assert [s["logStreamName"] for s in by_time] == ["s2", "s1"]
    assert by_time[0]["creationTime"] > 0 and by_time[0]["lastIngestionTime"] > 0
    page, token = store.describe_log_streams(
        "/aws/lambda/a",
        prefix="s",
        order_by="LogStreamName",
        descending=False,
        limit=1,
        next_token=None,
    )
    assert [s["logStreamName"] for s in page] == ["s1"] and token
    page, token = store.describe_log_streams(
        "/aws/lambda/a",
        prefix="s",
        order_by="LogStreamName",
        descending=False,
        limit=1,
        next_token=token,
    )
    assert [s["logStreamName"] for s in page] == ["s2"] and token is None
    assert store.log_group_exists("/aws/lambda/a")
    assert store.delete_log_group("/aws/lambda/a") is True
    assert not store.log_group_exists("/aws/lambda/a")
    assert store.delete_log_group("/aws/lambda/a") is False


def test_get_log_events_forward_and_backward(store: Store) -> None:
    store.put_log_events(events("g", "s", 0, [f"m{i}" for i in range(10)]))
    page, forward, backward = store.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=None
    )
    assert [e["message"] for e in page] == ["m0", "m1", "m2", "m3"]
    page, forward, _ = store.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=forward
    )
    assert [e["message"] for e in page] == ["m4", "m5", "m6", "m7"]
    page, forward, _ = store.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=forward
    )
    assert [e["message"] for e in page] == ["m8", "m9"]
    empty, same, _ = store.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=forward
    )
    assert empty == [] and same == forward
    store.put_log_events(events("g", "s", 10, ["m10"]))
    page, _, _ = store.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=forward
    )
    assert [e["message"] for e in page] == ["m10"]
    # from the tail, then backwards
    page, _, backward = store.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=False, limit=3, next_token=None
    )
    assert [e["message"] for e in page] == ["m8", "m9", "m10"]
    page, _, _ = store.get_log_events(
        "g",
        "s",
        start_time=None,
        end_time=None,
        start_from_head=False,
        limit=3,
        next_token=backward,
    )
    assert [e["message"] for e in page] == ["m5", "m6", "m7"]
    window, _, _ = store.get_log_events(
        "g", "s", start_time=3, end_time=5, start_from_head=True, limit=10, next_token=None
    )
    assert [e["message"] for e in window] == ["m3", "m4"]
    assert window[0]["ingestionTime"] > 0


def test_get_log_events_tokens_of_an_empty_stream_follow_new_events(store: Store) -> None:
    empty, forward, _ = store.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=False, limit=5, next_token=None
    )
    assert empty == []
    store.put_log_events(events("g", "s", 100, ["first"]))
    page, _, _ = store.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=False, limit=5, next_token=forward
    )
    assert [e["message"] for e in page] == ["first"]


def test_a_batch_is_stored_in_time_order(store: Store) -> None:
    store.put_log_events(
        [LogEvent("g", "s", 30, "c"), LogEvent("g", "s", 10, "a"), LogEvent("g", "s", 20, "b")]
    )
    page, _, _ = store.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=10, next_token=None
    )
    assert [(e["timestamp"], e["message"]) for e in page] == [(10, "a"), (20, "b"), (30, "c")]


def test_filter_log_events(store: Store) -> None:
    store.put_log_events(events("g", "a", 0, ["ERROR disk full", "INFO ok", "ERROR net down"]))
    store.put_log_events(events("g", "b", 1, ["ERROR disk slow", "100% done"]))

    def messages(**kwargs: Any) -> list[str]:
        args: dict[str, Any] = {
            "stream_names": None,
            "stream_prefix": None,
            "start_time": None,
            "end_time": None,
            "pattern": None,
            "limit": 100,
            "next_token": None,
            **kwargs,
        }
        found, _ = store.filter_log_events("g", **args)
        return [e["message"] for e in found]

    assert messages() == [
        "ERROR disk full",
        "INFO ok",
        "ERROR disk slow",
        "ERROR net down",
        "100% done",
    ]
    assert messages(pattern="ERROR disk") == ["ERROR disk full", "ERROR disk slow"]
    assert messages(pattern='"disk full"') == ["ERROR disk full"]
    assert messages(pattern="100%") == ["100% done"]
    assert messages(pattern="error") == []  # case-sensitive, on SQLite too
    assert messages(pattern="ERROR -") == []  # every term must appear
    assert messages(pattern="  ") == messages()
    assert messages(stream_names=["b"]) == ["ERROR disk slow", "100% done"]
    assert messages(stream_prefix="a", pattern="ERROR") == ["ERROR disk full", "ERROR net down"]
    assert messages(start_time=1, end_time=1) == ["INFO ok", "ERROR disk slow"]
    seen, token = [], None
    while True:
        page, token = store.filter_log_events(
            "g",
            stream_names=None,
            stream_prefix=None,
            start_time=None,
            end_time=None,
            pattern=None,
            limit=2,
            next_token=token,
        )
        seen += [e["eventId"] for e in page]
        if token is None:
            break
    assert len(seen) == len(set(seen)) == 5


def test_bad_tokens_are_value_errors(store: Store) -> None:
    with pytest.raises(ValueError):
        store.filter_log_events(
            "g",
            stream_names=None,
            stream_prefix=None,
            start_time=None,
            end_time=None,
            pattern=None,
            limit=1,
            next_token="garbage",
        )
    with pytest.raises(ValueError):
        store.get_log_events(
            "g",
            "s",
            start_time=None,
            end_time=None,
            start_from_head=True,
            limit=1,
            next_token="f/x",
        )
    with pytest.raises(ValueError):
        store.get_log_events(
            "g",
            "s",
            start_time=None,
            end_time=None,
            start_from_head=True,
            limit=1,
            next_token="garbage",
        )
    with pytest.raises(ValueError):
        store.describe_log_streams(
            "g",
            prefix=None,
            order_by="LogStreamName",
            descending=False,
            limit=1,
            next_token="x",
        )


def test_describe_log_streams_pages_do_not_shift(store: Store) -> None:
    for name in ("2026/11/25/[$LATEST]b", "2026/11/25/[$LATEST]d"):
        store.put_log_events(events("g", name, 10, ["x"]))

    def page(token: str | None, **kwargs: Any) -> tuple[list[str], str | None]:
        args: dict[str, Any] = {
            "prefix": None,
            "order_by": "LogStreamName",
            "descending": False,
            "limit": 1,
            "next_token": token,
            **kwargs,
        }
        found, next_token = store.describe_log_streams("g", **args)
        return [s["logStreamName"] for s in found], next_token

    first, token = page(None)
    assert first == ["2026/11/25/[$LATEST]b"]
    store.put_log_events(events("g", "2026/11/25/[$LATEST]a", 20, ["y"]))  # sorts first
    second, token = page(token)
    assert second == ["2026/11/25/[$LATEST]d"] and token is None
    newest, token = page(None, order_by="LastEventTime", descending=True)
    assert newest == ["2026/11/25/[$LATEST]a"]
    older, _ = page(token, order_by="LastEventTime", descending=True)
    assert older == ["2026/11/25/[$LATEST]d"]
    with pytest.raises(ValueError):
        page("t/notanumber/x", order_by="LastEventTime")
    with pytest.raises(ValueError):
        page("n/x", order_by="LastEventTime")


def test_log_batches_keep_every_character_and_their_order(store: Store) -> None:
    # SQLite takes a batch as one JSON parameter (gureum.store.bulk); nothing changes on
    # the way but NUL, which PostgreSQL cannot keep and both engines store as U+FFFD.
    odd = ['quote " back \\ slash', "tab\tand\nnewline", "한글 ✓ 🚀", "nul\x00inside", '{"a": 1}']
    messages = [f"m{i}" for i in range(1500)] + odd
    store.put_log_events(events("g", "s", 0, messages))
    store.put_log_events(events("g", "s", 10_000, odd[:3]))
    got, token = [], None
    while True:
        page, forward, _ = store.get_log_events(
            "g",
            "s",
            start_time=None,
            end_time=None,
            start_from_head=True,
            limit=10_000,
            next_token=token,
        )
        if not page:
            break
        got += [e["message"] for e in page]
        token = forward
    kept = [m.replace("\x00", "\ufffd") for m in messages]
    assert got == kept + odd[:3]
