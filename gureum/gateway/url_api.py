"""Lambda's function URL operations (2021-10-31) as boto3's ``lambda`` client speaks them.

CreateFunctionUrlConfig, GetFunctionUrlConfig, UpdateFunctionUrlConfig,
DeleteFunctionUrlConfig, ListFunctionUrlConfigs. A URL belongs to a function's
``$LATEST`` or to one of its aliases (``Qualifier``), never to a version. Its
``FunctionUrl`` is the edge's path-style address, ``{edge}/_aws/lambda-url/{url-id}/``;
requests to it are served by :mod:`~gureum.gateway.function_urls`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gureum.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from gureum.frontend.responses import aws_json, json_body
from gureum.functions.config import LATEST, function_arn
from gureum.functions.registry import FunctionRegistry
from gureum.gateway.url_store import FunctionUrl, UrlStore

PATH_PREFIX = "/_aws/lambda-url/"
AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
_QUALIFIER = re.compile(r"((?!^\d+$)^[0-9a-zA-Z-_]+$)")
#: Cors members: their kind and the most items (or the largest value) Lambda takes.
_CORS_LISTS = {"AllowOrigins": 100, "AllowMethods": 6, "AllowHeaders": 100, "ExposeHeaders": 100}
_NOT_FOUND = "The resource you requested does not exist."


def _constraint(value: Any, member: str, rule: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def _enum(params: dict[str, Any], key: str, member: str, allowed: tuple[str, ...]) -> None:
    value = params.get(key)
    if value is not None and value not in allowed:
        raise _constraint(
            value, member, f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        )


def validate_cors(cors: Any) -> dict[str, Any]:
    """A Cors setting as Lambda checks it (members and their limits)."""
    if not isinstance(cors, dict):
        raise InvalidParameterValueException("Cors must be an object.")
    checked: dict[str, Any] = {}
    for key, value in cors.items():
        if key in _CORS_LISTS:
            member = "cors." + key[0].lower() + key[1:]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidParameterValueException(f"{key} must be a list of strings.")
            if len(value) > _CORS_LISTS[key]:
                raise _constraint(
                    value,
                    member,
                    f"Member must have length less than or equal to {_CORS_LISTS[key]}",
                )
            if key == "AllowMethods" and any(len(v) > 6 for v in value):
                raise _constraint(
                    value,
                    "cors.allowMethods.member",
                    "Member must have length less than or equal to 6",
                )
            checked[key] = value
        elif key == "MaxAge":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 86400:
                raise _constraint(
                    value, "cors.maxAge", "Member must have value less than or equal to 86400"
                )
            checked[key] = value
        elif key == "AllowCredentials":
            if not isinstance(value, bool):
                raise InvalidParameterValueException("AllowCredentials must be a boolean.")
            checked[key] = value
        else:
            raise InvalidParameterValueException(f"Unknown Cors member: {key}")
    return checked


def validate(params: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """The config a Create (``current`` None) or Update request makes: AuthType,
    InvokeMode and Cors, an Update's absent members kept."""
    _enum(params, "AuthType", "authType", AUTH_TYPES)
    _enum(params, "InvokeMode", "invokeMode", INVOKE_MODES)
    config = dict(current or {"InvokeMode": "BUFFERED"})
    if params.get("AuthType") is not None:
        config["AuthType"] = params["AuthType"]
    elif current is None:
        raise _constraint(None, "authType", "Member must not be null")
    if params.get("InvokeMode") is not None:
        config["InvokeMode"] = params["InvokeMode"]
    if "Cors" in params:
        cors = validate_cors(params["Cors"] or {})
        if cors:
            config["Cors"] = cors
        else:
            config.pop("Cors", None)
    return config


