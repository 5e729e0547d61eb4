"""ConditionExpression and FilterExpression trees, evaluated against an item.

Pure (no I/O); :mod:`gureum.tables.expression_parser` builds these trees. The semantics
are DynamoDB's (its developer guide, "Condition and filter expressions, operators, and
functions"), where the guide leaves room as DynamoDB itself behaves:

- An operand that reaches nothing (a missing attribute, a path through the wrong type)
  is *missing*. ``a = b`` is true only when both are present and equal, and ``a <> b``
  is its negation, so ``a <> :v`` holds for an item without ``a``.
- ``<``, ``<=``, ``>``, ``>=`` and ``BETWEEN`` compare two N, two S or two B values
  (numbers numerically, strings by UTF-8 bytes, binary bytewise); any other pair, a
  missing operand included, is false. ``a BETWEEN b AND c`` is ``a >= b AND a <= c``.
- ``IN`` is true when the first operand equals one of the others.
- ``size(path)``: a string's length in UTF-16 code units (as DynamoDB counts), a
  binary's bytes, a set's, list's or map's element count; a number, boolean or null has
  no size (missing), so a comparison with it is false.
- ``begins_with`` takes two strings or two binaries; ``contains(path, operand)`` is a
  substring test for two strings or two binaries, a member test for a set and a value of
  its element type, and an element test (``=``) for a list; any other pair is false.
- ``attribute_type(path, :t)`` compares the value's type with ``:t``'s string.

Precedence, from the parser: comparisons and functions, then ``NOT``, ``AND``, ``OR``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from gureum.tables.documents import Path, resolve
from gureum.tables.values import (
    AttributeValue,
    compare_values,
    decode_binary,
    set_contains,
    value_type,
    values_equal,
)

Document = Mapping[str, AttributeValue]


# operands


@dataclass(frozen=True, slots=True)
class PathOperand:
    """A document path; evaluates to the value there, or None (missing)."""

    path: Path

    def evaluate(self, item: Document) -> AttributeValue | None:
        return resolve(item, self.path)


@dataclass(frozen=True, slots=True)
class ValueOperand:
    """An expression attribute value (``:name``)."""

    placeholder: str
    value: AttributeValue

    def evaluate(self, item: Document) -> AttributeValue | None:
        return self.value


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """A function applied to operands; as an operand only ``size`` has a value here."""

    name: str
    args: tuple[Operand, ...]

    def evaluate(self, item: Document) -> AttributeValue | None:
        if self.name != "size":  # the parser lets no other function be an operand
            return None
        size = size_of(self.args[0].evaluate(item))
        return None if size is None else {"N": str(size)}


Operand = PathOperand | ValueOperand | FunctionCall


def size_of(value: AttributeValue | None) -> int | None:
    """DynamoDB's ``size()`` of a value; None (missing) for N, BOOL, NULL and missing."""
    if value is None:
        return None
    kind = value_type(value)
    data = value[kind]
    if kind == "S":
        return len(str(data).encode("utf-16-le", "surrogatepass")) // 2
    if kind == "B":
        return len(decode_binary(data))
    if kind in ("SS", "NS", "BS", "L", "M"):
        return len(data)
    return None


# conditions


class Condition(ABC):
    """A node of a condition tree."""

    @abstractmethod
    def evaluate(self, item: Document) -> bool:
        """Whether ``item`` satisfies the condition."""


@dataclass(frozen=True, slots=True)
class Comparison(Condition):
    """``left op right`` with op one of ``= <> < <= > >=``."""

    op: str
    left: Operand
    right: Operand

    def evaluate(self, item: Document) -> bool:
        return compare(self.op, self.left.evaluate(item), self.right.evaluate(item))


