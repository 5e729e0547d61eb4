"""``gureum mappings list|describe``: event source mappings through boto3's ``lambda``
client, with the Leasing Service's leases (which node polls each, until when, from
where) from the server's own read-only view of them."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from gureum.cli.client import (
    CLIError,
    add_client_options,
    call,
    make_client,
    print_json,
    print_table,
)


def _all_mappings(args: argparse.Namespace) -> list[dict[str, Any]]:
    lam = make_client(args, "lambda")
    params: dict[str, Any] = {}
    if args.function:
        params["FunctionName"] = args.function
    found: list[dict[str, Any]] = []
    while True:
        page = call(lam.list_event_source_mappings, args, **params)
        found += page.get("EventSourceMappings", [])
        if not page.get("NextMarker"):
            return found
        params["Marker"] = page["NextMarker"]


def _leases(args: argparse.Namespace, uuid: str) -> list[dict[str, Any]]:
    url = f"{args.endpoint.rstrip('/')}/_gureum/event-source-mappings/{uuid}/leases"
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return list(json.loads(answer.read())["Leases"])
    except urllib.error.HTTPError as error:
        raise CLIError(f"leases of {uuid}: HTTP {error.code}") from None
    except OSError as error:
        raise CLIError(f"cannot reach gureum at {args.endpoint}: {error}") from None


def _owner(leases: list[dict[str, Any]]) -> str:
    owners = sorted({lease["Owner"] for lease in leases if lease["Owner"]})
    return ", ".join(owner[:8] for owner in owners) or "-"


def cmd_mappings_list(args: argparse.Namespace) -> int:
    mappings = _all_mappings(args)
    if args.json:
        print_json(mappings)
        return 0
    rows: list[tuple[str, ...]] = [("UUID", "STATE", "SOURCE", "FUNCTION", "BATCH", "POLLED BY")]
    for mapping in mappings:
        rows.append(
            (
                mapping["UUID"],
                mapping["State"],
                mapping["EventSourceArn"].rsplit(":", 1)[-1],
                mapping["FunctionArn"].split(":function:", 1)[-1],
                str(mapping.get("BatchSize", "-")),
                _owner(_leases(args, mapping["UUID"])),
            )
        )
    print_table(rows)
    return 0


def cmd_mappings_describe(args: argparse.Namespace) -> int:
    lam = make_client(args, "lambda")
    mapping = call(lam.get_event_source_mapping, args, UUID=args.uuid)
    mapping.pop("ResponseMetadata", None)
    leases = _leases(args, args.uuid)
    if args.json:
        print_json({**mapping, "Leases": leases})
        return 0
    for key in (
        "UUID",
        "State",
        "StateTransitionReason",
        "EventSourceArn",
        "FunctionArn",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "FunctionResponseTypes",
        "ScalingConfig",
        "StartingPosition",
        "ParallelizationFactor",
        "TumblingWindowInSeconds",
        "DestinationConfig",
        "LastProcessingResult",
        "LastModified",
    ):
        if key in mapping:
            print(f"{key + ':':<32}{mapping[key]}")
    if not leases:
        print("leases: none (no node polls it)")
        return 0
    rows: list[tuple[str, ...]] = [("LEASE", "OWNER", "EXPIRES IN", "CHECKPOINT")]
    shards = any(lease["Shard"] for lease in leases)
    if shards:
        rows[0] += ("ITERATOR AGE", "DUPLICATES")
    for lease in leases:
        row: tuple[str, ...] = (
            lease["LeaseKey"],
            lease["Owner"] or "- (free)",
            f"{lease['ExpiresInSeconds']:.1f} s" if lease["Owner"] else "-",
            lease["Checkpoint"] or "-",
        )
        if shards:
            age = lease.get("IteratorAgeMilliseconds")
            row += (f"{age} ms" if age is not None else "-", str(lease.get("Duplicates", 0)))
        rows.append(row)
    print_table(rows)
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``mappings`` and its actions to ``gureum``'s commands."""
    mappings = commands.add_parser(
        "mappings", help="event source mappings: their State and who polls them"
    )
    actions = mappings.add_subparsers(dest="mappings_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every mapping, its State and the node polling it")
    listing.add_argument("--function", help="only the mappings of this function")
    listing.set_defaults(func=cmd_mappings_list)
    describe = actions.add_parser(
        "describe",
        help="one mapping's configuration and its leases (owner, expiry, checkpoint, "
        "and a shard's iterator age and duplicates)",
    )
    describe.add_argument("uuid", help="the mapping's UUID")
    describe.set_defaults(func=cmd_mappings_describe)
    for parser in (listing, describe):
        add_client_options(parser)
