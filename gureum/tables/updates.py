"""UpdateExpression trees, applied to an item to give the new item.

Pure (no I/O); :mod:`gureum.tables.expression_parser` builds the trees. Semantics, as
DynamoDB has them:

- Every operand is read from the item *before* the update: ``SET a = b, b = a`` swaps.
- ``SET path = value`` where value is an operand, ``operand + operand`` or
  ``operand - operand`` (numbers only, exact), ``if_not_exists(path, operand)`` or
  ``list_append(list, list)``. An operand path that reaches nothing is refused ("The
  provided expression refers to an attribute that does not exist in the item"), an
  operand of the wrong type too ("An operand in the update expression has an incorrect
  data type"); ``if_not_exists`` needs its second operand to exist even when the first
  does, as DynamoDB's own implementation does.
- A nested target's parent must exist and have the right type (a map for ``.key``, a
  list for ``[i]``), else "The document path provided in the update expression is
  invalid for update". Setting a list index past the end appends; several such appends
  to one list land in index order.
- ``REMOVE`` deletes attributes, map members and list elements (a missing one is no
  error); list indexes refer to the list before the update, so ``REMOVE a[1], a[2]``
  removes two original elements.
- ``ADD path :v`` adds a number to a number or unions a set into a set of the same type;
  on a missing attribute it sets it. ``DELETE path :set`` removes members from a set of
  the same type; a set left empty is removed, as DynamoDB keeps no empty sets.

:class:`UpdateResult` keeps the item before and after and the paths the expression
updated: ReturnValues UPDATED_OLD and UPDATED_NEW are those paths projected from the old
and the new item (DynamoDB returns only the updated parts of nested attributes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gureum.tables.conditions import FunctionCall, Operand, PathOperand, ValueOperand
from gureum.tables.documents import Path, project, resolve
from gureum.tables.placeholders import ExpressionError
from gureum.tables.values import (
    INVALID,
    AttributeValue,
    Item,
    add_numbers,
    copy_item,
    copy_value,
    merge_sets,
    set_member_key,
    set_members,
    value_type,
)

MISSING_OPERAND = "The provided expression refers to an attribute that does not exist in the item"
WRONG_TYPE = "An operand in the update expression has an incorrect data type"
INVALID_PATH = "The document path provided in the update expression is invalid for update"

Document = Mapping[str, AttributeValue]


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``left + right`` or ``left - right`` on numbers."""

    op: str
    left: Operand
    right: Operand


SetValue = Operand | Arithmetic


@dataclass(frozen=True, slots=True)
class SetAction:
    path: Path
    value: SetValue


@dataclass(frozen=True, slots=True)
class RemoveAction:
    path: Path


@dataclass(frozen=True, slots=True)
class AddAction:
    path: Path
    value: ValueOperand


@dataclass(frozen=True, slots=True)
class DeleteAction:
    path: Path
    value: ValueOperand


Action = SetAction | RemoveAction | AddAction | DeleteAction


def evaluate(value: SetValue, item: Document) -> AttributeValue:
    """The value a SET action writes, read from the item before the update."""
    if isinstance(value, Arithmetic):
        left, right = evaluate(value.left, item), evaluate(value.right, item)
        if value_type(left) != "N" or value_type(right) != "N":
            raise ExpressionError(WRONG_TYPE)
        return add_numbers(left["N"], right["N"], subtract=value.op == "-")
    if isinstance(value, FunctionCall):
        return _call(value, item)
    found = value.evaluate(item)
    if found is None:
        raise ExpressionError(MISSING_OPERAND)
    return found


def _call(call: FunctionCall, item: Document) -> AttributeValue:
    if call.name == "if_not_exists":
        subject, fallback = call.args
        default = evaluate(fallback, item)
        current = subject.evaluate(item) if isinstance(subject, PathOperand) else None
        return default if current is None else current
    first, second = (evaluate(arg, item) for arg in call.args)  # list_append
    if value_type(first) != "L" or value_type(second) != "L":
        raise ExpressionError(WRONG_TYPE)
    return {"L": [*first["L"], *second["L"]]}


def _parent(item: Item, path: Path) -> AttributeValue | None:
    """The container a nested target sits in; refused when it is missing or mistyped."""
    parent = resolve(item, Path(path.elements[:-1]))
    last = path.elements[-1]
    wanted = "L" if isinstance(last, int) else "M"
    if parent is None or value_type(parent) != wanted:
        raise ExpressionError(INVALID_PATH)
    return parent


def _write(item: Item, path: Path, value: AttributeValue) -> None:
    if not path.nested:
        item[path.attribute] = value
        return
    parent = _parent(item, path)
    assert parent is not None
    last = path.elements[-1]
    if isinstance(last, int):
        members = parent["L"]
        if last < len(members):
            members[last] = value
        else:
            members.append(value)
    else:
        parent["M"][last] = value


