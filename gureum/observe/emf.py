"""CloudWatch's embedded metric format: a JSON log line that carries metrics.

A function prints one JSON object per line whose ``_aws`` member holds the directives
(``Timestamp`` in epoch ms, ``CloudWatchMetrics``: each a ``Namespace``, its
``Dimensions`` as sets of member names, its ``Metrics`` as ``Name``/``Unit``/
``StorageResolution``); the values are the object's own members (a number or a list of
up to 100), and the dimensions' values its string members. Lambda turns such lines of a
function's log into metrics; the log sink does it here as it writes the log, off the
invoke path. Pure: :func:`parse` returns what to record; lines that break the format
are logs only, as on Lambda.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from gureum.observe.metric_store import Dimensions

#: The format's limits.
MAX_METRICS = 100
MAX_DIMENSIONS = 30
MAX_VALUES = 100


@dataclass(frozen=True, slots=True)
class EmbeddedValue:
    """One metric value a log line carries."""

    namespace: str
    name: str
    dimensions: Dimensions
    values: tuple[float, ...]
    unit: str
    high_resolution: bool
    #: epoch seconds
    timestamp: float


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    figure = float(value)
    return None if math.isnan(figure) or math.isinf(figure) else figure


def parse(line: str) -> list[EmbeddedValue]:
    """The metrics of an embedded-metric-format line (none for any other line)."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(document, dict):
        return []
    directives = document.get("_aws")
    if not isinstance(directives, dict):
        return []
    timestamp = _number(directives.get("Timestamp"))
    metrics = directives.get("CloudWatchMetrics")
    if timestamp is None or not isinstance(metrics, list):
        return []
    found: list[EmbeddedValue] = []
    for directive in metrics:
        if not isinstance(directive, dict):
            return []
        namespace = directive.get("Namespace")
        sets = directive.get("Dimensions")
        declared = directive.get("Metrics")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
            return []
        if not isinstance(sets, list) or not isinstance(declared, list):
            return []
        if len(declared) > MAX_METRICS:
            return []
        dimension_sets: list[Dimensions] = []
        for names in sets:
            if not isinstance(names, list) or len(names) > MAX_DIMENSIONS:
                return []
            pairs = []
            for name in names:
                value = document.get(name) if isinstance(name, str) else None
                if not isinstance(value, str):
                    return []  # a dimension must name a string member
                pairs.append((name, value))
            dimension_sets.append(tuple(sorted(pairs)))
        if not sets:
            dimension_sets.append(())
        for metric in declared:
            if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
                return []
            raw = document.get(metric["Name"])
            values = raw if isinstance(raw, list) else [raw]
            figures = [_number(v) for v in values[:MAX_VALUES]]
            if not figures or any(f is None for f in figures):
                continue  # a metric without a numeric value is skipped, as Lambda does
            unit = metric.get("Unit") if isinstance(metric.get("Unit"), str) else "None"
            high = metric.get("StorageResolution") == 1
            for dimensions in dimension_sets:
                found.append(
                    EmbeddedValue(
                        namespace,
                        metric["Name"],
                        dimensions,
                        tuple(f for f in figures if f is not None),
                        str(unit),
                        high,
                        timestamp / 1000,
                    )
                )
    return found
