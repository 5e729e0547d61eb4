"""CloudWatch Logs filter patterns, parsed once and matched against messages (no I/O).

Three forms, as CloudWatch has them:

- terms: ``ERROR "a phrase" -excluded ?either ?or %regex%`` (case-sensitive substrings);
- JSON: ``{ $.level = "ERROR" && ($.latency > 100 || $.retry IS TRUE) }``;
- space-delimited: ``[ip, user, ..., status = 5*, size >= 1000]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gureum import untrusted_json

Matcher = Callable[[str], bool]


class FilterPatternError(ValueError):
    """The pattern is not valid filter-pattern syntax."""


@dataclass(frozen=True, slots=True)
class FilterPattern:
    """A parsed pattern: ``matches(message)``, and substrings every match contains."""

    source: str
    matches: Matcher
    #: Plain terms every matching message contains (a store may pre-filter on them).
    required_terms: tuple[str, ...] = ()
    #: True when ``required_terms`` alone decide a match (no further check needed).
    terms_only: bool = False


def parse(pattern: str | None) -> FilterPattern:
    """Parse ``pattern``; an empty pattern matches every message."""
    source = pattern or ""
    text = source.strip()
    if not text:
        return FilterPattern(source, lambda message: True, terms_only=True)
    if text.startswith("{"):
        return FilterPattern(source, _parse_json(text))
    if text.startswith("["):
        return FilterPattern(source, _parse_delimited(text))
    return _parse_terms(source, text)


# terms


@dataclass(slots=True)
class _Terms:
    required: list[Matcher] = field(default_factory=list)
    excluded: list[Matcher] = field(default_factory=list)
    optional: list[Matcher] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    simple: bool = True


def _parse_terms(source: str, text: str) -> FilterPattern:
    terms = _Terms()
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        kind = text[position] if text[position] in "-?" else ""
        position += len(kind)
        if position >= len(text) or text[position].isspace():
            raise FilterPatternError(f"Invalid filter pattern: {kind!r} must precede a term")
        matcher, literal, position = _term(text, position)
        if kind == "-":
            terms.excluded.append(matcher)
        elif kind == "?":
            terms.optional.append(matcher)
        else:
            terms.required.append(matcher)
        if kind or literal is None:
            terms.simple = False
        else:
            terms.plain.append(literal)

    def matches(message: str) -> bool:
        return (
            all(match(message) for match in terms.required)
            and not any(match(message) for match in terms.excluded)
            and (not terms.optional or any(match(message) for match in terms.optional))
        )

    return FilterPattern(source, matches, tuple(terms.plain), terms.simple)


def _term(text: str, position: int) -> tuple[Matcher, str | None, int]:
    """One term at ``position``: a matcher, its literal (None for a regex), the end."""
    if text[position] == '"':
        literal, end = _quoted(text, position)
    elif text[position] == "%":
        regex, end = _regex(text, position)
        return (lambda message: regex.search(message) is not None), None, end
    else:
        end = position
        while end < len(text) and not text[end].isspace():
            end += 1
        literal = text[position:end]
        if '"' in literal:
            raise FilterPatternError(f"Invalid character(s) in term '{literal}'")
    return (lambda message: literal in message), literal, end


def _quoted(text: str, position: int) -> tuple[str, int]:
    """A double-quoted string at ``position`` (``\\"`` and ``\\\\`` escaped)."""
    out = []
    index = position + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in '"\\':
            out.append(text[index + 1])
            index += 2
        elif char == '"':
            return "".join(out), index + 1
        else:
            out.append(char)
            index += 1
    raise FilterPatternError("Invalid filter pattern: unterminated quoted string")


def _regex(text: str, position: int) -> tuple[re.Pattern[str], int]:
    end = text.find("%", position + 1)
    if end < 0:
        raise FilterPatternError("Invalid filter pattern: a regular expression needs a closing %")
    body = text[position + 1 : end]
    if not body:
        raise FilterPatternError("Invalid filter pattern: empty regular expression")
    try:
        return re.compile(body), end + 1
    except re.error as exc:
        raise FilterPatternError(f"Invalid regular expression %{body}%: {exc}") from None


# values shared by JSON and space-delimited patterns

_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


@dataclass(frozen=True, slots=True)
class _Literal:
    """The right side of a comparison: a number, a string (``*`` wildcards) or a regex."""

    text: str
    number: float | None = None
    regex: re.Pattern[str] | None = None

    def compare(self, actual: Any, operator: str) -> bool:
        if self.number is not None and operator in ("<", "<=", ">", ">="):
            value = _as_number(actual)
            if value is None:
                return False
            return {
                "<": value < self.number,
                "<=": value <= self.number,
                ">": value > self.number,
                ">=": value >= self.number,
            }[operator]
        equal = self._equals(actual)
        if equal is None:
            return False
        return equal if operator == "=" else not equal

    def _equals(self, actual: Any) -> bool | None:
        """Whether ``actual`` equals this literal; None when they cannot be compared."""
        if actual is None or isinstance(actual, (bool, dict, list)):
            return None
        if self.regex is not None:
            return self.regex.search(str(actual)) is not None
        if self.number is not None:
            value = _as_number(actual)
            if value is not None:
                return value == self.number
        return _wildcard(self.text).fullmatch(str(actual)) is not None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    return None


def _wildcard(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)


# a tokenizer for the JSON and space-delimited forms

_SPECIAL = '(){}[],=!<>&|"%'


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    """(kind, text) pairs: punctuation, ``op``, ``string``, ``regex``, ``word``."""
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
        elif text.startswith(("&&", "||"), position):
            yield text[position : position + 2], text[position : position + 2]
            position += 2
        elif char in "(){}[],":
            yield char, char
            position += 1
        elif operator := next((o for o in _OPERATORS if text.startswith(o, position)), None):
            yield "op", operator
            position += len(operator)
        elif char == '"':
            value, position = _quoted(text, position)
            yield "string", value
        elif char == "%":
            end = text.find("%", position + 1)
            if end < 0:
                raise FilterPatternError(
                    "Invalid filter pattern: a regular expression needs a closing %"
                )
            yield "regex", text[position : end + 1]
            position = end + 1
        elif char == "$":
            end = position + 1
            # a selector: $.a.b[0].c, $.a[*], $.*
            while end < len(text) and (
                text[end].isalnum() or text[end] in "._-*$@" or text[end] in "[]"
            ):
                end += 1
            yield "selector", text[position:end]
            position = end
        else:
            end = position
            while end < len(text) and not text[end].isspace() and text[end] not in _SPECIAL:
                end += 1
            if end == position:
                raise FilterPatternError(f"Invalid character(s) in filter pattern: {char!r}")
            yield "word", text[position:end]
            position = end


class _Parser:
    """A recursive-descent parser over ``_tokens``, shared by the two structured forms."""

    def __init__(self, text: str) -> None:
        self.tokens = list(_tokens(text))
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, *kinds: str) -> tuple[str, str]:
        token = self.peek()
        if token is None or (kinds and token[0] not in kinds):
            found = "the end" if token is None else repr(token[1])
            raise FilterPatternError(
                f"Invalid filter pattern: expected {' or '.join(kinds)}, found {found}"
            )
        self.index += 1
        return token

    def at(self, *kinds: str) -> bool:
        token = self.peek()
        return token is not None and token[0] in kinds

    def literal(self, operator: str) -> _Literal:
        """The value compared by ``operator``; only numbers are ordered."""
        kind, text = self.take("string", "regex", "word")
        if kind == "regex":
            regex, _ = _regex(text, 0)
            found = _Literal(text, regex=regex)
        elif kind == "word" and _NUMBER.fullmatch(text):
            found = _Literal(text, number=float(text))
        else:
            found = _Literal(text)
        if found.number is None and operator not in ("=", "!="):
            raise FilterPatternError(
                f"Invalid filter pattern: {operator} compares numbers, not {text!r}"
            )
        return found

    def boolean(self, operand: Callable[[], Callable[[Any], bool]]) -> Callable[[Any], bool]:
        """``operand (&& operand)* (|| ...)*`` with parentheses; && binds tighter."""

        def primary() -> Callable[[Any], bool]:
            if self.at("("):
                self.take("(")
                inner = disjunction()
                self.take(")")
                return inner
            return operand()

        def conjunction() -> Callable[[Any], bool]:
            parts = [primary()]
            while self.at("&&"):
                self.take("&&")
                parts.append(primary())
            return parts[0] if len(parts) == 1 else lambda v: all(p(v) for p in parts)

        def disjunction() -> Callable[[Any], bool]:
            parts = [conjunction()]
            while self.at("||"):
                self.take("||")
                parts.append(conjunction())
            return parts[0] if len(parts) == 1 else lambda v: any(p(v) for p in parts)

        return disjunction()


