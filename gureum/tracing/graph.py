"""One trace as X-Ray sees it: its segments put together, its services and the edges
between them, and the figures GetTraceSummaries and the filter language read.

- Subsegments sent on their own are placed under their parent (a segment or one of its
  subsegments), as X-Ray assembles them.
- A service is a segment's ``name`` and ``origin`` (the Lambda service and the function
  are two services of one name). A downstream call a segment recorded as a subsegment
  with ``namespace`` ``aws`` or ``remote`` (or with ``sql``), which no traced segment
  answered, becomes an *inferred* service named after the subsegment.
- An edge goes from the service that made a call to the service that served it: a
  segment's ``parent_id`` names the caller's subsegment. A root segment (no caller
  in the trace) has an edge from the ``client``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gureum.tracing.segments import iter_subsegments

CLIENT = ("client", "client")


def _flags(document: dict[str, Any]) -> dict[str, bool]:
    error = bool(document.get("error"))
    fault = bool(document.get("fault"))
    throttle = bool(document.get("throttle"))
    return {
        "ok": not (error or fault or throttle),
        "error": error,
        "fault": fault,
        "throttle": throttle,
    }


def _elapsed(document: dict[str, Any]) -> float | None:
    start, end = document.get("start_time"), document.get("end_time")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return max(0.0, float(end) - float(start))
    return None


def _start(document: dict[str, Any]) -> float | None:
    start = document.get("start_time")
    return float(start) if isinstance(start, int | float) else None


def assemble(documents: Iterable[tuple[dict[str, Any], bool]]) -> list[dict[str, Any]]:
    """Top-level segment documents with every independent subsegment placed under its
    parent; ``documents`` are (document, sent-as-subsegment) pairs. A subsegment whose
    parent is not (yet) in the trace stays on its own."""
    segments: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []
    for document, subsegment in documents:
        (loose if subsegment else segments).append(dict(document))
    by_id: dict[str, dict[str, Any]] = {}

    def index(document: dict[str, Any]) -> None:
        by_id[str(document.get("id"))] = document
        for child in iter_subsegments(document):
            by_id[str(child.get("id"))] = child

    for segment in segments:
        index(segment)
    pending = loose
    while pending:
        placed = []
        for child in pending:
            parent = by_id.get(str(child.get("parent_id")))
            if parent is None:
                continue
            copy = {k: v for k, v in child.items() if k not in ("type", "trace_id", "parent_id")}
            siblings = [s for s in parent.get("subsegments") or [] if s.get("id") != copy["id"]]
            parent["subsegments"] = [*siblings, copy]
            index(copy)
            placed.append(child)
        if not placed:
            break
        pending = [c for c in pending if c not in placed]
    return segments + pending


@dataclass
class Node:
    name: str
    type: str | None
    ok: bool = True
    error: bool = False
    fault: bool = False
    throttle: bool = False
    responsetime: float | None = None
    inferred: bool = False
    start_time: float | None = None

    def key(self) -> tuple[str, str]:
        return (self.name, self.type or "")

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "ok": self.ok,
            "error": self.error,
            "fault": self.fault,
            "throttle": self.throttle,
            "responsetime": self.responsetime,
            "inferred": self.inferred,
            "start_time": self.start_time,
        }


@dataclass
class TraceGraph:
    """The services of one trace and the calls between them."""

    nodes: dict[tuple[str, str], Node] = field(default_factory=dict)
    #: (source key, target key) -> the call's figures (ok/error/fault/throttle, seconds)
    edges: dict[tuple[tuple[str, str], tuple[str, str]], dict[str, Any]] = field(
        default_factory=dict
    )

    def add_node(self, node: Node) -> tuple[str, str]:
        key = node.key()
        existing = self.nodes.get(key)
        if existing is None:
            self.nodes[key] = node
        else:  # several segments of one service in a trace: any failure counts
            existing.error |= node.error
            existing.fault |= node.fault
            existing.throttle |= node.throttle
            existing.ok = not (existing.error or existing.fault or existing.throttle)
            if node.responsetime is not None:
                existing.responsetime = max(existing.responsetime or 0.0, node.responsetime)
            if node.start_time is not None:
                existing.start_time = min(existing.start_time or node.start_time, node.start_time)
        return key

    def add_edge(
        self, source: tuple[str, str], target: tuple[str, str], document: dict[str, Any]
    ) -> None:
        start = document.get("start_time")
        self.edges[(source, target)] = {
            **_flags(document),
            "responsetime": _elapsed(document),
            "start_time": float(start) if isinstance(start, int | float) else None,
        }


def _inferred_type(subsegment: dict[str, Any]) -> str:
    if subsegment.get("sql") is not None:
        return "Database::SQL"
    if subsegment.get("namespace") == "aws":
        return f"AWS::{subsegment.get('name')}"
    return "remote"


def _flatten(
    segments: list[dict[str, Any]],
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each segment with every subsegment under it (walked once)."""
    return [(segment, list(iter_subsegments(segment))) for segment in segments]


