"""Runtimes: how a sandbox starts the process that speaks the Runtime API.

``python3.X`` runs gureum's own stdlib-only runtime (``runtimes/python/bootstrap.py``)
under the host's ``python3.X``; ``nodejsNN.x`` runs gureum's own Node.js runtime
(``runtimes/nodejs/runtime.cjs``, Node's built-ins only) under a host ``node`` of that
major version, never another; ``provided``/``provided.al2``/``provided.al2023`` run
the function's own executable ``bootstrap`` (so ``awslambdaric`` works unchanged).

What the runtimes are given lives under the data directory's ``runtime/``:
``python-sdk`` (links to the host's boto3), ``nodejs`` (the Node runtime's files and,
after ``gureum runtimes install nodejs``, the AWS SDK for JavaScript v3 in its
``node_modules``, as Lambda has it at ``/var/runtime/node_modules``) and ``pycache``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gureum.errors import InvalidParameterValueException, InvalidRuntimeException
from gureum.runtimes.paths import node_path, python_path

__all__ = ["InvalidRuntimeException"]

PYTHON_RUNTIMES = (
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
)
NODEJS_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x")
PROVIDED_RUNTIMES = ("provided", "provided.al2", "provided.al2023")
SUPPORTED_RUNTIMES = PYTHON_RUNTIMES + NODEJS_RUNTIMES + PROVIDED_RUNTIMES
#: Runtimes Lambda has that gureum does not run yet (so the error names the gap).
KNOWN_UNSUPPORTED = (
    "java11",
    "java17",
    "java21",
    "java8.al2",
    "dotnet6",
    "dotnet8",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
)

BOOTSTRAP = Path(__file__).parent / "python" / "bootstrap.py"
#: gureum's Node.js runtime, as the package ships it (copied into the data directory).
NODE_RUNTIME = Path(__file__).parent / "nodejs"
#: Packages offered to Python functions without bundling, as Lambda offers boto3.
SDK_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


@dataclass(frozen=True, slots=True)
class RuntimeCommand:
    """The argv and runtime-specific environment of a sandbox's process."""

    argv: tuple[str, ...]
    env: dict[str, str]


def _interpreter_candidates(name: str) -> list[str]:
    """Where ``python3.X`` may be: the override, PATH, pyenv's versions, system dirs."""
    candidates = []
    override = os.environ.get(f"GUREUM_PYTHON{name.replace('.', '_')}")
    if override:
        candidates.append(override)
    found = shutil.which(f"python{name}")
    if found:
        candidates.append(found)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(
        map(str, pyenv_root.glob(f"versions/{name}*/bin/python{name}")), reverse=True
    )
    candidates += [f"{d}/python{name}" for d in ("/usr/local/bin", "/usr/bin")]
    return list(dict.fromkeys(candidates))