# JSON patterns

_MISSING = object()
_SELECTOR_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]")


def _selector(text: str) -> list[str | int]:
    """``$.a.b[0]`` as steps ``["a", "b", 0]`` (``"*"`` for any member)."""
    steps: list[str | int] = []
    position = 1
    while position < len(text):
        found = _SELECTOR_STEP.match(text, position)
        if not found:
            raise FilterPatternError(f"Invalid JSON selector: {text}")
        name, index = found.groups()
        steps.append(name if name is not None else ("*" if index == "*" else int(index)))
        position = found.end()
    if not steps:
        raise FilterPatternError(f"Invalid JSON selector: {text}")
    return steps


def _select(document: Any, steps: list[str | int]) -> list[Any]:
    """The values ``steps`` reach in ``document`` (wildcards reach several)."""
    values = [document]
    for step in steps:
        reached: list[Any] = []
        for value in values:
            if step == "*":
                if isinstance(value, dict):
                    reached += value.values()
                elif isinstance(value, list):
                    reached += value
            elif isinstance(step, int):
                if isinstance(value, list) and step < len(value):
                    reached.append(value[step])
            elif isinstance(value, dict) and step in value:
                reached.append(value[step])
        values = reached
    return values


def _parse_json(text: str) -> Matcher:
    parser = _Parser(text)
    parser.take("{")

    def comparison() -> Callable[[Any], bool]:
        steps = _selector(parser.take("selector")[1])
        if parser.at("word") and parser.peek() in (("word", "NOT"), ("word", "IS")):
            keyword = parser.take("word")[1]
            if keyword == "NOT":
                if parser.take("word")[1] != "EXISTS":
                    raise FilterPatternError("Invalid filter pattern: expected NOT EXISTS")
                return lambda document: not _select(document, steps)
            expected = parser.take("word")[1]
            constants = {"TRUE": True, "FALSE": False, "NULL": None}
            if expected not in constants:
                raise FilterPatternError("Invalid filter pattern: expected IS TRUE|FALSE|NULL")
            constant = constants[expected]
            return lambda document: any(value is constant for value in _select(document, steps))
        operator = parser.take("op")[1]
        literal = parser.literal(operator)
        return lambda document: any(
            literal.compare(value, operator) for value in _select(document, steps)
        )

    test = parser.boolean(comparison)
    parser.take("}")
    if parser.peek() is not None:
        raise FilterPatternError("Invalid filter pattern: text after the closing }")

    def matches(message: str) -> bool:
        try:
            document = untrusted_json.loads(message)
        except ValueError:
            return False
        return isinstance(document, (dict, list)) and test(document)

    return matches