def build_graph(
    segments: list[dict[str, Any]],
    flat: list[tuple[dict[str, Any], list[dict[str, Any]]]] | None = None,
) -> TraceGraph:
    """The services and edges of one trace's assembled segments."""
    graph = TraceGraph()
    owner: dict[str, tuple[str, str]] = {}  # (sub)segment id -> its service
    keys = []
    for segment, children in flat if flat is not None else _flatten(segments):
        if segment.get("type") == "subsegment":
            continue
        node = Node(
            str(segment.get("name")),
            segment.get("origin"),
            responsetime=_elapsed(segment),
            start_time=_start(segment),
            **_flags(segment),
        )
        key = graph.add_node(node)
        keys.append((segment, children, key))
        owner[str(segment.get("id"))] = key
        for child in children:
            owner[str(child.get("id"))] = key
    served = {str(s.get("parent_id")) for s, _, _ in keys if s.get("parent_id")}
    for segment, children, key in keys:
        parent = segment.get("parent_id")
        caller = owner.get(str(parent)) if parent else None
        if caller is None:
            graph.add_node(Node(*CLIENT))
            graph.add_edge(CLIENT, key, segment)
        elif caller != key:
            graph.add_edge(caller, key, segment)
        for child in children:
            downstream = child.get("namespace") in ("aws", "remote") or child.get("sql")
            if not downstream or str(child.get("id")) in served:
                continue
            target = graph.add_node(
                Node(
                    str(child.get("name")),
                    _inferred_type(child),
                    responsetime=_elapsed(child),
                    start_time=_start(child),
                    inferred=True,
                    **_flags(child),
                )
            )
            graph.add_edge(key, target, child)
    return graph


def _root(flat: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> dict[str, Any] | None:
    ids = {str(s.get("id")) for s, _ in flat}
    for _, children in flat:
        ids.update(str(child.get("id")) for child in children)
    roots = [
        s
        for s, _ in flat
        if s.get("type") != "subsegment" and str(s.get("parent_id") or "") not in ids
    ]
    return min(roots, key=lambda s: s.get("start_time") or 0.0) if roots else None


def summarize(trace_id: str, segments: list[dict[str, Any]]) -> dict[str, Any]:
    """What GetTraceSummaries answers and the filter language reads, for one trace."""
    flat = _flatten(segments)
    graph = build_graph(segments, flat)
    starts = [float(s["start_time"]) for s in segments if "start_time" in s]
    ends = [float(s["end_time"]) for s in segments if "end_time" in s]
    every = [*segments, *(c for _, children in flat for c in children)]
    partial = any(d.get("in_progress") for d in every)
    root = _root(flat) or {}
    # As X-Ray's TraceSummary: HasError and HasFault are the root segment's (a handled
    # error downstream does not fail the trace); HasThrottle is any segment's.
    error = bool(root.get("error"))
    fault = bool(root.get("fault"))
    throttle = any(d.get("throttle") for d in every)
    request = (root.get("http") or {}).get("request") or {}
    response = (root.get("http") or {}).get("response") or {}
    annotations: dict[str, list[Any]] = {}
    users = []
    for document in every:
        for key, value in (document.get("annotations") or {}).items():
            values = annotations.setdefault(key, [])
            if value not in values:
                values.append(value)
        if document.get("user"):
            users.append(str(document["user"]))
    status = response.get("status")
    return {
        "id": trace_id,
        "start_time": min(starts) if starts else None,
        "duration": (max(ends) - min(starts)) if starts and ends else None,
        "responsetime": _elapsed(root),
        "ok": not (error or fault or throttle),
        "error": error,
        "fault": fault,
        "throttle": throttle,
        "partial": partial,
        "http": {
            "url": request.get("url"),
            "method": request.get("method"),
            "useragent": request.get("user_agent"),
            "clientip": request.get("client_ip"),
            "status": status if isinstance(status, int) else None,
        },
        "user": users[0] if users else None,
        "users": sorted(set(users)),
        "annotations": annotations,
        "entry_point": {"name": root.get("name"), "type": root.get("origin")} if root else None,
        "resource_arns": sorted(
            {str(d["resource_arn"]) for d in every if d.get("resource_arn")}
            | {
                str((d.get("aws") or {}).get("function_arn"))
                for d in every
                if (d.get("aws") or {}).get("function_arn")
            }
        ),
        "services": [node.view() for node in graph.nodes.values()],
        "edges": [
            {"source": list(source), "target": list(target), **figures}
            for (source, target), figures in graph.edges.items()
        ],
    }
