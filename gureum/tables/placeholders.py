"""ExpressionAttributeNames and ExpressionAttributeValues: one request's placeholders.

Pure (no I/O). DynamoDB checks the two maps once per request, across all the request's
expressions together (an UpdateItem's UpdateExpression and ConditionExpression share
them): a ``#name`` or ``:value`` an expression uses must be defined, and every one
defined must be used by some expression. So one :class:`ExpressionAttributes` is made per
request, every expression of the request is parsed against it, and then
:meth:`~ExpressionAttributes.check_unused` runs.

:class:`ExpressionError` is the error of DynamoDB's expression languages; like every
error of the tables' pure core it is a :class:`~gureum.tables.values.ValidationError`
(a ValidationException on the wire) and carries DynamoDB's message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gureum.tables.values import AttributeValue, SerializationError, ValidationError, validate_value

_NAME_KEY = re.compile(r"#[A-Za-z0-9_]+")
_VALUE_KEY = re.compile(r":[A-Za-z0-9_]+")


class ExpressionError(ValidationError):
    """An expression DynamoDB refuses; ``position`` is a 0-based offset where one is known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class ExpressionAttributes:
    """The placeholders of one request, and which of them its expressions used."""

    def __init__(
        self,
        names: Mapping[str, str] | None = None,
        values: Mapping[str, object] | None = None,
    ) -> None:
        """Validate both maps as DynamoDB does (None: the request did not send it)."""
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValue] = {}
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()
        for given in (names, values):
            if given is not None and not isinstance(given, Mapping):
                raise SerializationError("Start of structure or map found where not expected")
        if names is not None:
            if not names:
                raise ExpressionError("ExpressionAttributeNames must not be empty")
            for key, name in names.items():
                if not isinstance(key, str) or not _NAME_KEY.fullmatch(key):
                    raise ExpressionError(
                        f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"'
                    )
                if not isinstance(name, str):
                    raise ExpressionError(
                        f"ExpressionAttributeNames contains invalid value for key {key}"
                    )
                self.names[key] = name
        if values is not None:
            if not values:
                raise ExpressionError("ExpressionAttributeValues must not be empty")
            for key in values:
                if not isinstance(key, str) or not _VALUE_KEY.fullmatch(key):
                    raise ExpressionError(
                        "ExpressionAttributeValues contains invalid key: "
                        f'Syntax error; key: "{key}"'
                    )
            for key, value in values.items():
                try:
                    self.values[key] = validate_value(value)
                except ValidationError as error:
                    raise ExpressionError(
                        f"ExpressionAttributeValues contains invalid value: {error.message} "
                        f"for key {key}"
                    ) from None

    def name(self, placeholder: str) -> str | None:
        """The attribute name ``#placeholder`` stands for (marked used); None: undefined."""
        name = self.names.get(placeholder)
        if name is not None:
            self.used_names.add(placeholder)
        return name

    def value(self, placeholder: str) -> AttributeValue | None:
        """The value ``:placeholder`` stands for (marked used); None: undefined."""
        value = self.values.get(placeholder)
        if value is not None:
            self.used_values.add(placeholder)
        return value

    def check_unused(self) -> None:
        """Refuse placeholders no expression of the request used, as DynamoDB does."""
        unused_names = [key for key in self.names if key not in self.used_names]
        if unused_names:
            raise ExpressionError(
                "Value provided in ExpressionAttributeNames unused in expressions: "
                f"keys: {{{', '.join(unused_names)}}}"
            )
        unused_values = [key for key in self.values if key not in self.used_values]
        if unused_values:
            raise ExpressionError(
                "Value provided in ExpressionAttributeValues unused in expressions: "
                f"keys: {{{', '.join(unused_values)}}}"
            )
