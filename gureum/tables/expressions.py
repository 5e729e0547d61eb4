"""DynamoDB's expression languages: the public face.

Pure (no I/O). One :class:`ExpressionAttributes` per request holds its
ExpressionAttributeNames and ExpressionAttributeValues; each expression of the request
is parsed against it, then :meth:`ExpressionAttributes.check_unused` refuses
placeholders none of them used:

- :func:`parse_condition` (ConditionExpression) and :func:`parse_filter`
  (FilterExpression) give a :class:`~gureum.tables.conditions.ConditionExpression`
  whose ``evaluate(item)`` decides it;
- :func:`parse_update` gives an :class:`~gureum.tables.updates.UpdateExpression` whose
  ``apply(item)`` gives the new item and what ReturnValues needs;
- :func:`parse_projection` gives a
  :class:`~gureum.tables.documents.ProjectionExpression` whose ``apply(item)`` shapes the
  returned item;
- :func:`parse_key_condition` gives a :class:`~gureum.tables.key_conditions.KeyCondition`
  whose ``bind(...)`` checks it against the key schema.

Every refusal is an :class:`ExpressionError` (a
:class:`~gureum.tables.values.ValidationError`) carrying DynamoDB's message; nothing
else escapes, whatever the text: an expression over 4 KB, 300 operators or 32 path
levels, deep nesting and token soup all end in one. The parsers live in
:mod:`~gureum.tables.expression_parser` (which says how they are built and why),
:mod:`~gureum.tables.condition_parser` and :mod:`~gureum.tables.update_parser`.
"""

from __future__ import annotations

from gureum.tables.condition_parser import ConditionParser
from gureum.tables.conditions import ConditionExpression
from gureum.tables.documents import Path, ProjectionExpression
from gureum.tables.expression_parser import ProjectionParser
from gureum.tables.key_conditions import KeyCondition, KeyQuery, SortKeyCondition, key_condition
from gureum.tables.placeholders import ExpressionAttributes, ExpressionError
from gureum.tables.update_parser import UpdateParser
from gureum.tables.updates import UpdateExpression, UpdateResult

#: An expression's text may be at most this many bytes of UTF-8.
MAX_EXPRESSION_BYTES = 4096

__all__ = [
    "MAX_EXPRESSION_BYTES",
    "ConditionExpression",
    "ExpressionAttributes",
    "ExpressionError",
    "KeyCondition",
    "KeyQuery",
    "Path",
    "ProjectionExpression",
    "SortKeyCondition",
    "UpdateExpression",
    "UpdateResult",
    "parse_condition",
    "parse_filter",
    "parse_key_condition",
    "parse_projection",
    "parse_update",
]


def _check_text(text: str, kind: str) -> None:
    if not isinstance(text, str):
        raise ExpressionError(f"Invalid {kind}: the expression must be a string")
    if not text:
        raise ExpressionError(f"Invalid {kind}: The expression can not be empty;")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_EXPRESSION_BYTES:
        raise ExpressionError(
            f"Invalid {kind}: Expression size has exceeded the maximum allowed size; "
            f"expression size: {size}"
        )


def parse_condition(
    text: str, attributes: ExpressionAttributes, *, kind: str = "ConditionExpression"
) -> ConditionExpression:
    """A ConditionExpression (or, with ``kind``, a FilterExpression) parsed and checked."""
    _check_text(text, kind)
    parser = ConditionParser(text, kind, attributes)
    return ConditionExpression(text, kind, parser.parse(), tuple(parser.paths))


def parse_filter(text: str, attributes: ExpressionAttributes) -> ConditionExpression:
    """A FilterExpression (Query, Scan) parsed and checked."""
    return parse_condition(text, attributes, kind="FilterExpression")


def parse_update(text: str, attributes: ExpressionAttributes) -> UpdateExpression:
    """An UpdateExpression parsed and checked."""
    _check_text(text, "UpdateExpression")
    return UpdateExpression(text, tuple(UpdateParser(text, "UpdateExpression", attributes).parse()))


def parse_projection(text: str, attributes: ExpressionAttributes) -> ProjectionExpression:
    """A ProjectionExpression parsed and checked."""
    _check_text(text, "ProjectionExpression")
    parser = ProjectionParser(text, "ProjectionExpression", attributes)
    return ProjectionExpression(text, tuple(parser.parse()))


def parse_key_condition(text: str, attributes: ExpressionAttributes) -> KeyCondition:
    """A KeyConditionExpression parsed and its shape checked (see ``KeyCondition.bind``)."""
    return key_condition(parse_condition(text, attributes, kind="KeyConditionExpression"))
