"""``gureum logs``: a function's log lines, once or followed, through boto3's ``logs``
client (FilterLogEvents)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from gureum.cli.client import CLIError, add_client_options, call, make_client, parse_since

FOLLOW_INTERVAL = 1.0
FOLLOW_LOOKBACK_MS = 5_000


def _log_pages(
    args: argparse.Namespace, logs: Any, group: str, start: int | None
) -> Iterator[list[dict[str, Any]]] | None:
    """The events of ``group`` from ``start`` on, page by page; None: no such group."""
    params: dict[str, Any] = {"logGroupName": group}
    if start is not None:
        params["startTime"] = start
    if args.filter:
        params["filterPattern"] = args.filter
    first = call(logs.filter_log_events, args, missing_ok=True, **params)
    if first is None:
        return None

    def pages(page: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        while True:
            yield page["events"]
            if not page.get("nextToken"):
                return
            params["nextToken"] = page["nextToken"]
            page = call(logs.filter_log_events, args, **params)

    return pages(first)


def format_event(event: dict[str, Any]) -> str:
    """``<ISO time> <message>``, the time in UTC to the millisecond."""
    stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
    return f"{stamp.isoformat(timespec='milliseconds')} {event['message'].rstrip(chr(10))}"


def cmd_logs(args: argparse.Namespace) -> int:
    logs = make_client(args, "logs")
    group = f"/aws/lambda/{args.name}"
    since = parse_since(args.since) if args.since else None
    newest: int | None = None
    # Following: each poll looks back a little before the newest event printed, since a
    # line may be stored after a newer one; eventIds keep what was printed from repeating.
    seen: dict[str, int] = {}
    told_missing = False
    try:
        while True:
            start = since if newest is None else max(since or 0, newest - FOLLOW_LOOKBACK_MS)
            pages = _log_pages(args, logs, group, start)
            if pages is None:
                if not args.follow:
                    raise CLIError(f"no logs yet for {args.name}")
                if not told_missing:
                    print(f"no logs yet for {args.name}; waiting", file=sys.stderr, flush=True)
                    told_missing = True
            for events in pages or ():
                for event in events:
                    if args.follow:
                        if event["eventId"] in seen:
                            continue
                        seen[event["eventId"]] = event["timestamp"]
                        newest = max(newest or 0, event["timestamp"])
                    print(json.dumps(event) if args.json else format_event(event), flush=True)
            if not args.follow:
                return 0
            if newest is not None:
                horizon = newest - FOLLOW_LOOKBACK_MS
                seen = {event_id: ts for event_id, ts in seen.items() if ts >= horizon}
            time.sleep(FOLLOW_INTERVAL)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python's final flush
        # of stdout from complaining about the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``logs`` to ``gureum``'s commands."""
    logs = commands.add_parser("logs", help="print a function's logs")
    logs.add_argument("name")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--since", help="only lines newer than this (30s, 10m, 1h, 2d)")
    logs.add_argument("--filter", help="a CloudWatch filter pattern (terms, JSON, [fields])")
    logs.set_defaults(func=cmd_logs)
    add_client_options(logs)
