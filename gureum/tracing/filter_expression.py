"""X-Ray filter expressions: the ``FilterExpression`` of GetTraceSummaries and of groups.

Pure (no I/O). This module is the public face and the semantics: :func:`parse` turns text
into an :class:`Expression` (through :mod:`gureum.tracing.filter_parser`, which holds the
tokenizer, the grammar and the recursive-descent parser), the errors it raises, the views
a trace is evaluated against (:class:`TraceView`, :class:`ServiceView`,
:class:`EdgeView`), and the expression tree with its evaluation. An :class:`Expression`
evaluates against a :class:`TraceView` the trace store fills, and lists the conditions
every matching trace satisfies, so that a query over many traces can narrow them in SQL
first.

Evaluation, where X-Ray's docs leave room:

- A field compares only with a value of its own kind; a comparison on a missing field is
  false, ``!=`` included (SQL's NULL): ``http.status != 200`` skips traces without a
  status, while ``!(http.status = 200)`` keeps them.
- Multi-valued fields (annotation values, ``user``, ``resource.arn``, ...) match when
  *any* value matches, ``!=`` included: ``annotation.k != "a"`` is "some value of k is
  a string other than a", and an annotation that is a number never equals a string.
- Bare ``annotation.k`` is true when k is set, except that a boolean value counts as
  itself (X-Ray: "If the keyword is of boolean type, it will evaluate to the boolean
  value"); ``!annotation.k`` is its negation. A bare string keyword (``http.url``) is
  true when the field is set.
- ``service(..) {f}`` is true when some service node of the trace matches the selector
  and ``f`` on its own figures; ``edge(a, b) {f}`` likewise for a call from a to b.
  Inside the braces the keywords read the node's or edge's figures. Annotations are
  refused there (X-Ray: "You can't use this keyword in combination with the service or
  edge keyword"); so, in gureum, are groups and a nested ``service``/``edge``.
- ``first``, ``last``, ``remote``, ``index``, ``coverage``, ``name``, ``type`` and
  ``message`` describe root-cause entities and service nodes; where the subject has no
  such field (the trace itself, an edge) they are missing.
- ``group.name = "g"`` is true when the trace belongs to group g: either ``parse`` was
  given ``resolve_group`` and inlines g's own expression, or the trace lists its groups
  in ``TraceView.groups``. ``!=`` means "does not belong".

Unsupported in gureum for now: ``rootcause.*`` and ``rootcause.json``. They are parsed
(so their syntax errors are reported as such) and then :func:`parse` raises
:class:`UnsupportedFilter`, a :class:`FilterSyntaxError`, at their position.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Scalar = str | float | bool
#: A group's filter expression by ``("name" | "arn", value)``; None: no such group.
GroupResolver = Callable[[str, str], str | None]

# The keywords by kind and the operators each kind takes (the parser reads them).
BOOLEAN_KEYWORDS = frozenset(
    {"ok", "error", "throttle", "fault", "partial", "inferred", "first", "last", "remote", "root"}
)
NUMBER_KEYWORDS = frozenset({"responsetime", "duration", "http.status", "index", "coverage"})
STRING_KEYWORDS = frozenset(
    {
        "http.url",
        "http.method",
        "http.useragent",
        "http.clientip",
        "user",
        "name",
        "type",
        "message",
        "availabilityzone",
        "instance.id",
        "resource.arn",
    }
)
EQUALITY = ("=", "!=")
NUMBER_OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPERATORS = ("=", "!=", "contains", "beginswith", "endswith")


# errors


class FilterSyntaxError(ValueError):
    """The text is not a valid filter expression; ``position`` is a 0-based offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"Invalid filter expression: {self.message} at position {self.position}"


class UnsupportedFilter(FilterSyntaxError):
    """Valid X-Ray syntax that gureum does not evaluate yet (``rootcause``)."""

    def __str__(self) -> str:
        return f"Unsupported filter expression: {self.message} at position {self.position}"


# what an expression is evaluated against


