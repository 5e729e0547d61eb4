"""The ConditionExpression grammar (also FilterExpression and KeyConditionExpression).

See :mod:`~gureum.tables.expression_parser` for the grammar and why its boolean layer is
a loop over explicit stacks. Problems are ranked as DynamoDB ranks them: limits, then
redundant parentheses, unknown functions, functions used where they do not belong,
reserved words, and last the first comparison or function condition (in reading order)
with a problem of its own: an undefined placeholder, a wrong operand count, a repeated
operand or a wrong operand type, in that order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gureum.tables.conditions import (
    And,
    Between,
    Comparison,
    Condition,
    FunctionCall,
    FunctionCondition,
    In,
    Not,
    Operand,
    Or,
    PathOperand,
    ValueOperand,
)
from gureum.tables.expression_parser import (
    CONDITION_FUNCTIONS,
    MAX_IN_OPERANDS,
    MAX_OPERATORS,
    REDUNDANT,
    UPDATE_FUNCTIONS,
    ExpressionParser,
    operand_count_message,
    operand_type_message,
    requires_path_message,
)
from gureum.tables.placeholders import ExpressionAttributes
from gureum.tables.values import TYPES, AttributeValue, compare_values, value_type

COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")
ORDERED = ("<", "<=", ">", ">=", "BETWEEN")
ANY_TYPE = "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}"
USED_THIS_WAY = "The function is not allowed to be used this way in an expression; function: "


@dataclass
class _Leaf:
    """Problems of one comparison or function condition, in DynamoDB's order of rank."""

    undefined: list[str] = field(default_factory=list)
    count: list[str] = field(default_factory=list)
    distinct: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    def first(self) -> str | None:
        for problems in (self.undefined, self.count, self.distinct, self.types):
            if problems:
                return problems[0]
        return None


@dataclass
class _Grouped:
    """A condition on the parser's stack, and how many parentheses directly enclose it."""

    node: Condition
    parens: int = 0


