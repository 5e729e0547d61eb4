"""The CLI's client commands: ``deploy``, ``invoke``, ``functions``, ``logs``, ``queues``.

They talk to a running server through the AWS APIs a user's own code uses (boto3's
``lambda``, ``logs`` and ``sqs`` clients), so what they show is what any client sees.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import stat
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The module, not its names: gureum.cli imports this module while it is itself loading.
from gureum import cli

DEFAULT_ENDPOINT = "http://127.0.0.1:9070"
FALLBACK_RUNTIME = "python3.12"
ROLE = "arn:aws:iam::000000000000:role/gureum"
SKIPPED_DIRECTORIES = ("__pycache__", ".git")
#: Invokes may run for Lambda's longest timeout, 900 s; the read waits a little longer.
READ_TIMEOUT = 930
FOLLOW_INTERVAL = 1.0
FOLLOW_LOOKBACK_MS = 5_000
_AUTH_ERRORS = (
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
)


def _fail(message: str) -> Exception:
    return cli.CLIError(message)


def _client(args: argparse.Namespace, service: str) -> Any:
    import boto3
    from botocore.config import Config

    # gureum's keys, not the user's AWS profile: the edge accepts only its own.
    make: Any = boto3.session.Session().client  # typed per service name; ours is a variable
    try:
        return make(
            service,
            endpoint_url=args.endpoint,
            region_name=args.region,
            aws_access_key_id=os.environ.get("GUREUM_ACCESS_KEY_ID", "test"),
            aws_secret_access_key=os.environ.get("GUREUM_SECRET_ACCESS_KEY", "test"),
            config=Config(retries={"total_max_attempts": 1}, read_timeout=READ_TIMEOUT),
        )
    except ValueError as exc:
        raise _fail(f"invalid --endpoint {args.endpoint!r}: {exc}") from None


def _call(
    fn: Callable[..., Any], args: argparse.Namespace, *, missing_ok: bool = False, **params: Any
) -> Any:
    """Call an AWS API; its errors become one line for the user.

    With ``missing_ok``, a ResourceNotFoundException answers None instead.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        ParamValidationError,
        ReadTimeoutError,
    )

    try:
        return fn(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        if missing_ok and code == "ResourceNotFoundException":
            return None
        message = f"{code}: {error.get('Message') or exc}"
        if code in _AUTH_ERRORS:
            message += " (set GUREUM_ACCESS_KEY_ID and GUREUM_SECRET_ACCESS_KEY to the server's)"
        raise _fail(message) from None
    except EndpointConnectionError:
        raise _fail(
            f"cannot reach gureum at {args.endpoint}: is `gureum server` running?"
        ) from None
    except ReadTimeoutError:
        raise _fail(f"gureum at {args.endpoint} did not answer within {READ_TIMEOUT} s") from None
    except ConnectionClosedError:
        raise _fail(f"gureum at {args.endpoint} closed the connection") from None
    except ParamValidationError as exc:
        problems = str(exc).splitlines()[1:] or [str(exc)]
        raise _fail("invalid parameters: " + "; ".join(p.strip() for p in problems)) from None
    except BotoCoreError as exc:
        raise _fail(str(exc)) from None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


# deploy


def zip_directory(directory: Path) -> bytes:
    """A deterministic zip of ``directory``: sorted, fixed times, unix modes kept.

    ``__pycache__`` and ``.git`` are left out; a symlink to a file is stored as the
    file it points to, as ``zip -r`` does.
    """
    if not directory.is_dir():
        raise _fail(f"{directory} is not a directory")
    files: list[tuple[str, Path]] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRECTORIES]
        for name in names:
            path = Path(root, name)
            if path.is_file():  # follows symlinks; dangling ones and sockets are skipped
                files.append((path.relative_to(directory).as_posix(), path))
    if not files:
        raise _fail(f"{directory} has no files to deploy")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            mode = stat.S_IMODE(path.stat().st_mode)
            info.external_attr = (mode | stat.S_IFREG) << 16
            info.create_system = 3  # unix, so unzip and Lambda read the mode bits
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def default_runtime() -> str:
    """The ``python3.X`` this CLI runs under, when gureum runs it; else a recent one."""
    from gureum.runtimes import PYTHON_RUNTIMES

    mine = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return mine if mine in PYTHON_RUNTIMES else FALLBACK_RUNTIME