@dataclass(frozen=True, kw_only=True)
class ServiceView:
    """One service node of a trace: the segments with one name and origin, aggregated.

    With several segments ``ok`` and ``fault`` may both be true: ``ok`` means at least
    one of them answered without error, fault or throttle.
    """

    name: str
    type: str | None = None
    ok: bool = True
    error: bool = False
    fault: bool = False
    throttle: bool = False
    responsetime: float | None = None  # seconds
    names: tuple[str, ...] = ()  # aliases
    root: bool = False  # the trace's entry point
    inferred: bool = False  # made by X-Ray from a downstream subsegment
    account_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class EdgeView:
    """A call from one service node to another in a trace."""

    source: str
    target: str
    ok: bool = True
    error: bool = False
    fault: bool = False
    throttle: bool = False
    responsetime: float | None = None  # seconds
    source_type: str | None = None
    target_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class TraceView:
    """One trace as the filter language sees it; missing fields are None or empty."""

    id: str
    duration: float | None = None  # seconds, first start to last end
    responsetime: float | None = None  # seconds, the entry point's
    error: bool = False
    fault: bool = False
    throttle: bool = False
    partial: bool = False
    http_status: int | None = None
    http_url: str | None = None
    http_method: str | None = None
    http_useragent: str | None = None
    http_clientip: str | None = None
    users: Sequence[str] = ()  # the ``user`` of any segment
    annotations: Mapping[str, Sequence[Scalar]] = field(default_factory=dict)
    services: Sequence[ServiceView] = ()
    edges: Sequence[EdgeView] = ()
    #: Names and ARNs of the groups the trace belongs to (read without ``resolve_group``).
    groups: Collection[str] = ()
    availability_zones: Sequence[str] = ()
    instance_ids: Sequence[str] = ()
    resource_arns: Sequence[str] = ()

    @property
    def ok(self) -> bool:
        """X-Ray's ``ok``: no error, fault or throttle."""
        return not (self.error or self.fault or self.throttle)

    @property
    def inferred(self) -> bool:
        """X-Ray's trace-level ``inferred``: the trace has an inferred node."""
        return any(service.inferred for service in self.services)


Subject = TraceView | ServiceView | EdgeView
#: Where a (sub)filter is read: a trace, or the braces of service(), edge(), rootcause.
Context = Literal["trace", "service", "edge", "rootcause"]


def _one(value: Scalar | None) -> tuple[Scalar, ...]:
    return () if value is None else (value,)


_TRACE_FIELDS: dict[str, Callable[[TraceView], tuple[Scalar, ...]]] = {
    "ok": lambda t: (t.ok,),
    "error": lambda t: (t.error,),
    "fault": lambda t: (t.fault,),
    "throttle": lambda t: (t.throttle,),
    "partial": lambda t: (t.partial,),
    "inferred": lambda t: (t.inferred,),
    "responsetime": lambda t: _one(t.responsetime),
    "duration": lambda t: _one(t.duration),
    "http.status": lambda t: _one(t.http_status),
    "http.url": lambda t: _one(t.http_url),
    "http.method": lambda t: _one(t.http_method),
    "http.useragent": lambda t: _one(t.http_useragent),
    "http.clientip": lambda t: _one(t.http_clientip),
    "user": lambda t: tuple(t.users),
    "availabilityzone": lambda t: tuple(t.availability_zones),
    "instance.id": lambda t: tuple(t.instance_ids),
    "resource.arn": lambda t: tuple(t.resource_arns),
}
_SERVICE_FIELDS: dict[str, Callable[[ServiceView], tuple[Scalar, ...]]] = {
    "ok": lambda s: (s.ok,),
    "error": lambda s: (s.error,),
    "fault": lambda s: (s.fault,),
    "throttle": lambda s: (s.throttle,),
    "root": lambda s: (s.root,),
    "inferred": lambda s: (s.inferred,),
    "responsetime": lambda s: _one(s.responsetime),
    "name": lambda s: (s.name, *s.names),
    "type": lambda s: _one(s.type),
}
_EDGE_FIELDS: dict[str, Callable[[EdgeView], tuple[Scalar, ...]]] = {
    "ok": lambda e: (e.ok,),
    "error": lambda e: (e.error,),
    "fault": lambda e: (e.fault,),
    "throttle": lambda e: (e.throttle,),
    "responsetime": lambda e: _one(e.responsetime),
}


def _values(subject: Subject, keyword: str) -> tuple[Scalar, ...]:
    """The values of ``keyword`` on ``subject``; empty when it has no such field."""
    if isinstance(subject, TraceView):
        trace_getter = _TRACE_FIELDS.get(keyword)
        return trace_getter(subject) if trace_getter else ()
    if isinstance(subject, ServiceView):
        service_getter = _SERVICE_FIELDS.get(keyword)
        return service_getter(subject) if service_getter else ()
    edge_getter = _EDGE_FIELDS.get(keyword)
    return edge_getter(subject) if edge_getter else ()


def _kind(value: Scalar) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "string" if isinstance(value, str) else "number"


