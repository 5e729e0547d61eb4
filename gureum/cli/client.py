"""What the client commands share: a boto3 client for a running server, API calls whose
errors become one line, JSON output, and ``CLIError``.

The commands talk to the server through the AWS APIs a user's own code uses, so what
they show is what any client sees. This module imports no other part of the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections.abc import Callable
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:9070"
#: Invokes may run for Lambda's longest timeout, 900 s; the read waits a little longer.
READ_TIMEOUT = 930
_AUTH_ERRORS = (
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
)


class CLIError(Exception):
    """An error the CLI reports as one line and a non-zero exit."""


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """``--endpoint``, ``--region`` and ``--json``, which every client command takes."""
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


def make_client(args: argparse.Namespace, service: str) -> Any:
    """A boto3 client of ``service`` for ``args.endpoint``, signed with gureum's keys."""
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
        raise CLIError(f"invalid --endpoint {args.endpoint!r}: {exc}") from None


def call(
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
        raise CLIError(message) from None
    except EndpointConnectionError:
        raise CLIError(
            f"cannot reach gureum at {args.endpoint}: is `gureum server` running?"
        ) from None
    except ReadTimeoutError:
        raise CLIError(
            f"gureum at {args.endpoint} did not answer within {READ_TIMEOUT} s"
        ) from None
    except ConnectionClosedError:
        raise CLIError(f"gureum at {args.endpoint} closed the connection") from None
    except ParamValidationError as exc:
        problems = str(exc).splitlines()[1:] or [str(exc)]
        raise CLIError("invalid parameters: " + "; ".join(p.strip() for p in problems)) from None
    except BotoCoreError as exc:
        raise CLIError(str(exc)) from None


def print_table(rows: list[tuple[str, ...]]) -> None:
    """Rows of cells in columns (the first row a heading), as the commands print them."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def print_json(value: Any) -> None:
    """``--json`` output: indented, with datetimes (boto3's) as text."""
    print(json.dumps(value, indent=2, default=str))


def parse_since(value: str, now: float | None = None) -> int:
    """``30s``, ``10m``, ``1h``, ``2d`` before ``now``, as epoch milliseconds."""
    found = re.fullmatch(r"(\d+)([smhd])", value.strip())
    if not found:
        raise CLIError(f"--since takes a duration like 30s, 10m, 1h or 2d, not {value!r}")
    seconds = int(found.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]
    return int(((time.time() if now is None else now) - seconds) * 1000)
