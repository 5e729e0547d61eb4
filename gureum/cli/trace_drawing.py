"""What ``gureum traces``, ``trace`` and ``service-map`` draw, from X-Ray's answers
(GetTraceSummaries' summaries, BatchGetTraces' traces, GetServiceGraph's services).

Pure functions, no I/O: they are tested on hand-made documents, without a server.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: The widest annotations cell and error mark; longer ones end in an ellipsis.
MAX_ANNOTATIONS_WIDTH = 60
MAX_MARK_WIDTH = 32
MIN_BAR_WIDTH = 10
BAR = "█"
OPEN_BAR = "░"  # an in-progress span: it runs to the end of the axis, at least


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _table_lines(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def short_type(kind: str | None) -> str:
    """``AWS::Lambda::Function`` -> ``Lambda::Function``: the prefix every AWS origin has."""
    return (kind or "").removeprefix("AWS::")


# traces


def _local_time(value: Any) -> str:
    """HH:MM:SS.mmm in local time, from a datetime (boto3's) or epoch seconds."""
    if isinstance(value, datetime):
        moment = value.astimezone()
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value)
    else:
        return "-"
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if isinstance(value, int | float) else 0.0


def _annotation_value(value: dict[str, Any]) -> str:
    if "BooleanValue" in value:
        return "true" if value["BooleanValue"] else "false"
    if "NumberValue" in value:
        number = float(value["NumberValue"])
        return str(int(number)) if number.is_integer() else repr(number)
    text = str(value.get("StringValue", ""))
    return json.dumps(text) if not text or any(c in text for c in ' ,="') else text


def annotations_text(annotations: dict[str, list[dict[str, Any]]]) -> str:
    """``customer=alice items=3 vip=true``; several values of one key: ``k=a,b``."""
    parts = []
    for key in sorted(annotations):
        values = [_annotation_value(v.get("AnnotationValue") or {}) for v in annotations[key]]
        parts.append(f"{key}={','.join(values)}")
    return _clip(" ".join(parts), MAX_ANNOTATIONS_WIDTH)


def flags_text(summary: dict[str, Any]) -> str:
    """``FAULT,PARTIAL``, or ``-`` for a trace that went well and is complete."""
    flags = [
        word
        for word, field in (
            ("FAULT", "HasFault"),
            ("ERROR", "HasError"),
            ("THROTTLE", "HasThrottle"),
            ("PARTIAL", "IsPartial"),
        )
        if summary.get(field)
    ]
    return ",".join(flags) or "-"


def request_text(summary: dict[str, Any]) -> str:
    """``POST 200`` for an HTTP entry, else the entry point: ``worker (EC2::Instance)``."""
    http = summary.get("Http") or {}
    if http.get("HttpMethod") or http.get("HttpStatus") is not None:
        return " ".join(str(x) for x in (http.get("HttpMethod"), http.get("HttpStatus")) if x)
    entry = summary.get("EntryPoint") or {}
    if not entry.get("Name"):
        return "-"
    kind = short_type(entry.get("Type"))
    return f"{entry['Name']} ({kind})" if kind and kind != "unknown" else str(entry["Name"])


