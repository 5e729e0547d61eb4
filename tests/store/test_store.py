"""The store on SQLite and PostgreSQL: functions, migrations, races."""

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
from gureum.store import FunctionRow, Store, open_store
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
