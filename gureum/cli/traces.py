"""``gureum traces``, ``trace`` and ``service-map``: a running server's traces through
boto3's ``xray`` client (GetTraceSummaries, BatchGetTraces, GetServiceGraph).

What they draw is made by the pure functions of ``gureum.cli.trace_drawing``.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from collections.abc import Iterator
from typing import Any

from gureum.cli.client import (
    CLIError,
    add_client_options,
    call,
    make_client,
    parse_since,
    print_json,
)
from gureum.cli.trace_drawing import newest_first, service_map, trace_json, trace_table, waterfall
from gureum.tracing.segments import TRACE_ID

DEFAULT_SINCE = "10m"
DEFAULT_LIMIT = 50
#: GetTraceSummaries looks back at most a day a call, on X-Ray; longer windows are split.
SUMMARY_WINDOW = 24 * 3600


# traces


def _windows(
    start: float, end: float, size: float = SUMMARY_WINDOW
) -> Iterator[tuple[float, float]]:
    """[start, end] as windows of at most ``size`` seconds, newest first."""
    if end <= start:
        yield start, end
    while end > start:
        yield max(start, end - size), end
        end -= size


def _summaries(
    args: argparse.Namespace, xray: Any, start: float, end: float
) -> list[dict[str, Any]]:
    """The newest ``args.limit`` summaries of [start, end] that match ``args.filter``."""
    found: list[dict[str, Any]] = []
    for window_start, window_end in _windows(start, end):
        # Pages come oldest first: a window is read whole before the newest are known.
        params: dict[str, Any] = {"StartTime": window_start, "EndTime": window_end}
        if args.filter:
            params["FilterExpression"] = args.filter
        while True:
            page = call(xray.get_trace_summaries, args, **params)
            found += page.get("TraceSummaries", [])
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        if len(found) >= args.limit:
            break
    unique = {s["Id"]: s for s in found}  # windows share their edges
    return newest_first(list(unique.values()))[: args.limit]


def _end(now: float) -> int:
    """The end of a window that ends now: boto3 sends X-Ray's times as whole seconds
    (rounded down), which would leave out what started in the last second."""
    return math.ceil(now)


def cmd_traces(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CLIError("--limit must be at least 1")
    now = time.time()
    start = parse_since(args.since, now) / 1000
    xray = make_client(args, "xray")
    summaries = _summaries(args, xray, start, _end(now))
    if args.json:
        print_json(summaries)
    elif not summaries:
        print(f"no traces in the last {args.since}", file=sys.stderr)
    else:
        for line in trace_table(summaries):
            print(line)
    return 0


# trace: the waterfall


def cmd_trace(args: argparse.Namespace) -> int:
    if not TRACE_ID.fullmatch(args.id):
        raise CLIError(f"{args.id!r} is not a trace id (1-<8 hex digits>-<24 hex digits>)")
    xray = make_client(args, "xray")
    traces = call(xray.batch_get_traces, args, TraceIds=[args.id]).get("Traces") or []
    if not traces:
        raise CLIError(f"no trace {args.id} (not recorded, not written yet, or expired)")
    if args.json:
        print_json(trace_json(traces[0]))
        return 0
    width = args.width or shutil.get_terminal_size().columns
    for line in waterfall(traces[0], width):
        print(line)
    return 0


# service-map


def cmd_service_map(args: argparse.Namespace) -> int:
    now = time.time()
    start = parse_since(args.since, now) / 1000
    xray = make_client(args, "xray")
    params: dict[str, Any] = {"StartTime": start, "EndTime": _end(now)}
    services: list[dict[str, Any]] = []
    while True:
        page = call(xray.get_service_graph, args, **params)
        services += page.get("Services", [])
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    if args.json:
        print_json({"StartTime": start, "EndTime": now, "Services": services})
        return 0
    for line in service_map(services):
        print(line)
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``traces``, ``trace`` and ``service-map`` to ``gureum``'s commands."""
    traces = commands.add_parser("traces", help="recent traces, newest first")
    traces.add_argument(
        "--filter", help="an X-Ray filter expression, e.g. 'fault OR http.status >= 500'"
    )
    traces.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        help=f"how far back (30s, 10m, 2h, 1d; default {DEFAULT_SINCE})",
    )
    traces.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"at most this many (default {DEFAULT_LIMIT})",
    )
    traces.set_defaults(func=cmd_traces)

    trace = commands.add_parser("trace", help="one trace as a waterfall of its segments")
    trace.add_argument("id", help="a trace id: 1-<8 hex digits>-<24 hex digits>")
    trace.add_argument("--width", type=int, help="columns to draw in (default: the terminal's)")
    trace.set_defaults(func=cmd_trace)

    service_map_ = commands.add_parser(
        "service-map", help="services and the calls between them, with their error rates"
    )
    service_map_.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        help=f"how far back (30s, 10m, 2h, 1d; default {DEFAULT_SINCE})",
    )
    service_map_.set_defaults(func=cmd_service_map)

    for command in (traces, trace, service_map_):
        add_client_options(command)