def _environment(pairs: list[str]) -> dict[str, str]:
    variables = {}
    for pair in pairs:
        key, found, value = pair.partition("=")
        if not found or not key:
            raise _fail(f"--env takes KEY=VALUE, not {pair!r}")
        variables[key] = value
    return variables


def cmd_deploy(args: argparse.Namespace) -> int:
    code = zip_directory(Path(args.dir))
    settings: dict[str, Any] = {"Handler": args.handler}
    for key, value in (
        ("Runtime", args.runtime),
        ("MemorySize", args.memory),
        ("Timeout", args.timeout),
        ("Description", args.description),
    ):
        if value is not None:
            settings[key] = value
    if args.env:
        settings["Environment"] = {"Variables": _environment(args.env)}
    lam = _client(args, "lambda")
    if _call(lam.get_function, args, missing_ok=True, FunctionName=args.name) is not None:
        # An update keeps what the options do not name (the runtime included).
        _call(lam.update_function_code, args, FunctionName=args.name, ZipFile=code)
        config = _call(lam.update_function_configuration, args, FunctionName=args.name, **settings)
        action = "updated"
    else:
        settings.setdefault("Runtime", default_runtime())
        config = _call(
            lam.create_function,
            args,
            FunctionName=args.name,
            Role=ROLE,
            Code={"ZipFile": code},
            **settings,
        )
        action = "created"
    config.pop("ResponseMetadata", None)
    if args.json:
        _print_json({"action": action, **config})
    else:
        print(
            f"{action} {config['FunctionName']} ({config.get('Runtime', '-')}, "
            f"{config['Handler']}) CodeSha256={config['CodeSha256']}"
        )
    return 0


# invoke


def _payload(value: str) -> bytes:
    """``--payload``: JSON text, ``@file`` or ``@-`` (stdin), checked before sending."""
    if value.startswith("@"):
        try:
            value = sys.stdin.read() if value == "@-" else Path(value[1:]).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"cannot read payload file: {exc}") from None
    try:
        json.loads(value)
    except ValueError as exc:
        raise _fail(f"--payload is not valid JSON: {exc}") from None
    return value.encode()


def cmd_invoke(args: argparse.Namespace) -> int:
    payload = _payload(args.payload)
    lam = _client(args, "lambda")
    params: dict[str, Any] = {"FunctionName": args.name, "Payload": payload}
    if args.qualifier:
        params["Qualifier"] = args.qualifier
    if args.async_:
        if args.log:
            raise _fail("--log needs a synchronous invoke: an --async one has no log yet")
        response = _call(lam.invoke, args, InvocationType="Event", **params)
        request_id = response["ResponseMetadata"]["RequestId"]
        if args.json:
            _print_json({"StatusCode": response["StatusCode"], "RequestId": request_id})
        else:
            print(f"accepted: {request_id}")
        return 0
    params["LogType"] = "Tail" if args.log else "None"
    response = _call(lam.invoke, args, **params)
    body = response["Payload"].read().decode(errors="replace")
    log = base64.b64decode(response.get("LogResult") or "").decode(errors="replace")
    if args.json:
        _print_json(
            {
                "StatusCode": response["StatusCode"],
                "FunctionError": response.get("FunctionError"),
                "ExecutedVersion": response.get("ExecutedVersion"),
                "Payload": body,
                "Log": log if args.log else None,
            }
        )
    else:
        print(body)
        if args.log:
            print(log, end="" if log.endswith("\n") else "\n", file=sys.stderr)
    # A function error is still an answer: the payload is printed, the exit code says so.
    return 1 if response.get("FunctionError") else 0


