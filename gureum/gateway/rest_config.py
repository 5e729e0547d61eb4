"""The rules of a REST API's configuration (apigateway's), as pure functions (no I/O).

Resources' path parts, methods, Lambda proxy integrations, stage names and variables,
and the patch operations of the Update operations. What gureum does not do yet (other
integration types, authorizers other than ``NONE`` and ``AWS_IAM``, API keys, models,
validators, caches, canaries) is refused with ``NotImplementedException`` naming it,
never accepted and ignored; a request that is wrong is API Gateway's
``BadRequestException``, in its words where they are known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from gureum.errors import BadRequestException, ConflictException, NotImplementedException
from gureum.gateway.config import check_stage_variables, function_arn_of, is_invoke_uri

METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD", "ANY")
AUTHORIZATION_TYPES = ("NONE", "AWS_IAM")
KNOWN_AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS")
INTEGRATION_TYPES = ("HTTP", "AWS", "MOCK", "HTTP_PROXY", "AWS_PROXY")
#: REST APIs' integration timeout: 29 s unless the integration says less.
DEFAULT_TIMEOUT_MS = 29_000
TIMEOUT_MS = (50, 29_000)

_PATH_PART = re.compile(r"[A-Za-z0-9._\-]+|\{[A-Za-z0-9._\-]+\+?\}")
_STAGE_NAME = re.compile(r"[A-Za-z0-9_\-]{1,128}")
#: ``${stageVariables.name}`` in an integration's URI, filled in from the stage.
STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


def _unsupported(what: str) -> NotImplementedException:
    return NotImplementedException(f"gureum does not support {what} on REST APIs yet")


def refuse_unsupported(given: dict[str, Any], supported: Iterable[str], where: str) -> None:
    """NotImplementedException for a member of ``given`` gureum does not act on."""
    allowed = set(supported)
    for member, value in given.items():
        # (what asks for nothing is let through: False, empty; 0 is a value, as in
        # minimumCompressionSize 0, which asks to compress everything)
        asks = value is not None and value is not False and value != [] and value != {}
        if member not in allowed and asks:
            raise _unsupported(f"{member} ({where})")


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadRequestException("Invalid REST API name specified: it cannot be empty.")
    if len(name) > 1024:
        raise BadRequestException("Invalid REST API name specified: at most 1024 characters.")
    return name


def check_endpoint_configuration(config: Any) -> dict[str, Any]:
    """EDGE or REGIONAL (they differ only in DNS, which the edge does not serve);
    PRIVATE would need VPC endpoints."""
    config = dict(config or {"types": ["EDGE"]})
    types = config.get("types") or ["EDGE"]
    if len(types) != 1 or types[0] not in ("EDGE", "REGIONAL", "PRIVATE"):
        raise BadRequestException(
            f"Invalid endpoint configuration types: {types}. Give one of EDGE, REGIONAL, PRIVATE."
        )
    if types[0] == "PRIVATE":
        raise _unsupported("PRIVATE endpoints (endpointConfiguration)")
    if config.get("vpcEndpointIds"):
        raise _unsupported("vpcEndpointIds (endpointConfiguration)")
    return {"types": list(types)}


def check_path_part(part: Any) -> str:
    if not isinstance(part, str) or not _PATH_PART.fullmatch(part):
        raise BadRequestException(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning "
            "and the end and an optional plus sign before the closing brace."
        )
    return part


def is_variable(part: str) -> bool:
    return part.startswith("{")


def is_greedy(part: str) -> bool:
    return part.endswith("+}")


def child_path(parent_path: str, part: str) -> str:
    return parent_path.rstrip("/") + "/" + part


def check_child(parent: dict[str, Any], siblings: list[dict[str, Any]], part: str) -> None:
    """A new resource ``part`` under ``parent`` among its ``siblings`` (their configs),
    as API Gateway allows it: not under a greedy variable, one name per parent, one
    variable child per parent, a variable's name not used above it."""
    parent_part = str(parent.get("pathPart") or "")
    if is_greedy(parent_part):
        raise BadRequestException(
            f"Cannot create a child of a resource with a greedy path variable: {parent_part}"
        )
    for sibling in siblings:
        if sibling.get("pathPart") == part:
            raise ConflictException(
                f"Another resource with the same parent already has this name: {part}"
            )
        if is_variable(part) and is_variable(str(sibling.get("pathPart") or "")):
            raise BadRequestException(
                f"A sibling ({sibling.get('pathPart')}) of this resource already has a "
                "variable path part -- only one is allowed"
            )
    if is_variable(part):
        name = part.strip("{}+")
        above = str(parent.get("path") or "/").split("/")
        if any(segment.strip("{}+") == name and is_variable(segment) for segment in above):
            raise BadRequestException(
                f"Resource's path part variable name {name} is used above it in the path"
            )


def check_method(method: Any) -> str:
    if method not in METHODS:
        raise BadRequestException(
            f"Invalid HttpMethod specified. Valid options are {','.join(METHODS)}"
        )
    return str(method)