def newest_first(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(summaries, key=lambda s: (_epoch(s.get("StartTime")), s["Id"]), reverse=True)


def trace_table(summaries: list[dict[str, Any]]) -> list[str]:
    """The ``gureum traces`` table, in the order given."""
    rows: list[tuple[str, ...]] = [
        ("TRACE ID", "START", "DURATION", "REQUEST", "FLAGS", "ANNOTATIONS")
    ]
    for summary in summaries:
        duration = summary.get("Duration")
        rows.append(
            (
                summary["Id"],
                _local_time(summary.get("StartTime")),
                _ms(duration) if isinstance(duration, int | float) else "-",
                request_text(summary),
                flags_text(summary),
                annotations_text(summary.get("Annotations") or {}),
            )
        )
    return _table_lines(rows)


# trace: the waterfall


@dataclass(frozen=True)
class Span:
    """One line of the waterfall: a segment or subsegment at its depth in the tree."""

    depth: int
    document: dict[str, Any]
    subsegment: bool = False

    @property
    def start(self) -> float:
        return float(self.document.get("start_time") or 0.0)

    @property
    def end(self) -> float | None:
        end = self.document.get("end_time")
        return float(end) if isinstance(end, int | float) else None


def _start(document: dict[str, Any]) -> float:
    start = document.get("start_time")
    return float(start) if isinstance(start, int | float) else math.inf


def spans(documents: list[dict[str, Any]]) -> list[Span]:
    """The tree of a trace, depth first, children by start time.

    A segment's children are its subsegments and the segments whose ``parent_id`` names
    it or one of its subsegments (a call it made that a traced service answered).
    """
    known: set[str] = set()

    def index(document: dict[str, Any]) -> None:
        known.add(str(document.get("id")))
        for child in document.get("subsegments") or []:
            index(child)

    for document in documents:
        index(document)
    adopted: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for document in documents:
        parent = document.get("parent_id")
        if parent is not None and str(parent) in known and parent != document.get("id"):
            adopted.setdefault(str(parent), []).append(document)
        else:
            roots.append(document)
    found: list[Span] = []
    seen: set[int] = set()

    def walk(document: dict[str, Any], depth: int, subsegment: bool) -> None:
        if id(document) in seen:  # parent ids that go round in a circle
            return
        seen.add(id(document))
        found.append(Span(depth, document, subsegment))
        children = [(child, True) for child in document.get("subsegments") or []]
        children += [(child, False) for child in adopted.get(str(document.get("id")), [])]
        for child, nested in sorted(children, key=lambda item: _start(item[0])):
            walk(child, depth + 1, nested or child.get("type") == "subsegment")

    for document in [*sorted(roots, key=_start), *sorted(documents, key=_start)]:
        # (the second round: documents left over by such a circle)
        walk(document, 0, document.get("type") == "subsegment")
    return found


def bar(start: float, end: float, origin: float, span: float, width: int) -> tuple[int, int]:
    """(first column, columns) of [start, end] on an axis of ``width`` columns that
    starts at ``origin`` and lasts ``span`` seconds; every span gets one column at least."""
    if span <= 0:
        return 0, 1
    first = min(width - 1, max(0, int((start - origin) / span * width + 0.5)))
    last = min(width, int((end - origin) / span * width + 0.5))
    return first, max(1, last - first)


def label(document: dict[str, Any]) -> str:
    """``name (Lambda::Function)`` for a segment's origin, ``name [remote]`` for a
    subsegment's namespace."""
    name = str(document.get("name", "?"))
    if document.get("origin"):
        return f"{name} ({short_type(str(document['origin']))})"
    if document.get("namespace"):
        return f"{name} [{document['namespace']}]"
    return name


def mark(document: dict[str, Any]) -> str:
    """``✗ fault: ValueError``, ``! throttle``, ``! error: KeyError`` or ``''``."""
    cause = document.get("cause")
    exceptions = cause.get("exceptions") if isinstance(cause, dict) else None
    first = exceptions[0] if isinstance(exceptions, list) and exceptions else None
    kind = first.get("type") if isinstance(first, dict) else None
    suffix = f": {kind}" if kind else ""
    if document.get("fault"):
        return _clip(f"✗ fault{suffix}", MAX_MARK_WIDTH)
    if document.get("throttle"):
        return "! throttle"
    if document.get("error"):
        return _clip(f"! error{suffix}", MAX_MARK_WIDTH)
    return ""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _documents(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(item["Document"]) for item in trace.get("Segments") or []]


def waterfall(trace: dict[str, Any], width: int) -> list[str]:
    """The ``gureum trace`` lines for one of BatchGetTraces' Traces, ``width`` columns
    wide (the bars take what the names, durations and marks leave)."""
    found = spans(_documents(trace))
    if not found:
        return [f"Trace {trace['Id']}: no segments"]
    origin = min(s.start for s in found)
    finish = max(s.end if s.end is not None else s.start for s in found)
    total = max(0.0, finish - origin)
    labels = ["  " * s.depth + label(s.document) for s in found]
    durations = [
        _ms(max(0.0, s.end - s.start)) if s.end is not None else "in progress" for s in found
    ]
    marks = [mark(s.document) for s in found]
    duration_width = max(len(d) for d in durations)
    mark_width = max(len(m) for m in marks)
    label_width = min(max(len(text) for text in labels), max(12, width // 3))
    bar_width = width - label_width - 1 - 1 - duration_width - (mark_width + 1 if mark_width else 0)
    bar_width = max(MIN_BAR_WIDTH, bar_width)

    nested = sum(1 for s in found if s.subsegment)
    header = [
        f"Trace {trace['Id']}  {_ms(total)}  {_count(len(found) - nested, 'segment')}, "
        + _count(nested, "subsegment")
    ]
    if any(s.end is None for s in found):
        header[0] += "  in progress"
    if trace.get("LimitExceeded"):
        header[0] += "  limit exceeded (segments dropped)"
    header.append(
        f"time axis: {bar_width} columns, one column = {_ms(total / bar_width)}"
        if total > 0
        else "time axis: every span starts and ends at 0 ms"
    )
    left, right = "0 ms", _ms(total)
    rule = bar_width - len(left) - len(right) - 2
    axis = f"{left} {'─' * rule} {right}" if rule > 0 else f"{left} {right}"
    header.append(" " * (label_width + 1) + axis)

    lines = header
    for span, text, duration, warning in zip(found, labels, durations, marks, strict=True):
        if span.end is None:
            first, columns = bar(span.start, finish, origin, total, bar_width)
            drawn = OPEN_BAR * columns
        else:
            first, columns = bar(span.start, span.end, origin, total, bar_width)
            drawn = BAR * columns
        row = (
            _clip(text, label_width).ljust(label_width)
            + " "
            + (" " * first + drawn).ljust(bar_width)
            + " "
            + duration.rjust(duration_width)
            + (" " + warning if warning else "")
        )
        lines.append(row.rstrip())
    return lines


def trace_json(trace: dict[str, Any]) -> dict[str, Any]:
    """A trace with its segment documents parsed (not JSON strings in JSON)."""
    return {
        "Id": trace["Id"],
        "Duration": trace.get("Duration"),
        "LimitExceeded": trace.get("LimitExceeded", False),
        "Segments": _documents(trace),
    }


# service-map


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _average_ms(statistics: dict[str, Any], histogram: list[dict[str, Any]]) -> str:
    # TotalCount also counts calls that have not ended (no response time); the
    # histogram counts only those that have.
    timed = sum(int(bucket.get("Count", 0)) for bucket in histogram) or statistics.get(
        "TotalCount", 0
    )
    total = statistics.get("TotalResponseTime")
    if not timed or not isinstance(total, int | float):
        return "-"
    return f"{total / timed * 1000:.1f}"


def _node_name(service: dict[str, Any]) -> str:
    kind = short_type(service.get("Type"))
    name = str(service.get("Name", "?"))
    return name if kind in ("", "client", "unknown") else f"{name} ({kind})"


def service_map(services: list[dict[str, Any]]) -> list[str]:
    """The ``gureum service-map`` lines: the services, then the calls between them.

    Services: ERROR% is client errors other than throttles, THROTTLE% throttles and
    FAULT% server faults, each of all requests. Calls: ERROR% counts throttles too.
    """
    if not services:
        return ["no services"]
    by_reference = {s.get("ReferenceId"): s for s in services}
    nodes: list[tuple[str, ...]] = [
        ("SERVICE", "TYPE", "REQUESTS", "ERROR%", "FAULT%", "THROTTLE%", "AVG MS")
    ]
    calls: list[tuple[str, ...]] = [("CALL", "REQUESTS", "ERROR%", "FAULT%", "AVG MS")]
    for service in sorted(services, key=lambda s: (str(s.get("Name")), str(s.get("Type")))):
        statistics = service.get("SummaryStatistics")
        if statistics is None:  # the client: its requests are its calls
            count = sum(
                int((e.get("SummaryStatistics") or {}).get("TotalCount", 0))
                for e in service.get("Edges") or []
            )
            nodes.append((str(service.get("Name")), str(service.get("Type")), str(count)))
        else:
            total = int(statistics.get("TotalCount", 0))
            errors = statistics.get("ErrorStatistics") or {}
            faults = statistics.get("FaultStatistics") or {}
            nodes.append(
                (
                    str(service.get("Name")),
                    str(service.get("Type")),
                    str(total),
                    _percent(int(errors.get("OtherCount", 0)), total),
                    _percent(int(faults.get("TotalCount", 0)), total),
                    _percent(int(errors.get("ThrottleCount", 0)), total),
                    _average_ms(statistics, service.get("ResponseTimeHistogram") or []),
                )
            )
        for edge in service.get("Edges") or []:
            target = by_reference.get(edge.get("ReferenceId"))
            statistics = edge.get("SummaryStatistics") or {}
            total = int(statistics.get("TotalCount", 0))
            calls.append(
                (
                    f"{_node_name(service)} → "
                    + (_node_name(target) if target else f"#{edge.get('ReferenceId')}"),
                    str(total),
                    _percent(
                        int((statistics.get("ErrorStatistics") or {}).get("TotalCount", 0)), total
                    ),
                    _percent(
                        int((statistics.get("FaultStatistics") or {}).get("TotalCount", 0)), total
                    ),
                    _average_ms(statistics, edge.get("ResponseTimeHistogram") or []),
                )
            )
    widest = len(nodes[0])
    lines = _table_lines([row + ("-",) * (widest - len(row)) for row in nodes])
    if len(calls) > 1:
        lines += ["", *_table_lines(calls)]
    return lines
