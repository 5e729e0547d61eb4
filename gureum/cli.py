"""``gureum``: the command line.

``gureum server`` runs a node (its flags come from the settings table). The other
commands are clients of a running server, through the same AWS APIs a user's code uses
(boto3's ``lambda`` and ``logs`` clients): ``deploy``, ``invoke``, ``functions``, ``logs``.
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
import types
import typing
import zipfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gureum.settings import Settings

DEFAULT_ENDPOINT = "http://127.0.0.1:9070"


class CLIError(Exception):
    """An error the CLI reports as one line and a non-zero exit."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _arg_type(annotation: Any) -> Callable[[str], Any]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if args else str
    if annotation in (int, float, Path):
        return typing.cast(Callable[[str], Any], annotation)
    return str


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; unset flags fall back to GUREUM_* variables, then defaults."""
    for name, field in Settings.model_fields.items():
        parser.add_argument(
            _flag(name),
            dest=name,
            type=_arg_type(field.annotation),
            default=None,
            help=f"{field.description} (env GUREUM_{name.upper()}; default {field.default})",
        )


def settings_from_args(args: argparse.Namespace) -> Settings:
    given = {
        name: getattr(args, name)
        for name in Settings.model_fields
        if getattr(args, name, None) is not None
    }
    return Settings(**given)


def cmd_server(args: argparse.Namespace) -> int:
    from gureum.server import serve

    serve(settings_from_args(args))
    return 0


# client commands


def _client(args: argparse.Namespace, service: str) -> Any:
    import boto3
    from botocore.config import Config

    # gureum's keys, not the user's AWS profile: the edge accepts only its own.
    make: Any = boto3.session.Session().client  # typed per service name; ours is a variable
    return make(
        service,
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id=os.environ.get("GUREUM_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("GUREUM_SECRET_ACCESS_KEY", "test"),
        config=Config(retries={"total_max_attempts": 1}, read_timeout=930),
    )


def _call(fn: Callable[..., Any], args: argparse.Namespace, **params: Any) -> Any:
    """Call an AWS API; its errors become one line for the user."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    try:
        return fn(**params)
    except EndpointConnectionError:
        raise CLIError(
            f"cannot reach gureum at {args.endpoint}: is `gureum server` running?"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CLIError(f"{error.get('Code', 'Error')}: {error.get('Message', exc)}") from None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def zip_directory(directory: Path) -> bytes:
    """A deterministic zip of ``directory`` (sorted, fixed times, unix modes kept)."""
    if not directory.is_dir():
        raise CLIError(f"{directory} is not a directory")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if any(part in ("__pycache__", ".git") for part in relative.parts):
                continue
            if path.is_dir() or path.is_symlink():
                continue
            info = zipfile.ZipInfo(relative.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IMODE(path.stat().st_mode) | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _default_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _environment(pairs: list[str]) -> dict[str, str]:
    variables = {}
    for pair in pairs:
        key, found, value = pair.partition("=")
        if not found or not key:
            raise CLIError(f"--env takes KEY=VALUE, not {pair!r}")
        variables[key] = value
    return variables


def cmd_deploy(args: argparse.Namespace) -> int:
    lam = _client(args, "lambda")
    code = zip_directory(Path(args.dir))
    settings: dict[str, Any] = {"Handler": args.handler, "Runtime": args.runtime}
    for key, value in (
        ("MemorySize", args.memory),
        ("Timeout", args.timeout),
        ("Description", args.description),
    ):
        if value is not None:
            settings[key] = value
    if args.env:
        settings["Environment"] = {"Variables": _environment(args.env)}
    try:
        _call(lam.get_function, args, FunctionName=args.name)
        exists = True
    except CLIError as exc:
        if not str(exc).startswith("ResourceNotFoundException"):
            raise
        exists = False
    if exists:
        _call(lam.update_function_code, args, FunctionName=args.name, ZipFile=code)
        config = _call(lam.update_function_configuration, args, FunctionName=args.name, **settings)
        action = "updated"
    else:
        config = _call(
            lam.create_function,
            args,
            FunctionName=args.name,
            Role="arn:aws:iam::000000000000:role/gureum",
            Code={"ZipFile": code},
            **settings,
        )
        action = "created"
    config.pop("ResponseMetadata", None)
    if args.json:
        _print_json({"action": action, **config})
    else:
        print(
            f"{action} {config['FunctionName']} ({config['Runtime']}, {config['Handler']}) "
            f"CodeSha256={config['CodeSha256']}"
        )
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    payload = args.payload
    if payload.startswith("@"):
        try:
            payload = Path(payload[1:]).read_text()
        except OSError as exc:
            raise CLIError(f"cannot read payload file: {exc}") from None
    try:
        json.loads(payload)
    except ValueError as exc:
        raise CLIError(f"--payload is not valid JSON: {exc}") from None
    lam = _client(args, "lambda")
    params: dict[str, Any] = {
        "FunctionName": args.name,
        "Payload": payload.encode(),
        "LogType": "Tail" if args.log else "None",
    }
    if args.qualifier:
        params["Qualifier"] = args.qualifier
    response = _call(lam.invoke, args, **params)
    body = response["Payload"].read().decode()
    if args.json:
        _print_json(
            {
                "StatusCode": response["StatusCode"],
                "FunctionError": response.get("FunctionError"),
                "ExecutedVersion": response.get("ExecutedVersion"),
                "Payload": body,
                "Log": base64.b64decode(response["LogResult"]).decode() if args.log else None,
            }
        )
    else:
        print(body)
        if args.log:
            print(base64.b64decode(response["LogResult"]).decode(), end="", file=sys.stderr)
    return 1 if response.get("FunctionError") else 0


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
            f.get("Runtime", ""),
            f"{f['MemorySize']} MB",
            f"{f['Timeout']} s",
            f["LastModified"],
        )
        for f in functions
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def parse_since(value: str) -> int:
    """``10m``, ``1h``, ``30s``, ``2d`` before now, as epoch milliseconds."""
    found = re.fullmatch(r"(\d+)([smhd])", value)
    if not found:
        raise CLIError(f"--since takes a duration like 30s, 10m, 1h or 2d, not {value!r}")
    seconds = int(found.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]
    return int((time.time() - seconds) * 1000)


def _log_events(
    args: argparse.Namespace, logs: Any, group: str, start: int | None
) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"logGroupName": group}
    if start is not None:
        params["startTime"] = start
    if args.filter:
        params["filterPattern"] = args.filter
    while True:
        page = _call(logs.filter_log_events, args, **params)
        yield from page["events"]
        if not page.get("nextToken"):
            return
        params["nextToken"] = page["nextToken"]


