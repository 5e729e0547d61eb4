"""The gateway's configuration in the store: APIs and their parts (routes, integrations,
stages, deployments), on SQLite or PostgreSQL.

HTTP APIs (apigatewayv2's) and REST APIs (apigateway's: their parts are resources,
stages and deployments) are rows of the same tables, told apart by ``service``: one id
space, so an invoke URL's id names one API of either kind. Each method that finds an API
by its id takes the ``service`` it must belong to (apigatewayv2 unless it says).

Each API is a row; each part is a row under its API, its kind and its id (a stage's id
is its name). Configurations are kept as apigatewayv2 names their members (``Name``,
``RouteKey``, ``IntegrationUri``, ``StageName``, ...), so that the management API reads
and writes them as they are. Deleting an API deletes its parts in the same transaction.

What serving a request needs of an API (its routes, integrations and stages) is read
by :meth:`GatewayStore.routing`, kept per node for ``ROUTING_SECONDS``: another node's
change reaches this one within that time (this node's own changes at once).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.errors import ConflictException, NotFoundException
from gureum.store import Store
from gureum.store.recent import Recent
from gureum.store.tables import gateway_apis, gateway_parts

#: API Gateway's ids: ten lower-case letters and digits.
_ID_ALPHABET = string.ascii_lowercase + string.digits
ROUTING_SECONDS = 1.0
KINDS = ("route", "integration", "stage", "deployment", "resource", "route_response")
#: The services whose APIs the gateway keeps.
HTTP_SERVICE = "apigatewayv2"
REST_SERVICE = "apigateway"


def new_id(length: int = 10) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class Api:
    api_id: str
    config: dict[str, Any]
    created_ms: int
    service: str = HTTP_SERVICE


@dataclass(frozen=True, slots=True)
class Part:
    api_id: str
    kind: str
    part_id: str
    config: dict[str, Any]
    created_ms: int


@dataclass(frozen=True, slots=True)
class Routing:
    """An API as serving reads it: its configuration and its parts by id (a REST API's
    stages and the deployments they serve, an HTTP API's routes, integrations, stages)."""

    api: Api
    routes: dict[str, Part]
    integrations: dict[str, Part]
    stages: dict[str, Part]
    #: a WebSocket API's route responses (each names its route's ``RouteId``)
    route_responses: dict[str, Part] = field(default_factory=dict)
    #: a REST API's deployments its stages serve
    deployments: dict[str, Part] = field(default_factory=dict)


class GatewayStore:
    """APIs and their parts on a store; methods are coroutines for the event loop."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: api id -> (its routing, when it was read)
        self._routing: Recent[str, Routing | None] = Recent(ROUTING_SECONDS)

    def _forget(self, api_id: str) -> None:
        self._routing.forget(api_id)

    # APIs

    async def create_api(
        self,
        config: dict[str, Any],
        parts: list[Part] | None = None,
        *,
        service: str = HTTP_SERVICE,
    ) -> Api:
        """A new API (a fresh id), with ``parts`` (quick create's, a REST API's root
        resource) in the same transaction."""
        return await self.store.run(self._create_api, config, list(parts or ()), service)

    def _create_api(self, config: dict[str, Any], parts: list[Part], service: str) -> Api:
        now = now_ms()
        api = Api(new_id(), config, now, service)
        with self.store.engine.begin() as connection:
            connection.execute(
                gateway_apis.insert().values(
                    api_id=api.api_id, config=config, created_ms=now, service=service
                )
            )
            for part in parts:
                connection.execute(
                    gateway_parts.insert().values(
                        api_id=api.api_id,
                        kind=part.kind,
                        part_id=part.part_id,
                        config=part.config,
                        created_ms=now,
                    )
                )
        return api

    async def get_api(self, api_id: str, *, service: str = HTTP_SERVICE) -> Api:
        return await self.store.run(self._get_api, api_id, service)

    def _get_api(self, api_id: str, service: str) -> Api:
        with self.store.engine.connect() as connection:
            api = self._read_api(connection, api_id)
        if api is None or api.service != service:
            raise NotFoundException(f"Invalid API identifier specified {api_id}")
        return api

    @staticmethod
    def _read_api(connection: sa.Connection, api_id: str) -> Api | None:
        """The API of ``api_id``, of whichever service."""
        row = connection.execute(
            sa.select(gateway_apis).where(gateway_apis.c.api_id == api_id)
        ).first()
        return _api(row) if row is not None else None

    async def list_apis(self, *, service: str = HTTP_SERVICE) -> list[Api]:
        return await self.store.run(self._list_apis, service)

    def _list_apis(self, service: str) -> list[Api]:
        c = gateway_apis.c
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                sa.select(gateway_apis).where(c.service == service).order_by(c.created_ms, c.api_id)
            ).all()
        return [_api(row) for row in rows]

    async def update_api(
        self,
        api_id: str,
        change: Callable[[Api], dict[str, Any]],
        *,
        service: str = HTTP_SERVICE,
    ) -> Api:
        """The API's configuration replaced by ``change(api)`` (which may raise)."""
        try:
            return await self.store.run(self._update_api, api_id, change, service)
        finally:
            self._forget(api_id)

    def _update_api(
        self, api_id: str, change: Callable[[Api], dict[str, Any]], service: str
    ) -> Api:
        c = gateway_apis.c
        with self.store.engine.begin() as connection:
            query = sa.select(gateway_apis).where(c.api_id == api_id, c.service == service)
            if self.store.dialect == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).first()
            if row is None:
                raise NotFoundException(f"Invalid API identifier specified {api_id}")
            api = _api(row)
            config = change(api)
            connection.execute(
                gateway_apis.update().where(c.api_id == api_id).values(config=config)
            )
        return Api(api_id, config, api.created_ms, service)

    async def delete_api(self, api_id: str, *, service: str = HTTP_SERVICE) -> None:
        try:
            await self.store.run(self._delete_api, api_id, service)
        finally:
            self._forget(api_id)

    def _delete_api(self, api_id: str, service: str) -> None:
        c = gateway_apis.c
        with self.store.engine.begin() as connection:
            deleted = connection.execute(
                gateway_apis.delete().where(c.api_id == api_id, c.service == service)
            ).rowcount
            if not deleted:
                raise NotFoundException(f"Invalid API identifier specified {api_id}")
            connection.execute(gateway_parts.delete().where(gateway_parts.c.api_id == api_id))

    # parts

    async def put_part(
        self,
        api_id: str,
        kind: str,
        part_id: str,
        change: Callable[[Part | None], dict[str, Any]],
        *,
        create: bool,
        check: Callable[[list[Part], dict[str, Any]], None] | None = None,
    ) -> Part:
        """Create (``create``) or update a part: its configuration is ``change(current)``
        (None when it is new), and ``check(the API's other parts, configuration)`` may
        refuse it, both decided in the transaction that writes it, which holds the API
        (so that nodes checking one API's parts against each other take turns). Creating
        one that exists is a ConflictException; updating one that does not, NotFound."""
        try:
            return await self.store.run(
                self._put_part, api_id, kind, part_id, change, create, check
            )
        finally:
            self._forget(api_id)

    def _put_part(
        self,
        api_id: str,
        kind: str,
        part_id: str,
        change: Callable[[Part | None], dict[str, Any]],
        create: bool,
        check: Callable[[list[Part], dict[str, Any]], None] | None,
    ) -> Part:
        c = gateway_parts.c
        now = now_ms()
        with self.store.engine.begin() as connection:
            self._hold_api(connection, api_id)
            query = sa.select(gateway_parts).where(
                c.api_id == api_id, c.kind == kind, c.part_id == part_id
            )
            if self.store.dialect == "postgresql":
                query = query.with_for_update()
            row = connection.execute(query).first()
            current = (
                Part(api_id, kind, part_id, row.config, row.created_ms) if row is not None else None
            )
            if create and current is not None:
                raise ConflictException(f"{kind.capitalize()} already exists: {part_id}")
            if not create and current is None:
                raise NotFoundException(
                    f"Invalid {kind.capitalize()} identifier specified {part_id}"
                )
            config = change(current)
            if check is not None:
                others = [p for p in self._parts(connection, api_id) if p.part_id != part_id]
                check(others, config)
            if current is None:
                connection.execute(
                    gateway_parts.insert().values(
                        api_id=api_id, kind=kind, part_id=part_id, config=config, created_ms=now
                    )
                )
                return Part(api_id, kind, part_id, config, now)
            connection.execute(
                gateway_parts.update()
                .where(c.api_id == api_id, c.kind == kind, c.part_id == part_id)
                .values(config=config)
            )
            return Part(api_id, kind, part_id, config, current.created_ms)

    async def get_part(self, api_id: str, kind: str, part_id: str) -> Part:
        parts = await self.list_parts(api_id, kind, part_id)
        if not parts:
            raise NotFoundException(f"Invalid {kind.capitalize()} identifier specified {part_id}")
        return parts[0]

    async def list_parts(self, api_id: str, kind: str, part_id: str | None = None) -> list[Part]:
        """An API's parts of ``kind`` in the order they were made (NotFound: no API)."""
        return await self.store.run(self._list_parts, api_id, kind, part_id)

    def _list_parts(self, api_id: str, kind: str, part_id: str | None) -> list[Part]:
        c = gateway_parts.c
        query = sa.select(gateway_parts).where(c.api_id == api_id, c.kind == kind)
        if part_id is not None:
            query = query.where(c.part_id == part_id)
        with self.store.engine.connect() as connection:
            if self._read_api(connection, api_id) is None:
                raise NotFoundException(f"Invalid API identifier specified {api_id}")
            rows = connection.execute(query.order_by(c.created_ms, c.part_id)).all()
        return [Part(r.api_id, r.kind, r.part_id, r.config, r.created_ms) for r in rows]

    async def delete_part(
        self,
        api_id: str,
        kind: str,
        part_id: str,
        check: Callable[[list[Part]], None] | None = None,
    ) -> None:
        """Delete a part; ``check(the API's parts)`` may refuse it, in the transaction
        that deletes it (which holds the API, as :meth:`put_part`'s does)."""
        try:
            await self.store.run(self._delete_part, api_id, kind, part_id, check)
        finally:
            self._forget(api_id)

    def _delete_part(
        self, api_id: str, kind: str, part_id: str, check: Callable[[list[Part]], None] | None
    ) -> None:
        c = gateway_parts.c
        with self.store.engine.begin() as connection:
            self._hold_api(connection, api_id)
            if check is not None:
                check(self._parts(connection, api_id))
            deleted = connection.execute(
                gateway_parts.delete().where(
                    c.api_id == api_id, c.kind == kind, c.part_id == part_id
                )
            ).rowcount
        if not deleted:
            raise NotFoundException(f"Invalid {kind.capitalize()} identifier specified {part_id}")

    async def delete_parts(
        self, api_id: str, kind: str, choose: Callable[[list[Part]], list[str]]
    ) -> list[str]:
        """Delete the parts of ``kind`` whose ids ``choose(the API's parts)`` gives (it may
        raise), in one transaction that holds the API; the ids chosen."""
        try:
            return await self.store.run(self._delete_parts, api_id, kind, choose)
        finally:
            self._forget(api_id)

    def _delete_parts(
        self, api_id: str, kind: str, choose: Callable[[list[Part]], list[str]]
    ) -> list[str]:
        c = gateway_parts.c
        with self.store.engine.begin() as connection:
            self._hold_api(connection, api_id)
            chosen = choose(self._parts(connection, api_id))
            if chosen:
                connection.execute(
                    gateway_parts.delete().where(
                        c.api_id == api_id, c.kind == kind, c.part_id.in_(chosen)
                    )
                )
        return chosen

    def _hold_api(self, connection: sa.Connection, api_id: str) -> None:
        """Take the API for this transaction (NotFound if there is none): SQLite's write
        lock at once, or the API's row on PostgreSQL."""
        if self.store.dialect == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        query = sa.select(gateway_apis.c.api_id).where(gateway_apis.c.api_id == api_id)
        if self.store.dialect == "postgresql":
            query = query.with_for_update()
        if connection.execute(query).first() is None:
            raise NotFoundException(f"Invalid API identifier specified {api_id}")

    @staticmethod
    def _parts(connection: sa.Connection, api_id: str) -> list[Part]:
        c = gateway_parts.c
        rows = connection.execute(
            sa.select(gateway_parts).where(c.api_id == api_id).order_by(c.created_ms, c.part_id)
        ).all()
        return [Part(r.api_id, r.kind, r.part_id, r.config, r.created_ms) for r in rows]

    # serving

    async def routing(self, api_id: str) -> Routing | None:
        """What serving a request of ``api_id`` needs (None: there is no such API)."""
        return await self._routing.read(
            api_id,
            lambda: self.store.run(self._read_routing, api_id),
            keep=lambda routing: routing is not None,
        )

    def _read_routing(self, api_id: str) -> Routing | None:
        c = gateway_parts.c
        with self.store.engine.connect() as connection:
            api = self._read_api(connection, api_id)
            if api is None:
                return None
            if api.service == REST_SERVICE:
                return self._read_rest_routing(connection, api)
            rows = connection.execute(sa.select(gateway_parts).where(c.api_id == api_id)).all()
        by_kind: dict[str, dict[str, Part]] = {kind: {} for kind in KINDS}
        for r in rows:
            by_kind[r.kind][r.part_id] = Part(r.api_id, r.kind, r.part_id, r.config, r.created_ms)
        return Routing(
            api,
            by_kind["route"],
            by_kind["integration"],
            by_kind["stage"],
            route_responses=by_kind["route_response"],
        )

    @staticmethod
    def _read_rest_routing(connection: sa.Connection, api: Api) -> Routing:
        """A REST API's stages and the deployments they serve (not its resources: a stage
        serves what its deployment took of them, nor deployments no stage serves)."""
        c = gateway_parts.c
        rows = connection.execute(
            sa.select(gateway_parts).where(c.api_id == api.api_id, c.kind == "stage")
        ).all()
        stages = {
            r.part_id: Part(r.api_id, r.kind, r.part_id, r.config, r.created_ms) for r in rows
        }
        served = {str(s.config.get("deploymentId")) for s in stages.values()}
        rows = connection.execute(
            sa.select(gateway_parts).where(
                c.api_id == api.api_id, c.kind == "deployment", c.part_id.in_(served)
            )
        ).all()
        deployments = {
            r.part_id: Part(r.api_id, r.kind, r.part_id, r.config, r.created_ms) for r in rows
        }
        return Routing(api, {}, {}, stages, deployments=deployments)


def _api(row: Any) -> Api:
    return Api(row.api_id, row.config, row.created_ms, row.service)