def check_authorization(config: dict[str, Any]) -> None:
    kind = config.get("authorizationType")
    if kind not in KNOWN_AUTHORIZATION_TYPES:
        raise BadRequestException(
            f"Invalid authorization type specified: {kind}. Valid values are "
            f"{', '.join(KNOWN_AUTHORIZATION_TYPES)}"
        )
    if kind not in AUTHORIZATION_TYPES:
        raise _unsupported(f"authorizationType {kind} (authorizers)")


def check_integration(config: dict[str, Any]) -> dict[str, Any]:
    """A Lambda proxy integration, checked, with API Gateway's defaults filled in."""
    kind = config.get("type")
    if kind is None:
        raise BadRequestException("Enumeration value for Integration type must be non-empty")
    if kind not in INTEGRATION_TYPES:
        raise BadRequestException(
            f"Invalid integration type specified: {kind}. Valid values are "
            f"{', '.join(INTEGRATION_TYPES)}"
        )
    if kind != "AWS_PROXY":
        raise _unsupported(
            f"integrations of type {kind} (only AWS_PROXY, Lambda proxy integrations)"
        )
    uri = config.get("uri")
    if not uri:
        raise BadRequestException("Invalid integration URI specified: uri is required")
    if isinstance(uri, str):  # (checked as it would be with every stage variable "x")
        uri = STAGE_VARIABLE.sub("x", uri)
    if not is_invoke_uri(uri):
        raise BadRequestException(
            "Integrations of type 'AWS_PROXY' currently only supports Lambda function "
            "invocations: the uri is arn:aws:apigateway:REGION:lambda:path/2015-03-31/"
            "functions/FUNCTION_ARN/invocations"
        )
    function_arn_of(uri)
    method = config.get("httpMethod")
    if method is None:
        raise BadRequestException("Enumeration value for HttpMethod must be non-empty")
    if method != "POST":
        raise BadRequestException(
            "A Lambda proxy integration is invoked with POST: integrationHttpMethod must be "
            f"POST, not {method}"
        )
    timeout = config.setdefault("timeoutInMillis", DEFAULT_TIMEOUT_MS)
    low, high = TIMEOUT_MS
    if not isinstance(timeout, int) or not low <= timeout <= high:
        raise BadRequestException(f"Timeout should be between {low} ms and {high} ms")
    if config.setdefault("connectionType", "INTERNET") != "INTERNET":
        raise _unsupported("connectionType VPC_LINK")
    config.setdefault("passthroughBehavior", "WHEN_NO_MATCH")
    config.setdefault("cacheKeyParameters", [])
    return config


def with_stage_variables(uri: str, variables: Mapping[str, Any]) -> str | None:
    """``uri`` with its ``${stageVariables.name}`` filled in (None: a stage lacks one)."""
    missing = False

    def value(found: re.Match[str]) -> str:
        nonlocal missing
        if found.group(1) not in variables:
            missing = True
            return ""
        return str(variables[found.group(1)])

    filled = STAGE_VARIABLE.sub(value, uri)
    return None if missing else filled


def check_stage_name(name: Any) -> str:
    if not isinstance(name, str) or not _STAGE_NAME.fullmatch(name):
        raise BadRequestException("Stage name only allows a-zA-Z0-9_- and at most 128 characters")
    return name


def check_variables(variables: Any) -> dict[str, Any]:
    """Stage variables: names of letters, digits and underscores, values of at most 2048."""
    return check_stage_variables(dict(variables or {}))


def patched_boolean(value: Any, path: str) -> bool:
    """A boolean member after a patch (whose values are strings: ``"true"``/``"false"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadRequestException(f"Invalid value for {path}: {value!r}; it must be true or false")


def patched(
    config: dict[str, Any], operations: list[dict[str, Any]], paths: dict[str, str]
) -> dict[str, Any]:
    """``config`` with ``operations`` applied: ``paths`` maps each patchable path (or a
    prefix ending in ``/``, for map members) to the member it changes; replace and add
    set, remove drops. Another path is NotImplemented; another op, BadRequest."""
    result = dict(config)
    for operation in operations:
        op, path = operation.get("op"), str(operation.get("path") or "")
        member = None if path.endswith("/") else paths.get(path)
        key = None
        if member is None:
            prefix = next((p for p in paths if p.endswith("/") and path.startswith(p)), None)
            if prefix is None or len(path) == len(prefix):
                raise _unsupported(f"the patch path {path} (patchable: {', '.join(paths)})")
            member, key = paths[prefix], path[len(prefix) :]
        value = operation.get("value")
        if op not in ("replace", "add", "remove"):
            raise BadRequestException(f"Invalid patch operation specified: {op}")
        if key is not None:
            inner = dict(result.get(member) or {})
            if op == "remove":
                inner.pop(key, None)
            else:
                inner[key] = value
            result[member] = inner
        elif op == "remove":
            result.pop(member, None)
        else:
            result[member] = value
    return result
