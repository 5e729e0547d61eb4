"""Smithy's RPC v2 CBOR protocol: ``POST /service/{Service}/operation/{Operation}`` with
a CBOR body and ``Smithy-Protocol: rpc-v2-cbor``.

CloudWatch's model lists it first (``protocols: ['smithy-rpc-v2-cbor', 'json',
'query']``), so SDKs that implement it call CloudWatch so; the installed botocore (1.43)
does not yet and sends AWS JSON 1.0, which ``json_rpc`` serves. Timestamps travel as CBOR tag
1 (epoch seconds); cbor2 turns them into aware datetimes and back. Errors answer the
error's status with ``{"__type", "message"}``; a service that came from the query
protocol (``awsQueryCompatible``: CloudWatch) also names the query code in
``x-amzn-query-error``, which botocore reports as the code (and so raises the
modelled exception class, ``InvalidParameterValueException``).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

import cbor2

from gureum.errors import (
    SerializationException,
    ServiceError,
    ServiceException,
    UnknownOperationException,
)
from gureum.frontend import operations
from gureum.frontend.json_rpc import Answer, Operation
from gureum.frontend.responses import new_request_id

logger = logging.getLogger(__name__)

PREFIX = "/service/"


@dataclass(frozen=True, slots=True)
class RpcV2Service:
    """One service's operations under its Smithy service name."""

    #: The Smithy service's name in the path (``GraniteServiceVersion20100801``).
    name: str
    operations: dict[str, Operation]
    #: The service's name among botocore's models (``cloudwatch``).
    model: str
    title: str
    #: Prepended to error types in ``__type``.
    error_namespace: str = ""
    #: What the service answers for its own failures (status 500).
    internal_error: type[ServiceError] = ServiceException


def _answer(
    body: object, status: int = 200, extra: list[tuple[bytes, bytes]] | None = None
) -> Answer:
    content = cbor2.dumps(body, datetime_as_timestamp=True, timezone=datetime.UTC)
    headers = [
        (b"x-amzn-requestid", new_request_id().encode()),
        (b"smithy-protocol", b"rpc-v2-cbor"),
        (b"content-type", b"application/cbor"),
        (b"content-length", str(len(content)).encode()),
        *(extra or []),
    ]
    return status, headers, content


def parse_path(path: str) -> tuple[str, str] | None:
    """``(service, operation)`` of a ``/service/{S}/operation/{O}`` path, else None."""
    if not path.startswith(PREFIX):
        return None
    service, sep, rest = path[len(PREFIX) :].partition("/operation/")
    if not sep or not service or not rest or "/" in rest:
        return None
    return service, rest


class RpcV2Endpoint:
    """Every RPC v2 CBOR service, told apart by the path's service name."""

    def __init__(self, services: list[RpcV2Service]) -> None:
        self.services = {service.name: service for service in services}

    def signing_name(self, path: str) -> str | None:
        """The SigV4 name of the service ``path`` calls (None: no served one)."""
        parsed = parse_path(path)
        service = self.services.get(parsed[0]) if parsed else None
        return operations.signing_name(service.model) if service else None

    def addressed(self, method: str, path: str) -> bool:
        parsed = parse_path(path)
        return method == "POST" and parsed is not None and parsed[0] in self.services

    def error(self, service: RpcV2Service, error: ServiceError) -> Answer:
        code = getattr(error, "query_code", "") or error.error_type
        fault = "Receiver" if error.status >= 500 else "Sender"
        return _answer(
            {"__type": service.error_namespace + error.error_type, "message": error.message},
            error.status,
            [
                (b"x-amzn-errortype", error.error_type.encode()),
                (b"x-amzn-query-error", f"{code};{fault}".encode()),
            ],
        )

    def error_for(self, path: str, error: ServiceError) -> Answer | None:
        """``error`` as the service ``path`` names answers it (None: no such service)."""
        parsed = parse_path(path)
        service = self.services.get(parsed[0]) if parsed else None
        return self.error(service, error) if service else None

    async def call(self, path: str, raw: bytes) -> Answer:
        parsed = parse_path(path)
        assert parsed is not None
        service = self.services[parsed[0]]
        name = parsed[1]
        operation = service.operations.get(name)
        if operation is None:
            if operations.json_operation_exists(service.model, name):
                return self.error(service, operations.not_implemented(service.title, name))
            return self.error(service, UnknownOperationException(f"Unknown operation {name!r}"))
        try:
            params = cbor2.loads(raw) if raw else {}
        except (cbor2.CBORDecodeError, ValueError):
            params = None
        if not isinstance(params, dict):
            bad = SerializationException("The request body is not a CBOR map")
            return self.error(service, bad)
        try:
            result = await operation(params)
        except ServiceError as exc:
            return self.error(service, exc)
        except Exception:
            logger.exception("unexpected error in %s.%s", service.name, name)
            internal = service.internal_error("An internal error occurred in gureum.")
            return self.error(service, internal)
        return _answer(result)
