"""AWS's query protocol: ``POST /`` with a form body (``Action=...&Version=...``) and an
XML answer, as the AWS CLI v1 and older SDKs call CloudWatch.

The form's flattened names (``MetricData.member.1.Dimensions.member.2.Name``) are read
back into the operation's input shape from botocore's model, and the result is written
as XML by its output shape, so one operation serves all of a service's protocols.
Errors are ``<ErrorResponse><Error><Type/><Code/><Message/></Error>`` with the query
code (``InvalidParameterValue``) and the error's status.
"""

from __future__ import annotations

import datetime
import logging
import urllib.parse
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from gureum.errors import (
    InvalidAction,
    InvalidParameterValueException,
    ServiceError,
    ServiceException,
)
from gureum.frontend import operations
from gureum.frontend.json_rpc import Answer, Operation
from gureum.frontend.responses import new_request_id

logger = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class QueryService:
    """One service's operations on the query protocol (``monitoring``'s API version)."""

    operations: dict[str, Operation]
    #: The service's name among botocore's models (``cloudwatch``).
    model: str
    title: str
    internal_error: type[ServiceError] = ServiceException


def _scalar(shape: Shape, raw: str, where: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("double", "float"):
            return float(raw)
        if kind == "boolean":
            return raw.lower() == "true"
        if kind == "timestamp":
            if raw.replace(".", "", 1).isdigit():
                return float(raw)
            return datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidParameterValueException(f"The value {raw} for {where} is invalid.") from exc
    return raw


def _member_key(shape: ListShape, prefix: str) -> str:
    if shape.serialization.get("flattened"):
        return prefix
    return f"{prefix}.{shape.member.serialization.get('name', 'member')}"


def decode(shape: Shape, form: dict[str, str], prefix: str = "") -> Any:
    """The value at ``prefix`` of a flattened form, as ``shape`` says (None: absent)."""
    if isinstance(shape, StructureShape):
        found: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            value = decode(member, form, f"{prefix}.{key}" if prefix else key)
            if value is not None:
                found[name] = value
        return found if found or not prefix else None
    if isinstance(shape, ListShape):
        base = _member_key(shape, prefix)
        items = []
        index = 1
        while True:
            item = decode(shape.member, form, f"{base}.{index}")
            if item is None:
                break
            items.append(item)
            index += 1
        if items:
            return items
        return [] if form.get(prefix) == "" else None
    if isinstance(shape, MapShape):
        entries: dict[str, Any] = {}
        index = 1
        while f"{prefix}.entry.{index}.key" in form:
            key = form[f"{prefix}.entry.{index}.key"]
            entries[key] = decode(shape.value, form, f"{prefix}.entry.{index}.value")
            index += 1
        return entries or None
    raw = form.get(prefix)
    return None if raw is None else _scalar(shape, raw, prefix)


def _xml_scalar(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        if isinstance(value, datetime.datetime):
            moment = value.astimezone(datetime.UTC)
        else:
            moment = datetime.datetime.fromtimestamp(float(value), datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if shape.type_name == "boolean":
        return "true" if value else "false"
    return escape(str(value))


def encode(shape: Shape, value: Any, name: str) -> str:
    """``value`` as the element ``name`` of ``shape``."""
    if isinstance(shape, StructureShape):
        inner = "".join(
            encode(member, value[key], member.serialization.get("name", key))
            for key, member in shape.members.items()
            if key in value and value[key] is not None
        )
        return f"<{name}>{inner}</{name}>"
    if isinstance(shape, ListShape):
        tag = shape.member.serialization.get("name", "member")
        return f"<{name}>" + "".join(encode(shape.member, v, tag) for v in value) + f"</{name}>"
    if isinstance(shape, MapShape):
        entries = "".join(
            f"<entry><key>{escape(str(k))}</key>{encode(shape.value, v, 'value')}</entry>"
            for k, v in value.items()
        )
        return f"<{name}>{entries}</{name}>"
    return f"<{name}>{_xml_scalar(shape, value)}</{name}>"


class QueryEndpoint:
    """``POST /`` with a form body, for the services served on the query protocol."""

    def __init__(self, service: QueryService) -> None:
        self.service = service
        self.model = ServiceModel(operations.service_model(service.model), service.model)
        self.namespace = str(self.model.metadata.get("xmlNamespace", ""))

    @property
    def signing_name(self) -> str:
        return operations.signing_name(self.service.model)

    def _answer(self, status: int, body: str, request_id: str) -> Answer:
        content = ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode()
        headers = [
            (b"x-amzn-requestid", request_id.encode()),
            (b"content-type", b"text/xml"),
            (b"content-length", str(len(content)).encode()),
        ]
        return status, headers, content

    def error(self, error: ServiceError) -> Answer:
        code = getattr(error, "query_code", "") or error.error_type
        fault = "Receiver" if error.status >= 500 else "Sender"
        request_id = new_request_id()
        return self._answer(
            error.status,
            f'<ErrorResponse xmlns="{self.namespace}"><Error><Type>{fault}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>",
            request_id,
        )

    async def call(self, raw: bytes) -> Answer:
        form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        action = form.get("Action", "")
        implemented = self.service.operations.get(action)
        if implemented is None:
            if action in self.model.operation_names:
                return self.error(operations.not_implemented(self.service.title, action))
            return self.error(InvalidAction(f"The action {action} is not valid for this endpoint."))
        model: OperationModel = self.model.operation_model(action)
        try:
            params = decode(model.input_shape, form) if model.input_shape else {}
            result = await implemented(params or {})
        except ServiceError as exc:
            return self.error(exc)
        except Exception:
            logger.exception("unexpected error in %s", action)
            return self.error(self.service.internal_error("An internal error occurred in gureum."))
        output = model.output_shape
        inner = encode(output, result, f"{action}Result") if output is not None else ""
        request_id = new_request_id()
        return self._answer(
            200,
            f'<{action}Response xmlns="{self.namespace}">{inner}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{action}Response>",
            request_id,
        )
