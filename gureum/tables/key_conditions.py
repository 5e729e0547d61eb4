"""KeyConditionExpression: the partition and the range of sort keys a Query reads.

Pure (no I/O). A key condition is parsed as a condition first, so every condition error
reads as DynamoDB's does ("Invalid KeyConditionExpression: ..."); then its shape is
checked, with DynamoDB's messages: only AND joins conditions; each condition is
``key = :v``, ``key < :v`` (``<=``, ``>``, ``>=``, either way round), ``key BETWEEN :a
AND :b`` or ``begins_with(key, :v)`` on one top-level attribute; one condition per key,
at most two. :meth:`KeyCondition.bind` then checks it against the table's (or index's)
key schema: ``=`` on the partition key, the other condition on the sort key, values of
the keys' types.

:class:`SortKeyCondition` decides whether a sort key matches and gives the range of
:func:`~gureum.tables.values.key_bytes` it spans, for a SQL range scan over a key column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gureum.tables.conditions import (
    And,
    Between,
    Comparison,
    Condition,
    ConditionExpression,
    FunctionCall,
    FunctionCondition,
    In,
    Not,
    Operand,
    Or,
    PathOperand,
    ValueOperand,
    compare,
)
from gureum.tables.placeholders import ExpressionError
from gureum.tables.values import INVALID, AttributeValue, decode_binary, key_bytes, value_type

_FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_CONDITION = "Invalid condition in KeyConditionExpression: "


@dataclass(frozen=True, slots=True)
class KeyTerm:
    """One condition on one key attribute: ``op`` is ``= < <= > >= BETWEEN begins_with``."""

    attribute: str
    op: str
    values: tuple[AttributeValue, ...]


@dataclass(frozen=True, slots=True)
class KeyRange:
    """A range of key bytes; a None bound is open."""

    low: bytes | None
    low_inclusive: bool
    high: bytes | None
    high_inclusive: bool

    def contains(self, key: bytes) -> bool:
        if self.low is not None and (
            key < self.low or (key == self.low and not self.low_inclusive)
        ):
            return False
        return self.high is None or key < self.high or (key == self.high and self.high_inclusive)


@dataclass(frozen=True, slots=True)
class SortKeyCondition:
    """The sort key condition of a Query."""

    attribute: str
    op: str
    values: tuple[AttributeValue, ...]

    def matches(self, value: AttributeValue | None) -> bool:
        """Whether a sort key value satisfies the condition (None: the item has none)."""
        if value is None:
            return False
        if self.op == "BETWEEN":
            low, high = self.values
            return compare(">=", value, low) and compare("<=", value, high)
        if self.op == "begins_with":
            prefix = self.values[0]
            if value_type(value) != value_type(prefix):
                return False
            if value_type(value) == "S":
                return str(value["S"]).startswith(prefix["S"])
            return decode_binary(value["B"]).startswith(decode_binary(prefix["B"]))
        return compare(self.op, value, self.values[0])

    def key_range(self) -> KeyRange:
        """The range of ``key_bytes`` of the sort keys that match."""
        first = key_bytes(self.values[0])
        if self.op == "=":
            return KeyRange(first, True, first, True)
        if self.op in ("<", "<="):
            return KeyRange(None, False, first, self.op == "<=")
        if self.op in (">", ">="):
            return KeyRange(first, self.op == ">=", None, False)
        if self.op == "BETWEEN":
            return KeyRange(first, True, key_bytes(self.values[1]), True)
        return KeyRange(first, True, _successor(first), False)  # begins_with


def _successor(prefix: bytes) -> bytes | None:
    """The smallest bytes greater than every string that starts with ``prefix``."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


@dataclass(frozen=True, slots=True)
class KeyQuery:
    """A key condition bound to a key schema: the partition to read, the sort range."""

    partition_key: str
    partition_value: AttributeValue
    sort: SortKeyCondition | None