@functools.cache
def python_interpreter(runtime: str) -> str:
    """The real path of the host's interpreter for ``python3.X`` (resolved once).

    Shims (pyenv and the like) cost tens of milliseconds a start, or fail outright for a
    version that is not the active one, so each candidate is asked for its own
    ``sys.executable`` and the first that answers wins.
    """
    name = runtime.removeprefix("python")
    failures = []
    for candidate in _interpreter_candidates(name):
        if not os.path.exists(candidate):
            continue
        try:
            out = subprocess.run(
                [candidate, "-c", "import sys; print(sys.executable)"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            failures.append(f"{candidate}: {exc}")
            continue
        return out.stdout.strip() or candidate
    detail = f" (tried: {'; '.join(failures)})" if failures else ""
    raise InvalidRuntimeException(
        f"The runtime {runtime} is not available on this host: no working python{name} "
        f"found on PATH, in pyenv or in /usr/bin{detail}. Set GUREUM_PYTHON"
        f"{name.replace('.', '_')} to its path."
    )


def node_major(runtime: str) -> int:
    """``nodejs20.x`` -> 20."""
    return int(runtime.removeprefix("nodejs").removesuffix(".x"))


def _node_candidates(major: int, data_dir: Path | None) -> list[str]:
    """Where a ``node`` of ``major`` may be: the override, ``nodeNN`` and ``node`` on
    PATH, what ``gureum runtimes install`` put in the data directory, nvm's versions,
    system dirs."""
    candidates = []
    override = os.environ.get(f"GUREUM_NODEJS{major}")
    if override:
        candidates.append(override)
    for name in (f"node{major}", "node"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    if data_dir is not None:
        installed = (data_dir / "runtime" / "node" / str(major)).glob(
            "node_modules/node-*/bin/node"
        )
        candidates += sorted(map(str, installed))
    nvm_root = Path(os.environ.get("NVM_DIR", Path.home() / ".nvm"))
    candidates += sorted(
        map(str, nvm_root.glob(f"versions/node/v{major}.*/bin/node")), reverse=True
    )
    candidates += [f"{d}/node" for d in ("/usr/local/bin", "/usr/bin")]
    return list(dict.fromkeys(candidates))


@functools.cache
def node_executable(runtime: str, data_dir: Path | None = None) -> str:
    """The real path of a host ``node`` whose major version is the runtime's (asked
    once): a function never runs on another major version, as on Lambda."""
    major = node_major(runtime)
    seen = []
    for candidate in _node_candidates(major, data_dir):
        if not os.path.exists(candidate):
            continue
        try:
            out = subprocess.run(
                [candidate, "-p", "process.version + ' ' + process.execPath"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.split()
        except (OSError, subprocess.SubprocessError) as exc:
            seen.append(f"{candidate}: {exc}")
            continue
        version, path = out[0], out[1] if len(out) > 1 else candidate
        if re.fullmatch(rf"v{major}\.\d+\.\d+.*", version):
            return path
        seen.append(f"{candidate} is {version}")
    detail = f" (found: {'; '.join(seen)})" if seen else ""
    raise InvalidRuntimeException(
        f"The runtime {runtime} is not available on this host: no Node.js {major} found on "
        f"PATH, in nvm or in /usr/bin{detail}. Install it (gureum runtimes install "
        f"{runtime}), or set GUREUM_NODEJS{major} to its node."
    )


def check_available(runtime: str, data_dir: Path | None = None) -> None:
    """Refuse a function whose runtime this host cannot serve: for Node.js, a major
    version it has not got (InvalidParameterValueException, naming what is missing)."""
    if runtime in NODEJS_RUNTIMES:
        try:
            node_executable(runtime, data_dir)
        except InvalidRuntimeException as exc:
            raise InvalidParameterValueException(exc.message) from None


def node_runtime_path(data_dir: Path) -> Path:
    """The data directory's copy of the Node runtime (its files refreshed from the
    package at start; ``node_modules`` beside them is the installed SDK, if any)."""
    target = data_dir / "runtime" / "nodejs"
    target.mkdir(parents=True, exist_ok=True)
    for source in [*NODE_RUNTIME.glob("*.cjs"), *NODE_RUNTIME.glob("*.mjs")]:
        copy = target / source.name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)
            copy.chmod(0o644)
    return target


def sdk_packages() -> list[Path]:
    """The host's copies of the SDK packages (directories, or a module file for six)."""
    found = []
    for package in SDK_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin).resolve()
        found.append(origin.parent if origin.name == "__init__.py" else origin)
    return found


def sdk_path(data_dir: Path) -> Path:
    """A directory holding the AWS SDK for Python functions (links to the host's copy)."""
    target = data_dir / "runtime" / "python-sdk"
    target.mkdir(parents=True, exist_ok=True)
    for source in sdk_packages():
        link = target / source.name
        if not link.exists() and not link.is_symlink():
            link.symlink_to(source)
    return target


def runtime_command(
    runtime: str, task_root: Path, sdk_dir: Path, opt_dir: Path | None = None
) -> RuntimeCommand:
    """How to start a sandbox of ``runtime`` whose code is in ``task_root`` and whose
    layers are merged in ``opt_dir`` (None: it has none; ``/opt`` is named as Lambda
    names it)."""
    opt = str(opt_dir) if opt_dir is not None else "/opt"
    if runtime in PYTHON_RUNTIMES:
        interpreter = python_interpreter(runtime)
        return RuntimeCommand(
            (interpreter, "-S", str(BOOTSTRAP)),
            {
                "PYTHONPATH": os.pathsep.join(
                    [
                        *python_path(runtime, task=str(task_root), opt=opt),
                        str(sdk_dir),
                        str(BOOTSTRAP.parent),
                    ]
                ),
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
                # Bytecode of gureum's runtime and of the SDK (the host's copies) goes
                # under the data directory, never into an installed package: a pip
                # uninstall leaves files it did not install behind (other Pythons' .pyc).
                "PYTHONPYCACHEPREFIX": str(sdk_dir.parent / "pycache"),
            },
        )
    if runtime in NODEJS_RUNTIMES:
        runtime_dir = sdk_dir.parent / "nodejs"
        return RuntimeCommand(
            (node_executable(runtime, sdk_dir.parent.parent), str(runtime_dir / "runtime.cjs")),
            {
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
                "NODE_PATH": node_path(
                    runtime, task=str(task_root), opt=opt, runtime_dir=str(runtime_dir)
                ),
            },
        )
    if runtime in PROVIDED_RUNTIMES:
        # The function's own bootstrap, else a layer's (Lambda looks in that order).
        candidates = [task_root / "bootstrap", *([opt_dir / "bootstrap"] if opt_dir else [])]
        bootstrap = next((c for c in candidates if c.is_file()), candidates[0])
        if not bootstrap.is_file():
            raise InvalidRuntimeException(
                "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
            )
        if not os.access(bootstrap, os.X_OK):
            raise InvalidRuntimeException(
                "The bootstrap file of a provided runtime must be executable (chmod +x)."
            )
        return RuntimeCommand((str(bootstrap),), {})
    raise InvalidRuntimeException(f"The runtime {runtime} is not supported by gureum yet.")


def node_flags(memory_mb: int) -> list[str]:
    """The flags Lambda's Node.js bootstrap gives node: a tenth of the memory for V8's
    young generation (two semi-spaces), the rest for its old one, ``global.gc``, and
    80 KB of HTTP headers."""
    new_space = memory_mb // 10
    return [
        "--expose-gc",
        "--max-http-header-size=81920",
        f"--max-semi-space-size={new_space // 2}",
        f"--max-old-space-size={memory_mb - new_space}",
    ]
