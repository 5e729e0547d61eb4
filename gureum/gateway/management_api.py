"""apigatewayv2's management API for HTTP APIs, as boto3's ``apigatewayv2`` client speaks it.

rest-json under ``/v2/apis`` and ``/v2/tags``: bodies carry lower-camel names
(``routeKey``), the store keeps apigatewayv2's member names (``RouteKey``). Both
directions are read off botocore's model of the service, so a member is spelt and typed
as the client expects; timestamps go out as ISO 8601 (the model's ``timestampFormat``).

A member gureum stores but does not act on yet is refused with BadRequestException
rather than accepted silently (authorizers, parameter mapping, throttling, access logs,
other integration types). See docs/gateway.md.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum.clock import now_ms
from gureum.errors import (
    BadRequestException,
    ConflictException,
    InvalidRequestContentException,
    NotFoundException,
)
from gureum.frontend import operations
from gureum.frontend.responses import aws_json, json_body
from gureum.gateway import config as rules
from gureum.gateway.gateway_store import Api, GatewayStore, Part, new_id

#: Members each part takes, beyond which a request is refused (not silently ignored).
SUPPORTED = {
    "api": {
        "Name",
        "ProtocolType",
        "Description",
        "CorsConfiguration",
        "Tags",
        "Version",
        "RouteSelectionExpression",
        "DisableExecuteApiEndpoint",
        "ApiKeySelectionExpression",
        "DisableSchemaValidation",
        "Target",
        "RouteKey",
    },
    "integration": {
        "IntegrationType",
        "IntegrationUri",
        "PayloadFormatVersion",
        "TimeoutInMillis",
        "Description",
        "IntegrationMethod",
        "ConnectionType",
    },
    "route": {
        "RouteKey",
        "Target",
        "AuthorizationType",
        "ApiKeyRequired",
        "OperationName",
        "RouteResponseSelectionExpression",
    },
    "stage": {"StageName", "AutoDeploy", "StageVariables", "Description", "DeploymentId", "Tags"},
    "deployment": {"Description", "StageName"},
    "route_response": {"RouteResponseKey", "ModelSelectionExpression"},
}
#: What UpdateApi may change (quick create's Target and RouteKey are create-only here).
UPDATABLE_API = SUPPORTED["api"] - {"ProtocolType", "Tags", "Target", "RouteKey"}
MAX_PAGE = 500
DEFAULT_PAGE = 100

Handler = Callable[[Request], Awaitable[Response]]
_Item = TypeVar("_Item", Api, Part)


@functools.cache
def _model() -> ServiceModel:
    return ServiceModel(operations.service_model("apigatewayv2"), "apigatewayv2")


def iso8601(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_wire(shape: Shape, value: Any, where: str) -> Any:
    """A request value of ``shape`` in member names, checked against the shape's type."""
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise BadRequestException(f"Invalid request body: {where} must be an object")
        converted = {}
        for name, member in shape.members.items():
            wire = member.serialization.get("name", name)
            if member.serialization.get("location") is None and wire in value:
                converted[name] = from_wire(member, value[wire], name)
        return converted
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise BadRequestException(f"Invalid request body: {where} must be a list")
        return [from_wire(shape.member, item, where) for item in value]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise BadRequestException(f"Invalid request body: {where} must be an object")
        return {str(k): from_wire(shape.value, v, where) for k, v in value.items()}
    expected: tuple[type, ...] = {
        "string": (str,),
        "boolean": (bool,),
        "integer": (int,),
        "long": (int,),
        "double": (int, float),
    }.get(kind, (object,))
    if not isinstance(value, expected) or (kind in ("integer", "long") and isinstance(value, bool)):
        raise BadRequestException(f"Invalid request body: {where} must be a {kind}")
    return value


