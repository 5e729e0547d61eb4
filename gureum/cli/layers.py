"""``gureum layers publish|list``: Lambda layers through boto3's ``lambda`` client."""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import Any

from gureum.cli.client import CLIError, add_client_options, call, make_client, print_json
from gureum.cli.functions import zip_directory


def layer_content(path: Path) -> bytes:
    """What ``layers publish`` uploads: a directory zipped as ``deploy`` zips one, or a
    zip file as it is."""
    if path.is_dir():
        return zip_directory(path)
    if not path.is_file():
        raise CLIError(f"{path} is neither a directory nor a zip file")
    if not zipfile.is_zipfile(path):
        raise CLIError(f"{path} is not a zip file (give a directory to zip it)")
    return path.read_bytes()


def cmd_layers_publish(args: argparse.Namespace) -> int:
    content = layer_content(Path(args.path))
    params: dict[str, Any] = {"LayerName": args.name, "Content": {"ZipFile": content}}
    for key, value in (
        ("CompatibleRuntimes", args.runtime),
        ("CompatibleArchitectures", args.architecture),
        ("Description", args.description),
        ("LicenseInfo", args.license),
    ):
        if value:
            params[key] = value
    lam = make_client(args, "lambda")
    published = call(lam.publish_layer_version, args, **params)
    published.pop("ResponseMetadata", None)
    if args.json:
        print_json(published)
    else:
        size = published["Content"]["CodeSize"]
        print(
            f"published {published['LayerVersionArn']} ({size} bytes, "
            f"CodeSha256={published['Content']['CodeSha256']})"
        )
    return 0


def cmd_layers_list(args: argparse.Namespace) -> int:
    lam = make_client(args, "lambda")
    query: dict[str, Any] = {}
    if args.runtime:
        query["CompatibleRuntime"] = args.runtime
    if args.architecture:
        query["CompatibleArchitecture"] = args.architecture
    layers: list[dict[str, Any]] = []
    marker = None
    while True:
        page = call(lam.list_layers, args, **query, **({"Marker": marker} if marker else {}))
        layers += page["Layers"]
        marker = page.get("NextMarker")
        if not marker:
            break
    if args.json:
        print_json(layers)
        return 0
    rows = [("NAME", "VERSION", "RUNTIMES", "CREATED", "ARN")] + [
        (
            layer["LayerName"],
            str(layer["LatestMatchingVersion"]["Version"]),
            ",".join(layer["LatestMatchingVersion"].get("CompatibleRuntimes", [])) or "-",
            layer["LatestMatchingVersion"]["CreatedDate"],
            layer["LatestMatchingVersion"]["LayerVersionArn"],
        )
        for layer in layers
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``layers`` and its actions to ``gureum``'s commands."""
    layers = commands.add_parser("layers", help="publish and list Lambda layers")
    actions = layers.add_subparsers(dest="layers_command", required=True, metavar="ACTION")
    publish = actions.add_parser(
        "publish", help="publish a new version of a layer from a directory or a zip"
    )
    publish.add_argument(
        "path", help="the layer's content: a directory (python/, nodejs/, bin/, lib/) or a zip"
    )
    publish.add_argument("--name", required=True, help="the layer's name")
    publish.add_argument(
        "--runtime",
        action="append",
        default=[],
        help="a compatible runtime (repeatable; for ListLayers' filter)",
    )
    publish.add_argument(
        "--architecture",
        action="append",
        default=[],
        choices=["x86_64", "arm64"],
        help="a compatible architecture (repeatable)",
    )
    publish.add_argument("--description")
    publish.add_argument("--license", help="LicenseInfo, e.g. MIT")
    publish.set_defaults(func=cmd_layers_publish)

    listing = actions.add_parser("list", help="layers with their newest (matching) version")
    listing.add_argument("--runtime", help="only layers with a version compatible with this")
    listing.add_argument("--architecture", choices=["x86_64", "arm64"])
    listing.set_defaults(func=cmd_layers_list)

    for action in (publish, listing):
        add_client_options(action)
