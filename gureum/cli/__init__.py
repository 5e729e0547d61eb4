"""``gureum``: the command line.

``gureum server`` runs a node (its flags come from the settings table); ``gureum
runtimes`` lists and installs what the host runs functions with; ``gureum tls ca``
prints the CA the HTTPS edge's certificates come from. The other commands
are clients of a running server, through the same AWS APIs a user's code uses
(boto3's ``lambda``, ``logs``, ``sqs``, ``dynamodb``, ``apigatewayv2`` and ``xray``
clients): ``deploy``, ``invoke``, ``functions``, ``layers``, ``logs``, ``queues``,
``mappings``, ``tables``, ``apis``, ``traces``, ``trace``, ``service-map``.

A module per command group, each with a ``register(commands)`` that adds its
subcommands; what the client commands share is in ``gureum.cli.client``. The group
modules never import this package's ``__init__``, so the CLI has no import circle
(``tests/test_imports.py``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pydantic

from gureum.cli import (
    apis,
    functions,
    layers,
    logs,
    mappings,
    queues,
    runtimes,
    server,
    tables,
    tls,
    traces,
)
from gureum.cli.client import CLIError

__all__ = ["CLIError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gureum", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order of ``gureum --help``'s list of commands.
    for group in (
        server,
        runtimes,
        tls,
        functions,
        layers,
        logs,
        queues,
        mappings,
        tables,
        apis,
        traces,
    ):
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except CLIError as exc:
        print(f"gureum: {exc}", file=sys.stderr)
        code = 1
    except pydantic.ValidationError as exc:  # a setting's flag or variable (Settings)
        for error in exc.errors():
            name = "-".join(str(part) for part in error["loc"]).replace("_", "-")
            print(f"gureum: --{name}: {error['msg']}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
