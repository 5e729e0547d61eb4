"""``gureum runtimes list|install``: what this host can run, and fetching what it lacks
(the AWS SDK for JavaScript v3, a Node.js of another major version) into the data
directory. Works on the data directory, not through a server."""

from __future__ import annotations

import argparse
from pathlib import Path

from gureum.cli.client import CLIError


def _data_dir(args: argparse.Namespace) -> Path:
    from gureum.settings import Settings

    # (the same directory the server uses: --data-dir, else GUREUM_DATA_DIR, else .gureum)
    return Path(args.data_dir or Settings.model_validate({}).data_dir).resolve()


def cmd_runtimes_list(args: argparse.Namespace) -> int:
    from gureum.runtimes import (
        NODEJS_RUNTIMES,
        PROVIDED_RUNTIMES,
        PYTHON_RUNTIMES,
        InvalidRuntimeException,
        node_executable,
        python_interpreter,
    )

    data_dir = _data_dir(args)
    for runtime in PYTHON_RUNTIMES + NODEJS_RUNTIMES:
        try:
            if runtime in PYTHON_RUNTIMES:
                where = python_interpreter(runtime)
            else:
                where = node_executable(runtime, data_dir)
        except InvalidRuntimeException as exc:
            where = f"not available: {exc.message}"
        print(f"{runtime}  {where}")
    sdk = data_dir / "runtime" / "nodejs" / "node_modules" / "@aws-sdk"
    installed = sorted(p.name for p in sdk.iterdir()) if sdk.is_dir() else []
    print(
        "nodejs SDK v3: "
        + (", ".join(installed) if installed else "not installed (gureum runtimes install nodejs)")
    )
    for runtime in PROVIDED_RUNTIMES:
        print(f"{runtime}  the function's own bootstrap")
    return 0


def cmd_runtimes_install(args: argparse.Namespace) -> int:
    from gureum.runtimes import NODEJS_RUNTIMES, node_executable
    from gureum.runtimes.node_installs import InstallError, install_node, install_sdk

    data_dir = _data_dir(args)
    try:
        if args.what == "nodejs":
            where = install_sdk(data_dir, args.packages or None)
            print(f"installed the AWS SDK for JavaScript in {where}")
        elif args.what in NODEJS_RUNTIMES:
            if args.packages:
                raise CLIError(f"{args.what} takes no packages")
            install_node(data_dir, args.what)
            node_executable.cache_clear()
            print(f"installed {node_executable(args.what, data_dir)} for {args.what}")
        else:
            raise CLIError(
                f"nothing to install for {args.what!r}: nodejs (the SDK), or one of "
                + ", ".join(NODEJS_RUNTIMES)
            )
    except InstallError as exc:
        raise CLIError(str(exc)) from None
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``runtimes list|install`` to ``gureum``'s commands."""
    runtimes = commands.add_parser(
        "runtimes", help="what this host can run; install the Node.js SDK or a Node.js"
    )
    actions = runtimes.add_subparsers(dest="runtimes_command", required=True, metavar="ACTION")
    for action in (
        actions.add_parser("list", help="each runtime identifier and what serves it"),
        actions.add_parser(
            "install",
            help="nodejs: the AWS SDK for JavaScript v3 (or PACKAGES) beside the Node "
            "runtime; nodejsNN.x: a Node.js of that major version (both from npm)",
        ),
    ):
        action.add_argument(
            "--data-dir", type=Path, default=None, help="the server's data directory"
        )
    actions.choices["list"].set_defaults(func=cmd_runtimes_list)
    install = actions.choices["install"]
    install.add_argument("what", metavar="WHAT", help="nodejs, or nodejs18.x ... nodejs24.x")
    install.add_argument("packages", nargs="*", metavar="PACKAGE", help="npm packages instead")
    install.set_defaults(func=cmd_runtimes_install)
