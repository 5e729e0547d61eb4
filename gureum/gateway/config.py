"""The rules of an HTTP API's configuration, as pure functions (no store, no I/O).

Route keys (``$default`` or ``METHOD /path`` with ``{param}`` segments and a final
``{proxy+}``), integration targets and URIs, stage names, and what each part's members
may hold. The management API (``management_api.py``) checks requests with them; the
serving side parses route keys with the same :func:`parse_route_key`. Errors are API
Gateway's: ``BadRequestException`` (400) with its wording where it is known.
"""

from __future__ import annotations

import re
from typing import Any

from gureum.errors import BadRequestException
from gureum.gateway.websocket_events import selection_path

DEFAULT_ROUTE = "$default"
METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PROTOCOLS = ("HTTP", "WEBSOCKET")
#: HTTP APIs choose a route by method and path.
HTTP_ROUTE_SELECTION = "$request.method $request.path"
PAYLOAD_FORMATS = ("1.0", "2.0")
TIMEOUT_MS = (50, 30000)
DEFAULT_TIMEOUT_MS = 30000
#: A WebSocket API's integrations wait at most 29 s.
WEBSOCKET_TIMEOUT_MS = 29000
#: The routes every WebSocket API may have besides its own keys.
WEBSOCKET_ROUTES = ("$connect", "$disconnect", "$default")

_SEGMENT_PARAM = re.compile(r"\{([A-Za-z0-9_.\-]+)(\+?)\}")
_LITERAL_SEGMENT = re.compile(r"[A-Za-z0-9._~\-:@!$&'()*,;=%]+")
_FUNCTION_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9\-]+:\d{12}:function:[a-zA-Z0-9\-_]{1,64}"
    r"(:(\$LATEST|[a-zA-Z0-9\-_]{1,128}))?"
)
_INVOKE_URI = re.compile(
    r"arn:aws[a-zA-Z-]*:apigateway:[a-z0-9\-]+:lambda:path/2015-03-31/functions/(.+)/invocations"
)
_STAGE_NAME = re.compile(r"[A-Za-z0-9_\-]{1,128}")
_TARGET = re.compile(r"integrations/([a-z0-9]+)")


def parse_route_key(text: str) -> tuple[str, str]:
    """A route key's (method, path): ``$default`` gives ``("$default", "")``; ``GET
    /pets/{id}`` gives ``("GET", "/pets/{id}")``. BadRequestException if it is neither."""
    if text == DEFAULT_ROUTE:
        return DEFAULT_ROUTE, ""
    method, space, path = text.partition(" ")
    if not space or method not in METHODS:
        raise BadRequestException(
            f"Invalid route key: {text}. A route key is $default or a method "
            f"({', '.join(METHODS)}) and a path, such as 'GET /pets'."
        )
    _check_path(text, path)
    return method, path


def _check_path(key: str, path: str) -> None:
    if not path.startswith("/"):
        raise BadRequestException(f"Invalid route key: {key}. The path must start with '/'.")
    if path == "/":
        return
    segments = path[1:].split("/")
    seen: set[str] = set()
    for position, segment in enumerate(segments):
        param = _SEGMENT_PARAM.fullmatch(segment)
        if param is not None:
            name, greedy = param.groups()
            if greedy and position != len(segments) - 1:
                raise BadRequestException(
                    f"Invalid route key: {key}. A greedy path variable ({{{name}+}}) "
                    "must be the last segment of the path."
                )
            if name in seen:
                raise BadRequestException(
                    f"Invalid route key: {key}. Path variable {name} is used twice."
                )
            seen.add(name)
        elif not _LITERAL_SEGMENT.fullmatch(segment):
            raise BadRequestException(
                f"Invalid route key: {key}. Segment '{segment}' of the path is not valid."
            )


def check_protocol(value: Any) -> str:
    if value not in PROTOCOLS:
        raise BadRequestException(
            f"Invalid protocol type: {value}. It must be one of {', '.join(PROTOCOLS)}."
        )
    return str(value)


def function_arn_of(uri: Any) -> str:
    """The Lambda function ARN an integration URI names: the ARN itself, or API Gateway's
    ``arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations``."""
    text = str(uri) if isinstance(uri, str) else ""
    invoke = _INVOKE_URI.fullmatch(text)
    arn = invoke.group(1) if invoke is not None else text
    if not _FUNCTION_ARN.fullmatch(arn):
        raise BadRequestException(
            f"Invalid integration URI specified: {uri}. An AWS_PROXY integration's URI is a "
            "Lambda function ARN, or arn:aws:apigateway:REGION:lambda:path/2015-03-31/"
            "functions/ARN/invocations."
        )
    return arn


def is_invoke_uri(uri: Any) -> bool:
    """Whether ``uri`` is API Gateway's Lambda invocation URI (a REST API's only form)."""
    return isinstance(uri, str) and _INVOKE_URI.fullmatch(uri) is not None


