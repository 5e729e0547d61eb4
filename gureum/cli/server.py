"""``gureum server`` and ``gureum doctor``: a node on this host, and what it can give.

Their flags come from the settings table (``gureum.settings``), one per setting.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gureum.settings import Settings


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
        text = f"{field.description} (env GUREUM_{name.upper()}; default {field.default})"
        parser.add_argument(
            _flag(name),
            dest=name,
            type=_arg_type(field.annotation),
            default=None,
            # argparse formats help with %: a literal one ("80% of memory") is doubled
            help=text.replace("%", "%%"),
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

    return serve(settings_from_args(args))


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print which sandbox protections this host can give."""
    from gureum.runtimes import (
        NODEJS_RUNTIMES,
        PYTHON_RUNTIMES,
        InvalidRuntimeException,
        node_executable,
        node_major,
        python_interpreter,
    )
    from gureum.workers import isolation

    settings = settings_from_args(args)
    found = isolation.detect(
        "auto", settings.data_dir.resolve(), settings.sandbox_uid_base, clean=False
    )
    for line in found.report():
        print(line)
    if found.isolated:
        print(
            f"cold starts: {settings.cold_start}"
            + (
                f" (a fork server per runtime, {settings.zygote_prepared} children prepared)"
                if settings.cold_start == "zygote"
                else " (a new jail process each time)"
            )
        )
        problem = isolation.user_namespaces()
        if settings.cold_start != "zygote":
            problem = problem or "needs --cold-start zygote"
        print("snapshots (SnapStart): " + (f"off: {problem}" if problem else "available"))
    for runtime in PYTHON_RUNTIMES:
        try:
            print(f"runtime {runtime}: {python_interpreter(runtime)}")
        except InvalidRuntimeException:
            print(f"runtime {runtime}: not available (no python{runtime[6:]} found)")
    for runtime in NODEJS_RUNTIMES:
        try:
            print(f"runtime {runtime}: {node_executable(runtime, settings.data_dir.resolve())}")
        except InvalidRuntimeException:
            major = node_major(runtime)
            print(
                f"runtime {runtime}: not available (no Node.js {major} found; "
                f"set GUREUM_NODEJS{major})"
            )
    return 0 if found.isolated else 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``server`` and ``doctor`` to ``gureum``'s commands."""
    server = commands.add_parser("server", help="run a gureum node (edge, store, sandboxes)")
    add_settings_arguments(server)
    server.set_defaults(func=cmd_server)

    doctor = commands.add_parser("doctor", help="say which sandbox protections this host gives")
    add_settings_arguments(doctor)
    doctor.set_defaults(func=cmd_doctor)
