"""The gateway's store on both engines: APIs and their parts, conflicts, cascades, and
the routing a node keeps for serving."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gureum.errors import ConflictException, NotFoundException
from gureum.gateway.gateway_store import HTTP_SERVICE, REST_SERVICE, GatewayStore, Part
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


def test_rest_apis_share_the_id_space_and_are_told_apart(store: Store) -> None:
    """A REST API is a row of the same table as HTTP APIs (one id space), found only as
    its own service's; its routing holds its stages and the deployments they serve."""

    async def body(gateway: GatewayStore) -> None:
        http = await gateway.create_api({"Name": "h", "ProtocolType": "HTTP"})
        root = Part("", "resource", "root", {"path": "/"}, 0)
        rest = await gateway.create_api({"name": "r"}, [root], service=REST_SERVICE)
        assert rest.service == REST_SERVICE and http.service == HTTP_SERVICE
        assert [a.api_id for a in await gateway.list_apis()] == [http.api_id]
        assert [a.api_id for a in await gateway.list_apis(service=REST_SERVICE)] == [rest.api_id]
        with pytest.raises(NotFoundException):
            await gateway.get_api(rest.api_id)
        with pytest.raises(NotFoundException):
            await gateway.get_api(http.api_id, service=REST_SERVICE)
        with pytest.raises(NotFoundException):
            await gateway.delete_api(rest.api_id)  # (apigatewayv2's delete)
        with pytest.raises(NotFoundException):
            await gateway.update_api(rest.api_id, lambda a: a.config)
        for deployment in ("d1", "d2"):
            await gateway.put_part(
                rest.api_id, "deployment", deployment, lambda _: {"snapshot": []}, create=True
            )
        await gateway.put_part(
            rest.api_id, "stage", "prod", lambda _: {"deploymentId": "d2"}, create=True
        )
        routing = await gateway.routing(rest.api_id)
        assert routing is not None and routing.api.service == REST_SERVICE
        assert set(routing.stages) == {"prod"} and set(routing.deployments) == {"d2"}
        assert routing.routes == {} and routing.integrations == {}

        def two(parts: list[Part]) -> list[str]:
            assert {p.part_id for p in parts} == {"root", "d1", "d2", "prod"}
            return ["d1", "root"]  # (root is no deployment: only d1 goes)

        assert await gateway.delete_parts(rest.api_id, "deployment", two) == ["d1", "root"]
        assert [p.part_id for p in await gateway.list_parts(rest.api_id, "deployment")] == ["d2"]
        assert [p.part_id for p in await gateway.list_parts(rest.api_id, "resource")] == ["root"]
        await gateway.delete_api(rest.api_id, service=REST_SERVICE)
        assert await gateway.routing(rest.api_id) is None
        assert (await gateway.get_api(http.api_id)).api_id == http.api_id

    run(store, body)
