"""``gureum queues list|send|receive|purge``: gureum's queues through boto3's ``sqs``
client."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gureum.cli.client import (
    CLIError,
    add_client_options,
    call,
    make_client,
    print_json,
    print_table,
)


def _queue_url(args: argparse.Namespace, sqs: Any) -> str:
    """``args.queue``: a queue URL as it is, a name looked up."""
    if "://" in args.queue:
        return str(args.queue)
    return str(call(sqs.get_queue_url, args, QueueName=args.queue)["QueueUrl"])


def cmd_queues_list(args: argparse.Namespace) -> int:
    sqs = make_client(args, "sqs")
    params: dict[str, Any] = {"MaxResults": 1000}
    if args.prefix:
        params["QueueNamePrefix"] = args.prefix
    urls: list[str] = []
    while True:
        page = call(sqs.list_queues, args, **params)
        urls += page.get("QueueUrls", [])
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    queues = []
    for url in urls:
        attributes = call(sqs.get_queue_attributes, args, QueueUrl=url, AttributeNames=["All"])
        queues.append({"QueueUrl": url, "Attributes": attributes.get("Attributes", {})})
    if args.json:
        print_json(queues)
        return 0
    rows: list[tuple[str, ...]] = [("NAME", "VISIBLE", "IN FLIGHT", "DELAYED", "DEAD-LETTER QUEUE")]
    for queue in queues:
        attributes = queue["Attributes"]
        redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
        rows.append(
            (
                queue["QueueUrl"].rsplit("/", 1)[-1],
                attributes.get("ApproximateNumberOfMessages", "-"),
                attributes.get("ApproximateNumberOfMessagesNotVisible", "-"),
                attributes.get("ApproximateNumberOfMessagesDelayed", "-"),
                redrive.get("deadLetterTargetArn", "").rsplit(":", 1)[-1] or "-",
            )
        )
    print_table(rows)
    return 0


def _message_body(value: str) -> str:
    """``BODY``: text, ``@file`` or ``@-`` (stdin)."""
    if not value.startswith("@"):
        return value
    try:
        return sys.stdin.read() if value == "@-" else Path(value[1:]).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read message body: {exc}") from None


def _message_attributes(pairs: list[str]) -> dict[str, dict[str, str]]:
    attributes = {}
    for pair in pairs:
        key, found, value = pair.partition("=")
        if not found or not key:
            raise CLIError(f"--attribute takes NAME=VALUE, not {pair!r}")
        attributes[key] = {"DataType": "String", "StringValue": value}
    return attributes


def cmd_queues_send(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"MessageBody": _message_body(args.body)}
    if args.delay is not None:
        params["DelaySeconds"] = args.delay
    if args.attribute:
        params["MessageAttributes"] = _message_attributes(args.attribute)
    sqs = make_client(args, "sqs")
    params["QueueUrl"] = _queue_url(args, sqs)
    sent = call(sqs.send_message, args, **params)
    sent.pop("ResponseMetadata", None)
    if args.json:
        print_json(sent)
    else:
        print(sent["MessageId"])
    return 0


def cmd_queues_receive(args: argparse.Namespace) -> int:
    sqs = make_client(args, "sqs")
    url = _queue_url(args, sqs)
    params: dict[str, Any] = {
        "QueueUrl": url,
        "MaxNumberOfMessages": args.max,
        "WaitTimeSeconds": args.wait,
        "MessageSystemAttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    }
    if args.visibility is not None:
        params["VisibilityTimeout"] = args.visibility
    messages = call(sqs.receive_message, args, **params).get("Messages", [])
    if args.json:
        print_json(messages)
    else:
        for message in messages:
            print(message["Body"])
    if args.delete and messages:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        failed = call(sqs.delete_message_batch, args, QueueUrl=url, Entries=entries).get(
            "Failed", []
        )
        if failed:
            raise CLIError(f"could not delete {len(failed)} message(s): {failed[0]['Message']}")
    if not messages:
        print("no messages", file=sys.stderr)
    return 0


def cmd_queues_purge(args: argparse.Namespace) -> int:
    sqs = make_client(args, "sqs")
    call(sqs.purge_queue, args, QueueUrl=_queue_url(args, sqs))
    if args.json:
        print_json({"purged": args.queue})
    else:
        print(f"purged {args.queue}")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``queues`` and its actions to ``gureum``'s commands."""
    queues = commands.add_parser("queues", help="list queues, send, receive and purge messages")
    actions = queues.add_subparsers(dest="queues_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="queues with their message counts")
    listing.add_argument("--prefix", help="only queues whose names start with this")
    listing.set_defaults(func=cmd_queues_list)

    send = actions.add_parser("send", help="send a message; prints its MessageId")
    send.add_argument("queue", help="a queue name or URL")
    send.add_argument("body", help="the message body: text, @file, or @- for stdin")
    send.add_argument("--delay", type=int, help="DelaySeconds (0-900)")
    send.add_argument(
        "--attribute", action="append", default=[], metavar="NAME=VALUE", help="a String attribute"
    )
    send.set_defaults(func=cmd_queues_send)

    receive = actions.add_parser(
        "receive", help="receive messages and print their bodies (--delete to consume them)"
    )
    receive.add_argument("queue", help="a queue name or URL")
    receive.add_argument("--max", type=int, default=10, help="MaxNumberOfMessages (1-10)")
    receive.add_argument("--wait", type=int, default=0, help="WaitTimeSeconds, to long-poll (0-20)")
    receive.add_argument("--visibility", type=int, help="VisibilityTimeout for what is received")
    receive.add_argument(
        "--delete", action="store_true", help="delete what was received (else it shows again)"
    )
    receive.set_defaults(func=cmd_queues_receive)

    purge = actions.add_parser("purge", help="delete every message of a queue")
    purge.add_argument("queue", help="a queue name or URL")
    purge.set_defaults(func=cmd_queues_purge)

    for action in (listing, send, receive, purge):
        add_client_options(action)