@dataclass(frozen=True)
class KeyCondition:
    """A parsed KeyConditionExpression, not yet checked against a key schema."""

    text: str
    terms: tuple[KeyTerm, ...]

    def bind(
        self,
        partition_key: str,
        sort_key: str | None,
        attribute_types: Mapping[str, str],
    ) -> KeyQuery:
        """Check against the key schema (``attribute_types``: each key's S, N or B)."""
        by_attribute = {term.attribute: term for term in self.terms}
        partition = by_attribute.get(partition_key)
        if partition is None:
            raise ExpressionError(f"Query condition missed key schema element: {partition_key}")
        if partition.op != "=":
            raise ExpressionError("Query key condition not supported")
        for term in self.terms:
            if term.attribute not in (partition_key, sort_key):
                if sort_key is None:
                    raise ExpressionError("Query key condition not supported")
                raise ExpressionError(f"Query condition missed key schema element: {sort_key}")
        for term in self.terms:
            wanted = attribute_types.get(term.attribute)
            if any(value_type(value) != wanted for value in term.values):
                raise ExpressionError(
                    INVALID + "Condition parameter type does not match schema type"
                )
        sort = None
        if sort_key is not None and sort_key in by_attribute:
            term = by_attribute[sort_key]
            sort = SortKeyCondition(term.attribute, term.op, term.values)
        return KeyQuery(partition_key, partition.values[0], sort)


def key_condition(expression: ConditionExpression) -> KeyCondition:
    """The terms of a key condition, refused with DynamoDB's messages if misshapen."""
    operator = _invalid_operator(expression.root)
    if operator is not None:
        raise ExpressionError(f"Invalid operator used in KeyConditionExpression: {operator}")
    leaves = expression.root.items if isinstance(expression.root, And) else (expression.root,)
    terms: list[KeyTerm] = []
    for leaf in leaves:
        term = _term(leaf)
        if any(seen.attribute == term.attribute for seen in terms):
            raise ExpressionError("KeyConditionExpressions must only contain one condition per key")
        terms.append(term)
    if len(terms) > 2:
        raise ExpressionError("Conditions can be of length 1 or 2 only")
    return KeyCondition(expression.text, tuple(terms))


def _invalid_operator(node: Condition) -> str | None:
    """The first operator (in reading order) a key condition may not use."""
    if isinstance(node, Or):
        return "OR"
    if isinstance(node, Not):
        return "NOT"
    if isinstance(node, In):
        return "IN"
    if isinstance(node, Comparison) and node.op == "<>":
        return "<>"
    if isinstance(node, FunctionCondition) and node.call.name != "begins_with":
        return node.call.name
    if isinstance(node, And):
        for item in node.items:
            found = _invalid_operator(item)
            if found is not None:
                return found
    return None


def _term(leaf: Condition) -> KeyTerm:
    operands: tuple[Operand, ...]
    if isinstance(leaf, Between):
        op, operands = "BETWEEN", (leaf.subject, leaf.low, leaf.high)
    elif isinstance(leaf, FunctionCondition):
        op, operands = "begins_with", leaf.call.args
    else:
        assert isinstance(leaf, Comparison)
        op, operands = leaf.op, (leaf.left, leaf.right)
    if op in ("BETWEEN", "begins_with") and isinstance(operands[0], ValueOperand):
        raise ExpressionError(
            _CONDITION + f"{op} operator must have the key attribute as its first operand"
        )
    key: PathOperand | None = None
    key_first = True
    values: list[AttributeValue] = []
    for position, operand in enumerate(operands):
        if isinstance(operand, FunctionCall):
            raise ExpressionError("KeyConditionExpressions cannot contain nested operations")
        if isinstance(operand, PathOperand):
            if key is not None:
                raise ExpressionError(_CONDITION + "Multiple attribute names used in one condition")
            if operand.path.nested:
                raise ExpressionError(
                    "KeyConditionExpressions cannot have conditions on nested attributes"
                )
            key, key_first = operand, position == 0
        else:
            values.append(operand.value)
    if key is None:
        raise ExpressionError(_CONDITION + "No key attribute specified")
    if not key_first:
        op = _FLIPPED[op]
    return KeyTerm(key.path.attribute, op, tuple(values))
