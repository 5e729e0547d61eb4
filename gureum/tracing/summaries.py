"""GetTraceSummaries: traces in a time range that match a filter expression, found by
index lookups first (the annotation conditions every match must meet), then checked
against the whole expression, page by page."""

from __future__ import annotations

from typing import Any

from gureum.tracing.filter_expression import EdgeView, Expression, ServiceView, TraceView
from gureum.tracing.trace_store import TraceStore

#: Summaries a page answers at most, and candidates one call looks at at most (X-Ray
#: also answers a NextToken when a search is long, with fewer results).
PAGE_SIZE = 100
SCAN_BUDGET = 20_000
_CHUNK = 1000


def trace_view(summary: dict[str, Any]) -> TraceView:
    """The filter language's view of a stored trace summary."""
    http = summary.get("http") or {}
    return TraceView(
        id=str(summary["id"]),
        duration=summary.get("duration"),
        responsetime=summary.get("responsetime"),
        error=bool(summary.get("error")),
        fault=bool(summary.get("fault")),
        throttle=bool(summary.get("throttle")),
        partial=bool(summary.get("partial")),
        http_status=http.get("status"),
        http_url=http.get("url"),
        http_method=http.get("method"),
        http_useragent=http.get("useragent"),
        http_clientip=http.get("clientip"),
        users=tuple(summary.get("users") or ()),
        annotations=summary.get("annotations") or {},
        services=tuple(
            ServiceView(
                name=str(s["name"]),
                type=s.get("type"),
                ok=bool(s.get("ok", True)),
                error=bool(s.get("error")),
                fault=bool(s.get("fault")),
                throttle=bool(s.get("throttle")),
                responsetime=s.get("responsetime"),
                names=(str(s["name"]),),
                inferred=bool(s.get("inferred")),
            )
            for s in summary.get("services") or []
        ),
        edges=tuple(
            EdgeView(
                source=str(e["source"][0]),
                source_type=e["source"][1] or None,
                target=str(e["target"][0]),
                target_type=e["target"][1] or None,
                ok=bool(e.get("ok", True)),
                error=bool(e.get("error")),
                fault=bool(e.get("fault")),
                throttle=bool(e.get("throttle")),
                responsetime=e.get("responsetime"),
            )
            for e in summary.get("edges") or []
        ),
        resource_arns=tuple(summary.get("resource_arns") or ()),
    )


def _annotation_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BooleanValue": value}
    if isinstance(value, int | float):
        return {"NumberValue": value}
    return {"StringValue": str(value)}


def _service_id(service: dict[str, Any], account_id: str) -> dict[str, Any]:
    return {
        "Name": service["name"],
        "Names": [service["name"]],
        "AccountId": account_id,
        "Type": service.get("type") or "unknown",
    }


def api_summary(summary: dict[str, Any], account_id: str) -> dict[str, Any]:
    """A TraceSummary as the X-Ray API answers it."""
    http = summary.get("http") or {}
    services = [s for s in summary.get("services") or [] if s.get("type") != "client"]
    entry = summary.get("entry_point")
    answer: dict[str, Any] = {
        "Id": summary["id"],
        "StartTime": summary.get("start_time"),
        "Duration": summary.get("duration"),
        "ResponseTime": summary.get("responsetime"),
        "HasFault": bool(summary.get("fault")),
        "HasError": bool(summary.get("error")),
        "HasThrottle": bool(summary.get("throttle")),
        "IsPartial": bool(summary.get("partial")),
        "Http": {
            key: value
            for key, value in (
                ("HttpURL", http.get("url")),
                ("HttpStatus", http.get("status")),
                ("HttpMethod", http.get("method")),
                ("UserAgent", http.get("useragent")),
                ("ClientIp", http.get("clientip")),
            )
            if value is not None
        },
        "Annotations": {
            key: [{"AnnotationValue": _annotation_value(v), "ServiceIds": []} for v in values]
            for key, values in (summary.get("annotations") or {}).items()
        },
        "Users": [{"UserName": user, "ServiceIds": []} for user in summary.get("users") or []],
        "ServiceIds": [_service_id(s, account_id) for s in services],
        "ResourceARNs": [{"ARN": arn} for arn in summary.get("resource_arns") or []],
        "Revision": 1,
    }
    if entry and entry.get("name"):
        answer["EntryPoint"] = _service_id(
            {"name": entry["name"], "type": entry.get("type")}, account_id
        )
    return answer


async def find(
    traces: TraceStore,
    start: float,
    end: float,
    expression: Expression | None,
    after: tuple[float, str] | None,
) -> tuple[list[dict[str, Any]], int, tuple[float, str] | None]:
    """(matching summaries, traces looked at, where the next page starts or None)."""
    conditions = [
        (c.key, c.op, c.value) for c in (expression.required_annotations() if expression else [])
    ]
    found: list[dict[str, Any]] = []
    scanned = 0
    while True:
        chunk = await traces.summaries(
            start, end, annotation_filters=conditions, after=after, limit=_CHUNK
        )
        for summary in chunk:
            scanned += 1
            after = (float(summary.get("start_time") or 0.0), str(summary["id"]))
            if expression is None or expression.matches(trace_view(summary)):
                found.append(summary)
                if len(found) >= PAGE_SIZE:
                    return found, scanned, after
            if scanned >= SCAN_BUDGET:
                return found, scanned, after
        if len(chunk) < _CHUNK:
            return found, scanned, None


async def every(traces: TraceStore, start: float, end: float) -> list[dict[str, Any]]:
    """Every stored summary of a trace that started in [start, end] (GetServiceGraph's
    and the console's service map's input)."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = await traces.summaries(start, end, after=after, limit=5000)
        found.extend(page)
        if len(page) < 5000:
            return found
        after = (float(page[-1]["start_time"] or 0.0), str(page[-1]["id"]))
