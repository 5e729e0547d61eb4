"""The quick start's two commands in order: ``pip install .``, functions run, then
another install over it. Sandboxes must never write into the installed package (a
file pip did not install is left behind by its uninstall and breaks the next one)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gureum.runtimes import InvalidRuntimeException, python_interpreter
from tests.conftest import ROLE, client, free_port, zip_files

SOURCE = Path(__file__).resolve().parent.parent


def _runtimes() -> list[str]:
    found = []
    for runtime in ("python3.11", "python3.12", "python3.13"):
        try:
            python_interpreter(runtime)
        except InvalidRuntimeException:
            continue
        found.append(runtime)
    return found


def _install(python: Path, source: Path) -> None:
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", source],
        check=True,
        capture_output=True,
        cwd=python.parent,
    )


def _package(venv: Path) -> Path:
    found = list(venv.glob("lib/python*/site-packages/gureum"))
    assert len(found) <= 1
    return found[0] if found else venv / "missing"


def _files(directory: Path) -> set[Path]:
    return {path.relative_to(directory) for path in directory.rglob("*")}


def _serve_and_invoke(python: Path, data_dir: Path, runtimes: list[str], *flags: str) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            python,
            "-m",
            "gureum",
            "server",
            "--port",
            str(port),
            "--data-dir",
            data_dir,
            "--xray-address",
            "127.0.0.1:0",
            "--log-level",
            "warning",
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=data_dir.parent,  # not the checkout: its gureum/ would be imported instead
    )
    try:
        lam = client("lambda", f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                lam.list_functions()
                break
            except Exception:
                assert server.poll() is None and time.monotonic() < deadline, server.stdout
                time.sleep(0.1)
        code = zip_files({"app.py": "import sys\ndef handler(e, c):\n    return sys.version\n"})
        for runtime in runtimes:
            name = f"v{runtime.replace('.', '')}{len(flags)}"
            lam.create_function(
                FunctionName=name,
                Runtime=runtime,
                Role=ROLE,
                Handler="app.handler",
                Code={"ZipFile": code},
            )
            answer = lam.invoke(FunctionName=name)
            assert "FunctionError" not in answer, answer["Payload"].read()
            assert answer["Payload"].read().decode().startswith(f'"{runtime[6:]}.')
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_install_run_reinstall_run(tmp_path: Path) -> None:
    runtimes = _runtimes()
    if len(runtimes) < 2:
        pytest.skip("needs two Python versions on the host")
    source = tmp_path / "source"
    shutil.copytree(
        SOURCE,
        source,
        ignore=lambda d, names: [
            n
            for n in names
            if n in ("__pycache__", ".git")
            or n.endswith(".egg-info")
            or d == str(SOURCE)
            and n not in ("gureum", "pyproject.toml", "README.md")
        ],
    )
    venv = tmp_path / "venv"
    # The system's packages (gureum's dependencies, pip) are seen; gureum is the venv's.
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], check=True
    )
    python = venv / "bin" / "python"
    _install(python, source)
    where = subprocess.run(
        [python, "-c", "import gureum; print(gureum.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    package = _package(venv)
    assert where.strip() == str(package / "__init__.py")
    installed = _files(package)
    _serve_and_invoke(python, tmp_path / "data", runtimes)  # zygotes where isolated
    _serve_and_invoke(python, tmp_path / "data", runtimes, "--isolation", "rlimits")
    assert _files(package) - installed == set()
    subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "gureum"], check=True)
    assert not package.exists()
    _install(python, source)
    _serve_and_invoke(python, tmp_path / "data2", runtimes)
