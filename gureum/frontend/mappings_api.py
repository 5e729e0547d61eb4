"""The Lambda API's event source mapping operations: Create, Get, Update, Delete and
ListEventSourceMappings, over :mod:`gureum.events.mappings`.

Create and Update check the request as Lambda does (the function and the queue must
exist, the queue's visibility timeout must cover the function's timeout, a second
mapping of one queue to one function is a conflict) and answer 202 with the mapping in
its passing State; the pollers settle it within a second.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum.errors import InvalidParameterValueException, QueueDoesNotExist
from gureum.events import mappings as rules
from gureum.events.leasing import LeasingService
from gureum.events.mappings import EventSourceMappings
from gureum.events.queue_pollers import Pollers
from gureum.frontend.responses import aws_json, json_body
from gureum.functions import config as cfg
from gureum.functions.registry import FunctionRegistry
from gureum.queues.queues import Queues

PREFIX = "/2015-03-31/event-source-mappings"
MAX_ITEMS = 10_000
DEFAULT_ITEMS = 100


class EventSourceMappingsAPI:
    def __init__(
        self,
        mappings: EventSourceMappings,
        functions: FunctionRegistry,
        queues: Queues,
        leasing: LeasingService,
        pollers: Pollers,
        *,
        region: str,
        account_id: str,
    ) -> None:
        self.mappings = mappings
        self.leasing = leasing
        self.pollers = pollers
        self.functions = functions
        self.queues = queues
        self.region = region
        self.account_id = account_id

    def _shape(self, mapping: rules.Mapping) -> dict[str, Any]:
        return rules.shape(mapping, self.region, self.account_id)

    def _function(self, name: Any) -> tuple[str, int]:
        """The ARN a FunctionName names (qualified as it was) and the function's timeout;
        ResourceNotFoundException if there is no such function."""
        if not isinstance(name, str) or not name:
            raise InvalidParameterValueException("FunctionName is required")
        ref = self.functions.ref(name)
        version = self.functions.get(ref.name, ref.qualifier)
        arn = cfg.function_arn(self.region, self.account_id, ref.name, ref.qualifier)
        return arn, int(version.timeout)

    async def _check_queue(self, source_arn: str, function_timeout: int) -> None:
        try:
            queue = await self.queues.get(source_arn.rsplit(":", 1)[-1])
        except QueueDoesNotExist:
            raise InvalidParameterValueException(
                "Error occurred while ReceiveMessage. SQS Error Code: "
                "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified "
                "queue does not exist for this wsdl version."
            ) from None
        visibility = queue.int_attribute("VisibilityTimeout")
        if visibility < function_timeout:
            raise InvalidParameterValueException(
                f"Queue visibility timeout: {visibility} seconds is less than Function "
                f"timeout: {function_timeout} seconds"
            )

    async def _check_stream(self, source_arn: str) -> None:
        exists = await self.pollers.source_of(source_arn).exists()
        if not exists:
            raise InvalidParameterValueException(f"Stream not found: {source_arn}")

    async def create(self, request: Request) -> Response:
        params = await json_body(request)
        source_arn = params.get("EventSourceArn")
        kind = rules.source_kind(source_arn)
        config = rules.check(params, creating=True, kind=kind)
        rules.check_batching(config)
        function_arn, timeout = self._function(config.pop("FunctionName", None))
        config.pop("EventSourceArn")
        config.pop("Tags", None)
        if kind == "sqs":
            await self._check_queue(str(source_arn), timeout)
        else:
            await self._check_stream(str(source_arn))
        mapping = await self.mappings.create(function_arn, str(source_arn), config)
        return aws_json(self._shape(mapping), 202)

    async def get(self, request: Request) -> Response:
        mapping = await self.mappings.get(request.path_params["uuid"])
        return aws_json(self._shape(mapping))

    async def update(self, request: Request) -> Response:
        uuid = request.path_params["uuid"]
        current = await self.mappings.get(uuid)
        changes = rules.check(await json_body(request), creating=False, kind=current.kind)
        changes.pop("UUID", None)
        if "EventSourceArn" in changes or "Tags" in changes:
            raise InvalidParameterValueException(
                "UpdateEventSourceMapping cannot change EventSourceArn or Tags"
            )
        function_arn = None
        name = changes.pop("FunctionName", None)
        if name is not None:
            function_arn, timeout = self._function(name)
            if current.kind == "sqs":
                await self._check_queue(current.event_source_arn, timeout)
        mapping = await self.mappings.update(uuid, changes, function_arn)
        return aws_json(self._shape(mapping), 202)

    async def delete(self, request: Request) -> Response:
        mapping = await self.mappings.delete(request.path_params["uuid"])
        return aws_json(self._shape(mapping), 202)

    async def list_mappings(self, request: Request) -> Response:
        query = request.query_params
        function_arns = None
        if query.get("FunctionName"):
            ref = self.functions.ref(query["FunctionName"])
            arn = cfg.function_arn(self.region, self.account_id, ref.name, ref.qualifier)
            # (an unqualified name lists the function's mappings of every qualifier)
            function_arns = [arn] if ref.qualifier else None
            name_prefix = f"{arn}:" if ref.qualifier is None else None
        else:
            name_prefix = None
        found = await self.mappings.find(
            source_arn=query.get("EventSourceArn") or None, function_arns=function_arns
        )
        if query.get("FunctionName") and name_prefix is not None:
            unqualified = name_prefix[:-1]
            found = [
                m
                for m in found
                if m.function_arn == unqualified or m.function_arn.startswith(name_prefix)
            ]
        raw_items = query.get("MaxItems")
        limit = DEFAULT_ITEMS
        if raw_items is not None:
            if not raw_items.isdigit() or not 1 <= int(raw_items) <= MAX_ITEMS:
                raise InvalidParameterValueException(
                    f"MaxItems must be between 1 and {MAX_ITEMS}, not {raw_items}"
                )
            limit = int(raw_items)
        marker = query.get("Marker")
        if marker:
            after = rules.after_marker(marker)
            found = [m for m in found if m.uuid > after]
        page = found[:limit]
        body: dict[str, Any] = {"EventSourceMappings": [self._shape(m) for m in page]}
        if len(found) > limit:
            body["NextMarker"] = rules.page_marker(page[-1].uuid)
        return aws_json(body)

    async def leases(self, request: Request) -> Response:
        """The Leasing Service's leases of a mapping (gureum's own view, for ``gureum
        mappings``): owner, expiry, checkpoint, and a shard reader's progress (what it
        handed to the function, the duplicates counted, the iterator age, an open
        tumbling window); unsigned and read-only, as the code downloads are."""
        uuid = request.path_params["uuid"]
        await self.mappings.get(uuid)
        now = time.time() * 1000
        found = await self.leasing.leases(uuid)
        return aws_json(
            {
                "Leases": [
                    {
                        "LeaseKey": lease.key,
                        "Shard": lease.shard,
                        "Owner": lease.owner if lease.held(int(now)) else None,
                        "ExpiresInSeconds": max(0.0, (lease.expires_ms - now) / 1000),
                        "Checkpoint": lease.checkpoint,
                        "TakenAt": lease.taken_ms / 1000,
                        "Delivered": lease.delivered,
                        "Duplicates": lease.duplicates,
                        "IteratorAgeMilliseconds": lease.iterator_age_ms,
                        "Window": orjson.loads(lease.window) if lease.window else None,
                    }
                    for lease in found
                ]
            }
        )

    def routes(self) -> list[Route]:
        one = PREFIX + "/{uuid}"
        return [
            Route("/_gureum/event-source-mappings/{uuid}/leases", self.leases, methods=["GET"]),
            Route(PREFIX, self.create, methods=["POST"]),
            Route(PREFIX + "/", self.create, methods=["POST"]),
            Route(PREFIX, self.list_mappings, methods=["GET"]),
            Route(PREFIX + "/", self.list_mappings, methods=["GET"]),
            Route(one, self.get, methods=["GET"]),
            Route(one, self.update, methods=["PUT"]),
            Route(one, self.delete, methods=["DELETE"]),
        ]