def _iso(ms: int) -> str:
    """Lambda's function URL times: ISO 8601 in UTC, to the microsecond."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FunctionUrlAPI:
    """The function URL operations' handlers, over the URL store and the registry."""

    def __init__(
        self, urls: UrlStore, functions: FunctionRegistry, *, region: str, account_id: str
    ) -> None:
        self.urls = urls
        self.functions = functions
        self.region = region
        self.account_id = account_id

    def _target(self, request: Request) -> tuple[str, str]:
        """(function name, qualifier) a request names: ``$LATEST`` or an existing alias."""
        qualifier = request.query_params.get("Qualifier")
        if qualifier is not None and not _QUALIFIER.fullmatch(qualifier):
            raise _constraint(
                qualifier,
                "qualifier",
                "Member must satisfy regular expression pattern: " + _QUALIFIER.pattern,
            )
        ref = self.functions.ref(request.path_params["name"], qualifier)
        name = self.functions.get(ref.name).name
        chosen = ref.qualifier or LATEST
        if chosen != LATEST:
            if chosen.isdigit():
                raise _constraint(
                    chosen,
                    "qualifier",
                    "Member must satisfy regular expression pattern: " + _QUALIFIER.pattern,
                )
            self.functions.get_alias(name, chosen)
        return name, chosen

    def _arn(self, url: FunctionUrl) -> str:
        qualifier = None if url.qualifier == LATEST else url.qualifier
        return function_arn(self.region, self.account_id, url.function_name, qualifier)

    def shape(self, request: Request, url: FunctionUrl) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        body: dict[str, Any] = {
            "FunctionUrl": f"{base}{PATH_PREFIX}{url.url_id}/",
            "FunctionArn": self._arn(url),
            "AuthType": url.config["AuthType"],
        }
        if "Cors" in url.config:
            body["Cors"] = url.config["Cors"]
        body["CreationTime"] = _iso(url.created_ms)
        body["LastModifiedTime"] = _iso(url.modified_ms)
        body["InvokeMode"] = url.config.get("InvokeMode", "BUFFERED")
        return body

    async def _found(self, name: str, qualifier: str) -> FunctionUrl:
        url = await self.urls.get(name, qualifier)
        if url is None:
            raise ResourceNotFoundException(_NOT_FOUND)
        return url

    async def create(self, request: Request) -> Response:
        name, qualifier = self._target(request)
        config = validate(await json_body(request), None)
        if not await self.urls.create(name, qualifier, config):
            arn = function_arn(
                self.region, self.account_id, name, None if qualifier == LATEST else qualifier
            )
            raise ResourceConflictException(
                f"Failed to create function url config for [functionArn = {arn}]. "
                "Error message:  FunctionUrlConfig exists for this Lambda function"
            )
        body = self.shape(request, await self._found(name, qualifier))
        del body["LastModifiedTime"]  # (Create's answer has none, as on Lambda)
        return aws_json(body, 201)

    async def get(self, request: Request) -> Response:
        name, qualifier = self._target(request)
        return aws_json(self.shape(request, await self._found(name, qualifier)))

    async def update(self, request: Request) -> Response:
        name, qualifier = self._target(request)
        params = await json_body(request)
        current = await self._found(name, qualifier)
        config = validate(params, current.config)
        if not await self.urls.update(name, qualifier, config):
            raise ResourceNotFoundException(_NOT_FOUND)
        return aws_json(self.shape(request, await self._found(name, qualifier)))

    async def delete(self, request: Request) -> Response:
        name, qualifier = self._target(request)
        if not await self.urls.delete(name, qualifier):
            raise ResourceNotFoundException(_NOT_FOUND)
        return aws_json(None, 204)

    async def list_configs(self, request: Request) -> Response:
        name = self.functions.get(self.functions.ref(request.path_params["name"]).name).name
        raw = request.query_params.get("MaxItems", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 50:
            raise _constraint(raw, "maxItems", "Member must have value between 1 and 50")
        limit = int(raw)
        urls = await self.urls.of_function(name)
        marker = request.query_params.get("Marker")
        if marker:
            urls = [url for url in urls if url.qualifier > marker]
        page = urls[:limit]
        body: dict[str, Any] = {"FunctionUrlConfigs": [self.shape(request, u) for u in page]}
        if len(urls) > limit:
            body["NextMarker"] = page[-1].qualifier
        return aws_json(body)

    def routes(self) -> list[Route]:
        url = "/2021-10-31/functions/{name}/url"
        return [
            Route(url, self.create, methods=["POST"]),
            Route(url, self.get, methods=["GET"]),
            Route(url, self.update, methods=["PUT"]),
            Route(url, self.delete, methods=["DELETE"]),
            Route(url + "s", self.list_configs, methods=["GET"]),
        ]