def _compare(actual: Scalar, op: str, expected: Scalar) -> bool:
    """``actual op expected``; values of different kinds never compare (not even ``!=``)."""
    if _kind(actual) != _kind(expected):
        return False
    if op == "=":
        return actual == expected
    if op == "!=":
        return actual != expected
    if isinstance(actual, str) and isinstance(expected, str):
        if op == "contains":
            return expected in actual
        if op == "beginswith":
            return actual.startswith(expected)
        if op == "endswith":
            return actual.endswith(expected)
        return False
    if isinstance(actual, bool) or isinstance(expected, bool):
        return False
    assert not isinstance(actual, str) and not isinstance(expected, str)
    if op == "<":
        return actual < expected
    if op == "<=":
        return actual <= expected
    if op == ">":
        return actual > expected
    return op == ">=" and actual >= expected


def _render_value(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


# the expression tree


@dataclass(frozen=True)
class AnnotationCondition:
    """A condition on one annotation that every matching trace satisfies.

    ``op`` is ``exists`` (``value`` None) or one of ``= != < <= > >= contains
    beginswith endswith``; it holds when *some* value of ``key`` has the same kind as
    ``value`` (string, number, boolean) and satisfies ``op``.
    """

    key: str
    op: str
    value: Scalar | None


class Node(ABC):
    """A node of a parsed expression."""

    @abstractmethod
    def evaluate(self, subject: Subject) -> bool:
        """Whether ``subject`` satisfies this node."""

    @abstractmethod
    def render(self) -> str:
        """A canonical, fully parenthesized text that parses back to the same tree."""

    def conjuncts(self) -> Iterator[Node]:
        """The nodes that must all hold for this one to hold (itself, unless AND)."""
        yield self


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]

    def evaluate(self, subject: Subject) -> bool:
        return any(item.evaluate(subject) for item in self.items)

    def render(self) -> str:
        return "(" + " OR ".join(item.render() for item in self.items) + ")"


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]

    def evaluate(self, subject: Subject) -> bool:
        return all(item.evaluate(subject) for item in self.items)

    def render(self) -> str:
        return "(" + " AND ".join(item.render() for item in self.items) + ")"

    def conjuncts(self) -> Iterator[Node]:
        for item in self.items:
            yield from item.conjuncts()


@dataclass(frozen=True)
class Not(Node):
    item: Node

    def evaluate(self, subject: Subject) -> bool:
        return not self.item.evaluate(subject)

    def render(self) -> str:
        return f"!{self.item.render()}"


@dataclass(frozen=True)
class Always(Node):
    """A group whose filter expression is empty: every trace."""

    def evaluate(self, subject: Subject) -> bool:
        return True

    def render(self) -> str:
        return "(ok OR !ok)"


@dataclass(frozen=True)
class Flag(Node):
    """A bare boolean keyword (``fault``): true when the field is true."""

    keyword: str

    def evaluate(self, subject: Subject) -> bool:
        return any(value is True for value in _values(subject, self.keyword))

    def render(self) -> str:
        return self.keyword


@dataclass(frozen=True)
class IsSet(Node):
    """A bare string keyword (``http.url``): true when the field is set."""

    keyword: str

    def evaluate(self, subject: Subject) -> bool:
        return bool(_values(subject, self.keyword))

    def render(self) -> str:
        return self.keyword


@dataclass(frozen=True)
class Compare(Node):
    """``keyword op value`` on a boolean, number or string keyword."""

    keyword: str
    op: str
    value: Scalar

    def evaluate(self, subject: Subject) -> bool:
        return any(_compare(v, self.op, self.value) for v in _values(subject, self.keyword))

    def render(self) -> str:
        return f"{self.keyword} {self.op.upper()} {_render_value(self.value)}"


@dataclass(frozen=True)
class Annotation(Node):
    """``annotation.key`` bare (``op`` None) or compared with a value."""

    key: str
    op: str | None = None
    value: Scalar | None = None

    def evaluate(self, subject: Subject) -> bool:
        if not isinstance(subject, TraceView):
            return False
        values = subject.annotations.get(self.key, ())
        if self.op is None or self.value is None:
            return any(value is not False for value in values)
        expected = self.value
        return any(_compare(value, self.op, expected) for value in values)

    def render(self) -> str:
        if self.op is None or self.value is None:
            return f"annotation.{self.key}"
        return f"annotation.{self.key} {self.op.upper()} {_render_value(self.value)}"

    def condition(self) -> AnnotationCondition:
        """The pushdown condition every trace this node matches satisfies."""
        if self.op is None:
            return AnnotationCondition(self.key, "exists", None)
        return AnnotationCondition(self.key, self.op, self.value)


