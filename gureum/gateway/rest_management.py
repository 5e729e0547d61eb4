"""apigateway's management API for REST APIs, as boto3's ``apigateway`` client speaks it.

rest-json under ``/restapis``: REST APIs, their resources (each resource's methods, and
a method's Lambda proxy integration, kept within the resource's row), deployments and
stages. Members travel and are stored under apigateway's own (lower-camel) names, read
off botocore's model as :mod:`~gureum.gateway.management_api` reads apigatewayv2's.

A deployment is a snapshot: it keeps the resources, methods and integrations as they
were when it was made, and a stage serves its deployment's snapshot, so a change to the
API reaches clients once it is deployed again, as on API Gateway. What gureum does not
do is refused (:mod:`~gureum.gateway.rest_config`), not accepted and ignored; the
operations not served here are answered ``NotImplementedException`` by the edge.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from botocore.model import OperationModel, ServiceModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum.clock import now_ms
from gureum.errors import (
    BadRequestException,
    ConflictException,
    NotFoundException,
    NotImplementedException,
)
from gureum.frontend import operations
from gureum.frontend.responses import aws_json
from gureum.gateway import rest_config as rules
from gureum.gateway.gateway_store import REST_SERVICE, Api, GatewayStore, Part, new_id
from gureum.gateway.http_api import parsed_route_key
from gureum.gateway.management_api import from_wire, page_of, request_object, to_wire

#: GetRestApis', GetResources' and GetDeployments' page: 25 unless ``limit`` says.
DEFAULT_PAGE = 25
MAX_PAGE = 500
Handler = Callable[[Request], Awaitable[Response]]


@functools.cache
def _model() -> ServiceModel:
    return ServiceModel(operations.service_model(REST_SERVICE), REST_SERVICE)


def _methods(resource: Part) -> dict[str, Any]:
    return dict(resource.config.get("resourceMethods") or {})


class RestManagementAPI:
    """apigateway's REST API operations, over the gateway's store."""

    def __init__(self, gateway: GatewayStore, *, region: str, account_id: str) -> None:
        self.gateway = gateway
        self.region = region
        self.account_id = account_id

    # shapes

    @staticmethod
    def _operation(name: str) -> OperationModel:
        return _model().operation_model(name)

    async def _input(
        self, request: Request, operation: str, supported: Iterable[str]
    ) -> dict[str, Any]:
        """The request body in member names, refused where it asks what gureum lacks."""
        shape = self._operation(operation).input_shape
        assert shape is not None
        given: dict[str, Any] = from_wire(shape, await request_object(request), "body")
        rules.refuse_unsupported(given, supported, operation)
        return given

    def _answer(self, operation: str, shape: dict[str, Any], status: int = 200) -> Response:
        output = self._operation(operation).output_shape
        assert output is not None
        return aws_json(to_wire(output, shape), status)

    def _paged(
        self, request: Request, operation: str, items: list[Any], shape: Callable[[Any], Any]
    ) -> Response:
        query = request.query_params
        page, position = page_of(
            items,
            query.get("limit"),
            query.get("position"),
            names=("limit", "position"),
            default=DEFAULT_PAGE,
            maximum=MAX_PAGE,
        )
        body: dict[str, Any] = {"items": [shape(item) for item in page]}
        if position is not None:
            body["position"] = position
        return self._answer(operation, body)

    @staticmethod
    def _api_shape(api: Api) -> dict[str, Any]:
        return {**api.config, "id": api.api_id, "createdDate": api.created_ms}

    @staticmethod
    def _resource_shape(resource: Part, *, embed: bool) -> dict[str, Any]:
        shape = {key: value for key, value in resource.config.items() if key != "resourceMethods"}
        shape["id"] = resource.part_id
        methods = _methods(resource)
        if methods:
            # (without ?embed=methods, API Gateway names a resource's methods only)
            shape["resourceMethods"] = methods if embed else {name: {} for name in methods}
        return shape

    @staticmethod
    def _deployment_shape(deployment: Part) -> dict[str, Any]:
        shape = {k: v for k, v in deployment.config.items() if k != "snapshot"}
        return {**shape, "id": deployment.part_id, "createdDate": deployment.created_ms}

    # finding things

    def _not_found(self, api_id: str) -> NotFoundException:
        return NotFoundException(f"Invalid API identifier specified {self.account_id}:{api_id}")

    async def _api(self, api_id: str) -> Api:
        try:
            return await self.gateway.get_api(api_id, service=REST_SERVICE)
        except NotFoundException:
            raise self._not_found(api_id) from None

    async def _part(self, api_id: str, kind: str, part_id: str) -> Part:
        await self._api(api_id)
        try:
            return await self.gateway.get_part(api_id, kind, part_id)
        except NotFoundException:
            raise NotFoundException(f"Invalid {kind.capitalize()} identifier specified") from None

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
            missing = f"Invalid {kind.capitalize()} identifier specified"
            if error.message.startswith(missing):  # (the store's names the id)
                raise NotFoundException(missing) from None
            raise

    # REST APIs

    async def create_rest_api(self, request: Request) -> Response:
        given = await self._input(
            request,
            "CreateRestApi",
            {
                "name",
                "description",
                "version",
                "apiKeySource",
                "endpointConfiguration",
                "tags",
                "disableExecuteApiEndpoint",
            },
        )
        if "name" not in given:
            raise BadRequestException("Invalid REST API name specified: name is required")
        rules.check_name(given["name"])
        if given.setdefault("apiKeySource", "HEADER") != "HEADER":
            raise NotImplementedException(
                "gureum does not support apiKeySource AUTHORIZER on REST APIs yet"
            )
        given["endpointConfiguration"] = rules.check_endpoint_configuration(
            given.get("endpointConfiguration")
        )
        given.setdefault("tags", {})
        given.setdefault("disableExecuteApiEndpoint", False)
        root = new_id()
        given["rootResourceId"] = root
        api = await self.gateway.create_api(
            given, [Part("", "resource", root, {"path": "/"}, 0)], service=REST_SERVICE
        )
        return self._answer("CreateRestApi", self._api_shape(api), 201)

    async def get_rest_api(self, request: Request) -> Response:
        api = await self._api(request.path_params["restapi_id"])
        return self._answer("GetRestApi", self._api_shape(api))

    async def get_rest_apis(self, request: Request) -> Response:
        apis = await self.gateway.list_apis(service=REST_SERVICE)
        return self._paged(request, "GetRestApis", apis, self._api_shape)

    async def update_rest_api(self, request: Request) -> Response:
        api_id = request.path_params["restapi_id"]
        given = await self._input(request, "UpdateRestApi", {"patchOperations"})

        def change(api: Api) -> dict[str, Any]:
            config = rules.patched(
                api.config,
                given.get("patchOperations") or [],
                {"/name": "name", "/description": "description"},
            )
            rules.check_name(config.get("name"))
            return config

        try:
            api = await self.gateway.update_api(api_id, change, service=REST_SERVICE)
        except NotFoundException:
            raise self._not_found(api_id) from None
        return self._answer("UpdateRestApi", self._api_shape(api))

    async def delete_rest_api(self, request: Request) -> Response:
        api_id = request.path_params["restapi_id"]
        try:
            await self.gateway.delete_api(api_id, service=REST_SERVICE)
        except NotFoundException:
            raise self._not_found(api_id) from None
        return aws_json(None, 202)

    # resources

    def _embed(self, request: Request) -> bool:
        return "methods" in ",".join(request.query_params.getlist("embed")).split(",")

    async def create_resource(self, request: Request) -> Response:
        api_id = request.path_params["restapi_id"]
        parent_id = request.path_params["resource_id"]
        given = await self._input(request, "CreateResource", {"pathPart"})
        part = rules.check_path_part(given.get("pathPart"))
        parent = await self._part(api_id, "resource", parent_id)
        path = rules.child_path(str(parent.config["path"]), part)

        def check(others: list[Part], config: dict[str, Any]) -> None:
            resources = [p for p in others if p.kind == "resource"]
            now = next((p for p in resources if p.part_id == parent_id), None)
            if now is None:
                raise NotFoundException("Invalid Resource identifier specified")
            siblings = [p.config for p in resources if p.config.get("parentId") == parent_id]
            rules.check_child(now.config, siblings, part)
            if parsed_route_key(f"ANY {path}") is None:  # (what serving will match it as)
                raise BadRequestException(f"Invalid resource path: {path}")

        config = {"parentId": parent_id, "pathPart": part, "path": path}
        resource = await self._put(
            api_id, "resource", new_id(), lambda _: config, create=True, check=check
        )
        return self._answer("CreateResource", self._resource_shape(resource, embed=True), 201)

    async def get_resource(self, request: Request) -> Response:
        api_id = request.path_params["restapi_id"]
        resource = await self._part(api_id, "resource", request.path_params["resource_id"])
        shape = self._resource_shape(resource, embed=self._embed(request))
        return self._answer("GetResource", shape)

    async def get_resources(self, request: Request) -> Response:
        api = await self._api(request.path_params["restapi_id"])
        resources = await self.gateway.list_parts(api.api_id, "resource")
        embed = self._embed(request)
        return self._paged(
            request,
            "GetResources",
            resources,
            lambda resource: self._resource_shape(resource, embed=embed),
        )

    async def delete_resource(self, request: Request) -> Response:
        """A resource and the resources under it, as API Gateway deletes them."""
        api = await self._api(request.path_params["restapi_id"])
        resource_id = request.path_params["resource_id"]
        if resource_id == api.config.get("rootResourceId"):
            raise BadRequestException("Cannot delete the root resource of a REST API")

        def under(parts: list[Part]) -> list[str]:
            children: dict[str, list[str]] = {}
            found = False
            for part in parts:
                if part.kind == "resource":
                    found = found or part.part_id == resource_id
                    parent = str(part.config.get("parentId"))
                    children.setdefault(parent, []).append(part.part_id)
            if not found:
                raise NotFoundException("Invalid Resource identifier specified")
            chosen, pending = [], [resource_id]
            while pending:
                current = pending.pop()
                chosen.append(current)
                pending += children.get(current, [])
            return chosen

        await self.gateway.delete_parts(api.api_id, "resource", under)
        return aws_json(None, 202)

    # methods and their integrations

    async def _change_method(
        self,
        request: Request,
        change: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        """The resource's methods replaced by ``change(its methods)``, in the transaction
        that writes them; the method the request names, as it is then (if any)."""
        api_id = request.path_params["restapi_id"]
        resource_id = request.path_params["resource_id"]
        method = rules.check_method(request.path_params["http_method"])
        await self._api(api_id)

        def rewrite(current: Part | None) -> dict[str, Any]:
            assert current is not None
            return {**current.config, "resourceMethods": change(_methods(current))}

        resource = await self._put(api_id, "resource", resource_id, rewrite, create=False)
        methods: dict[str, Any] = _methods(resource)
        return dict(methods.get(method) or {})

    async def _method(self, request: Request) -> dict[str, Any]:
        resource = await self._part(
            request.path_params["restapi_id"], "resource", request.path_params["resource_id"]
        )
        method = rules.check_method(request.path_params["http_method"])
        found = _methods(resource).get(method)
        if found is None:
            raise NotFoundException("Invalid Method identifier specified")
        return dict(found)

    async def put_method(self, request: Request) -> Response:
        method = rules.check_method(request.path_params["http_method"])
        given = await self._input(
            request,
            "PutMethod",
            {"authorizationType", "apiKeyRequired", "operationName", "requestParameters"},
        )
        rules.check_authorization(given)
        if given.get("apiKeyRequired"):
            raise NotImplementedException(
                "gureum does not support apiKeyRequired (API keys) on REST APIs yet"
            )
        config = {"httpMethod": method, "apiKeyRequired": False, **given}

        def add(methods: dict[str, Any]) -> dict[str, Any]:
            if method in methods:
                raise ConflictException("Method already exists for this resource")
            return {**methods, method: config}

        return self._answer("PutMethod", await self._change_method(request, add), 201)

    async def get_method(self, request: Request) -> Response:
        return self._answer("GetMethod", await self._method(request))

    async def delete_method(self, request: Request) -> Response:
        method = rules.check_method(request.path_params["http_method"])

        def remove(methods: dict[str, Any]) -> dict[str, Any]:
            if method not in methods:
                raise NotFoundException("Invalid Method identifier specified")
            return {name: value for name, value in methods.items() if name != method}

        await self._change_method(request, remove)
        return aws_json(None, 204)

    async def put_integration(self, request: Request) -> Response:
        method = rules.check_method(request.path_params["http_method"])
        given = await self._input(
            request,
            "PutIntegration",
            {
                "type",
                "integrationHttpMethod",
                "uri",
                "connectionType",
                "timeoutInMillis",
                "passthroughBehavior",
                "cacheNamespace",
                "cacheKeyParameters",
                "responseTransferMode",
            },
        )
        if given.pop("responseTransferMode", "BUFFERED") != "BUFFERED":
            raise NotImplementedException(
                "gureum does not support responseTransferMode STREAM on REST APIs yet"
            )
        if "integrationHttpMethod" in given:
            given["httpMethod"] = given.pop("integrationHttpMethod")
        integration = rules.check_integration(given)
        integration.setdefault("cacheNamespace", request.path_params["resource_id"])

        def put(methods: dict[str, Any]) -> dict[str, Any]:
            if method not in methods:
                raise NotFoundException("Invalid Method identifier specified")
            return {**methods, method: {**methods[method], "methodIntegration": integration}}

        changed = await self._change_method(request, put)
        return self._answer("PutIntegration", changed["methodIntegration"], 201)

    async def get_integration(self, request: Request) -> Response:
        integration = (await self._method(request)).get("methodIntegration")
        if integration is None:
            raise NotFoundException("No integration defined for method")
        return self._answer("GetIntegration", integration)

    async def delete_integration(self, request: Request) -> Response:
        method = rules.check_method(request.path_params["http_method"])

        def remove(methods: dict[str, Any]) -> dict[str, Any]:
            if method not in methods:
                raise NotFoundException("Invalid Method identifier specified")
            if "methodIntegration" not in methods[method]:
                raise NotFoundException("No integration defined for method")
            rest = {k: v for k, v in methods[method].items() if k != "methodIntegration"}
            return {**methods, method: rest}

        await self._change_method(request, remove)
        return aws_json(None, 204)

    # deployments

    async def create_deployment(self, request: Request) -> Response:
        """A snapshot of the API's resources (with their methods and integrations), and
        ``stageName``'s stage made or moved to it."""
        api = await self._api(request.path_params["restapi_id"])
        given = await self._input(
            request,
            "CreateDeployment",
            {"stageName", "stageDescription", "description", "variables"},
        )
        stage_name = given.get("stageName")
        if stage_name is not None:
            rules.check_stage_name(stage_name)
        variables = rules.check_variables(given.get("variables"))
        resources = await self.gateway.list_parts(api.api_id, "resource")
        if not any(_methods(resource) for resource in resources):
            raise BadRequestException("The REST API doesn't contain any methods")
        for resource in resources:
            for name, method in _methods(resource).items():
                if "methodIntegration" not in method:
                    raise BadRequestException(
                        f"No integration defined for method {name} {resource.config['path']}"
                    )
        snapshot = [{**resource.config, "id": resource.part_id} for resource in resources]
        config: dict[str, Any] = {"snapshot": snapshot}
        if given.get("description") is not None:
            config["description"] = given["description"]
        deployment = await self._put(
            api.api_id, "deployment", new_id(), lambda _: config, create=True
        )
        if stage_name is not None:
            await self._point_stage(
                api.api_id,
                stage_name,
                deployment.part_id,
                given.get("stageDescription"),
                variables,
            )
        return self._answer("CreateDeployment", self._deployment_shape(deployment), 201)

    async def _point_stage(
        self,
        api_id: str,
        name: str,
        deployment_id: str,
        description: str | None,
        variables: dict[str, Any],
    ) -> None:
        """``name``'s stage made, or moved, to serve ``deployment_id`` (with
        ``variables`` set among its variables)."""

        def point(current: Part | None) -> dict[str, Any]:
            now = now_ms()
            config = dict(current.config) if current is not None else _new_stage(name, now)
            config["deploymentId"] = deployment_id
            config["variables"] = {**config.get("variables", {}), **variables}
            if description is not None:
                config["description"] = description
            config["lastUpdatedDate"] = now
            return config

        try:
            await self._put(api_id, "stage", name, point, create=False)
        except NotFoundException:
            try:
                await self._put(api_id, "stage", name, point, create=True)
            except ConflictException:  # another request made it meanwhile
                await self._put(api_id, "stage", name, point, create=False)

    async def get_deployment(self, request: Request) -> Response:
        deployment = await self._part(
            request.path_params["restapi_id"], "deployment", request.path_params["deployment_id"]
        )
        return self._answer("GetDeployment", self._deployment_shape(deployment))

    async def get_deployments(self, request: Request) -> Response:
        api = await self._api(request.path_params["restapi_id"])
        deployments = await self.gateway.list_parts(api.api_id, "deployment")
        return self._paged(request, "GetDeployments", deployments, self._deployment_shape)

    async def delete_deployment(self, request: Request) -> Response:
        api = await self._api(request.path_params["restapi_id"])
        deployment_id = request.path_params["deployment_id"]

        def unused(parts: list[Part]) -> list[str]:
            if not any(p.kind == "deployment" and p.part_id == deployment_id for p in parts):
                raise NotFoundException("Invalid Deployment identifier specified")
            if any(
                p.kind == "stage" and p.config.get("deploymentId") == deployment_id for p in parts
            ):
                raise BadRequestException(
                    "Active stages pointing to this deployment must be moved or deleted"
                )
            return [deployment_id]

        await self.gateway.delete_parts(api.api_id, "deployment", unused)
        return aws_json(None, 202)

    # stages

    @staticmethod
    def _has_deployment(parts: list[Part], config: dict[str, Any]) -> None:
        wanted = config.get("deploymentId")
        if not any(p.kind == "deployment" and p.part_id == wanted for p in parts):
            raise NotFoundException("Invalid Deployment identifier specified")

    async def create_stage(self, request: Request) -> Response:
        api = await self._api(request.path_params["restapi_id"])
        given = await self._input(
            request,
            "CreateStage",
            {"stageName", "deploymentId", "description", "variables", "tags", "tracingEnabled"},
        )
        name = rules.check_stage_name(given.get("stageName"))
        if not given.get("deploymentId"):
            raise BadRequestException("Invalid deployment identifier specified: it is required")
        config = {
            **_new_stage(name, now_ms()),
            **given,
            "variables": rules.check_variables(given.get("variables")),
        }
        try:
            stage = await self._put(
                api.api_id,
                "stage",
                name,
                lambda _: config,
                create=True,
                check=self._has_deployment,
            )
        except ConflictException:
            raise ConflictException("Stage already exists") from None
        return self._answer("CreateStage", stage.config, 201)

    async def get_stage(self, request: Request) -> Response:
        stage = await self._part(
            request.path_params["restapi_id"], "stage", request.path_params["stage_name"]
        )
        return self._answer("GetStage", stage.config)

    async def get_stages(self, request: Request) -> Response:
        api = await self._api(request.path_params["restapi_id"])
        stages = await self.gateway.list_parts(api.api_id, "stage")
        wanted = request.query_params.get("deploymentId")
        items = [s.config for s in stages if wanted is None or s.config["deploymentId"] == wanted]
        return self._answer("GetStages", {"item": items})

    async def update_stage(self, request: Request) -> Response:
        api = await self._api(request.path_params["restapi_id"])
        given = await self._input(request, "UpdateStage", {"patchOperations"})

        def change(current: Part | None) -> dict[str, Any]:
            assert current is not None
            config = rules.patched(
                current.config,
                given.get("patchOperations") or [],
                {
                    "/deploymentId": "deploymentId",
                    "/description": "description",
                    "/variables/": "variables",
                    "/tracingEnabled": "tracingEnabled",
                },
            )
            config["variables"] = rules.check_variables(config.get("variables"))
            config["tracingEnabled"] = rules.patched_boolean(
                config.get("tracingEnabled", False), "/tracingEnabled"
            )
            return {**config, "lastUpdatedDate": now_ms()}

        stage = await self._put(
            api.api_id,
            "stage",
            request.path_params["stage_name"],
            change,
            create=False,
            check=self._has_deployment,
        )
        return self._answer("UpdateStage", stage.config)

    async def delete_stage(self, request: Request) -> Response:
        api = await self._api(request.path_params["restapi_id"])
        name = request.path_params["stage_name"]

        def existing(parts: list[Part]) -> list[str]:
            if not any(p.kind == "stage" and p.part_id == name for p in parts):
                raise NotFoundException("Invalid Stage identifier specified")
            return [name]

        await self.gateway.delete_parts(api.api_id, "stage", existing)
        return aws_json(None, 202)

    def routes(self) -> list[Route]:
        apis = "/restapis"
        api = apis + "/{restapi_id}"
        resource = api + "/resources/{resource_id}"
        method = resource + "/methods/{http_method}"
        paths: list[tuple[str, str, Handler]] = [
            (apis, "POST", self.create_rest_api),
            (apis, "GET", self.get_rest_apis),
            (api, "GET", self.get_rest_api),
            (api, "PATCH", self.update_rest_api),
            (api, "DELETE", self.delete_rest_api),
            (api + "/resources", "GET", self.get_resources),
            (resource, "POST", self.create_resource),
            (resource, "GET", self.get_resource),
            (resource, "DELETE", self.delete_resource),
            (method, "PUT", self.put_method),
            (method, "GET", self.get_method),
            (method, "DELETE", self.delete_method),
            (method + "/integration", "PUT", self.put_integration),
            (method + "/integration", "GET", self.get_integration),
            (method + "/integration", "DELETE", self.delete_integration),
            (api + "/deployments", "POST", self.create_deployment),
            (api + "/deployments", "GET", self.get_deployments),
            (api + "/deployments/{deployment_id}", "GET", self.get_deployment),
            (api + "/deployments/{deployment_id}", "DELETE", self.delete_deployment),
            (api + "/stages", "POST", self.create_stage),
            (api + "/stages", "GET", self.get_stages),
            (api + "/stages/{stage_name}", "GET", self.get_stage),
            (api + "/stages/{stage_name}", "PATCH", self.update_stage),
            (api + "/stages/{stage_name}", "DELETE", self.delete_stage),
        ]
        return [Route(path, handler, methods=[verb]) for path, verb, handler in paths]


def _new_stage(name: str, now: int) -> dict[str, Any]:
    return {
        "stageName": name,
        "variables": {},
        "cacheClusterEnabled": False,
        "cacheClusterStatus": "NOT_AVAILABLE",
        "methodSettings": {},
        "tracingEnabled": False,
        "tags": {},
        "createdDate": now,
        "lastUpdatedDate": now,
    }
