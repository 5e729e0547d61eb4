"""Tokenizer and parsers for DynamoDB's expression languages.

This module holds the tokenizer, what the grammars share (paths, placeholders, function
calls, error ranking) in :class:`ExpressionParser`, and the ProjectionExpression grammar;
:mod:`~gureum.tables.condition_parser` and :mod:`~gureum.tables.update_parser` hold the
other two. They build the trees of :mod:`~gureum.tables.conditions`,
:mod:`~gureum.tables.updates` and :mod:`~gureum.tables.documents`;
:mod:`~gureum.tables.expressions` is the public face. Keywords are case-insensitive,
function names are not::

    condition  := or
    or         := and (OR and)*
    and        := unary (AND unary)*
    unary      := NOT unary | "(" or ")" | simple
    simple     := operand comparator operand | operand BETWEEN operand AND operand
                | operand IN "(" operand ("," operand)* ")" | function
    operand    := path | :value | function | "(" operand ")" ["." name | "[" n "]" ...]
    function   := name "(" operand ("," operand)* ")"
    path       := (name | #name) ("." (name | #name) | "[" digits "]")*

    update     := (SET set ("," set)* | REMOVE path ("," path)*
                  | ADD path :value ("," path :value)* | DELETE path :value (...)*)+
    set        := path "=" (value | "(" value ")")
    value      := uoperand [("+" | "-") uoperand]
    uoperand   := path | :value | function | "(" path | :value | function ")"

    projection := path ("," path)*

A ``(`` where a condition may start opens a group of conditions unless the token after
its matching ``)`` continues an operand (a comparator, BETWEEN, IN, ``.`` or ``[``):
``(a) < (b)`` compares two operands, ``(a < b) OR c`` groups a condition.

Why the boolean layer is a loop with explicit stacks and not recursion: a 4 KB
expression holds thousands of parentheses or NOTs, and DynamoDB answers them with a
ValidationException, never a crash; recursion in Python would exhaust the stack first.
Operands, which legitimately nest only a few levels (``size(a)``, ``list_append(
if_not_exists(l, :e), :v)``), recurse, and past 32 levels the parser stops with the
message DynamoDB gives for the construct nested (an unknown function, ``size`` of a
number, redundant parentheses).

Errors follow DynamoDB's order: a syntax error (``token``, and ``near``: the text from
the token before it to the token after it) at once; the other problems are collected
while parsing and the first of the most important kind is raised, the kinds ranked as
DynamoDB ranks them (for conditions: redundant parentheses, unknown functions, misused
functions, reserved words, then the first comparison or function with an undefined
placeholder, a wrong operand count, repeated operands or a wrong operand type).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gureum.tables.conditions import FunctionCall, Operand, ValueOperand
from gureum.tables.documents import Path, PathElement, path_clash
from gureum.tables.placeholders import ExpressionAttributes, ExpressionError
from gureum.tables.reserved_words import is_reserved
from gureum.tables.values import value_type

MAX_PATH_DEPTH = 32
MAX_OPERATORS = 300
MAX_IN_OPERANDS = 100
#: Function calls and parentheses inside one operand nest at most this deep.
MAX_OPERAND_NESTING = 32

CONDITION_FUNCTIONS = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
}
UPDATE_FUNCTIONS = {"if_not_exists": 2, "list_append": 2}
REDUNDANT = "The expression has redundant parentheses;"


# tokens


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # ident, name (#x), value (:x), number, punct, bad, end
    text: str
    start: int
    end: int


_TOKEN = re.compile(
    r"""
     (?P<space>[ \t\r\n]+)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<name>\#[A-Za-z0-9_]+)
    |(?P<value>:[A-Za-z0-9_]+)
    |(?P<number>[0-9]+)
    |(?P<punct><>|<=|>=|[=<>()\[\],.+\-])
    |(?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token; never fails."""
    tokens = [
        Token(str(match.lastgroup), match.group(), match.start(), match.end())
        for match in _TOKEN.finditer(text)
        if match.lastgroup != "space"
    ]
    tokens.append(Token("end", "<EOF>", len(text), len(text)))
    return tokens


def _matching_parens(tokens: list[Token]) -> dict[int, int]:
    """Index of each ``(`` to the index of its ``)``, for those that have one."""
    stack: list[int] = []
    matches: dict[int, int] = {}
    for index, token in enumerate(tokens):
        if token.kind == "punct" and token.text == "(":
            stack.append(index)
        elif token.kind == "punct" and token.text == ")" and stack:
            matches[stack.pop()] = index
    return matches


# what the grammars share


class ExpressionParser:
    """Recursive descent over the tokens of one expression; a grammar subclasses it."""

    #: Words of the grammar that cannot be bare names (AND, SET, ...).
    keywords: frozenset[str] = frozenset()
    #: Problem kinds in the order DynamoDB ranks them (see :meth:`raise_recorded`).
    order: tuple[str, ...] = ()

    def __init__(self, text: str, kind: str, attributes: ExpressionAttributes) -> None:
        self.text = text
        self.kind = kind
        self.attributes = attributes
        self.tokens = tokenize(text)
        self.index = 0
        self.matching = _matching_parens(self.tokens)
        self.errors: dict[str, str] = {}
        self.nesting = 0
        self.paths: list[Path] = []
        self.undefined_values: set[str] = set()

    # tokens

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self) -> Token:
        return self.tokens[min(self.index + 1, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at_punct(self, *texts: str) -> bool:
        return self.token.kind == "punct" and self.token.text in texts

    def at_keyword(self, word: str) -> bool:
        return self.token.kind == "ident" and self.token.text.upper() == word

    def at_function(self) -> bool:
        token, following = self.token, self.peek()
        return (
            token.kind == "ident"
            and token.text.upper() not in self.keywords
            and following.kind == "punct"
            and following.text == "("
        )

    def expect_punct(self, text: str) -> Token:
        if not self.at_punct(text):
            raise self.syntax_error()
        return self.advance()

    # errors

    def syntax_error(self) -> ExpressionError:
        index = self.index
        token = self.tokens[index]
        start = self.tokens[index - 1].start if index > 0 else token.start
        end = token.end
        if token.kind != "end" and self.tokens[index + 1].kind != "end":
            end = self.tokens[index + 1].end
        near = self.text[start:end]
        return ExpressionError(
            f'Invalid {self.kind}: Syntax error; token: "{token.text}", near: "{near}"',
            token.start,
        )

    def record(self, category: str, message: str) -> None:
        """Keep the first problem of each kind; :meth:`raise_recorded` ranks the kinds."""
        self.errors.setdefault(category, message)

    def problem(self, category: str, message: str) -> None:
        """A problem of the part being parsed (conditions rank them per comparison)."""
        self.record(category, message)

    def raise_recorded(self) -> None:
        """Raise the first recorded problem of the highest-ranked kind, if any."""
        for category in self.order:
            if category in self.errors:
                raise ExpressionError(f"Invalid {self.kind}: {self.errors[category]}")

    # paths, values and functions

    def path_name(self) -> str:
        token = self.token
        if token.kind == "ident" and token.text.upper() not in self.keywords:
            self.advance()
            if is_reserved(token.text):
                self.record(
                    "reserved",
                    f"Attribute name is a reserved keyword; reserved keyword: {token.text}",
                )
            return token.text
        if token.kind == "name":
            self.advance()
            name = self.attributes.name(token.text)
            if name is None:
                self.problem(
                    "name",
                    "An expression attribute name used in the document path is not defined; "
                    f"attribute name: {token.text}",
                )
                return token.text
            return name
        raise self.syntax_error()

    def path(self, elements: list[PathElement] | None = None) -> Path:
        """A document path, or the rest of one whose first elements are ``elements``."""
        if elements is None:
            elements = [self.path_name()]
        while True:
            if self.at_punct("."):
                self.advance()
                elements.append(self.path_name())
            elif self.at_punct("["):
                self.advance()
                number = self.token
                if number.kind != "number":
                    raise self.syntax_error()
                self.advance()
                self.expect_punct("]")
                elements.append(int(number.text))
            else:
                break
        if len(elements) > MAX_PATH_DEPTH:
            self.record(
                "depth",
                f"The document path has too many nesting levels; nesting levels: {len(elements)}",
            )
        path = Path(tuple(elements))
        self.paths.append(path)
        return path

    def value_operand(self) -> ValueOperand:
        token = self.advance()
        value = self.attributes.value(token.text)
        if value is None:
            self.undefined_values.add(token.text)
            self.problem(
                "value",
                "An expression attribute value used in expression is not defined; "
                f"attribute value: {token.text}",
            )
            value = {"NULL": True}
        return ValueOperand(token.text, value)

    def static_type(self, operand: object) -> str | None:
        """The type an operand is known to have before any item is read, if any."""
        if isinstance(operand, ValueOperand):
            if operand.placeholder in self.undefined_values:
                return None
            return value_type(operand.value)
        if isinstance(operand, FunctionCall) and operand.name == "size":
            return "N"
        return None

    def enter(self, token: Token) -> None:
        """One operand level deeper at ``token``; past the limit, DynamoDB's verdict."""
        self.nesting += 1
        if self.nesting > MAX_OPERAND_NESTING:
            message = REDUNDANT if token.kind == "punct" else self.too_deep(token.text)
            raise ExpressionError(f"Invalid {self.kind}: {message}", token.start)

    def leave(self) -> None:
        self.nesting -= 1

    def too_deep(self, function: str) -> str:
        """What DynamoDB says of ``function`` nested past the limit."""
        return f"Invalid function name; function: {function}"

    def function_call(self) -> FunctionCall:
        name = self.advance()
        self.enter(name)
        self.advance()  # the "("
        args = [self.argument()]
        while self.at_punct(","):
            self.advance()
            args.append(self.argument())
        self.expect_punct(")")
        self.leave()
        call = FunctionCall(name.text, tuple(args))
        self.check_function(call)
        return call

    def argument(self) -> Operand:
        """A function's argument in this grammar."""
        raise self.syntax_error()

    def check_function(self, call: FunctionCall) -> None:
        """Record the problems of a call (unknown function, operand count or types)."""
        self.record("function_name", f"Invalid function name; function: {call.name}")


class ProjectionParser(ExpressionParser):
    """``path ("," path)*``: no functions, no values."""

    order = ("depth", "reserved", "name", "overlap", "conflict")

    def parse(self) -> list[Path]:
        paths = [self.path()]
        while self.at_punct(","):
            self.advance()
            paths.append(self.path())
        if self.token.kind != "end":
            raise self.syntax_error()
        clash = path_clash(paths)
        if clash is not None:
            self.record(clash[0], clash_message(*clash))
        self.raise_recorded()
        return paths


def operand_count_message(name: str, count: int) -> str:
    return (
        "Incorrect number of operands for operator or function; "
        f"operator or function: {name}, number of operands: {count}"
    )


def operand_type_message(name: str, kind: str) -> str:
    return (
        "Incorrect operand type for operator or function; "
        f"operator or function: {name}, operand type: {kind}"
    )


def requires_path_message(name: str) -> str:
    return f"Operator or function requires a document path; operator or function: {name}"


def clash_message(kind: str, one: Path, two: Path) -> str:
    verb = "overlap" if kind == "overlap" else "conflict"
    return (
        f"Two document paths {verb} with each other; must remove or rewrite one of these "
        f"paths; path one: {one}, path two: {two}"
    )