def check_integration(config: dict[str, Any], protocol: str) -> dict[str, Any]:
    """An integration's whole configuration, checked, with its defaults filled in."""
    kind = config.get("IntegrationType")
    if kind is None:
        raise BadRequestException("IntegrationType is a required parameter for integration")
    if kind in ("AWS", "MOCK") and protocol == "HTTP":
        raise BadRequestException(
            "Currently, an API with a protocol type of HTTP may only be associated with proxy "
            "integrations (AWS_PROXY, HTTP_PROXY)"
        )
    if kind != "AWS_PROXY":
        raise BadRequestException(
            f"gureum supports only AWS_PROXY integrations (Lambda functions) yet, not {kind}"
        )
    if "IntegrationUri" not in config:
        raise BadRequestException("IntegrationUri is a required parameter for integration")
    function_arn_of(config["IntegrationUri"])
    version = config.get("PayloadFormatVersion")
    if version is None and protocol == "HTTP":
        raise BadRequestException("PayloadFormatVersion is a required parameter for integration")
    if version is not None and version not in PAYLOAD_FORMATS:
        raise BadRequestException(
            f"Invalid PayloadFormatVersion: {version}. It must be 1.0 or 2.0 for a Lambda "
            "proxy integration."
        )
    high = WEBSOCKET_TIMEOUT_MS if protocol == "WEBSOCKET" else TIMEOUT_MS[1]
    timeout = config.setdefault("TimeoutInMillis", high)
    low = TIMEOUT_MS[0]
    if not low <= timeout <= high:
        raise BadRequestException(f"Timeout should be between {low} ms and {high} ms")
    method = config.setdefault("IntegrationMethod", "POST")
    if method != "POST":
        raise BadRequestException("A Lambda proxy integration's IntegrationMethod is POST")
    if config.setdefault("ConnectionType", "INTERNET") != "INTERNET":
        raise BadRequestException("gureum supports only ConnectionType INTERNET yet")
    return config


def integration_of_target(target: Any) -> str:
    """The integration id of a route's ``Target`` (``integrations/{id}``)."""
    match = _TARGET.fullmatch(target) if isinstance(target, str) else None
    if match is None:
        raise BadRequestException(
            f"Invalid target: {target}. A route's target has the form integrations/{{id}}."
        )
    return match.group(1)


def check_route(config: dict[str, Any], protocol: str) -> dict[str, Any]:
    """A route's whole configuration, checked, with its defaults filled in."""
    if "RouteKey" not in config:
        raise BadRequestException("RouteKey is a required parameter for route")
    if protocol == "HTTP":
        parse_route_key(config["RouteKey"])
    else:
        check_websocket_route_key(config["RouteKey"])
    if config.setdefault("AuthorizationType", "NONE") != "NONE":
        raise BadRequestException("gureum supports only AuthorizationType NONE yet")
    if config.setdefault("ApiKeyRequired", False):
        raise BadRequestException("gureum does not support API keys (ApiKeyRequired) yet")
    if "Target" in config:
        integration_of_target(config["Target"])
    return config


def check_websocket_route_key(key: Any) -> str:
    """A WebSocket API's route key: ``$connect``, ``$disconnect``, ``$default``, or the
    value a message's selection expression gives (no other ``$`` key)."""
    if not isinstance(key, str) or not 1 <= len(key) <= 128:
        raise BadRequestException(f"Invalid route key: {key}. It must be 1 to 128 characters.")
    if key.startswith("$") and key not in WEBSOCKET_ROUTES:
        raise BadRequestException(
            f"Invalid route key: {key}. Route keys starting with $ are reserved: "
            f"{', '.join(WEBSOCKET_ROUTES)}."
        )
    return key


def check_route_selection(expression: Any) -> str:
    """A WebSocket API's RouteSelectionExpression: a path in the message's JSON body
    (``$request.body.action`` or ``${request.body.action}``)."""
    if not isinstance(expression, str) or selection_path(expression) is None:
        raise BadRequestException(
            f"Invalid RouteSelectionExpression: {expression}. gureum selects a WebSocket "
            "API's routes by a path in the message's JSON body, such as $request.body.action."
        )
    return expression


def check_route_response(config: dict[str, Any]) -> dict[str, Any]:
    """A route response: its key is ``$default`` (WebSocket APIs' only one)."""
    key = config.get("RouteResponseKey")
    if key is None:
        raise BadRequestException("RouteResponseKey is a required parameter for RouteResponse")
    if key != DEFAULT_ROUTE:
        raise BadRequestException(
            f"Invalid RouteResponseKey: {key}. A WebSocket API's route response key is $default."
        )
    return config


def check_stage_name(name: Any) -> str:
    if not isinstance(name, str) or (name != DEFAULT_ROUTE and not _STAGE_NAME.fullmatch(name)):
        raise BadRequestException(
            f"Invalid stage name: {name}. A stage name is $default, or up to 128 letters, "
            "digits, hyphens and underscores."
        )
    return name


def check_stage_variables(variables: dict[str, Any]) -> dict[str, Any]:
    for name, value in variables.items():
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
            raise BadRequestException(
                f"Invalid stage variable name: {name}. Names are letters, digits and "
                "underscores, at most 64."
            )
        if not isinstance(value, str) or len(value) > 2048:
            raise BadRequestException(
                f"Invalid stage variable value for {name}: at most 2048 characters."
            )
    return variables


def check_tags(tags: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's tag limits: keys of 1 to 128 characters (not ``aws:``), values of at
    most 256, 50 tags."""
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            raise BadRequestException(f"Invalid tag key: {key}")
        if not isinstance(value, str) or len(value) > 256:
            raise BadRequestException(f"Invalid tag value for key {key}")
    if len(tags) > 50:
        raise BadRequestException("An API can have at most 50 tags.")
    return tags
