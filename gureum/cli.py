"""``gureum``: the command line.

``gureum server`` runs a node (its flags come from the settings table). The other
commands are clients of a running server, through the same AWS APIs a user's code uses:
``deploy``, ``invoke``, ``functions``, ``logs``.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Callable, Sequence
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gureum", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server = commands.add_parser("server", help="run a gureum node (edge, store, sandboxes)")
    add_settings_arguments(server)
    server.set_defaults(func=cmd_server)
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