@dataclass(frozen=True)
class ServiceId:
    """Which service nodes a ``service()``/``edge()`` argument selects."""

    name: str | None = None
    type: str | None = None
    account_id: str | None = None

    def selects_service(self, service: ServiceView) -> bool:
        return (
            (self.name is None or self.name == service.name or self.name in service.names)
            and (self.type is None or self.type == service.type)
            and (self.account_id is None or self.account_id == service.account_id)
        )

    def selects_endpoint(self, name: str, type_: str | None) -> bool:
        # Edges carry no account id, so an account.id selects no edge.
        return (
            (self.name is None or self.name == name)
            and (self.type is None or self.type == type_)
            and self.account_id is None
        )

    def render(self) -> str:
        if self.type is None and self.account_id is None and self.name is not None:
            return _render_value(self.name)
        parts = [
            f"{label}: {_render_value(value)}"
            for label, value in (
                ("name", self.name),
                ("type", self.type),
                ("account.id", self.account_id),
            )
            if value is not None
        ]
        return f"id({', '.join(parts)})"


def _render_filter(inner: Node | None) -> str:
    return "" if inner is None else " { " + inner.render() + " }"


@dataclass(frozen=True)
class Service(Node):
    """``service(selector) {filter}``; ``selector`` None is ``service()``: any node."""

    selector: ServiceId | None
    inner: Node | None = None

    def evaluate(self, subject: Subject) -> bool:
        if not isinstance(subject, TraceView):
            return False
        return any(
            (self.selector is None or self.selector.selects_service(service))
            and (self.inner is None or self.inner.evaluate(service))
            for service in subject.services
        )

    def render(self) -> str:
        argument = "" if self.selector is None else self.selector.render()
        return f"service({argument}){_render_filter(self.inner)}"


@dataclass(frozen=True)
class Edge(Node):
    """``edge(source, target) {filter}``: a call from source to target."""

    source: ServiceId
    target: ServiceId
    inner: Node | None = None

    def evaluate(self, subject: Subject) -> bool:
        if not isinstance(subject, TraceView):
            return False
        return any(
            self.source.selects_endpoint(edge.source, edge.source_type)
            and self.target.selects_endpoint(edge.target, edge.target_type)
            and (self.inner is None or self.inner.evaluate(edge))
            for edge in subject.edges
        )

    def render(self) -> str:
        arguments = f"{self.source.render()}, {self.target.render()}"
        return f"edge({arguments}){_render_filter(self.inner)}"


@dataclass(frozen=True)
class Group(Node):
    """``group.name|arn = value`` read from ``TraceView.groups`` (no resolver given)."""

    attribute: Literal["name", "arn"]
    op: str
    value: str

    def evaluate(self, subject: Subject) -> bool:
        if not isinstance(subject, TraceView):
            return False
        return (self.value in subject.groups) == (self.op == "=")

    def render(self) -> str:
        return f"group.{self.attribute} {self.op} {_render_value(self.value)}"


@dataclass(frozen=True)
class RootCause(Node):
    """``rootcause.*``: parsed, never evaluated (``parse`` raises UnsupportedFilter)."""

    path: str
    inner: Node | None = None

    def evaluate(self, subject: Subject) -> bool:
        raise UnsupportedFilter(f"gureum does not support '{self.path}' filters yet", 0)

    def render(self) -> str:
        return f"{self.path}{_render_filter(self.inner)}"


@dataclass(frozen=True)
class Expression:
    """A parsed filter expression; ``str()`` is its canonical, parenthesized form."""

    text: str
    root: Node

    def matches(self, trace: TraceView) -> bool:
        """Whether ``trace`` satisfies the expression, with X-Ray's semantics."""
        return self.root.evaluate(trace)

    def required_annotations(self) -> list[AnnotationCondition]:
        """Annotation conditions every matching trace satisfies (a SQL prefilter).

        Taken from the top-level AND-conjuncts only, never from under OR or NOT, so the
        list is necessary, not sufficient: call :meth:`matches` on the candidates.
        """
        found: list[AnnotationCondition] = []
        for node in self.root.conjuncts():
            if isinstance(node, Annotation) and node.condition() not in found:
                found.append(node.condition())
        return found

    def required_services(self) -> list[str]:
        """Names every matching trace has a service node with (by name or alias).

        From top-level ``service("name")`` and ``service(id(name: ..))`` conjuncts only
        (not ``edge()``, not under OR or NOT): a prefilter; :meth:`matches` decides.
        """
        found: list[str] = []
        for node in self.root.conjuncts():
            if isinstance(node, Service) and node.selector is not None:
                name = node.selector.name
                if name is not None and name not in found:
                    found.append(name)
        return found

    def __str__(self) -> str:
        return self.root.render()