# functions


def cmd_functions(args: argparse.Namespace) -> int:
    lam = _client(args, "lambda")
    functions: list[dict[str, Any]] = []
    marker = None
    while True:
        params: dict[str, Any] = {"Marker": marker} if marker else {}
        page = _call(lam.list_functions, args, **params)
        functions += page["Functions"]
        marker = page.get("NextMarker")
        if not marker:
            break
    if args.json:
        _print_json(functions)
        return 0
    rows = [("NAME", "RUNTIME", "MEMORY", "TIMEOUT", "LAST MODIFIED")] + [
        (
            f["FunctionName"],
            f.get("Runtime", "-"),
            f"{f['MemorySize']} MB",
            f"{f['Timeout']} s",
            f["LastModified"],
        )
        for f in functions
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0


# logs


def parse_since(value: str, now: float | None = None) -> int:
    """``30s``, ``10m``, ``1h``, ``2d`` before ``now``, as epoch milliseconds."""
    found = re.fullmatch(r"(\d+)([smhd])", value.strip())
    if not found:
        raise _fail(f"--since takes a duration like 30s, 10m, 1h or 2d, not {value!r}")
    seconds = int(found.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]
    return int(((time.time() if now is None else now) - seconds) * 1000)


def _log_pages(
    args: argparse.Namespace, logs: Any, group: str, start: int | None
) -> Iterator[list[dict[str, Any]]] | None:
    """The events of ``group`` from ``start`` on, page by page; None: no such group."""
    params: dict[str, Any] = {"logGroupName": group}
    if start is not None:
        params["startTime"] = start
    if args.filter:
        params["filterPattern"] = args.filter
    first = _call(logs.filter_log_events, args, missing_ok=True, **params)
    if first is None:
        return None

    def pages(page: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        while True:
            yield page["events"]
            if not page.get("nextToken"):
                return
            params["nextToken"] = page["nextToken"]
            page = _call(logs.filter_log_events, args, **params)

    return pages(first)


def format_event(event: dict[str, Any]) -> str:
    """``<ISO time> <message>``, the time in UTC to the millisecond."""
    stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
    return f"{stamp.isoformat(timespec='milliseconds')} {event['message'].rstrip(chr(10))}"


def cmd_logs(args: argparse.Namespace) -> int:
    logs = _client(args, "logs")
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
                    raise _fail(f"no logs yet for {args.name}")
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


# queues


def _queue_url(args: argparse.Namespace, sqs: Any) -> str:
    """``args.queue``: a queue URL as it is, a name looked up."""
    if "://" in args.queue:
        return str(args.queue)
    return str(_call(sqs.get_queue_url, args, QueueName=args.queue)["QueueUrl"])


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def cmd_queues_list(args: argparse.Namespace) -> int:
    sqs = _client(args, "sqs")
    params: dict[str, Any] = {"MaxResults": 1000}
    if args.prefix:
        params["QueueNamePrefix"] = args.prefix
    urls: list[str] = []
    while True:
        page = _call(sqs.list_queues, args, **params)
        urls += page.get("QueueUrls", [])
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    queues = []
    for url in urls:
        attributes = _call(sqs.get_queue_attributes, args, QueueUrl=url, AttributeNames=["All"])
        queues.append({"QueueUrl": url, "Attributes": attributes.get("Attributes", {})})
    if args.json:
        _print_json(queues)
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
    _table(rows)
    return 0


def _message_body(value: str) -> str:
    """``BODY``: text, ``@file`` or ``@-`` (stdin)."""
    if not value.startswith("@"):
        return value
    try:
        return sys.stdin.read() if value == "@-" else Path(value[1:]).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read message body: {exc}") from None


def _message_attributes(pairs: list[str]) -> dict[str, dict[str, str]]:
    attributes = {}
    for pair in pairs:
        key, found, value = pair.partition("=")
        if not found or not key:
            raise _fail(f"--attribute takes NAME=VALUE, not {pair!r}")
        attributes[key] = {"DataType": "String", "StringValue": value}
    return attributes


def cmd_queues_send(args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"MessageBody": _message_body(args.body)}
    if args.delay is not None:
        params["DelaySeconds"] = args.delay
    if args.attribute:
        params["MessageAttributes"] = _message_attributes(args.attribute)
    sqs = _client(args, "sqs")
    params["QueueUrl"] = _queue_url(args, sqs)
    sent = _call(sqs.send_message, args, **params)
    sent.pop("ResponseMetadata", None)
    if args.json:
        _print_json(sent)
    else:
        print(sent["MessageId"])
    return 0


def cmd_queues_receive(args: argparse.Namespace) -> int:
    sqs = _client(args, "sqs")
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
    messages = _call(sqs.receive_message, args, **params).get("Messages", [])
    if args.json:
        _print_json(messages)
    else:
        for message in messages:
            print(message["Body"])
    if args.delete and messages:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        failed = _call(sqs.delete_message_batch, args, QueueUrl=url, Entries=entries).get(
            "Failed", []
        )
        if failed:
            raise _fail(f"could not delete {len(failed)} message(s): {failed[0]['Message']}")
    if not messages:
        print("no messages", file=sys.stderr)
    return 0


def cmd_queues_purge(args: argparse.Namespace) -> int:
    sqs = _client(args, "sqs")
    _call(sqs.purge_queue, args, QueueUrl=_queue_url(args, sqs))
    if args.json:
        _print_json({"purged": args.queue})
    else:
        print(f"purged {args.queue}")
    return 0


def _register_queues(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        _add_client_options(action)


# the parser


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("GUREUM_ENDPOINT")
        or os.environ.get("AWS_ENDPOINT_URL")
        or DEFAULT_ENDPOINT,
        help="the gureum server (env GUREUM_ENDPOINT or AWS_ENDPOINT_URL; "
        f"default {DEFAULT_ENDPOINT})",
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        help="the region to sign for (env AWS_REGION or AWS_DEFAULT_REGION)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``deploy``, ``invoke``, ``functions``, ``logs`` and ``queues`` to ``gureum``'s
    commands."""
    deploy = commands.add_parser("deploy", help="zip a directory and create or update a function")
    deploy.add_argument("dir", help="the function's code directory")
    deploy.add_argument("--name", required=True)
    deploy.add_argument("--handler", required=True, help="module.function, e.g. app.handler")
    deploy.add_argument(
        "--runtime",
        help=f"default for a new function: {default_runtime()}; an update keeps its runtime",
    )
    deploy.add_argument("--memory", type=int, help="MemorySize in MB (128-10240)")
    deploy.add_argument("--timeout", type=int, help="Timeout in seconds (1-900)")
    deploy.add_argument("--description")
    deploy.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    deploy.set_defaults(func=cmd_deploy)

    invoke = commands.add_parser("invoke", help="invoke a function and print its result")
    invoke.add_argument("name")
    invoke.add_argument("--payload", default="{}", help="JSON, @file, or @- for stdin")
    invoke.add_argument("--log", action="store_true", help="print the log tail to stderr")
    invoke.add_argument("--qualifier", help="a version or alias")
    invoke.add_argument(
        "--async",
        dest="async_",
        action="store_true",
        help="invoke asynchronously (InvocationType=Event): print the request id once the "
        "event is stored",
    )
    invoke.set_defaults(func=cmd_invoke)

    functions = commands.add_parser("functions", help="list functions")
    functions.set_defaults(func=cmd_functions)

    logs = commands.add_parser("logs", help="print a function's logs")
    logs.add_argument("name")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--since", help="only lines newer than this (30s, 10m, 1h, 2d)")
    logs.add_argument("--filter", help="a CloudWatch filter pattern (terms, JSON, [fields])")
    logs.set_defaults(func=cmd_logs)

    for command in (deploy, invoke, functions, logs):
        _add_client_options(command)

    _register_queues(commands)
