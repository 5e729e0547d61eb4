"""Layers in the store, on SQLite and PostgreSQL: version numbers never reused, listing,
policies changed under a revision, and the layer registry over it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gureum.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from gureum.functions.code import CodeStore
from gureum.functions.layer_rules import list_filter
from gureum.functions.layer_store import LayerStore
from gureum.functions.layers import LayerRegistry
from gureum.store import Store
from tests.conftest import zip_files

T = TypeVar("T")
REGION, ACCOUNT = "us-east-1", "000000000000"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture
def layer_store(store: Store) -> LayerStore:
    return LayerStore(store)


@pytest.fixture
def registry(store: Store, tmp_path: Path) -> LayerRegistry:
    return LayerRegistry(store, CodeStore(tmp_path / "code"), region=REGION, account_id=ACCOUNT)


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


def test_the_registry_publishes_lists_and_deletes(registry: LayerRegistry) -> None:
    code = base64.b64encode(zip_files({"python/m.py": "X = 1\n"})).decode()
    first = run(
        registry.publish(
            "lib", {"Content": {"ZipFile": code}, "CompatibleRuntimes": ["python3.12"]}
        )
    )
    assert first.arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:lib:1"
    assert first.unzipped_size == len("X = 1\n")
    second = run(
        registry.publish(
            "lib", {"Content": {"ZipFile": code}, "CompatibleRuntimes": ["nodejs20.x"]}
        )
    )
    assert second.version == 2 and second.code_sha256_hex == first.code_sha256_hex
    by_arn = run(registry.get_by_arn(second.arn))
    assert by_arn == second == run(registry.get(first.layer_arn, 2))
    python = list_filter({"CompatibleRuntime": "python3.12"})
    layers, _ = run(registry.list_layers(python, None))
    assert [(name, latest.version) for name, latest in layers] == [("lib", 1)]
    versions, marker = run(registry.list_versions("lib", list_filter({"MaxItems": "1"}), None))
    assert [v.version for v in versions] == [2] and marker == "2"
    rest, marker = run(registry.list_versions("lib", list_filter({}), marker))
    assert [v.version for v in rest] == [1] and marker is None
    run(registry.delete("lib", 1))
    run(registry.delete("lib", 1))  # again: nothing to delete, as on Lambda
    with pytest.raises(ResourceNotFoundException) as missing:
        run(registry.get("lib", 1))
    assert missing.value.message == "The resource you requested does not exist."
    layers, _ = run(registry.list_layers(python, None))
    assert layers == []
    assert run(registry.code_digests()) == {first.code_sha256_hex}


def test_the_registry_resolves_a_functions_layers(registry: LayerRegistry) -> None:
    code = base64.b64encode(zip_files({"bin/tool": "#!/bin/sh\n"})).decode()
    version = run(registry.publish("tools", {"Content": {"ZipFile": code}}))
    (found,) = run(registry.function_layers([version.arn]))
    assert (found.arn, found.code_size, found.code_sha256_hex) == (
        version.arn,
        version.code_size,
        version.code_sha256_hex,
    )
    run(registry.delete("tools", version.version))
    with pytest.raises(InvalidParameterValueException) as deleted:
        run(registry.function_layers([version.arn]))
    assert deleted.value.message == f"Layer version {version.arn} does not exist."


def test_the_registry_keeps_policies(registry: LayerRegistry) -> None:
    code = base64.b64encode(zip_files({"a": "b"})).decode()
    version = run(registry.publish("shared", {"Content": {"ZipFile": code}}))
    with pytest.raises(ResourceNotFoundException) as none:
        run(registry.get_policy("shared", 1))
    assert none.value.message == "No policy is associated with the given resource."
    grant = {"StatementId": "all", "Action": "lambda:GetLayerVersion", "Principal": "*"}
    with pytest.raises(PreconditionFailedException):
        run(registry.add_permission("shared", 1, grant, "not-the-revision"))
    statement, revision = run(registry.add_permission("shared", 1, grant, None))
    assert statement["Resource"] == version.arn
    with pytest.raises(ResourceConflictException) as twice:
        run(registry.add_permission("shared", 1, grant, None))
    assert twice.value.message == (
        "The statement id (all) provided already exists. Please provide a new statement id, or "
        "remove the existing statement."
    )
    other = {**grant, "StatementId": "one", "Principal": "223456789012"}
    _, newer = run(registry.add_permission("shared", 1, other, revision))
    assert newer != revision
    policy, current = run(registry.get_policy("shared", 1))
    assert current == newer and '"Sid":"one"' in policy
    with pytest.raises(PreconditionFailedException):
        run(registry.remove_permission("shared", 1, "all", revision))
    with pytest.raises(ResourceNotFoundException) as unknown:
        run(registry.remove_permission("shared", 1, "nope", None))
    assert unknown.value.message == "Statement nope is not found in resource policy."
    run(registry.remove_permission("shared", 1, "all", None))
    run(registry.remove_permission("shared", 1, "one", None))
    with pytest.raises(ResourceNotFoundException):
        run(registry.get_policy("shared", 1))
    with pytest.raises(ResourceNotFoundException) as gone:
        run(registry.add_permission("shared", 5, grant, None))
    assert gone.value.message == f"Layer version {version.layer_arn}:5 does not exist."
