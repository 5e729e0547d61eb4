"""Two nodes' registries on one store: what one changes, the other takes in when it
refreshes, and its listeners hear as the writer's did (both engines)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest

from gureum.errors import ResourceNotFoundException
from gureum.functions.code import CodeStore
from gureum.functions.registry import Change, FunctionChange, FunctionRegistry
from gureum.store import Store
from tests.conftest import zip_files

ROLE = "arn:aws:iam::000000000000:role/test"


def registry(store: Store, root: Path) -> tuple[FunctionRegistry, list[FunctionChange]]:
    made = FunctionRegistry(store, CodeStore(root), region="us-east-1", account_id="0" * 12)
    heard: list[FunctionChange] = []
    made.on_change(heard.append)
    return made, heard


def params(name: str, body: str = "def handler(e, c):\n    return 1\n") -> dict[str, Any]:
    code = base64.b64encode(zip_files({"app.py": body})).decode()
    return {
        "FunctionName": name,
        "Runtime": "python3.11",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": code},
    }


def test_one_node_hears_what_the_other_changed(store: Store, tmp_path: Path) -> None:
    async def scenario() -> None:
        one, heard_one = registry(store, tmp_path / "code")
        other, heard = registry(store, tmp_path / "code")
        await one.load()
        await other.load()

        await one.create(params("f"))
        with pytest.raises(ResourceNotFoundException):
            other.get("f")
        await other.refresh()
        assert other.get("f").revision_id == one.get("f").revision_id
        assert heard == [FunctionChange("f", Change.CREATED)]

        heard.clear()
        await one.update_configuration("f", {"Timeout": 9})
        await one.set_reserved_concurrency("f", 5)
        await one.set_tags("f", {"gureum:network": "none"})
        await one.publish("f", {})
        await one.create_alias("f", {"Name": "live", "FunctionVersion": "1"})
        await one.set_provisioned("f", "live", 2)
        await other.refresh()
        assert other.get("f").config["Timeout"] == 9
        assert other.get("f", "live").version == "1"
        assert other.reserved_concurrency("f") == 5
        assert heard == [
            FunctionChange("f", Change.REVISION),
            FunctionChange("f", Change.NETWORK),
            FunctionChange("f", Change.RESERVED_CONCURRENCY),
            FunctionChange("f", Change.PROVISIONED, "live"),
        ]

        heard.clear()
        await one.set_provisioned("f", "live", None)
        await one.delete_alias("f", "live")
        await one.delete("f", "1")
        await other.refresh()
        assert heard == [
            FunctionChange("f", Change.PROVISIONED, "live"),
            FunctionChange("f", Change.VERSION_DELETED, "1"),
        ]
        with pytest.raises(ResourceNotFoundException):
            other.get("f", "live")

        heard.clear()
        await one.delete("f", None)
        await other.refresh()
        assert heard == [FunctionChange("f", Change.DELETED)]
        with pytest.raises(ResourceNotFoundException):
            other.get("f")

        # nothing more when nothing changed; and a node's own changes come back to it
        # as no news
        heard.clear()
        heard_one.clear()
        await other.refresh()
        await one.refresh()
        assert heard == [] and heard_one == []

    asyncio.run(scenario())


def test_an_invoke_finds_a_function_made_elsewhere_at_once(store: Store, tmp_path: Path) -> None:
    async def scenario() -> None:
        one, _ = registry(store, tmp_path / "code")
        other, heard = registry(store, tmp_path / "code")
        await one.load()
        await other.load()
        await one.create(params("g"))
        found = await other.find("g")
        assert found.name == "g"
        assert heard == [FunctionChange("g", Change.CREATED)]
        with pytest.raises(ResourceNotFoundException):
            await other.find("nothing")

    asyncio.run(scenario())


def test_a_refresh_never_undoes_a_write_of_its_own_node(store: Store, tmp_path: Path) -> None:
    """Writes and refreshes take turns: however they interleave, the cache ends with
    every write, and the listeners hear each write once."""

    async def scenario() -> None:
        one, heard = registry(store, tmp_path / "code")
        await one.load()
        await one.create(params("h"))

        async def keep_refreshing() -> None:
            while True:
                await one.refresh()
                await asyncio.sleep(0)

        refreshing = asyncio.create_task(keep_refreshing())
        try:
            for timeout in range(3, 13):
                await one.update_configuration("h", {"Timeout": timeout})
                assert one.get("h").config["Timeout"] == timeout
        finally:
            refreshing.cancel()
        assert heard.count(FunctionChange("h", Change.REVISION)) == 10

    asyncio.run(scenario())


def test_a_function_new_to_a_node_brings_its_settings_too(store: Store, tmp_path: Path) -> None:
    """Created and reserved (and provisioned) between two refreshes of the other node:
    it hears the creation and each setting, as the writer's listeners did."""

    async def scenario() -> None:
        one, _ = registry(store, tmp_path / "code")
        other, heard = registry(store, tmp_path / "code")
        await one.load()
        await other.load()
        await one.create(params("n"))
        await one.set_reserved_concurrency("n", 2)
        await one.publish("n", {})
        await one.set_provisioned("n", "1", 1)
        await other.refresh()
        assert heard == [
            FunctionChange("n", Change.CREATED),
            FunctionChange("n", Change.RESERVED_CONCURRENCY),
            FunctionChange("n", Change.PROVISIONED, "1"),
        ]
        assert other.reserved_concurrency("n") == 2

    asyncio.run(scenario())
