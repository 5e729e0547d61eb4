"""X-Ray's data: trace ids, the trace header, and segment documents checked as X-Ray
checks them.

A segment document is JSON of at most 64 KB: ``name``, a 16-hex-digit ``id``, a
``trace_id`` of the form ``1-<8 hex: epoch seconds>-<24 hex>``, ``start_time`` and either
``end_time`` or ``"in_progress": true``. A subsegment sent on its own carries
``"type": "subsegment"`` and its ``parent_id`` as well. Anything else is refused with a
reason; the daemon counts the reasons, PutTraceSegments answers them.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

MAX_DOCUMENT_BYTES = 64 * 1024
MAX_NAME = 200
MAX_ANNOTATIONS = 50
TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
SEGMENT_ID = re.compile(r"[0-9a-f]{16}")
ANNOTATION_KEY = re.compile(r"[A-Za-z0-9_]{1,500}")


class InvalidSegment(ValueError):
    """A document X-Ray would refuse; ``reason`` is short and stable (it is counted)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def new_trace_id(now: float | None = None) -> str:
    return f"1-{int(now if now is not None else time.time()):08x}-{secrets.token_hex(12)}"


def new_segment_id() -> str:
    return secrets.token_hex(8)


def status_flags(status: int) -> dict[str, bool]:
    """X-Ray's flags for an HTTP status: ``error`` for 4xx (and ``throttle`` too for
    429), ``fault`` for 5xx; nothing for the rest."""
    if status == 429:
        return {"error": True, "throttle": True}
    if 400 <= status < 500:
        return {"error": True}
    if status >= 500:
        return {"fault": True}
    return {}


@dataclass(frozen=True, slots=True)
class TraceHeader:
    """``X-Amzn-Trace-Id: Root=...;Parent=...;Sampled=1`` (``Lineage`` and others kept
    as they came, ignored)."""

    root: str | None
    parent: str | None
    sampled: str | None  # "1", "0", "?" or None

    @classmethod
    def parse(cls, value: str | None) -> TraceHeader:
        fields: dict[str, str] = {}
        for part in (value or "").split(";"):
            key, _, item = part.strip().partition("=")
            if key:
                fields[key.strip().lower()] = item.strip()
        root = fields.get("root")
        parent = fields.get("parent")
        return cls(
            root if root and TRACE_ID.fullmatch(root) else None,
            parent if parent and SEGMENT_ID.fullmatch(parent) else None,
            fields.get("sampled"),
        )

    def format(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        if self.sampled is not None:
            parts.append(f"Sampled={self.sampled}")
        return ";".join(parts)


@dataclass(frozen=True, slots=True)
class Segment:
    """One stored document: a segment, or a subsegment sent on its own."""

    trace_id: str
    id: str
    parent_id: str | None
    name: str
    start_time: float
    end_time: float | None  # None: in progress
    subsegment: bool  # sent on its own, to be placed under ``parent_id``
    document: dict[str, Any]
    size: int
    #: The document as it came (stored as is).
    raw: str

    @property
    def in_progress(self) -> bool:
        return self.end_time is None


def _number(document: dict[str, Any], key: str) -> float:
    value = document.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidSegment(f"invalid {key}", f"{key} must be a number of epoch seconds")
    return float(value)


def _check_annotations(document: dict[str, Any]) -> None:
    annotations = document.get("annotations")
    if annotations is None:
        return
    if not isinstance(annotations, dict):
        raise InvalidSegment("invalid annotations", "annotations must be an object")
    if len(annotations) > MAX_ANNOTATIONS:
        raise InvalidSegment("invalid annotations", f"more than {MAX_ANNOTATIONS} annotations")
    for key, value in annotations.items():
        if not ANNOTATION_KEY.fullmatch(key):
            raise InvalidSegment(
                "invalid annotations", f"key {key!r} is not letters, digits and underscores"
            )
        if not isinstance(value, str | int | float | bool):
            raise InvalidSegment(
                "invalid annotations", f"{key} must be a string, number or boolean"
            )


def parse_document(raw: str | bytes) -> Segment:
    """A checked segment document; InvalidSegment saying why not."""
    data = raw.encode() if isinstance(raw, str) else raw
    size = len(data)
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidSegment("too large", f"{size} bytes; a document may have 64 KB")
    try:
        document = orjson.loads(data)
        text = data.decode()
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        raise InvalidSegment("not json") from None
    if not isinstance(document, dict):
        raise InvalidSegment("not an object")
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidSegment("missing name")
    if len(name) > MAX_NAME:
        raise InvalidSegment("invalid name", f"longer than {MAX_NAME} characters")
    segment_id = document.get("id")
    if not isinstance(segment_id, str) or not SEGMENT_ID.fullmatch(segment_id):
        raise InvalidSegment("invalid id", "id must be 16 hexadecimal digits")
    trace_id = document.get("trace_id")
    if not isinstance(trace_id, str) or not TRACE_ID.fullmatch(trace_id):
        raise InvalidSegment("invalid trace_id", "trace_id must look like 1-5759e988-<24 hex>")
    start = _number(document, "start_time")
    end: float | None = None
    if document.get("in_progress") is True:
        if "end_time" in document:
            raise InvalidSegment("invalid end_time", "an in-progress segment has no end_time")
    else:
        end = _number(document, "end_time")
        if end < start:
            raise InvalidSegment("invalid end_time", "end_time is before start_time")
    subsegment = document.get("type") == "subsegment"
    parent = document.get("parent_id")
    if parent is not None and (not isinstance(parent, str) or not SEGMENT_ID.fullmatch(parent)):
        raise InvalidSegment("invalid parent_id", "parent_id must be 16 hexadecimal digits")
    if subsegment and parent is None:
        raise InvalidSegment("missing parent_id", "a subsegment sent alone needs its parent_id")
    _check_annotations(document)
    for child in iter_subsegments(document):
        if not isinstance(child.get("name"), str) or not isinstance(child.get("id"), str):
            raise InvalidSegment("invalid subsegment", "every subsegment needs a name and an id")
    return Segment(trace_id, segment_id, parent, name, start, end, subsegment, document, size, text)


def from_document(document: dict[str, Any]) -> Segment:
    """A segment the platform made itself (trusted: not checked again)."""
    text = orjson.dumps(document).decode()
    return Segment(
        document["trace_id"],
        document["id"],
        document.get("parent_id"),
        document["name"],
        float(document["start_time"]),
        document.get("end_time"),
        False,
        document,
        len(text),
        text,
    )


def iter_subsegments(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every subsegment nested in ``document``, depth first."""
    children = document.get("subsegments")
    if not isinstance(children, list):
        return
    for child in children:
        if isinstance(child, dict):
            yield child
            yield from iter_subsegments(child)