def to_wire(shape: Shape, value: Any) -> Any:
    """A stored value of ``shape`` in the client's names (timestamps stored as ms)."""
    if isinstance(shape, StructureShape):
        out = {}
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                out[member.serialization.get("name", name)] = to_wire(member, value[name])
        return out
    if isinstance(shape, ListShape):
        return [to_wire(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {k: to_wire(shape.value, v) for k, v in value.items()}
    if shape.type_name == "timestamp":
        # apigatewayv2's are ISO 8601 (its model says so); apigateway's, rest-json's
        # default, epoch seconds.
        if shape.serialization.get("timestampFormat") == "iso8601":
            return iso8601(int(value))
        return int(value) / 1000
    return value


async def request_object(request: Request) -> dict[str, Any]:
    """The request's JSON object, or API Gateway's error for a body that is not one."""
    try:
        return await json_body(request)
    except InvalidRequestContentException as error:
        raise BadRequestException(f"Invalid request body: {error.message}") from None


def _page_token(item: Api | Part) -> str:
    key = item.api_id if isinstance(item, Api) else item.part_id
    return base64.urlsafe_b64encode(f"{item.created_ms}:{key}".encode()).decode()


def _page(items: Sequence[_Item], request: Request) -> tuple[list[_Item], str | None]:
    """A page of ``items`` (in the store's order) after ``nextToken``, of ``maxResults``."""
    query = request.query_params
    return page_of(
        items,
        query.get("maxResults"),
        query.get("nextToken"),
        names=("MaxResults", "NextToken"),
        default=DEFAULT_PAGE,
        maximum=MAX_PAGE,
    )


def page_of(
    items: Sequence[_Item],
    raw_limit: str | None,
    token: str | None,
    *,
    names: tuple[str, str],
    default: int,
    maximum: int,
) -> tuple[list[_Item], str | None]:
    """A page of ``items`` (in the store's order) after ``token``, of ``raw_limit`` (the
    query's; ``names``: what the service calls the two, for its errors)."""
    limit = default
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= maximum:
            raise BadRequestException(
                f"Invalid {names[0]}: {raw_limit}. It must be between 1 and {maximum}."
            )
        limit = int(raw_limit)
    start = 0
    if token:
        try:
            created, _, key = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
            after = (int(created), key)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadRequestException(f"Invalid {names[1]}: {token}") from None
        start = next(
            (
                index
                for index, item in enumerate(items)
                if (item.created_ms, item.api_id if isinstance(item, Api) else item.part_id) > after
            ),
            len(items),
        )
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, (_page_token(page[-1]) if more and page else None)


class ManagementAPI:
    """apigatewayv2's HTTP API operations, over the gateway's store."""

    def __init__(self, gateway: GatewayStore, *, region: str, account_id: str) -> None:
        self.gateway = gateway
        self.region = region
        self.account_id = account_id

    # shapes

    @staticmethod
    def _operation(name: str) -> OperationModel:
        return _model().operation_model(name)

    def _input(self, operation: str, body: dict[str, Any], kind: str) -> dict[str, Any]:
        """The request body in member names, refused where it asks what gureum lacks."""
        shape = self._operation(operation).input_shape
        assert shape is not None
        given: dict[str, Any] = from_wire(shape, body, "body")
        for member in given:
            if member not in SUPPORTED[kind]:
                raise BadRequestException(
                    f"gureum does not support {member} on {kind}s yet ({operation})"
                )
        return given

    def _answer(self, operation: str, shape: dict[str, Any], status: int = 200) -> Response:
        output = self._operation(operation).output_shape
        assert output is not None
        return aws_json(to_wire(output, shape), status)

    def _list_answer(
        self, operation: str, shapes: list[dict[str, Any]], token: str | None
    ) -> Response:
        output = self._operation(operation).output_shape
        assert output is not None
        body: dict[str, Any] = {"Items": shapes}
        if token is not None:
            body["NextToken"] = token
        return aws_json(to_wire(output, body))

    def _endpoint(self, request: Request, api: Api) -> str:
        base = str(request.base_url).rstrip("/")
        if api.config.get("ProtocolType") == "WEBSOCKET":
            base = "ws" + base.removeprefix("http")
        return f"{base}/_aws/execute-api/{api.api_id}"

    def _api_shape(self, request: Request, api: Api) -> dict[str, Any]:
        return {
            **api.config,
            "ApiId": api.api_id,
            "ApiEndpoint": self._endpoint(request, api),
            "CreatedDate": api.created_ms,
        }

    @staticmethod
    def _part_shape(part: Part) -> dict[str, Any]:
        id_member = {
            "route": "RouteId",
            "integration": "IntegrationId",
            "deployment": "DeploymentId",
            "stage": "StageName",
            "route_response": "RouteResponseId",
        }[part.kind]
        shape = {**part.config, id_member: part.part_id}
        if part.kind in ("stage", "deployment"):
            shape["CreatedDate"] = part.created_ms
        return shape

    def _api_arn(self, api_id: str) -> str:
        return f"arn:aws:apigateway:{self.region}::/apis/{api_id}"

    def _not_found(self, api_id: str) -> NotFoundException:
        return NotFoundException(f"Invalid API identifier specified {self.account_id}:{api_id}")

    async def _api(self, api_id: str) -> Api:
        try:
            return await self.gateway.get_api(api_id)
        except NotFoundException:
            raise self._not_found(api_id) from None

    # APIs

    async def create_api(self, request: Request) -> Response:
        given = self._input("CreateApi", await request_object(request), "api")
        name = given.get("Name")
        if not isinstance(name, str) or not name:
            raise BadRequestException("Name is a required parameter for API")
        if len(name) > 128:
            raise BadRequestException("Invalid API name: at most 128 characters.")
        protocol = rules.check_protocol(given.get("ProtocolType"))
        target = given.pop("Target", None)
        route_key = given.pop("RouteKey", None)
        if protocol == "HTTP":
            given.setdefault("RouteSelectionExpression", rules.HTTP_ROUTE_SELECTION)
            if given["RouteSelectionExpression"] != rules.HTTP_ROUTE_SELECTION:
                raise BadRequestException(
                    "Invalid RouteSelectionExpression for an HTTP API: it must be "
                    f"{rules.HTTP_ROUTE_SELECTION}"
                )
        elif "RouteSelectionExpression" not in given:
            raise BadRequestException(
                "RouteSelectionExpression is a required parameter for a WEBSOCKET API"
            )
        else:
            rules.check_route_selection(given["RouteSelectionExpression"])
            given.setdefault("ApiKeySelectionExpression", "$request.header.x-api-key")
        given.setdefault("DisableExecuteApiEndpoint", False)
        rules.check_tags(given.setdefault("Tags", {}))
        parts: list[Part] = []
        if target is None and route_key is not None:
            raise BadRequestException("RouteKey is only allowed with Target (quick create)")
        if target is not None:
            if protocol != "HTTP":
                raise BadRequestException("Quick create (Target) is only for HTTP APIs")
            parts = self._quick_create(target, route_key or rules.DEFAULT_ROUTE)
        api = await self.gateway.create_api(given, parts)
        return self._answer("CreateApi", self._api_shape(request, api), 201)

    @staticmethod
    def _quick_create(target: str, route_key: str) -> list[Part]:
        """Quick create's parts: a Lambda proxy integration (payload 2.0), a route with
        ``route_key`` to it, and the ``$default`` stage deploying automatically."""
        integration = rules.check_integration(
            {
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": target,
                "PayloadFormatVersion": "2.0",
                "ApiGatewayManaged": True,
            },
            "HTTP",
        )
        integration_id, route_id, deployment_id = new_id(), new_id(), new_id()
        route = rules.check_route(
            {
                "RouteKey": route_key,
                "Target": f"integrations/{integration_id}",
                "ApiGatewayManaged": True,
            },
            "HTTP",
        )
        now = now_ms()
        deployment = {"AutoDeployed": True, "DeploymentStatus": "DEPLOYED"}
        stage = {
            "StageName": rules.DEFAULT_ROUTE,
            "AutoDeploy": True,
            "StageVariables": {},
            "DeploymentId": deployment_id,
            "Tags": {},
            "ApiGatewayManaged": True,
            "LastUpdatedDate": now,
        }
        # (create_api gives every part the API's creation time)
        return [
            Part("", "integration", integration_id, integration, now),
            Part("", "route", route_id, route, now),
            Part("", "deployment", deployment_id, deployment, now),
            Part("", "stage", rules.DEFAULT_ROUTE, stage, now),
        ]

    async def get_api(self, request: Request) -> Response:
        api = await self._api(request.path_params["api_id"])
        return self._answer("GetApi", self._api_shape(request, api))

    async def get_apis(self, request: Request) -> Response:
        page, token = _page(await self.gateway.list_apis(), request)
        return self._list_answer("GetApis", [self._api_shape(request, api) for api in page], token)

    async def update_api(self, request: Request) -> Response:
        api_id = request.path_params["api_id"]
        given = self._input("UpdateApi", await request_object(request), "api")
        for member in given:
            if member not in UPDATABLE_API:
                raise BadRequestException(f"gureum does not support {member} on UpdateApi yet")
        if "Name" in given and not 1 <= len(given["Name"]) <= 128:
            raise BadRequestException("Invalid API name: 1 to 128 characters.")

        def change(api: Api) -> dict[str, Any]:
            config = {**api.config, **given}
            if (
                config["ProtocolType"] == "HTTP"
                and config.get("RouteSelectionExpression") != rules.HTTP_ROUTE_SELECTION
            ):
                raise BadRequestException(
                    "Invalid RouteSelectionExpression for an HTTP API: it must be "
                    f"{rules.HTTP_ROUTE_SELECTION}"
                )
            return config

        try:
            api = await self.gateway.update_api(api_id, change)
        except NotFoundException:
            raise self._not_found(api_id) from None
        return self._answer("UpdateApi", self._api_shape(request, api))

    async def delete_api(self, request: Request) -> Response:
        api_id = request.path_params["api_id"]
        try:
            await self.gateway.delete_api(api_id)
        except NotFoundException:
            raise self._not_found(api_id) from None
        return aws_json(None, 204)

    # parts: the shared paths

    async def _get(self, request: Request, kind: str, id_param: str, operation: str) -> Response:
        api_id = request.path_params["api_id"]
        await self._api(api_id)
        part = await self.gateway.get_part(api_id, kind, request.path_params[id_param])
        return self._answer(operation, self._part_shape(part))

    async def _list(self, request: Request, kind: str, operation: str) -> Response:
        api_id = request.path_params["api_id"]
        await self._api(api_id)
        page, token = _page(await self.gateway.list_parts(api_id, kind), request)
        return self._list_answer(operation, [self._part_shape(p) for p in page], token)

    async def _delete(self, request: Request, kind: str, id_param: str) -> Response:
        api_id = request.path_params["api_id"]
        await self._api(api_id)
        await self.gateway.delete_part(api_id, kind, request.path_params[id_param])
        return aws_json(None, 204)

    async def _put(
        self,
        api_id: str,
        kind: str,
        part_id: str,
        change: Callable[[Part | None], dict[str, Any]],
        *,
        create: bool,
        check: Callable[[list[Part], dict[str, Any]], None] | None = None,
    ) -> Part:
        try:
            return await self.gateway.put_part(
                api_id, kind, part_id, change, create=create, check=check
            )
        except NotFoundException as error:
            if error.message.startswith("Invalid API identifier"):
                raise self._not_found(api_id) from None
            raise

    # integrations

    async def create_integration(self, request: Request) -> Response:
        api = await self._api(request.path_params["api_id"])
        given = self._input("CreateIntegration", await request_object(request), "integration")
        config = rules.check_integration(given, api.config["ProtocolType"])
        part = await self._put(api.api_id, "integration", new_id(), lambda _: config, create=True)
        return self._answer("CreateIntegration", self._part_shape(part), 201)

    async def update_integration(self, request: Request) -> Response:
        api = await self._api(request.path_params["api_id"])
        given = self._input("UpdateIntegration", await request_object(request), "integration")

        def change(current: Part | None) -> dict[str, Any]:
            assert current is not None
            return rules.check_integration({**current.config, **given}, api.config["ProtocolType"])

        part = await self._put(
            api.api_id, "integration", request.path_params["integration_id"], change, create=False
        )
        return self._answer("UpdateIntegration", self._part_shape(part))

    async def get_integration(self, request: Request) -> Response:
        return await self._get(request, "integration", "integration_id", "GetIntegration")

    async def get_integrations(self, request: Request) -> Response:
        return await self._list(request, "integration", "GetIntegrations")

    async def delete_integration(self, request: Request) -> Response:
        """As API Gateway: refused while a route targets the integration (decided in the
        transaction that deletes it)."""
        api = await self._api(request.path_params["api_id"])
        integration_id = request.path_params["integration_id"]
        target = f"integrations/{integration_id}"

        def unused(parts: list[Part]) -> None:
            using = [
                p.part_id for p in parts if p.kind == "route" and p.config.get("Target") == target
            ]
            if using:
                raise ConflictException(
                    "Cannot delete Integration because it is referenced by the following "
                    f"Routes with Ids: [{', '.join(using)}]"
                )

        await self.gateway.delete_part(api.api_id, "integration", integration_id, unused)
        return aws_json(None, 204)

    # routes

    @staticmethod
    def _check_route(parts: list[Part], config: dict[str, Any]) -> None:
        """A route's target is an integration of the API; its key is the API's only one
        (checked against the API's other parts in the transaction that writes it)."""
        if "Target" in config:
            integration_id = rules.integration_of_target(config["Target"])
            if not any(p.kind == "integration" and p.part_id == integration_id for p in parts):
                raise BadRequestException(
                    f"Invalid integration identifier specified {integration_id}"
                )
        for route in parts:
            if route.kind == "route" and route.config.get("RouteKey") == config["RouteKey"]:
                raise ConflictException(
                    f"Unable to create route {config['RouteKey']}: the API already has a "
                    f"route with that key ({route.part_id})"
                )

    async def create_route(self, request: Request) -> Response:
        api = await self._api(request.path_params["api_id"])
        given = self._input("CreateRoute", await request_object(request), "route")
        config = rules.check_route(given, api.config["ProtocolType"])
        part = await self._put(
            api.api_id, "route", new_id(), lambda _: config, create=True, check=self._check_route
        )
        return self._answer("CreateRoute", self._part_shape(part), 201)

    async def update_route(self, request: Request) -> Response:
        api = await self._api(request.path_params["api_id"])
        route_id = request.path_params["route_id"]
        given = self._input("UpdateRoute", await request_object(request), "route")
        current = await self.gateway.get_part(api.api_id, "route", route_id)
        config = rules.check_route({**current.config, **given}, api.config["ProtocolType"])
        part = await self._put(
            api.api_id,
            "route",
            route_id,
            lambda now: {**now.config, **given} if now is not None else config,
            create=False,
            check=self._check_route,
        )
        return self._answer("UpdateRoute", self._part_shape(part))

    async def get_route(self, request: Request) -> Response:
        return await self._get(request, "route", "route_id", "GetRoute")

    async def get_routes(self, request: Request) -> Response:
        return await self._list(request, "route", "GetRoutes")

    async def delete_route(self, request: Request) -> Response:
        """A route's route responses go with it (in the transaction that deletes it)."""
        api = await self._api(request.path_params["api_id"])
        route_id = request.path_params["route_id"]
        await self.gateway.delete_part(api.api_id, "route", route_id)
        for part in await self.gateway.list_parts(api.api_id, "route_response"):
            if part.config.get("RouteId") == route_id:
                await self.gateway.delete_part(api.api_id, "route_response", part.part_id)
        return aws_json(None, 204)

    # route responses (WebSocket APIs: a route with one sends its function's answer back)

    async def _route_of(self, request: Request) -> tuple[Api, str]:
        api = await self._api(request.path_params["api_id"])
        route_id = request.path_params["route_id"]
        await self.gateway.get_part(api.api_id, "route", route_id)
        if api.config.get("ProtocolType") != "WEBSOCKET":
            raise BadRequestException("Route responses are supported only for WebSocket APIs")
        return api, route_id

    async def create_route_response(self, request: Request) -> Response:
        api, route_id = await self._route_of(request)
        given = self._input("CreateRouteResponse", await request_object(request), "route_response")
        config = rules.check_route_response(given)

        def check(parts: list[Part], config: dict[str, Any]) -> None:
            if not any(p.kind == "route" and p.part_id == route_id for p in parts):
                raise NotFoundException(f"Invalid Route identifier specified {route_id}")
            for part in parts:
                if (
                    part.kind == "route_response"
                    and part.config.get("RouteId") == route_id
                    and part.config.get("RouteResponseKey") == config["RouteResponseKey"]
                ):
                    raise ConflictException(
                        f"Unable to create RouteResponse {config['RouteResponseKey']}: the "
                        f"route already has one with that key ({part.part_id})"
                    )

        part = await self._put(
            api.api_id,
            "route_response",
            new_id(),
            lambda _: {**config, "RouteId": route_id},
            create=True,
            check=check,
        )
        return self._answer("CreateRouteResponse", self._part_shape(part), 201)

    async def _route_response(self, request: Request) -> tuple[Api, Part]:
        api, route_id = await self._route_of(request)
        response_id = request.path_params["route_response_id"]
        part = await self.gateway.get_part(api.api_id, "route_response", response_id)
        if part.config.get("RouteId") != route_id:
            raise NotFoundException(f"Invalid RouteResponse identifier specified {response_id}")
        return api, part

    async def get_route_response(self, request: Request) -> Response:
        _, part = await self._route_response(request)
        return self._answer("GetRouteResponse", self._part_shape(part))

    async def get_route_responses(self, request: Request) -> Response:
        api, route_id = await self._route_of(request)
        parts = [
            p
            for p in await self.gateway.list_parts(api.api_id, "route_response")
            if p.config.get("RouteId") == route_id
        ]
        page, token = _page(parts, request)
        shapes = [self._part_shape(p) for p in page]
        return self._list_answer("GetRouteResponses", shapes, token)

    async def update_route_response(self, request: Request) -> Response:
        api, current = await self._route_response(request)
        given = self._input("UpdateRouteResponse", await request_object(request), "route_response")
        config = rules.check_route_response({**current.config, **given})
        part = await self._put(
            api.api_id, "route_response", current.part_id, lambda _: config, create=False
        )
        return self._answer("UpdateRouteResponse", self._part_shape(part))

    async def delete_route_response(self, request: Request) -> Response:
        api, part = await self._route_response(request)
        await self.gateway.delete_part(api.api_id, "route_response", part.part_id)
        return aws_json(None, 204)

    # deployments and stages

    async def _deploy(self, api_id: str, description: str | None, *, auto: bool) -> Part:
        config: dict[str, Any] = {"AutoDeployed": auto, "DeploymentStatus": "DEPLOYED"}
        if description is not None:
            config["Description"] = description
        return await self._put(api_id, "deployment", new_id(), lambda _: config, create=True)

    async def _check_stage(self, api_id: str, config: dict[str, Any]) -> dict[str, Any]:
        rules.check_stage_variables(config.setdefault("StageVariables", {}))
        rules.check_tags(config.setdefault("Tags", {}))
        config.setdefault("AutoDeploy", False)
        deployment = config.get("DeploymentId")
        if deployment is not None:
            if config["AutoDeploy"]:
                raise BadRequestException(
                    "DeploymentId cannot be set on a stage with AutoDeploy enabled"
                )
            try:
                await self.gateway.get_part(api_id, "deployment", deployment)
            except NotFoundException:
                raise BadRequestException(
                    f"Invalid deployment identifier specified {deployment}"
                ) from None
        return config

    @staticmethod
    def _stamped(config: dict[str, Any]) -> Callable[[Part | None], dict[str, Any]]:
        """A stage's change, stamped in the transaction that writes it."""
        return lambda _: {**config, "LastUpdatedDate": now_ms()}

    async def create_stage(self, request: Request) -> Response:
        api = await self._api(request.path_params["api_id"])
        given = self._input("CreateStage", await request_object(request), "stage")
        if "StageName" not in given:
            raise BadRequestException("StageName is a required parameter for stage")
        name = rules.check_stage_name(given["StageName"])
        config = await self._check_stage(api.api_id, given)
        if config["AutoDeploy"]:
            deployment = await self._deploy(api.api_id, None, auto=True)
            config["DeploymentId"] = deployment.part_id
        try:
            part = await self._put(api.api_id, "stage", name, self._stamped(config), create=True)
        except ConflictException:
            raise ConflictException(f"Stage already exists: {name}") from None
        return self._answer("CreateStage", self._part_shape(part), 201)

    async def update_stage(self, request: Request) -> Response:
        api = await self._api(request.path_params["api_id"])
        name = request.path_params["stage_name"]
        given = self._input("UpdateStage", await request_object(request), "stage")
        current = await self.gateway.get_part(api.api_id, "stage", name)
        merged = {**current.config, **given}
        if given.get("AutoDeploy") and "DeploymentId" not in given:
            merged.pop("DeploymentId", None)
        config = await self._check_stage(api.api_id, merged)
        if config["AutoDeploy"] and not current.config.get("AutoDeploy"):
            deployment = await self._deploy(api.api_id, None, auto=True)
            config["DeploymentId"] = deployment.part_id
        part = await self._put(api.api_id, "stage", name, self._stamped(config), create=False)
        return self._answer("UpdateStage", self._part_shape(part))

    async def get_stage(self, request: Request) -> Response:
        return await self._get(request, "stage", "stage_name", "GetStage")

    async def get_stages(self, request: Request) -> Response:
        return await self._list(request, "stage", "GetStages")

    async def delete_stage(self, request: Request) -> Response:
        return await self._delete(request, "stage", "stage_name")

    async def create_deployment(self, request: Request) -> Response:
        api = await self._api(request.path_params["api_id"])
        given = self._input("CreateDeployment", await request_object(request), "deployment")
        stage_name = given.get("StageName")
        if stage_name is not None:
            stage = await self.gateway.get_part(api.api_id, "stage", stage_name)
            if stage.config.get("AutoDeploy"):
                raise BadRequestException(
                    f"Stage {stage_name} has AutoDeploy enabled: it is deployed with every "
                    "change, and takes no deployment of its own"
                )
        deployment = await self._deploy(api.api_id, given.get("Description"), auto=False)
        if stage_name is not None:

            def point(current: Part | None) -> dict[str, Any]:
                assert current is not None
                return {
                    **current.config,
                    "DeploymentId": deployment.part_id,
                    "LastUpdatedDate": now_ms(),
                }

            await self._put(api.api_id, "stage", stage_name, point, create=False)
        return self._answer("CreateDeployment", self._part_shape(deployment), 201)

    async def get_deployment(self, request: Request) -> Response:
        return await self._get(request, "deployment", "deployment_id", "GetDeployment")

    async def get_deployments(self, request: Request) -> Response:
        return await self._list(request, "deployment", "GetDeployments")

    async def delete_deployment(self, request: Request) -> Response:
        api = await self._api(request.path_params["api_id"])
        deployment_id = request.path_params["deployment_id"]
        for stage in await self.gateway.list_parts(api.api_id, "stage"):
            if stage.config.get("DeploymentId") == deployment_id:
                raise BadRequestException(
                    "Active stages pointing to this deployment must be moved or deleted"
                )
        return await self._delete(request, "deployment", "deployment_id")

    # tags

    def _tagged_api(self, arn: str) -> str:
        """The API id an ARN names (``arn:aws:apigateway:REGION::/apis/ID``)."""
        prefix = f"arn:aws:apigateway:{self.region}::/apis/"
        api_id = arn.removeprefix(prefix)
        if not arn.startswith(prefix) or not api_id or "/" in api_id:
            raise BadRequestException(
                f"Invalid resource ARN: {arn}. gureum tags APIs, as "
                f"arn:aws:apigateway:{self.region}::/apis/ID"
            )
        return api_id

    async def _retag(self, arn: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        api_id = self._tagged_api(arn)
        try:
            await self.gateway.update_api(
                api_id,
                lambda api: {**api.config, "Tags": rules.check_tags(change(api.config["Tags"]))},
            )
        except NotFoundException:
            raise self._not_found(api_id) from None

    async def tag_resource(self, request: Request) -> Response:
        body = await request_object(request)
        shape = self._operation("TagResource").input_shape
        assert shape is not None
        tags = from_wire(shape, body, "body").get("Tags", {})
        await self._retag(request.path_params["arn"], lambda old: {**old, **tags})
        return aws_json({}, 201)

    async def untag_resource(self, request: Request) -> Response:
        keys = set(request.query_params.getlist("tagKeys"))
        await self._retag(
            request.path_params["arn"],
            lambda old: {key: value for key, value in old.items() if key not in keys},
        )
        return aws_json(None, 204)

    async def get_tags(self, request: Request) -> Response:
        api = await self._api(self._tagged_api(request.path_params["arn"]))
        return self._answer("GetTags", {"Tags": api.config.get("Tags", {})})

    def routes(self) -> list[Route]:
        apis = "/v2/apis"
        api = apis + "/{api_id}"
        paths: list[tuple[str, str, Handler]] = [
            (apis, "POST", self.create_api),
            (apis, "GET", self.get_apis),
            (api, "GET", self.get_api),
            (api, "PATCH", self.update_api),
            (api, "DELETE", self.delete_api),
            ("/v2/tags/{arn:path}", "POST", self.tag_resource),
            ("/v2/tags/{arn:path}", "DELETE", self.untag_resource),
            ("/v2/tags/{arn:path}", "GET", self.get_tags),
        ]
        parts: list[tuple[str, str, Handler, Handler, Handler, Handler, Handler]] = [
            (
                "integrations",
                "integration_id",
                self.create_integration,
                self.get_integrations,
                self.get_integration,
                self.update_integration,
                self.delete_integration,
            ),
            (
                "routes",
                "route_id",
                self.create_route,
                self.get_routes,
                self.get_route,
                self.update_route,
                self.delete_route,
            ),
            (
                "stages",
                "stage_name",
                self.create_stage,
                self.get_stages,
                self.get_stage,
                self.update_stage,
                self.delete_stage,
            ),
        ]
        for plural, id_param, create, listing, get, update, delete in parts:
            collection = f"{api}/{plural}"
            one = f"{collection}/{{{id_param}}}"
            paths += [
                (collection, "POST", create),
                (collection, "GET", listing),
                (one, "GET", get),
                (one, "PATCH", update),
                (one, "DELETE", delete),
            ]
        responses = f"{api}/routes/{{route_id}}/routeresponses"
        response = responses + "/{route_response_id}"
        paths += [
            (responses, "POST", self.create_route_response),
            (responses, "GET", self.get_route_responses),
            (response, "GET", self.get_route_response),
            (response, "PATCH", self.update_route_response),
            (response, "DELETE", self.delete_route_response),
        ]
        deployments = f"{api}/deployments"
        paths += [
            (deployments, "POST", self.create_deployment),
            (deployments, "GET", self.get_deployments),
            (deployments + "/{deployment_id}", "GET", self.get_deployment),
            (deployments + "/{deployment_id}", "DELETE", self.delete_deployment),
        ]
        return [Route(path, handler, methods=[method]) for path, method, handler in paths]
