"""Layers in the store, on SQLite and PostgreSQL: version numbers never reused, listing,
policies changed under a revision."""

from __future__ import annotations

from typing import Any

import pytest

from gureum.functions.layer_store import LayerStore
from gureum.store import Store


@pytest.fixture
def layer_store(store: Store) -> LayerStore:
    return LayerStore(store)


def test_version_numbers_are_never_reused(layer_store: LayerStore) -> None:
    config = {"CreatedDate": "d", "CodeSha256": "x", "CodeSize": 1}
    assert [layer_store.publish("a", config, "aa" * 32, 5) for _ in range(3)] == [1, 2, 3]
    assert layer_store.publish("b", config, "bb" * 32, 5) == 1
    assert layer_store.delete("a", 3) and not layer_store.delete("a", 3)
    assert layer_store.delete("a", 2) and layer_store.delete("a", 1)
    assert layer_store.versions("a") == []
    assert layer_store.publish("a", config, "aa" * 32, 5) == 4
    assert [(r.name, r.version) for r in layer_store.versions()] == [("a", 4), ("b", 1)]
    row = layer_store.get("a", 4)
    assert row is not None and row.config == config and row.unzipped_size == 5
    assert layer_store.get("a", 1) is None
    assert layer_store.code_digests() == {"aa" * 32, "bb" * 32}


def test_policies_change_in_one_transaction(layer_store: LayerStore) -> None:
    layer_store.publish("p", {"CreatedDate": "d"}, "cc" * 32, 1)
    added = layer_store.change_policy("p", 1, lambda s, r: [*(s or []), {"Sid": "a"}], "rev-1")
    assert added is not None and added.policy == [{"Sid": "a"}]
    assert added.policy_revision == "rev-1"
    seen = []

    def remove(statements: Any, revision: Any) -> None:
        seen.append((statements, revision))
        return None

    emptied = layer_store.change_policy("p", 1, remove, "rev-2")
    assert seen == [([{"Sid": "a"}], "rev-1")]
    assert emptied is not None and emptied.policy is None and emptied.policy_revision is None
    assert layer_store.change_policy("p", 9, remove, "rev-3") is None