class ConditionParser(ExpressionParser):
    """A condition's tree from its text: :meth:`parse`, then ``paths`` it read."""

    keywords = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
    order = (
        "depth",
        "operators",
        "in_operands",
        "parens",
        "function_name",
        "function_use",
        "reserved",
        "condition",
    )

    def __init__(self, text: str, kind: str, attributes: ExpressionAttributes) -> None:
        super().__init__(text, kind, attributes)
        self.leaf: _Leaf | None = None
        self.operators = 0

    def problem(self, category: str, message: str) -> None:
        """Inside a comparison or function condition, a problem of that condition."""
        if self.leaf is None:
            self.record(category, message)
        elif category in ("name", "value"):
            self.leaf.undefined.append(message)
        elif category == "count":
            self.leaf.count.append(message)
        else:
            self.leaf.types.append(message)

    def argument(self) -> Operand:
        return self.operand()

    def too_deep(self, function: str) -> str:
        if function in UPDATE_FUNCTIONS:
            return f"The function is not allowed in a condition expression; function: {function}"
        if function == "size":
            return operand_type_message("size", "N")
        if function in CONDITION_FUNCTIONS:
            return USED_THIS_WAY + function
        return super().too_deep(function)

    def operand(self) -> Operand:
        return self.grouped_operand()[0]

    def grouped_operand(self) -> tuple[Operand, int]:
        """A condition's operand, and how many parentheses directly enclose it."""
        token = self.token
        if self.at_punct("("):
            self.enter(token)
            self.advance()
            inner, parens = self.grouped_operand()
            self.expect_punct(")")
            self.leave()
            if parens:
                self.record("parens", REDUNDANT)
            if isinstance(inner, PathOperand) and self.at_punct(".", "["):
                self.paths.pop()  # the grouped prefix; the whole path replaces it
                return PathOperand(self.path(list(inner.path.elements))), 0
            return inner, parens + 1
        if self.at_function():
            return self.function_call(), 0
        if token.kind in ("ident", "name"):
            return PathOperand(self.path()), 0
        if token.kind == "value":
            return self.value_operand(), 0
        raise self.syntax_error()

    def check_function(self, call: FunctionCall) -> None:
        name, args = call.name, call.args
        if name not in CONDITION_FUNCTIONS:
            if name in UPDATE_FUNCTIONS:
                message = f"The function is not allowed in a condition expression; function: {name}"
            else:
                message = f"Invalid function name; function: {name}"
            self.record("function_name", message)
            return
        self.check_misused(args)
        if len(args) != CONDITION_FUNCTIONS[name]:
            self.problem("count", operand_count_message(name, len(args)))
            return
        if len(args) == 2:
            self.check_distinct(name, args)
        if name in ("attribute_exists", "attribute_not_exists"):
            if not isinstance(args[0], PathOperand):
                self.problem("types", requires_path_message(name))
        elif name == "begins_with":
            for arg in args:
                kind = self.static_type(arg)
                if kind is not None and kind not in ("S", "B"):
                    self.problem("types", operand_type_message(name, kind))
                    break
        elif name == "attribute_type":
            kind = self.static_type(args[1])
            if kind != "S":
                self.problem("types", operand_type_message(name, kind or ANY_TYPE))
            else:
                assert isinstance(args[1], ValueOperand)
                type_name = args[1].value["S"]
                if type_name not in TYPES:
                    self.problem(
                        "types",
                        f"Invalid attribute type name found; type: {type_name}, "
                        "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                    )
        elif name == "size":
            kind = self.static_type(args[0])
            if kind in ("N", "BOOL", "NULL"):
                self.problem("types", operand_type_message(name, kind))

    def check_misused(self, operands: Iterable[Operand]) -> None:
        """Only ``size`` gives a value; another function is no operand."""
        for operand in operands:
            if (
                isinstance(operand, FunctionCall)
                and operand.name != "size"
                and operand.name in CONDITION_FUNCTIONS
            ):
                self.record("function_use", USED_THIS_WAY + operand.name)

    def check_distinct(self, operator: str, operands: tuple[Operand, ...]) -> None:
        first = operands[0]
        if not isinstance(first, PathOperand):
            return
        for other in operands[1:]:
            if isinstance(other, PathOperand) and other.path == first.path:
                assert self.leaf is not None
                self.leaf.distinct.append(
                    "The first operand must be distinct from the remaining operands for this "
                    f"operator or function; operator: {operator}, first operand: {first.path}"
                )
                return

    def parse(self) -> Condition:
        root = self.boolean()
        if self.token.kind != "end":
            raise self.syntax_error()
        if self.operators > MAX_OPERATORS:
            self.record(
                "operators",
                f"The expression contains too many operators; operator count: {self.operators}",
            )
        self.raise_recorded()
        return root

    def opens_condition(self) -> bool:
        """Whether the ``(`` here groups conditions rather than an operand."""
        closing = self.matching.get(self.index)
        if closing is None:
            return True
        after = self.tokens[closing + 1]
        if after.kind == "punct" and after.text in (*COMPARATORS, ".", "["):
            return False
        return not (after.kind == "ident" and after.text.upper() in ("BETWEEN", "IN"))

    def boolean(self) -> Condition:
        values: list[_Grouped] = []
        operators: list[str] = []
        open_groups = 0
        expect_condition = True
        while True:
            if expect_condition:
                if self.at_keyword("NOT"):
                    self.advance()
                    self.operators += 1
                    operators.append("NOT")
                elif self.at_punct("(") and self.opens_condition():
                    self.advance()
                    operators.append("(")
                    open_groups += 1
                else:
                    values.append(_Grouped(self.simple_condition()))
                    expect_condition = False
            elif self.at_keyword("AND") or self.at_keyword("OR"):
                word = self.advance().text.upper()
                self.operators += 1
                _reduce(
                    operators, values, ("NOT", "AND") if word == "AND" else ("NOT", "AND", "OR")
                )
                operators.append(word)
                expect_condition = True
            elif open_groups and self.at_punct(")"):
                self.advance()
                _reduce(operators, values, ("NOT", "AND", "OR"))
                operators.pop()  # the "("
                open_groups -= 1
                if values[-1].parens:
                    self.record("parens", REDUNDANT)
                values[-1].parens += 1
            else:
                break
        if open_groups:
            raise self.syntax_error()
        _reduce(operators, values, ("NOT", "AND", "OR"))
        return values[0].node

    def at_condition_operator(self) -> bool:
        return self.at_punct(*COMPARATORS) or self.at_keyword("BETWEEN") or self.at_keyword("IN")

    def simple_condition(self) -> Condition:
        self.leaf = _Leaf()
        if self.at_function():
            call = self.function_call()
            if not self.at_condition_operator():
                if call.name == "size":
                    self.record("function_use", USED_THIS_WAY + "size")
                return self.finish_leaf(FunctionCondition(call))
            left: Operand = call
        else:
            left = self.operand()
        if self.at_punct(*COMPARATORS):
            operator = self.advance().text
            right = self.operand()
            return self.finish_leaf(
                self.checked(operator, Comparison(operator, left, right), (left, right))
            )
        if self.at_keyword("BETWEEN"):
            self.advance()
            low = self.operand()
            if not self.at_keyword("AND"):
                raise self.syntax_error()
            self.advance()
            high = self.operand()
            node = self.checked("BETWEEN", Between(left, low, high), (left, low, high))
            self.check_bounds(low, high)
            return self.finish_leaf(node)
        if self.at_keyword("IN"):
            self.advance()
            self.expect_punct("(")
            candidates = [self.operand()]
            while self.at_punct(","):
                self.advance()
                candidates.append(self.operand())
            self.expect_punct(")")
            if len(candidates) > MAX_IN_OPERANDS:
                self.record(
                    "in_operands",
                    "The IN operator is provided with too many operands; "
                    f"number of operands: {len(candidates)}",
                )
            node = In(left, tuple(candidates))
            return self.finish_leaf(self.checked("IN", node, (left, *candidates)))
        raise self.syntax_error()

    def checked(self, operator: str, node: Condition, operands: tuple[Operand, ...]) -> Condition:
        """``node`` after the checks every comparison, BETWEEN and IN gets."""
        self.operators += 1
        self.check_misused(operands)
        self.check_distinct(operator, operands)
        if operator in ORDERED:
            for operand in operands:
                kind = self.static_type(operand)
                if kind is not None and kind not in ("N", "S", "B"):
                    self.problem("types", operand_type_message(operator, kind))
                    break
        return node

    def check_bounds(self, low: Operand, high: Operand) -> None:
        low_type, high_type = self.static_type(low), self.static_type(high)
        if not (isinstance(low, ValueOperand) and isinstance(high, ValueOperand)):
            return
        if low_type is None or high_type is None:
            return
        bounds = (
            f"lower bound operand: AttributeValue: {_render(low.value)}, "
            f"upper bound operand: AttributeValue: {_render(high.value)}"
        )
        if low_type != high_type:
            self.problem(
                "types",
                "The BETWEEN operator requires same data type for lower and upper bounds; "
                + bounds,
            )
        elif (compare_values(low.value, high.value) or 0) > 0:
            self.problem(
                "types",
                "The BETWEEN operator requires upper bound to be greater than or equal to "
                "lower bound; " + bounds,
            )

    def finish_leaf(self, node: Condition) -> Condition:
        assert self.leaf is not None
        problem = self.leaf.first()
        if problem is not None:
            self.record("condition", problem)
        self.leaf = None
        return node


def _reduce(operators: list[str], values: list[_Grouped], popping: tuple[str, ...]) -> None:
    """Apply the stacked operators in ``popping`` (binding at least as tightly)."""
    while operators and operators[-1] in popping:
        operator = operators.pop()
        if operator == "NOT":
            values.append(_Grouped(Not(values.pop().node)))
            continue
        right, left = values.pop().node, values.pop().node
        kind = And if operator == "AND" else Or
        items = tuple(
            part
            for side in (left, right)
            for part in (side.items if isinstance(side, kind) else (side,))
        )
        values.append(_Grouped(kind(items)))


def _render(value: AttributeValue) -> str:
    """A value as DynamoDB shows it in BETWEEN's messages: ``{N:1}``."""
    kind = value_type(value)
    return f"{{{kind}:{value[kind]}}}"
