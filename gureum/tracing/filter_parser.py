"""The filter-expression parser: text to the tree of :mod:`gureum.tracing.filter_expression`.

Holds the tokenizer, the recursive-descent parser and the public :func:`parse`; the
tree's nodes and their evaluation live in ``filter_expression``.

Grammar. Keywords, ``AND``/``OR``/``NOT``, ``CONTAINS``/``BEGINSWITH``/``ENDSWITH``,
``true``/``false``, ``service``/``edge``/``id``/``group``/``annotation.`` are
case-insensitive; annotation keys, names and string values are case-sensitive::

    expr   := and (OR and)*
    and    := unary ([AND] unary)*       two terms side by side mean AND, as in X-Ray's
                                         own example ``ok !partial duration <3``
    unary  := ("!" | NOT) unary | "(" expr ")" | term
    term   := BOOLEAN [("=" | "!=") (true | false)]
            | NUMBER-KEYWORD ("=" | "!=" | "<" | "<=" | ">" | ">=") number
            | STRING-KEYWORD [("=" | "!=" | CONTAINS | BEGINSWITH | ENDSWITH) "string"]
            | annotation.KEY [operator value]
            | service([ "name" | id(...) ]) ["{" expr "}"]
            | edge("name" | id(...), "name" | id(...)) ["{" expr "}"]
            | group.name ("=" | "!=") "string" | group.arn ("=" | "!=") "string"
            | rootcause.(fault|error|responsetime).(service|entity|exception) ["{" expr "}"]
            | rootcause.json = #<JSON>
    id(...) := id(name: "..", type: "..", account.id: "..")   (any of the three)

Strings are double-quoted with JSON's backslash escapes; numbers are ints or floats
(``responsetime`` and ``duration`` in seconds).

``rootcause.*`` and ``rootcause.json`` are parsed (so their syntax errors are reported as
such) and recorded as unsupported; :func:`parse_tree` then raises
:class:`~gureum.tracing.filter_expression.UnsupportedFilter` at their position.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gureum.tracing.filter_expression import (
    BOOLEAN_KEYWORDS,
    EQUALITY,
    NUMBER_KEYWORDS,
    NUMBER_OPERATORS,
    STRING_KEYWORDS,
    STRING_OPERATORS,
    Always,
    And,
    Annotation,
    Compare,
    Context,
    Edge,
    Expression,
    FilterSyntaxError,
    Flag,
    Group,
    GroupResolver,
    IsSet,
    Node,
    Not,
    Or,
    RootCause,
    Scalar,
    Service,
    ServiceId,
    UnsupportedFilter,
)

_WORD_OPERATORS = frozenset({"contains", "beginswith", "endswith"})
_NOT_OPERANDS = frozenset({"and", "or", "true", "false"}) | _WORD_OPERATORS
_ROOTCAUSE = re.compile(r"rootcause\.(fault|error|responsetime)\.(service|entity|exception)")
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9_]+")
_MAX_GROUP_DEPTH = 8
#: Parentheses, braces and ``!`` nest at most this deep (deeper is a syntax error).
_MAX_NESTING = 100


# tokens


@dataclass(frozen=True)
class _Token:
    kind: Literal["word", "string", "number", "op", "punct", "json", "end"]
    text: str  # as written
    position: int
    value: Scalar | None = None

    def describe(self) -> str:
        return "end of expression" if self.kind == "end" else f"'{self.text}'"


_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATOR = re.compile(r"!=|<=|>=|=|<|>|!")
_PUNCTUATION = "(){},:"
_JSON = json.JSONDecoder(strict=False)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while True:
        space = _SPACE.match(text, position)
        if space:
            position = space.end()
        if position >= len(text):
            tokens.append(_Token("end", "", len(text)))
            return tokens
        token = _next_token(text, position)
        tokens.append(token)
        position += len(token.text)


def _next_token(text: str, position: int) -> _Token:
    char = text[position]
    if char == '"':
        return _string(text, position)
    if char == "#":
        return _json(text, position)
    if char in _PUNCTUATION:
        return _Token("punct", char, position)
    for kind, pattern in (("word", _WORD), ("number", _NUMBER), ("op", _OPERATOR)):
        found = pattern.match(text, position)
        if found:
            lexeme = found.group()
            if kind == "number":
                return _number(lexeme, position)
            return _Token("word" if kind == "word" else "op", lexeme, position)
    raise FilterSyntaxError(f"unexpected character {char!r}", position)


def _number(lexeme: str, position: int) -> _Token:
    try:
        value: Scalar = int(lexeme) if re.fullmatch(r"-?\d+", lexeme) else float(lexeme)
    except ValueError:  # more digits than int() takes
        raise FilterSyntaxError("number too long", position) from None
    return _Token("number", lexeme, position, value)


def _string(text: str, start: int) -> _Token:
    position = start + 1
    while position < len(text) and text[position] != '"':
        position += 2 if text[position] == "\\" else 1
    if position >= len(text):
        raise FilterSyntaxError("unterminated string", start)
    lexeme = text[start : position + 1]
    try:
        value = _JSON.decode(lexeme)
    except json.JSONDecodeError as error:
        raise FilterSyntaxError("invalid escape in string", start + error.pos) from None
    return _Token("string", lexeme, start, value)


def _json(text: str, start: int) -> _Token:
    """``#`` and the JSON document after it (``rootcause.json = #[...]``)."""
    position = start + 1
    while position < len(text) and text[position].isspace():
        position += 1
    try:
        _, end = _JSON.raw_decode(text, position)
    except json.JSONDecodeError as error:
        raise FilterSyntaxError(f"invalid JSON after '#': {error.msg}", error.pos) from None
    except RecursionError:
        raise FilterSyntaxError("JSON after '#' nests too deeply", position) from None
    return _Token("json", text[start:end], start)