def compare(op: str, left: AttributeValue | None, right: AttributeValue | None) -> bool:
    """DynamoDB's comparator ``op`` applied to two operand values (None: missing)."""
    if op in ("=", "<>"):
        equal = left is not None and right is not None and values_equal(left, right)
        return equal if op == "=" else not equal
    if left is None or right is None:
        return False
    order = compare_values(left, right)
    if order is None:
        return False
    if op == "<":
        return order < 0
    if op == "<=":
        return order <= 0
    if op == ">":
        return order > 0
    return order >= 0


@dataclass(frozen=True, slots=True)
class Between(Condition):
    """``subject BETWEEN low AND high``, both bounds included."""

    subject: Operand
    low: Operand
    high: Operand

    def evaluate(self, item: Document) -> bool:
        value = self.subject.evaluate(item)
        return compare(">=", value, self.low.evaluate(item)) and compare(
            "<=", value, self.high.evaluate(item)
        )


@dataclass(frozen=True, slots=True)
class In(Condition):
    """``subject IN (candidate, ...)``."""

    subject: Operand
    candidates: tuple[Operand, ...]

    def evaluate(self, item: Document) -> bool:
        value = self.subject.evaluate(item)
        return any(compare("=", value, c.evaluate(item)) for c in self.candidates)


@dataclass(frozen=True, slots=True)
class FunctionCondition(Condition):
    """A boolean function: attribute_exists, attribute_not_exists, attribute_type,
    begins_with or contains."""

    call: FunctionCall

    def evaluate(self, item: Document) -> bool:
        name = self.call.name
        args = [arg.evaluate(item) for arg in self.call.args]
        if name == "attribute_exists":
            return args[0] is not None
        if name == "attribute_not_exists":
            return args[0] is None
        first, second = args
        if first is None or second is None:
            return False
        if name == "attribute_type":
            return value_type(second) == "S" and value_type(first) == second["S"]
        if name == "begins_with":
            return _begins_with(first, second)
        return _contains(first, second)


def _begins_with(value: AttributeValue, prefix: AttributeValue) -> bool:
    kind = value_type(value)
    if kind != value_type(prefix) or kind not in ("S", "B"):
        return False
    if kind == "S":
        return str(value["S"]).startswith(prefix["S"])
    return decode_binary(value["B"]).startswith(decode_binary(prefix["B"]))


def _contains(container: AttributeValue, member: AttributeValue) -> bool:
    kind = value_type(container)
    if kind in ("S", "B"):
        if value_type(member) != kind:
            return False
        if kind == "S":
            return member["S"] in container["S"]
        return decode_binary(member["B"]) in decode_binary(container["B"])
    if kind == "L":
        return any(values_equal(element, member) for element in container["L"])
    if kind in ("SS", "NS", "BS"):
        return set_contains(container, member)
    return False


@dataclass(frozen=True, slots=True)
class And(Condition):
    items: tuple[Condition, ...]

    def evaluate(self, item: Document) -> bool:
        return all(part.evaluate(item) for part in self.items)


@dataclass(frozen=True, slots=True)
class Or(Condition):
    items: tuple[Condition, ...]

    def evaluate(self, item: Document) -> bool:
        return any(part.evaluate(item) for part in self.items)


@dataclass(frozen=True, slots=True)
class Not(Condition):
    item: Condition

    def evaluate(self, item: Document) -> bool:
        return not self.item.evaluate(item)


@dataclass(frozen=True)
class ConditionExpression:
    """A parsed ConditionExpression or FilterExpression.

    ``kind`` names the request member it came from (its errors say "Invalid <kind>");
    ``paths`` lists every document path it reads, in order, for checks the API makes
    (a Query's FilterExpression may not name key attributes).
    """

    text: str
    kind: str
    root: Condition
    paths: tuple[Path, ...]

    def evaluate(self, item: Document | None) -> bool:
        """Whether ``item`` satisfies the condition; None (no item) reads as ``{}``."""
        return self.root.evaluate(item or {})

    @property
    def attributes(self) -> tuple[str, ...]:
        """The top-level attributes the condition reads, in order, once each."""
        return tuple(dict.fromkeys(path.attribute for path in self.paths))
