"""Document paths: how expressions name an attribute or a part of one; projections.

Pure (no I/O). A :class:`Path` is a top-level attribute name followed by map keys and
list indexes (``a.b[2].c`` is ``("a", "b", 2, "c")``), with placeholders already
resolved: a ``#name`` is always one element, even when its name holds a dot.

Reading a path (:func:`resolve`) never fails: a missing attribute, a key a map lacks, an
index past a list's end, or a step through the wrong type (a key into a list, an index
into a map, anything into a scalar) all read as missing, which is how DynamoDB's
conditions and projections treat them.

A projection (:class:`ProjectionExpression`) copies the values its paths reach into a
new item shaped like the original, as DynamoDB returns it: ``a.b[2].y`` of
``{a: {b: [2, 4, {x, y}], c: 5}}`` reads ``{a: {b: [{y}]}}``; list elements a projection
reaches keep their order and close up (``a[0], a[2]`` reads a two-element list); paths
that reach nothing are left out.

Two paths of one UpdateExpression or ProjectionExpression must neither overlap (one is
the other or lies inside it) nor conflict (at the same position one has a key and the
other an index); :func:`path_clash` finds the first such pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gureum.tables.values import AttributeValue, Item, copy_value

PathElement = str | int


@dataclass(frozen=True, slots=True)
class Path:
    """A resolved document path: a name, then map keys (str) and list indexes (int)."""

    elements: tuple[PathElement, ...]

    @property
    def attribute(self) -> str:
        """The top-level attribute the path starts at."""
        head = self.elements[0]
        assert isinstance(head, str)
        return head

    @property
    def nested(self) -> bool:
        return len(self.elements) > 1

    def __str__(self) -> str:
        """DynamoDB's rendering in messages: ``[a, b, [2]]``."""
        parts = (f"[{e}]" if isinstance(e, int) else e for e in self.elements)
        return "[" + ", ".join(parts) + "]"


def resolve(item: Mapping[str, AttributeValue], path: Path) -> AttributeValue | None:
    """The value at ``path`` in ``item``; None when the path reaches nothing."""
    value: AttributeValue | None = item.get(path.attribute)
    for element in path.elements[1:]:
        if value is None:
            return None
        value = child(value, element)
    return value


def child(value: AttributeValue, element: PathElement) -> AttributeValue | None:
    """One step of a path: a map's member or a list's element; None when absent."""
    if isinstance(element, int):
        members = value.get("L")
        if isinstance(members, list) and 0 <= element < len(members):
            found: AttributeValue = members[element]
            return found
        return None
    entries = value.get("M")
    if isinstance(entries, dict):
        return entries.get(element)
    return None


def path_clash(paths: Sequence[Path]) -> tuple[Literal["overlap", "conflict"], Path, Path] | None:
    """The first two paths that overlap, else the first two that conflict, else None.

    Pairs are taken in order (each path against the ones before it), and an overlap is
    reported before any conflict, as DynamoDB does.
    """
    conflict: tuple[Literal["overlap", "conflict"], Path, Path] | None = None
    for index, later in enumerate(paths):
        for earlier in paths[:index]:
            kind = _clash(earlier, later)
            if kind == "overlap":
                return kind, earlier, later
            if kind == "conflict" and conflict is None:
                conflict = kind, earlier, later
    return conflict


def _clash(one: Path, two: Path) -> Literal["overlap", "conflict"] | None:
    for a, b in zip(one.elements, two.elements, strict=False):
        if isinstance(a, int) != isinstance(b, int):
            return "conflict"
        if a != b:
            return None
    return "overlap"


def project(item: Mapping[str, AttributeValue], paths: Iterable[Path]) -> Item:
    """The parts of ``item`` the paths reach, in an item shaped like ``item``."""
    root: dict[PathElement, Any] = {}
    for path in paths:
        value = resolve(item, path)
        if value is None:
            continue
        slots = root
        for depth, element in enumerate(path.elements[:-1]):
            shadow = slots.get(element)
            if shadow is None:
                following = path.elements[depth + 1]
                shadow = {"L*": {}} if isinstance(following, int) else {"M": {}}
                slots[element] = shadow
            slots = shadow["L*"] if "L*" in shadow else shadow["M"]
        slots[path.elements[-1]] = copy_value(value)
    return {str(name): _finish(shadow) for name, shadow in root.items()}


def _finish(shadow: Any) -> AttributeValue:
    """A projection's working tree as a value: gathered list elements close up in order."""
    if "L*" in shadow:
        gathered = shadow["L*"]
        return {"L": [_finish(gathered[index]) for index in sorted(gathered)]}
    if "M" in shadow:
        return {"M": {name: _finish(member) for name, member in shadow["M"].items()}}
    result: AttributeValue = shadow
    return result


@dataclass(frozen=True)
class ProjectionExpression:
    """A parsed ProjectionExpression: the paths, and :meth:`apply` to shape an item."""

    text: str
    paths: tuple[Path, ...]

    def apply(self, item: Mapping[str, AttributeValue]) -> Item:
        """The projected item (possibly empty, as DynamoDB returns it then)."""
        return project(item, self.paths)

    @property
    def attributes(self) -> tuple[str, ...]:
        """The top-level attributes the projection reads, in order, once each."""
        return tuple(dict.fromkeys(path.attribute for path in self.paths))
