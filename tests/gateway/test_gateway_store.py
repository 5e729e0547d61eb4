"""The gateway's store on both engines: APIs and their parts, conflicts, cascades, and
the routing a node keeps for serving."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gureum.errors import ConflictException, NotFoundException
from gureum.gateway.gateway_store import GatewayStore, Part
from gureum.store import Store


def run(store: Store, body: Any) -> Any:
    async def main() -> Any:
        return await body(GatewayStore(store))

    return asyncio.run(main())


def test_apis_and_their_parts(store: Store) -> None:
    async def body(gateway: GatewayStore) -> None:
        route = Part("", "route", "r1", {"RouteKey": "GET /items"}, 0)
        api = await gateway.create_api({"Name": "shop", "ProtocolType": "HTTP"}, [route])
        assert len(api.api_id) == 10
        assert [p.config for p in await gateway.list_parts(api.api_id, "route")] == [
            {"RouteKey": "GET /items"}
        ]
        stage = await gateway.put_part(
            api.api_id, "stage", "$default", lambda _: {"AutoDeploy": True}, create=True
        )
        assert stage.part_id == "$default"
        with pytest.raises(ConflictException):
            await gateway.put_part(api.api_id, "stage", "$default", lambda _: {}, create=True)
        with pytest.raises(NotFoundException):
            await gateway.put_part(api.api_id, "route", "nope", lambda _: {}, create=False)
        updated = await gateway.put_part(
            api.api_id,
            "route",
            "r1",
            lambda current: {**(current.config if current else {}), "Target": "x"},
            create=False,
        )
        assert updated.config == {"RouteKey": "GET /items", "Target": "x"}
        routing = await gateway.routing(api.api_id)
        assert routing is not None and set(routing.routes) == {"r1"}
        assert set(routing.stages) == {"$default"}
        renamed = await gateway.update_api(api.api_id, lambda a: {**a.config, "Name": "store"})
        assert renamed.config["Name"] == "store"
        assert [a.api_id for a in await gateway.list_apis()] == [api.api_id]
        await gateway.delete_part(api.api_id, "route", "r1")
        with pytest.raises(NotFoundException):
            await gateway.get_part(api.api_id, "route", "r1")
        await gateway.delete_api(api.api_id)
        assert await gateway.routing(api.api_id) is None
        with pytest.raises(NotFoundException):
            await gateway.list_parts(api.api_id, "stage")  # the parts went with it
        with pytest.raises(NotFoundException):
            await gateway.delete_api(api.api_id)

    run(store, body)


def test_a_check_decides_inside_the_write_for_every_node(store: Store) -> None:
    """Two nodes creating a route of the same key at once: the check against the API's
    other parts runs in each write's transaction, which holds the API, so one wins."""

    def unique_key(parts: list[Part], config: dict[str, Any]) -> None:
        if any(p.config.get("RouteKey") == config["RouteKey"] for p in parts):
            raise ConflictException("taken")

    async def body(gateway: GatewayStore) -> list[Any]:
        api = await gateway.create_api({"Name": "race", "ProtocolType": "HTTP"})
        other_store = Store(store.url)
        other = GatewayStore(other_store)
        try:
            return await asyncio.gather(
                *(
                    (gateway if n % 2 else other).put_part(
                        api.api_id,
                        "route",
                        f"r{n}",
                        lambda _: {"RouteKey": "GET /same"},
                        create=True,
                        check=unique_key,
                    )
                    for n in range(6)
                ),
                return_exceptions=True,
            )
        finally:
            other_store.close()

    outcomes = run(store, body)
    assert sum(isinstance(o, Part) for o in outcomes) == 1
    assert sum(isinstance(o, ConflictException) for o in outcomes) == 5
