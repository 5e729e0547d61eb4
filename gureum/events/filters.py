"""Lambda's event filtering: a mapping's ``FilterCriteria``, applied before batching.

``FilterCriteria`` holds up to five ``Filters``, each a ``Pattern``: a JSON object in
the pattern language Lambda shares with EventBridge. A record is delivered when any
pattern matches it. In a pattern, every key must match (AND); a key's value is a
nested pattern (for an object in the record) or a list of conditions, any of which
matches (OR); ``"$or": [pattern, ...]`` matches when one of its patterns does. The
conditions: a literal (string, number, boolean, null; numbers compare as numbers),
``{"prefix": s}``, ``{"suffix": s}``, ``{"equals-ignore-case": s}``, ``{"anything-but":
literal | [literals] | {"prefix": s} | {"suffix": s}}``, ``{"numeric": [op, n(, op,
n)]}`` with ``= < <= > >=``, and ``{"exists": true|false}``. A record's list value
matches when any of its elements does.

For queues, patterns read the message's ``body``: a pattern that describes the body's
properties (an object) matches a JSON object body, and never a body that is not one
(such messages are filtered out, as Lambda drops them); a list of conditions under
``body`` matches the body as text. Filtered-out messages are deleted.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gureum.errors import InvalidParameterValueException

MAX_FILTERS = 5
MAX_PATTERN = 4096
_NUMERIC = {"=", "<", "<=", ">", ">="}
_OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists"}


def _invalid(detail: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(f"Invalid filter pattern definition. {detail}")


def _check_pattern(pattern: Any, where: str) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise _invalid(f"{where} must be a non-empty JSON object")
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _invalid("$or takes a list of at least two patterns")
            for inner in value:
                _check_pattern(inner, "each pattern of $or")
        elif isinstance(value, dict):
            _check_pattern(value, f"the value of {key}")
        elif isinstance(value, list):
            if not value:
                raise _invalid(f"the conditions of {key} must not be empty")
            for condition in value:
                _check_condition(condition, key)
        else:
            raise _invalid(f"the value of {key} must be an object or a list of conditions")


def _check_condition(condition: Any, key: str) -> None:
    if condition is None or isinstance(condition, str | int | float | bool):
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise _invalid(f"a condition of {key} must be a value or an object of one operator")
    ((operator, operand),) = condition.items()
    if operator not in _OPERATORS:
        raise _invalid(f"unknown operator {operator!r} in a condition of {key}")
    if operator in ("prefix", "suffix", "equals-ignore-case") and not isinstance(operand, str):
        raise _invalid(f"{operator} takes a string")
    if operator == "exists" and not isinstance(operand, bool):
        raise _invalid("exists takes true or false")
    if operator == "numeric":
        if not isinstance(operand, list) or len(operand) not in (2, 4):
            raise _invalid("numeric takes [operator, number] or two such pairs")
        for at in range(0, len(operand), 2):
            op, number = operand[at], operand[at + 1]
            if (
                op not in _NUMERIC
                or isinstance(number, bool)
                or not isinstance(number, int | float)
            ):
                raise _invalid("numeric's operators are = < <= > >= and its operands numbers")
    if operator == "anything-but":
        literals = operand if isinstance(operand, list) else [operand]
        if isinstance(operand, dict):
            if len(operand) != 1 or next(iter(operand)) not in ("prefix", "suffix"):
                raise _invalid("anything-but takes values, or {prefix} or {suffix}")
        elif not all(v is None or isinstance(v, str | int | float | bool) for v in literals):
            raise _invalid("anything-but takes values")


def _same(literal: Any, value: Any) -> bool:
    if isinstance(literal, bool) or isinstance(value, bool):
        return literal is value
    if isinstance(literal, int | float) and isinstance(value, int | float):
        return float(literal) == float(value)
    return bool(literal == value)


def _numeric(bounds: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    for at in range(0, len(bounds), 2):
        op, number = bounds[at], bounds[at + 1]
        ok = {
            "=": value == number,
            "<": value < number,
            "<=": value <= number,
            ">": value > number,
            ">=": value >= number,
        }[op]
        if not ok:
            return False
    return True


def _condition(condition: Any, value: Any) -> bool:
    """Whether one present value meets one condition (``exists`` is decided above)."""
    if not isinstance(condition, dict):
        return _same(condition, value)
    ((operator, operand),) = condition.items()
    if operator == "exists":
        return bool(operand)
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == operand.lower()
    if operator == "numeric":
        return _numeric(operand, value)
    # anything-but
    if isinstance(operand, dict):
        ((kind, text),) = operand.items()
        if not isinstance(value, str):
            return True
        return not (value.startswith(text) if kind == "prefix" else value.endswith(text))
    literals = operand if isinstance(operand, list) else [operand]
    return not any(_same(literal, value) for literal in literals)


def _conditions(conditions: list[Any], present: bool, value: Any) -> bool:
    for condition in conditions:
        if isinstance(condition, dict) and "exists" in condition:
            if condition["exists"] is present:
                return True
            continue
        if not present:
            continue
        values = value if isinstance(value, list) else [value]
        if any(_condition(condition, item) for item in values):
            return True
    return False


def matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    for key, wanted in pattern.items():
        if key == "$or":
            if not any(matches(inner, record) for inner in wanted):
                return False
            continue
        present = key in record
        value = record.get(key)
        if isinstance(wanted, dict):
            if not present or not isinstance(value, dict) or not matches(wanted, value):
                return False
        elif not _conditions(wanted, present, value):
            return False
    return True


@dataclass(frozen=True, slots=True)
class FilterSet:
    """A mapping's compiled FilterCriteria (no patterns: every record passes)."""

    patterns: tuple[dict[str, Any], ...]

    @classmethod
    def parse(cls, criteria: Any) -> FilterSet:
        """``FilterCriteria`` as the Lambda API takes it; InvalidParameterValueException
        for a pattern that is not one."""
        if criteria is None:
            return cls(())
        if not isinstance(criteria, dict):
            raise _invalid("FilterCriteria must be an object")
        filters = criteria.get("Filters") or []
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
            raise InvalidParameterValueException(
                f"FilterCriteria takes at most {MAX_FILTERS} filters"
            )
        patterns = []
        for item in filters:
            text = item.get("Pattern") if isinstance(item, dict) else None
            if not isinstance(text, str) or len(text) > MAX_PATTERN:
                raise _invalid(f"a Pattern is a JSON string of at most {MAX_PATTERN} characters")
            try:
                pattern = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise _invalid("a Pattern must be JSON") from None
            _check_pattern(pattern, "a Pattern")
            patterns.append(pattern)
        return cls(tuple(patterns))

    def passes_record(self, record: Mapping[str, Any]) -> bool:
        """Whether a stream's record passes: a DynamoDB stream record as it is; a
        Kinesis record by its ``kinesis`` members, its ``data`` decoded (and read as
        JSON when it is JSON), as Lambda filters them."""
        if not self.patterns:
            return True
        view: dict[str, Any] = dict(record)
        kinesis = record.get("kinesis")
        if isinstance(kinesis, dict):
            view.update(kinesis)
            try:
                text = base64.b64decode(str(kinesis.get("data", ""))).decode()
                view["data"] = orjson.loads(text)
            except (ValueError, UnicodeDecodeError, orjson.JSONDecodeError):
                view["data"] = kinesis.get("data")
        return any(matches(pattern, view) for pattern in self.patterns)

    def passes_message(self, body: str, record: Mapping[str, Any]) -> bool:
        """Whether a queue message (its body and the rest of its record) passes."""
        if not self.patterns:
            return True
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        for pattern in self.patterns:
            wanted = pattern.get("body")
            if isinstance(wanted, dict):
                view = {**record, "body": parsed} if isinstance(parsed, dict) else None
            else:
                view = {**record, "body": body}
            if view is not None and matches(pattern, view):
                return True
        return False
