"""Which AWS operation a request names, read from botocore's service models.

The edge routes only the operations gureum implements. A request for another operation
of a service it serves (Lambda's PublishLayerVersion, SQS's AddPermission) is answered
``NotImplementedException`` (501) naming the operation, so that a user learns what is
missing rather than reading a bare 404 about a path. botocore ships with boto3, and its
models are the same ones the clients build their requests from.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from botocore.loaders import create_loader

from gureum.errors import NotImplementedException

#: The rest-protocol services the edge serves: botocore's name and the name users know.
REST_SERVICES = {
    "lambda": "Lambda",
    "xray": "X-Ray",
    "apigatewayv2": "API Gateway",
    "apigateway": "API Gateway (REST APIs)",
}


@dataclass(frozen=True, slots=True)
class RestOperation:
    """One operation of a rest-protocol service: its method, path pattern and query keys."""

    service: str
    #: The service's name among botocore's models (``lambda``).
    model: str
    name: str
    method: str
    path: re.Pattern[str]
    query_keys: frozenset[str]
    #: How many characters of the path are literal (the more, the more specific a match).
    literal: int


def _path_pattern(uri: str) -> tuple[re.Pattern[str], int]:
    parts = re.split(r"(\{[^}]+\})", uri)
    pattern = "".join(
        (".+" if part.endswith("+}") else "[^/]+") if part.startswith("{") else re.escape(part)
        for part in parts
    )
    literal = sum(len(part) for part in parts if not part.startswith("{"))
    # (clients send some of them with a trailing slash: ListFunctions as /functions/)
    return re.compile(pattern.rstrip("/") + "/?"), literal


@functools.cache
def _model(service: str) -> dict[str, object]:
    model: dict[str, object] = create_loader().load_service_model(service, "service-2")
    return model


@functools.cache
def _rest_operations() -> tuple[RestOperation, ...]:
    found = []
    for service, title in REST_SERVICES.items():
        operations = _model(service)["operations"]
        assert isinstance(operations, dict)
        for name, operation in operations.items():
            uri, _, query = operation["http"]["requestUri"].partition("?")
            pattern, literal = _path_pattern(uri)
            keys = frozenset(key for key, _ in parse_qsl(query, keep_blank_values=True))
            found.append(
                RestOperation(
                    title, service, name, operation["http"]["method"], pattern, keys, literal
                )
            )
    return tuple(found)


def rest_operation(method: str, path: str, query: str) -> RestOperation | None:
    """The operation of a served rest service that ``method path?query`` names, if any."""
    given = {key for key, _ in parse_qsl(query, keep_blank_values=True)}
    matches = [
        op
        for op in _rest_operations()
        if op.method == method and op.path.fullmatch(path) and op.query_keys <= given
    ]
    if not matches:
        return None
    return max(matches, key=lambda op: (len(op.query_keys), op.literal))


def service_model(service: str) -> dict[str, object]:
    """botocore's model of ``service`` (``apigatewayv2``), loaded once."""
    return _model(service)


def signing_name(model: str) -> str:
    """The service name a SigV4 credential scope names for botocore's ``model``."""
    metadata = _model(model)["metadata"]
    assert isinstance(metadata, dict)
    return str(metadata.get("signingName") or metadata["endpointPrefix"])


@functools.lru_cache(maxsize=4096)
def rest_signing_name(method: str, path: str) -> str | None:
    """The signing name of the served rest service a request's path belongs to."""
    for op in _rest_operations():
        if op.method == method and op.path.fullmatch(path):
            return signing_name(op.model)
    return None


def json_operation_exists(service: str, operation: str) -> bool:
    """Whether botocore's model of ``service`` (``sqs``, ``logs``) has ``operation``."""
    operations = _model(service)["operations"]
    assert isinstance(operations, dict)
    return operation in operations


def not_implemented(service: str, operation: str, why: str = "") -> NotImplementedException:
    """The error for an operation gureum does not implement (yet)."""
    message = f"gureum does not implement {service}'s {operation} operation yet"
    return NotImplementedException(f"{message}: {why}" if why else f"{message}.")