# space-delimited patterns

_ELLIPSIS = "..."


def _parse_delimited(text: str) -> Matcher:
    parser = _Parser(text)
    parser.take("[")
    fields: list[str] = []
    conditions: list[Callable[[dict[str, str]], bool]] = []

    def comparison() -> Callable[[dict[str, str]], bool]:
        name = parser.take("word")[1]
        operator = parser.take("op")[1]
        literal = parser.literal(operator)
        return lambda bound: name in bound and literal.compare(bound[name], operator)

    while True:
        if parser.at("word") and parser.peek() == ("word", _ELLIPSIS):
            parser.take("word")
            fields.append(_ELLIPSIS)
        else:
            start = parser.index
            name = parser.take("word")[1]
            if parser.at("op", "&&", "||"):
                parser.index = start
                conditions.append(parser.boolean(comparison))
            fields.append(name)
        if parser.at("]"):
            parser.take("]")
            break
        parser.take(",")
    if parser.peek() is not None:
        raise FilterPatternError("Invalid filter pattern: text after the closing ]")

    def matches(message: str) -> bool:
        words = _split_fields(message)
        return any(all(test(bound) for test in conditions) for bound in _bind(fields, words))

    return matches


def _split_fields(message: str) -> list[str]:
    """A message's space-separated fields; ``"..."`` and ``[...]`` are one field each."""
    words = []
    for quoted, bracketed, bare in re.findall(r'"([^"]*)"|\[([^\]]*)\]|(\S+)', message):
        words.append(quoted or bracketed or bare)
    return words


def _bind(fields: list[str], words: list[str]) -> Iterator[dict[str, str]]:
    """Every way ``fields`` (with ``...`` for any number of words) fit ``words``."""
    if not fields:
        if not words:
            yield {}
        return
    head, rest = fields[0], fields[1:]
    if head == _ELLIPSIS:
        for skip in range(len(words) + 1):
            yield from _bind(rest, words[skip:])
        return
    if not words:
        return
    for bound in _bind(rest, words[1:]):
        yield {head: words[0], **bound}
