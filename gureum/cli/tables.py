"""``gureum tables list|describe|scan|get|put``: gureum's tables through boto3's
``dynamodb`` client.

Items go in and come out as plain JSON (``{"id": "1", "n": 2}``), not DynamoDB's typed
form (``{"id": {"S": "1"}}``): boto3's TypeSerializer and TypeDeserializer convert
them, numbers as Decimal so that none loses digits on the way.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

from gureum.cli.client import CLIError, add_client_options, call, make_client, print_json


def _plain(value: Any) -> Any:
    """A deserialized value as JSON can hold it: sets as sorted lists, Decimals as
    ints or floats (their text when a float would lose digits), bytes as text."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, dict):
        return {key: _plain(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_plain(member) for member in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(member) for member in value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3's Binary
        return bytes(value.value).decode("utf-8", "replace")
    return value


def _plain_item(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {name: _plain(deserializer.deserialize(value)) for name, value in item.items()}


def _typed_item(text: str, what: str) -> dict[str, Any]:
    """``text``, a JSON object, in DynamoDB's typed form (numbers as Decimal)."""
    from boto3.dynamodb.types import TypeSerializer

    try:
        value = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict) or not value:
        raise CLIError(f"{what} must be a JSON object with at least one attribute")
    serializer = TypeSerializer()
    try:
        return {name: serializer.serialize(member) for name, member in value.items()}
    except TypeError as exc:
        raise CLIError(f"{what} cannot be stored: {exc}") from None


def cmd_tables_list(args: argparse.Namespace) -> int:
    dynamodb = make_client(args, "dynamodb")
    params: dict[str, Any] = {}
    names: list[str] = []
    while True:
        page = call(dynamodb.list_tables, args, **params)
        names += page.get("TableNames", [])
        if not page.get("LastEvaluatedTableName"):
            break
        params["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]
    if args.json:
        print_json(names)
    else:
        for name in names:
            print(name)
    return 0


def cmd_tables_describe(args: argparse.Namespace) -> int:
    dynamodb = make_client(args, "dynamodb")
    print_json(call(dynamodb.describe_table, args, TableName=args.table)["Table"])
    return 0


def cmd_tables_scan(args: argparse.Namespace) -> int:
    """Every page of a Scan, or the first ``--limit`` items; one JSON array."""
    if args.limit is not None and args.limit < 1:
        raise CLIError("--limit must be at least 1")
    dynamodb = make_client(args, "dynamodb")
    params: dict[str, Any] = {"TableName": args.table}
    items: list[dict[str, Any]] = []
    while args.limit is None or len(items) < args.limit:
        if args.limit is not None:
            params["Limit"] = args.limit - len(items)
        page = call(dynamodb.scan, args, **params)
        items += (_plain_item(item) for item in page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    print_json(items)
    return 0


def cmd_tables_get(args: argparse.Namespace) -> int:
    dynamodb = make_client(args, "dynamodb")
    key = _typed_item(args.key, "KEY")
    answer = call(dynamodb.get_item, args, TableName=args.table, Key=key, ConsistentRead=True)
    if "Item" not in answer:
        raise CLIError(f"no item with key {args.key} in table {args.table}")
    print_json(_plain_item(answer["Item"]))
    return 0


def cmd_tables_put(args: argparse.Namespace) -> int:
    dynamodb = make_client(args, "dynamodb")
    item = _typed_item(args.item, "ITEM")
    answer = call(dynamodb.put_item, args, TableName=args.table, Item=item, ReturnValues="ALL_OLD")
    if args.json:
        print_json(
            {"Replaced": _plain_item(answer["Attributes"]) if "Attributes" in answer else None}
        )
    else:
        print("replaced an item" if "Attributes" in answer else "put a new item")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tables`` and its actions to ``gureum``'s commands."""
    tables = commands.add_parser("tables", help="list and describe tables, scan, get and put items")
    actions = tables.add_subparsers(dest="tables_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the names of every table")
    listing.set_defaults(func=cmd_tables_list)

    describe = actions.add_parser("describe", help="a table's description, as JSON")
    describe.add_argument("table", help="a table name")
    describe.set_defaults(func=cmd_tables_describe)

    scan = actions.add_parser("scan", help="a table's items as a JSON array (every page)")
    scan.add_argument("table", help="a table name")
    scan.add_argument("--limit", type=int, help="stop after this many items")
    scan.set_defaults(func=cmd_tables_scan)

    get = actions.add_parser("get", help="one item by its key, as JSON")
    get.add_argument("table", help="a table name")
    get.add_argument("key", metavar="KEY-JSON", help='the key as plain JSON: \'{"id": "1"}\'')
    get.set_defaults(func=cmd_tables_get)

    put = actions.add_parser("put", help="write an item (replacing one with the same key)")
    put.add_argument("table", help="a table name")
    put.add_argument(
        "item", metavar="ITEM-JSON", help='the item as plain JSON: \'{"id": "1", "n": 2}\''
    )
    put.set_defaults(func=cmd_tables_put)

    for action in (listing, describe, scan, get, put):
        add_client_options(action)
