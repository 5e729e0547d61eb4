"""The UpdateExpression grammar.

See :mod:`~gureum.tables.expression_parser` for the grammar. Problems are ranked as
DynamoDB ranks them: limits, reserved words, unknown functions, a section given twice,
undefined names, undefined values, overlapping then conflicting paths, ADD and DELETE
operands of the wrong type, and last a function's or arithmetic's operand problems.
"""

from __future__ import annotations

from collections.abc import Iterable

from gureum.tables.conditions import FunctionCall, Operand, PathOperand, ValueOperand
from gureum.tables.documents import path_clash
from gureum.tables.expression_parser import (
    CONDITION_FUNCTIONS,
    UPDATE_FUNCTIONS,
    ExpressionParser,
    clash_message,
    operand_count_message,
    operand_type_message,
    requires_path_message,
)
from gureum.tables.updates import (
    Action,
    AddAction,
    Arithmetic,
    DeleteAction,
    RemoveAction,
    SetAction,
    SetValue,
)

UPDATE_KEYWORDS = frozenset({"SET", "REMOVE", "ADD", "DELETE"})
LONG_TYPE_NAMES = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "L": "LIST",
    "M": "MAP",
    "SS": "STRING_SET",
    "NS": "NUMBER_SET",
    "BS": "BINARY_SET",
}


class UpdateParser(ExpressionParser):
    """An update's actions from its text: :meth:`parse`."""

    keywords = UPDATE_KEYWORDS
    order = (
        "depth",
        "reserved",
        "function_name",
        "section",
        "name",
        "value",
        "overlap",
        "conflict",
        "operand",
        "function",
    )

    def argument(self) -> Operand:
        return self.update_operand()

    def too_deep(self, function: str) -> str:
        if function in CONDITION_FUNCTIONS:
            return f"The function is not allowed in an update expression; function: {function}"
        if function in UPDATE_FUNCTIONS:
            return requires_path_message(function)
        return super().too_deep(function)

    def update_operand(self) -> Operand:
        if self.at_punct("("):
            self.advance()
            inner = self.bare_update_operand()
            self.expect_punct(")")
            return inner
        return self.bare_update_operand()

    def bare_update_operand(self) -> Operand:
        token = self.token
        if self.at_function():
            return self.function_call()
        if token.kind in ("ident", "name"):
            return PathOperand(self.path())
        if token.kind == "value":
            return self.value_operand()
        raise self.syntax_error()

    def check_function(self, call: FunctionCall) -> None:
        name, args = call.name, call.args
        if name not in UPDATE_FUNCTIONS:
            if name in CONDITION_FUNCTIONS:
                message = f"The function is not allowed in an update expression; function: {name}"
            else:
                message = f"Invalid function name; function: {name}"
            self.record("function_name", message)
            return
        if len(args) != UPDATE_FUNCTIONS[name]:
            self.record("function", operand_count_message(name, len(args)))
        elif name == "if_not_exists":
            if not isinstance(args[0], PathOperand):
                self.record("function", requires_path_message(name))
        else:
            self.check_update_types(name, args, "L")

    def check_update_types(self, name: str, args: Iterable[Operand], wanted: str) -> None:
        for arg in args:
            kind = self.static_type(arg) if isinstance(arg, ValueOperand) else None
            if kind is not None and kind != wanted:
                self.record("function", operand_type_message(name, kind))
                return

    def parse(self) -> list[Action]:
        actions: list[Action] = []
        sections: set[str] = set()
        while True:
            token = self.token
            word = token.text.upper() if token.kind == "ident" else ""
            if word not in UPDATE_KEYWORDS:
                raise self.syntax_error()
            self.advance()
            if word in sections:
                self.record(
                    "section",
                    f'The "{word}" section can only be used once in an update expression;',
                )
            sections.add(word)
            actions.append(self.update_action(word))
            while self.at_punct(","):
                self.advance()
                actions.append(self.update_action(word))
            if self.token.kind == "end":
                break
        clash = path_clash([action.path for action in actions])
        if clash is not None:
            self.record(clash[0], clash_message(*clash))
        self.raise_recorded()
        return actions

    def update_action(self, section: str) -> Action:
        path = self.path()
        if section == "SET":
            self.expect_punct("=")
            return SetAction(path, self.set_value())
        if section == "REMOVE":
            return RemoveAction(path)
        if self.token.kind != "value":
            raise self.syntax_error()
        value = self.value_operand()
        kind = self.static_type(value)
        allowed = ("SS", "NS", "BS") if section == "DELETE" else ("N", "SS", "NS", "BS")
        if kind is not None and kind not in allowed:
            self.record(
                "operand",
                "Incorrect operand type for operator or function; "
                f"operator: {section}, operand type: {LONG_TYPE_NAMES[kind]}, "
                f"typeSet: ALLOWED_FOR_{section}_OPERAND",
            )
        return AddAction(path, value) if section == "ADD" else DeleteAction(path, value)

    def set_value(self) -> SetValue:
        if self.at_punct("("):
            closing = self.matching.get(self.index)
            after = self.tokens[closing + 1] if closing is not None else None
            if after is None or not (after.kind == "punct" and after.text in ("+", "-")):
                self.advance()
                value = self.arithmetic()
                self.expect_punct(")")
                return value
        return self.arithmetic()

    def arithmetic(self) -> SetValue:
        left = self.update_operand()
        if not self.at_punct("+", "-"):
            return left
        operator = self.advance().text
        right = self.update_operand()
        self.check_update_types(operator, (left, right), "N")
        return Arithmetic(operator, left, right)