def _remove(item: Item, path: Path) -> None:
    if not path.nested:
        item.pop(path.attribute, None)
        return
    parent = _parent(item, path)
    assert parent is not None
    last = path.elements[-1]
    if isinstance(last, int):
        if last < len(parent["L"]):
            del parent["L"][last]
    else:
        parent["M"].pop(last, None)


def _current(item: Item, path: Path) -> AttributeValue | None:
    """The value an ADD or DELETE starts from; a nested target's parent must be valid."""
    if path.nested:
        _parent(item, path)
    return resolve(item, path)


def _added(current: AttributeValue | None, operand: AttributeValue) -> AttributeValue:
    if current is None:
        return copy_value(operand)
    kind = value_type(operand)
    if value_type(current) != kind:
        raise ExpressionError(WRONG_TYPE)
    if kind == "N":
        return add_numbers(current["N"], operand["N"])
    return {kind: merge_sets(kind, [current[kind], operand[kind]])}


def _deleted(current: AttributeValue, operand: AttributeValue) -> AttributeValue | None:
    kind = value_type(operand)
    if value_type(current) != kind:
        raise ExpressionError(WRONG_TYPE)
    removing = set_members(operand)
    kept = [member for member in current[kind] if set_member_key(kind, member) not in removing]
    return {kind: kept} if kept else None


def _write_order(action: Action) -> tuple[tuple[int, int], ...]:
    """Sort key that orders only list indexes (names keep the expression's order)."""
    return tuple((0, 0) if isinstance(e, str) else (1, e) for e in action.path.elements)


@dataclass(frozen=True)
class UpdateExpression:
    """A parsed UpdateExpression: its actions, in the order written."""

    text: str
    actions: tuple[Action, ...]

    @property
    def paths(self) -> tuple[Path, ...]:
        """The paths the expression updates (they never overlap)."""
        return tuple(action.path for action in self.actions)

    @property
    def attributes(self) -> tuple[str, ...]:
        """The top-level attributes the expression updates, in order, once each."""
        return tuple(dict.fromkeys(path.attribute for path in self.paths))

    def check_keys(self, key_attributes: Iterable[str]) -> None:
        """Refuse an update of a key attribute (or of a path inside one)."""
        keys = set(key_attributes)
        for path in self.paths:
            if path.attribute in keys:
                raise ExpressionError(
                    INVALID
                    + f"Cannot update attribute {path.attribute}. This attribute is part of the key"
                )

    def apply(self, item: Document | None) -> UpdateResult:
        """The item after the update; ``item`` (None: no item yet) is not changed.

        For an item that does not exist yet, pass its key attributes: DynamoDB creates
        the item from the key, and the expression may read them (``if_not_exists(b, pk)``).
        """
        old = copy_item(item or {})
        new = copy_item(old)
        writes: list[tuple[Action, AttributeValue | None]] = []
        for action in self.actions:
            if isinstance(action, SetAction):
                writes.append((action, evaluate(action.value, old)))
            elif isinstance(action, AddAction | DeleteAction):
                writes.append((action, None))
        for action, value in sorted(writes, key=lambda write: _write_order(write[0])):
            if isinstance(action, SetAction):
                assert value is not None
                _write(new, action.path, copy_value(value))
            elif isinstance(action, AddAction):
                _write(new, action.path, _added(_current(new, action.path), action.value.value))
            else:
                assert isinstance(action, DeleteAction)
                current = _current(new, action.path)
                if current is None:
                    continue
                remaining = _deleted(current, action.value.value)
                if remaining is None:
                    _remove(new, action.path)
                else:
                    _write(new, action.path, remaining)
        removes = [action for action in self.actions if isinstance(action, RemoveAction)]
        for action in sorted(removes, key=_write_order, reverse=True):
            _remove(new, action.path)
        return UpdateResult(old=old, item=new, paths=self.paths)


@dataclass(frozen=True)
class UpdateResult:
    """An applied update: the item before and after, and the paths it updated."""

    old: Item
    item: Item
    paths: tuple[Path, ...]

    @property
    def attributes(self) -> tuple[str, ...]:
        """The top-level attributes the update touched, in order, once each."""
        return tuple(dict.fromkeys(path.attribute for path in self.paths))

    def updated_old(self) -> Item:
        """ReturnValues UPDATED_OLD: the updated paths as they were before."""
        return project(self.old, self.paths)

    def updated_new(self) -> Item:
        """ReturnValues UPDATED_NEW: the updated paths as they are now."""
        return project(self.item, self.paths)