# parser


class _Parser:
    """Recursive descent over the tokens; NOT binds tightest, then AND, then OR."""

    def __init__(self, text: str, resolve_group: GroupResolver | None, depth: int) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.resolve_group = resolve_group
        self.depth = depth
        self.nesting = 0
        #: (message, position) of each construct gureum parses but cannot evaluate.
        self.unsupported: list[tuple[str, int]] = []

    # token helpers

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, kind: str, *texts: str) -> bool:
        token = self.token
        return token.kind == kind and (not texts or token.text.lower() in texts)

    def expect(self, kind: str, text: str, what: str) -> _Token:
        if not self.at(kind, text):
            raise self.unexpected(f"expected {what}")
        return self.advance()

    def unexpected(self, expected: str | None = None) -> FilterSyntaxError:
        token = self.token
        found = "end of expression" if token.kind == "end" else f"token '{token.text}'"
        message = f"unexpected {found}" + (f", {expected}" if expected else "")
        return FilterSyntaxError(message, token.position)

    # boolean structure

    def parse(self) -> Node:
        node = self.disjunction("trace")
        if self.token.kind != "end":
            raise self.unexpected()
        return node

    def disjunction(self, context: Context) -> Node:
        items = [self.conjunction(context)]
        while self.at("word", "or"):
            self.advance()
            items.append(self.conjunction(context))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self, context: Context) -> Node:
        items = [self.unary(context)]
        while self.at("word", "and") or self.starts_operand():
            if self.at("word", "and"):
                self.advance()
            items.append(self.unary(context))
        return items[0] if len(items) == 1 else And(tuple(items))

    def starts_operand(self) -> bool:
        token = self.token
        if token.kind == "word":
            return token.text.lower() not in _NOT_OPERANDS
        return (token.kind, token.text) in {("op", "!"), ("punct", "(")}

    def unary(self, context: Context) -> Node:
        if self.at("op", "!") or self.at("word", "not"):
            self.enter(self.advance())
            node: Node = Not(self.unary(context))
            self.nesting -= 1
            return node
        if self.at("punct", "("):
            opening = self.advance()
            self.enter(opening)
            node = self.disjunction(context)
            if self.token.kind == "end":
                raise FilterSyntaxError("unclosed '('", opening.position)
            self.expect("punct", ")", "expected ')'")
            self.nesting -= 1
            return node
        if self.token.kind != "word" or not self.starts_operand():
            raise self.unexpected()
        return self.term(context)

    def enter(self, token: _Token) -> None:
        """One level deeper under ``token``; refuse nesting that would exhaust the stack."""
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise FilterSyntaxError("expression nests too deeply", token.position)

    # terms

    def term(self, context: Context) -> Node:
        token = self.token
        word = token.text.lower()
        if word in BOOLEAN_KEYWORDS | NUMBER_KEYWORDS | STRING_KEYWORDS:
            self.advance()
            return self.keyword(word, token)
        complex_parsers: dict[str, Callable[[], Node]] = {
            "service": self.service,
            "edge": self.edge,
            "group.name": self.group,
            "group.arn": self.group,
            "rootcause.json": self.rootcause_json,
            "json": self.rootcause_json,
        }
        is_complex = (
            word in complex_parsers
            or word.startswith("annotation.")
            or _ROOTCAUSE.fullmatch(word) is not None
        )
        if not is_complex:
            raise FilterSyntaxError(f"unknown keyword '{token.text}'", token.position)
        if context != "trace":
            raise FilterSyntaxError(
                f"'{token.text}' cannot be used inside a {context} filter", token.position
            )
        if word.startswith("annotation."):
            return self.annotation()
        if word in complex_parsers:
            return complex_parsers[word]()
        return self.rootcause()

    def keyword(self, keyword: str, token: _Token) -> Node:
        operators: tuple[str, ...]
        bare: Node | None
        if keyword in BOOLEAN_KEYWORDS:
            operators, kind, bare = EQUALITY, "boolean", Flag(keyword)
        elif keyword in NUMBER_KEYWORDS:
            operators, kind, bare = NUMBER_OPERATORS, "number", None
        else:
            operators, kind, bare = STRING_OPERATORS, "string", IsSet(keyword)
        op = self.operator()
        if op is None:
            if bare is None:
                raise self.unexpected(f"expected an operator after '{token.text}'")
            return bare
        if op.text.lower() not in operators:
            raise FilterSyntaxError(
                f"operator '{op.text}' is not valid for {kind} keyword '{token.text}'",
                op.position,
            )
        return Compare(keyword, op.text.lower(), self.value(kind))

    def operator(self) -> _Token | None:
        """The comparison operator at the cursor, taken; None when there is none."""
        if self.at("op", *NUMBER_OPERATORS) or self.at("word", *_WORD_OPERATORS):
            return self.advance()
        return None

    def value(self, kind: str) -> Scalar:
        token = self.token
        if kind == "boolean" and self.at("word", "true", "false"):
            self.advance()
            return token.text.lower() == "true"
        if kind == "number" and token.kind == "number":
            self.advance()
            assert token.value is not None
            return token.value
        if kind == "string" and token.kind == "string":
            self.advance()
            assert token.value is not None
            return token.value
        wanted = {"boolean": "true or false", "number": "a number", "string": "a quoted string"}
        raise self.unexpected(f"expected {wanted[kind]}")

    def annotation(self) -> Node:
        token = self.advance()
        key = token.text[len("annotation.") :]
        key_position = token.position + len("annotation.")
        if not key:
            raise FilterSyntaxError("missing annotation key after 'annotation.'", key_position)
        if not _ANNOTATION_KEY.fullmatch(key):
            raise FilterSyntaxError(
                f"invalid annotation key '{key}' (letters, digits and underscores)",
                key_position,
            )
        op = self.operator()
        if op is None:
            return Annotation(key)
        operator = op.text.lower()
        value_token = self.token
        kinds = {"string": "string", "number": "number"}
        if self.at("word", "true", "false"):
            kind = "boolean"
        elif value_token.kind in kinds:
            kind = kinds[value_token.kind]
        else:
            raise self.unexpected("expected a string, number, true or false")
        allowed = {"string": STRING_OPERATORS, "number": NUMBER_OPERATORS, "boolean": EQUALITY}
        if operator not in allowed[kind]:
            raise FilterSyntaxError(
                f"operator '{op.text}' is not valid for a {kind} value", op.position
            )
        return Annotation(key, operator, self.value(kind))

    def subfilter(self, context: Context) -> Node | None:
        """An optional ``{ filter }`` read in ``context``."""
        if not self.at("punct", "{"):
            return None
        opening = self.advance()
        node = self.disjunction(context)
        if self.token.kind == "end":
            raise FilterSyntaxError("unclosed '{'", opening.position)
        self.expect("punct", "}", "expected '}'")
        return node

    def service(self) -> Node:
        self.advance()
        self.expect("punct", "(", "expected '(' after 'service'")
        selector = None if self.at("punct", ")") else self.selector()
        self.expect("punct", ")", "expected ')'")
        return Service(selector, self.subfilter("service"))

    def edge(self) -> Node:
        self.advance()
        self.expect("punct", "(", "expected '(' after 'edge'")
        source = self.selector()
        self.expect("punct", ",", "expected ',' between the edge's two services")
        target = self.selector()
        self.expect("punct", ")", "expected ')'")
        return Edge(source, target, self.subfilter("edge"))

    def selector(self) -> ServiceId:
        """A quoted service name or ``id(name: .., type: .., account.id: ..)``."""
        token = self.token
        if token.kind == "string":
            self.advance()
            assert isinstance(token.value, str)
            return ServiceId(name=token.value)
        if not self.at("word", "id"):
            raise self.unexpected("expected a quoted service name or id(...)")
        self.advance()
        self.expect("punct", "(", "expected '(' after 'id'")
        fields: dict[str, str] = {}
        while True:
            label = self.token
            if not self.at("word", "name", "type", "account.id"):
                raise self.unexpected("expected name, type or account.id")
            if label.text.lower() in fields:
                raise FilterSyntaxError(f"'{label.text}' given twice in id()", label.position)
            self.advance()
            self.expect("punct", ":", f"expected ':' after '{label.text}'")
            fields[label.text.lower()] = str(self.value("string"))
            if not self.at("punct", ","):
                break
            self.advance()
        self.expect("punct", ")", "expected ')'")
        return ServiceId(fields.get("name"), fields.get("type"), fields.get("account.id"))

    def group(self) -> Node:
        token = self.advance()
        attribute: Literal["name", "arn"] = "name" if token.text.lower() == "group.name" else "arn"
        op = self.operator()
        if op is None:
            raise self.unexpected(f"expected '=' or '!=' after '{token.text}'")
        if op.text not in EQUALITY:
            raise FilterSyntaxError(
                f"operator '{op.text}' is not valid for '{token.text}'", op.position
            )
        value = str(self.value("string"))
        if self.resolve_group is None:
            return Group(attribute, op.text, value)
        node = self.inline_group(attribute, value, token)
        return node if op.text == "=" else Not(node)

    def inline_group(self, attribute: str, value: str, token: _Token) -> Node:
        assert self.resolve_group is not None
        text = self.resolve_group(attribute, value)
        if text is None:
            raise FilterSyntaxError(f"group {attribute} '{value}' not found", token.position)
        if not text.strip():
            return Always()
        if self.depth >= _MAX_GROUP_DEPTH:
            raise FilterSyntaxError("groups refer to each other too deeply", token.position)
        inner = _Parser(text, self.resolve_group, self.depth + 1)
        try:
            node = inner.parse()
        except FilterSyntaxError as error:
            raise FilterSyntaxError(
                f"group '{value}' has an invalid filter expression ({error.message})",
                token.position,
            ) from None
        for message, _ in inner.unsupported:
            self.unsupported.append((f"group '{value}': {message}", token.position))
        return node

    def rootcause(self) -> Node:
        token = self.advance()
        path = token.text.lower()
        self.unsupported.append((f"gureum does not support '{path}' filters yet", token.position))
        return RootCause(path, self.subfilter("rootcause"))

    def rootcause_json(self) -> Node:
        token = self.advance()
        self.expect("op", "=", f"expected '=' after '{token.text}'")
        if self.token.kind != "json":
            raise self.unexpected("expected '#' and a JSON document")
        self.advance()
        self.unsupported.append(
            ("gureum does not support 'rootcause.json' filters yet", token.position)
        )
        return RootCause("rootcause.json")


def parse_tree(text: str, resolve_group: GroupResolver | None) -> Node:
    """The tree of ``text``; :class:`FilterSyntaxError` when it is invalid.

    Raises :class:`UnsupportedFilter` at the first construct gureum parses but does not
    evaluate (``rootcause``). ``resolve_group`` is as for :func:`parse`.
    """
    parser = _Parser(text, resolve_group, 0)
    root = parser.parse()
    if parser.unsupported:
        message, position = parser.unsupported[0]
        raise UnsupportedFilter(message, position)
    return root


def parse(text: str, *, resolve_group: GroupResolver | None = None) -> Expression:
    """Parse a filter expression; raise :class:`FilterSyntaxError` when it is invalid.

    ``resolve_group(attribute, value)`` (attribute ``"name"`` or ``"arn"``) returns a
    group's own filter expression, inlined for ``group.name = ..`` (an empty one matches
    every trace); it returns None for an unknown group, a FilterSyntaxError. Without it,
    ``group.*`` reads ``TraceView.groups``. Raises :class:`UnsupportedFilter` for valid
    ``rootcause`` filters, which gureum does not evaluate yet.
    """
    return Expression(text, parse_tree(text, resolve_group))
