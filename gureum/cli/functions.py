"""``gureum deploy``, ``invoke`` and ``functions``: a function's code, its invokes, the
list of functions, through boto3's ``lambda`` client."""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import stat
import sys
import zipfile
from pathlib import Path
from typing import Any

from gureum.cli.client import CLIError, add_client_options, call, make_client, print_json

FALLBACK_RUNTIME = "python3.12"
ROLE = "arn:aws:iam::000000000000:role/gureum"
SKIPPED_DIRECTORIES = ("__pycache__", ".git")


# deploy


def zip_directory(directory: Path) -> bytes:
    """A deterministic zip of ``directory``: sorted, fixed times, unix modes kept.

    ``__pycache__`` and ``.git`` are left out; a symlink to a file is stored as the
    file it points to, as ``zip -r`` does.
    """
    if not directory.is_dir():
        raise CLIError(f"{directory} is not a directory")
    files: list[tuple[str, Path]] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRECTORIES]
        for name in names:
            path = Path(root, name)
            if path.is_file():  # follows symlinks; dangling ones and sockets are skipped
                files.append((path.relative_to(directory).as_posix(), path))
    if not files:
        raise CLIError(f"{directory} has no files to deploy")
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
            raise CLIError(f"--env takes KEY=VALUE, not {pair!r}")
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
    if args.layer:
        settings["Layers"] = args.layer  # in order: a later layer's files win
    lam = make_client(args, "lambda")
    if call(lam.get_function, args, missing_ok=True, FunctionName=args.name) is not None:
        # An update keeps what the options do not name (the runtime included).
        call(lam.update_function_code, args, FunctionName=args.name, ZipFile=code)
        config = call(lam.update_function_configuration, args, FunctionName=args.name, **settings)
        action = "updated"
    else:
        settings.setdefault("Runtime", default_runtime())
        config = call(
            lam.create_function,
            args,
            FunctionName=args.name,
            Role=ROLE,
            Code={"ZipFile": code},
            **settings,
        )
        action = "created"
    config.pop("ResponseMetadata", None)
    url = _function_url(lam, args) if args.url else None
    if args.json:
        print_json({"action": action, **config, **({"FunctionUrl": url} if url else {})})
    else:
        print(
            f"{action} {config['FunctionName']} ({config.get('Runtime', '-')}, "
            f"{config['Handler']}) CodeSha256={config['CodeSha256']}"
        )
        if url:
            print(url)
    return 0


def _function_url(lam: Any, args: argparse.Namespace) -> str:
    """``--url``: the function's URL (AuthType NONE), made if it has none yet."""
    found = call(lam.get_function_url_config, args, missing_ok=True, FunctionName=args.name)
    if found is None:
        found = call(lam.create_function_url_config, args, FunctionName=args.name, AuthType="NONE")
    return str(found["FunctionUrl"])


# invoke


def _payload(value: str) -> bytes:
    """``--payload``: JSON text, ``@file`` or ``@-`` (stdin), checked before sending."""
    if value.startswith("@"):
        try:
            value = sys.stdin.read() if value == "@-" else Path(value[1:]).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"cannot read payload file: {exc}") from None
    try:
        json.loads(value)
    except ValueError as exc:
        raise CLIError(f"--payload is not valid JSON: {exc}") from None
    return value.encode()


def cmd_invoke(args: argparse.Namespace) -> int:
    payload = _payload(args.payload)
    lam = make_client(args, "lambda")
    params: dict[str, Any] = {"FunctionName": args.name, "Payload": payload}
    if args.qualifier:
        params["Qualifier"] = args.qualifier
    if args.async_:
        if args.log:
            raise CLIError("--log needs a synchronous invoke: an --async one has no log yet")
        response = call(lam.invoke, args, InvocationType="Event", **params)
        request_id = response["ResponseMetadata"]["RequestId"]
        if args.json:
            print_json({"StatusCode": response["StatusCode"], "RequestId": request_id})
        else:
            print(f"accepted: {request_id}")
        return 0
    params["LogType"] = "Tail" if args.log else "None"
    response = call(lam.invoke, args, **params)
    body = response["Payload"].read().decode(errors="replace")
    log = base64.b64decode(response.get("LogResult") or "").decode(errors="replace")
    if args.json:
        print_json(
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
    lam = make_client(args, "lambda")
    functions: list[dict[str, Any]] = []
    marker = None
    while True:
        params: dict[str, Any] = {"Marker": marker} if marker else {}
        page = call(lam.list_functions, args, **params)
        functions += page["Functions"]
        marker = page.get("NextMarker")
        if not marker:
            break
    if args.json:
        print_json(functions)
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


# the parser


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``deploy``, ``invoke`` and ``functions`` to ``gureum``'s commands."""
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
    deploy.add_argument(
        "--layer",
        action="append",
        default=[],
        metavar="ARN",
        help="a layer version's ARN (repeatable, in order; an update without --layer keeps "
        "the function's layers)",
    )
    deploy.add_argument(
        "--url",
        action="store_true",
        help="give the function a URL (AuthType NONE, kept if it has one) and print it",
    )
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

    for command in (deploy, invoke, functions):
        add_client_options(command)
