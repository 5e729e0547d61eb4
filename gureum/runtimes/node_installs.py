"""What ``gureum runtimes install`` fetches from the npm registry for Node.js functions,
into the data directory's ``runtime/``:

- ``nodejs``: the AWS SDK for JavaScript v3, which Lambda's Node.js runtimes ship at
  ``/var/runtime/node_modules``: the clients of the services gureum serves (and S3's,
  which functions commonly import), beside gureum's runtime in ``runtime/nodejs``, so a
  sandbox finds it where Lambda's would. Without it a function that bundles its own
  SDK still runs.
- ``nodejsNN.x``: a Node.js of that major version (npm's ``node-linux-<arch>``
  packages), for a host that lacks it; ``node_executable`` looks there too.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from pathlib import Path

from gureum.runtimes import node_major

#: The SDK v3 packages ``gureum runtimes install nodejs`` installs by default.
SDK_V3_PACKAGES = (
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/client-dynamodb-streams",
    "@aws-sdk/client-kinesis",
    "@aws-sdk/client-cloudwatch-logs",
    "@aws-sdk/client-xray",
    "@aws-sdk/client-apigatewaymanagementapi",
    "@aws-sdk/client-s3",
)


class InstallError(Exception):
    """npm is missing or the install failed (the message says which and why)."""


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise InstallError("npm is not on PATH: install Node.js with npm first")
    return npm


def _npm_install(prefix: Path, packages: list[str]) -> None:
    prefix.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [_npm(), "install", "--prefix", str(prefix), "--no-audit", "--no-fund", *packages],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise InstallError(f"npm install {' '.join(packages)} failed: {done.stderr.strip()}")
    for path in [prefix, *prefix.rglob("*")]:  # the sandboxes' users must read it
        mode = path.stat().st_mode
        path.chmod(mode | (0o555 if path.is_dir() or mode & 0o111 else 0o444))


def install_sdk(data_dir: Path, packages: list[str] | None = None) -> Path:
    """Install the SDK v3 (or ``packages``) beside the Node runtime; its node_modules."""
    prefix = data_dir / "runtime" / "nodejs"
    _npm_install(prefix, list(packages or SDK_V3_PACKAGES))
    return prefix / "node_modules"


def node_homes(data_dir: Path, major: int) -> list[Path]:
    """Where ``install_node`` puts a Node.js of ``major`` (its ``node`` executables)."""
    return sorted((data_dir / "runtime" / "node" / str(major)).glob("node_modules/node-*/bin/node"))


def install_node(data_dir: Path, runtime: str) -> Path:
    """Install a Node.js of ``runtime``'s major version from the npm registry; its node."""
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    if arch is None:
        raise InstallError(f"no Node.js package for this machine ({platform.machine()})")
    major = node_major(runtime)
    _npm_install(data_dir / "runtime" / "node" / str(major), [f"node-linux-{arch}@{major}"])
    found = node_homes(data_dir, major)
    if not found:
        raise InstallError(f"npm installed node-linux-{arch}@{major}, but no node in it")
    return found[0]