def cmd_logs(args: argparse.Namespace) -> int:
    logs = _client(args, "logs")
    group = f"/aws/lambda/{args.name}"
    start = parse_since(args.since) if args.since else None
    seen: set[str] = set()
    try:
        while True:
            try:
                for event in _log_events(args, logs, group, start):
                    if event["eventId"] in seen:
                        continue
                    seen.add(event["eventId"])
                    start = max(start or 0, event["timestamp"])
                    if args.json:
                        print(json.dumps(event), flush=True)
                    else:
                        stamp = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
                        print(
                            f"{stamp.isoformat(timespec='milliseconds')} {event['message']}",
                            flush=True,
                        )
            except CLIError as exc:
                if "ResourceNotFoundException" not in str(exc):
                    raise
                if not args.follow:
                    raise CLIError(f"no logs yet for {args.name}") from None
            if not args.follow:
                return 0
            time.sleep(1)
    except KeyboardInterrupt:
        return 0


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("GUREUM_ENDPOINT")
        or os.environ.get("AWS_ENDPOINT_URL")
        or DEFAULT_ENDPOINT,
        help="the gureum server (env GUREUM_ENDPOINT or AWS_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print which sandbox protections this host can give."""
    from gureum.runtimes import PYTHON_RUNTIMES, InvalidRuntimeException, python_interpreter
    from gureum.workers import isolation

    settings = settings_from_args(args)
    found = isolation.detect(
        "auto", settings.data_dir.resolve(), settings.sandbox_uid_base, clean=False
    )
    for line in found.report():
        print(line)
    for runtime in PYTHON_RUNTIMES:
        try:
            print(f"runtime {runtime}: {python_interpreter(runtime)}")
        except InvalidRuntimeException:
            print(f"runtime {runtime}: not available (no python{runtime[6:]} found)")
    return 0 if found.isolated else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gureum", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server = commands.add_parser("server", help="run a gureum node (edge, store, sandboxes)")
    add_settings_arguments(server)
    server.set_defaults(func=cmd_server)

    doctor = commands.add_parser("doctor", help="say which sandbox protections this host gives")
    add_settings_arguments(doctor)
    doctor.set_defaults(func=cmd_doctor)

    deploy = commands.add_parser("deploy", help="zip a directory and create or update a function")
    deploy.add_argument("dir", help="the function's code directory")
    deploy.add_argument("--name", required=True)
    deploy.add_argument("--handler", required=True, help="module.function, e.g. app.handler")
    deploy.add_argument("--runtime", default=_default_runtime())
    deploy.add_argument("--memory", type=int, help="MemorySize in MB (128-10240)")
    deploy.add_argument("--timeout", type=int, help="Timeout in seconds (1-900)")
    deploy.add_argument("--description")
    deploy.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    deploy.set_defaults(func=cmd_deploy)

    invoke = commands.add_parser("invoke", help="invoke a function and print its result")
    invoke.add_argument("name")
    invoke.add_argument("--payload", default="{}", help="JSON, or @file")
    invoke.add_argument("--log", action="store_true", help="print the log tail to stderr")
    invoke.add_argument("--qualifier")
    invoke.set_defaults(func=cmd_invoke)

    functions = commands.add_parser("functions", help="list functions")
    functions.set_defaults(func=cmd_functions)

    logs = commands.add_parser("logs", help="print a function's logs")
    logs.add_argument("name")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--since", help="only lines newer than this (30s, 10m, 1h, 2d)")
    logs.add_argument("--filter", help='CloudWatch filter pattern (terms, "phrases")')
    logs.set_defaults(func=cmd_logs)

    for client_command in (deploy, invoke, functions, logs):
        _add_client_options(client_command)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except CLIError as exc:
        print(f"gureum: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
