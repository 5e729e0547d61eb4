"""The service graph: the services of many traces and the calls between them, with
X-Ray's summary statistics and response-time histograms (GetServiceGraph,
GetTraceGraph, ``gureum service-map``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Stats:
    ok: int = 0
    throttle: int = 0
    error_other: int = 0
    fault: int = 0
    total: int = 0
    total_time: float = 0.0
    histogram: Counter[float] = field(default_factory=Counter)
    start: float | None = None
    end: float | None = None

    def add(self, figures: dict[str, Any], trace_start: float | None) -> None:
        """Count one call; its own start if the summary has it, else the trace's."""
        start = figures.get("start_time")
        if start is None:
            start = trace_start
        self.total += 1
        if figures.get("fault"):
            self.fault += 1
        elif figures.get("throttle"):
            self.throttle += 1
        elif figures.get("error"):
            self.error_other += 1
        else:
            self.ok += 1
        seconds = figures.get("responsetime")
        if isinstance(seconds, int | float):
            self.total_time += float(seconds)
            # X-Ray's histograms bucket response times; gureum's buckets are milliseconds.
            self.histogram[round(float(seconds), 3)] += 1
        if start is not None:
            self.start = start if self.start is None else min(self.start, start)
            finish = start + float(seconds or 0.0)
            self.end = finish if self.end is None else max(self.end, finish)

    def summary(self) -> dict[str, Any]:
        return {
            "OkCount": self.ok,
            "ErrorStatistics": {
                "ThrottleCount": self.throttle,
                "OtherCount": self.error_other,
                "TotalCount": self.throttle + self.error_other,
            },
            "FaultStatistics": {"OtherCount": self.fault, "TotalCount": self.fault},
            "TotalCount": self.total,
            "TotalResponseTime": round(self.total_time, 6),
        }

    def histogram_list(self) -> list[dict[str, Any]]:
        return [{"Value": value, "Count": count} for value, count in sorted(self.histogram.items())]


def service_graph(summaries: Iterable[dict[str, Any]], account_id: str) -> list[dict[str, Any]]:
    """X-Ray ``Service`` objects for the traces summarized in ``summaries``."""
    nodes: dict[tuple[str, str], _Stats] = {}
    kinds: dict[tuple[str, str], dict[str, Any]] = {}
    edges: dict[tuple[tuple[str, str], tuple[str, str]], _Stats] = {}
    roots: set[tuple[str, str]] = set()
    for summary in summaries:
        start = summary.get("start_time")
        for service in summary.get("services") or []:
            key = (str(service["name"]), str(service.get("type") or ""))
            kinds.setdefault(key, service)
            if key[1] != "client":
                nodes.setdefault(key, _Stats()).add(service, start)
            else:
                nodes.setdefault(key, _Stats())
        for edge in summary.get("edges") or []:
            source = (str(edge["source"][0]), str(edge["source"][1]))
            target = (str(edge["target"][0]), str(edge["target"][1]))
            edges.setdefault((source, target), _Stats()).add(edge, start)
            if source[1] == "client":
                roots.add(target)
                stats = nodes.setdefault(source, _Stats())
                stats.start = start if stats.start is None else min(stats.start, start or 0.0)
    references = {key: number for number, key in enumerate(sorted(nodes))}
    services = []
    for key, stats in sorted(nodes.items(), key=lambda item: references[item[0]]):
        name, kind = key
        node: dict[str, Any] = {
            "ReferenceId": references[key],
            "Name": name,
            "Names": [name],
            "Root": kind == "client" or key in roots,
            "Type": kind or "unknown",
            "State": "active",
            "Edges": [
                {
                    "ReferenceId": references[target],
                    "StartTime": edge.start,
                    "EndTime": edge.end,
                    "SummaryStatistics": edge.summary(),
                    "ResponseTimeHistogram": edge.histogram_list(),
                    "Aliases": [],
                }
                for (source, target), edge in sorted(edges.items())
                if source == key and target in references
            ],
        }
        if kind != "client":
            node["AccountId"] = account_id
            node["StartTime"] = stats.start
            node["EndTime"] = stats.end
            node["SummaryStatistics"] = stats.summary()
            node["ResponseTimeHistogram"] = stats.histogram_list()
            node["DurationHistogram"] = stats.histogram_list()
        if kinds.get(key, {}).get("inferred"):
            node["State"] = "unknown"
        services.append(node)
    return services
