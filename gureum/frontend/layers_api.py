"""Lambda's layer operations (2018-10-31) as boto3's ``lambda`` client speaks them.

PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers,
ListLayerVersions, DeleteLayerVersion, AddLayerVersionPermission,
GetLayerVersionPolicy, RemoveLayerVersionPermission. A function's ``Layers`` are
CreateFunction's and UpdateFunctionConfiguration's (``lambda_api.py``); the layer
registry resolves them for the function registry.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum.frontend.lambda_api import MAX_CODE_REQUEST
from gureum.frontend.responses import aws_json, json_body, limited_body, parse_json_object
from gureum.functions import layer_rules
from gureum.functions.layer_rules import LayerVersion
from gureum.functions.layers import LayerRegistry


class LayersAPI:
    """The layer operations' handlers, over the layer registry."""

    def __init__(self, layers: LayerRegistry) -> None:
        self.layers = layers

    @staticmethod
    def _location(request: Request, version: LayerVersion) -> str:
        """Where a version's zip downloads from (``Content.Location``; as GetFunction's
        ``Code.Location``, a capability URL that needs no signature)."""
        base = str(request.base_url).rstrip("/")
        return f"{base}/_gureum/code/{version.code_sha256_hex}.zip"

    async def publish_layer_version(self, request: Request) -> Response:
        body = await limited_body(request, MAX_CODE_REQUEST, "PublishLayerVersion")
        version = await self.layers.publish(request.path_params["name"], parse_json_object(body))
        return aws_json(version.shape(self._location(request, version)), 201)

    async def get_layer_version(self, request: Request) -> Response:
        params = request.path_params
        version = await self.layers.get(params["name"], params["version"])
        return aws_json(version.shape(self._location(request, version)))

    async def list_layers(self, request: Request) -> Response:
        """ListLayers, and GetLayerVersionByArn (``?find=LayerVersion&Arn=...``), which
        shares its path."""
        query = request.query_params
        if query.get("find") == "LayerVersion":
            version = await self.layers.get_by_arn(query.get("Arn", ""))
            return aws_json(version.shape(self._location(request, version)))
        wanted = layer_rules.list_filter(dict(query))
        page, next_marker = await self.layers.list_layers(wanted, query.get("Marker"))
        body: dict[str, Any] = {
            "Layers": [
                {
                    "LayerName": name,
                    "LayerArn": latest.layer_arn,
                    "LatestMatchingVersion": latest.list_item(),
                }
                for name, latest in page
            ]
        }
        if next_marker:
            body["NextMarker"] = next_marker
        return aws_json(body)

    async def list_layer_versions(self, request: Request) -> Response:
        query = request.query_params
        wanted = layer_rules.list_filter(dict(query))
        page, next_marker = await self.layers.list_versions(
            request.path_params["name"], wanted, query.get("Marker")
        )
        body: dict[str, Any] = {"LayerVersions": [version.list_item() for version in page]}
        if next_marker:
            body["NextMarker"] = next_marker
        return aws_json(body)

    async def delete_layer_version(self, request: Request) -> Response:
        params = request.path_params
        await self.layers.delete(params["name"], params["version"])
        return aws_json(None, 204)

    async def add_layer_version_permission(self, request: Request) -> Response:
        params = request.path_params
        statement, revision = await self.layers.add_permission(
            params["name"],
            params["version"],
            await json_body(request),
            request.query_params.get("RevisionId"),
        )
        return aws_json(
            {"Statement": layer_rules.statement_text(statement), "RevisionId": revision}, 201
        )

    async def get_layer_version_policy(self, request: Request) -> Response:
        params = request.path_params
        policy, revision = await self.layers.get_policy(params["name"], params["version"])
        return aws_json({"Policy": policy, "RevisionId": revision})

    async def remove_layer_version_permission(self, request: Request) -> Response:
        params = request.path_params
        await self.layers.remove_permission(
            params["name"],
            params["version"],
            params["statement"],
            request.query_params.get("RevisionId"),
        )
        return aws_json(None, 204)

    def routes(self) -> list[Route]:
        prefix = "/2018-10-31/layers"
        version = prefix + "/{name}/versions/{version}"
        return [
            Route(prefix, self.list_layers, methods=["GET"]),
            Route(prefix + "/", self.list_layers, methods=["GET"]),
            Route(prefix + "/{name}/versions", self.publish_layer_version, methods=["POST"]),
            Route(prefix + "/{name}/versions", self.list_layer_versions, methods=["GET"]),
            Route(version, self.get_layer_version, methods=["GET"]),
            Route(version, self.delete_layer_version, methods=["DELETE"]),
            Route(version + "/policy", self.add_layer_version_permission, methods=["POST"]),
            Route(version + "/policy", self.get_layer_version_policy, methods=["GET"]),
            Route(
                version + "/policy/{statement}",
                self.remove_layer_version_permission,
                methods=["DELETE"],
            ),
        ]
