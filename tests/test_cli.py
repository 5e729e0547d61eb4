"""The ``gureum`` CLI against a real server, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from gureum.cli import main, zip_directory
from tests.conftest import RunningServer, unique_name


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "fn"
    directory.mkdir()
    (directory / "app.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    print('cli says', event.get('word'))\n"
        "    if event.get('fail'):\n"
        "        raise RuntimeError('asked to fail')\n"
        "    return {'word': event.get('word'), 'greeting': os.environ.get('GREETING')}\n"
    )
    (directory / "__pycache__").mkdir()
    (directory / "__pycache__" / "junk.pyc").write_bytes(b"junk")
    return directory


def test_deploy_invoke_functions_logs(
    gureum_server: RunningServer, code_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    name = unique_name("cli")
    code, out, _ = run(
        capsys,
        "deploy",
        str(code_dir),
        "--name",
        name,
        "--handler",
        "app.handler",
        "--runtime",
        "python3.11",
        "--env",
        "GREETING=hey",
        "--memory",
        "256",
        *endpoint,
    )
    assert code == 0 and out.startswith(f"created {name} (python3.11, app.handler)")
    code, out, _ = run(
        capsys,
        "deploy",
        str(code_dir),
        "--name",
        name,
        "--handler",
        "app.handler",
        "--runtime",
        "python3.11",
        "--timeout",
        "9",
        "--json",
        *endpoint,
    )
    assert code == 0
    deployed = json.loads(out)
    assert deployed["action"] == "updated" and deployed["Timeout"] == 9

    code, out, err = run(capsys, "invoke", name, "--payload", '{"word": "hi"}', "--log", *endpoint)
    assert code == 0
    # the second deploy named no --env, so the Environment it had is kept
    assert json.loads(out) == {"word": "hi", "greeting": "hey"}
    assert "cli says hi" in err and "REPORT RequestId" in err
    payload_file = tmp_path / "event.json"
    payload_file.write_text('{"word": "from-file"}')
    code, out, _ = run(capsys, "invoke", name, "--payload", f"@{payload_file}", *endpoint)
    assert json.loads(out)["word"] == "from-file"
    code, out, _ = run(capsys, "invoke", name, "--payload", '{"fail": true}', *endpoint)
    assert code == 1 and json.loads(out)["errorType"] == "RuntimeError"

    code, out, _ = run(capsys, "functions", *endpoint)
    assert code == 0 and out.splitlines()[0].split() == [
        "NAME",
        "RUNTIME",
        "MEMORY",
        "TIMEOUT",
        "LAST",
        "MODIFIED",
    ]
    assert any(
        line.startswith(name) and "256 MB" in line and "9 s" in line for line in out.splitlines()
    )
    code, out, _ = run(capsys, "functions", "--json", *endpoint)
    assert name in [f["FunctionName"] for f in json.loads(out)]

    deadline = time.monotonic() + 10
    while True:
        code, out, err = run(capsys, "logs", name, "--filter", "cli says", *endpoint)
        if out.count("cli says") >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert code == 0
    assert "cli says hi" in out and "cli says from-file" in out
    assert all(line[:4].isdigit() for line in out.splitlines())
    code, out, _ = run(capsys, "logs", name, "--since", "1h", "--json", *endpoint)
    assert all("eventId" in json.loads(line) for line in out.splitlines())


def test_logs_follow_prints_new_lines(gureum_server: RunningServer, code_dir: Path) -> None:
    name = unique_name("follow")
    endpoint = ["--endpoint", gureum_server.endpoint]
    python = [sys.executable, "-m", "gureum"]
    subprocess.run(
        [*python, "deploy", str(code_dir), "--name", name, "--handler", "app.handler", *endpoint],
        check=True,
        capture_output=True,
    )
    follower = subprocess.Popen(
        [*python, "logs", name, "--follow", *endpoint],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)
        subprocess.run(
            [*python, "invoke", name, "--payload", '{"word": "live"}', *endpoint],
            check=True,
            capture_output=True,
        )
        assert follower.stdout is not None
        deadline = time.monotonic() + 15
        line = ""
        while "cli says live" not in line and time.monotonic() < deadline:
            line = follower.stdout.readline()
        assert "cli says live" in line
    finally:
        follower.terminate()
        follower.wait(timeout=10)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["invoke", "x", "--payload", "{bad"], "--payload is not valid JSON"),
        (["invoke", "x", "--payload", "@/no/such/file"], "cannot read payload file"),
        (["invoke", "no-such-function-here"], "ResourceNotFoundException: Function not found"),
        (["logs", "no-such-function-here"], "no logs yet for no-such-function-here"),
        (["logs", "x", "--since", "yesterday"], "--since takes a duration"),
        (["deploy", "/no/such/dir", "--name", "x", "--handler", "a.b"], "is not a directory"),
        (
            ["deploy", ".", "--name", "x", "--handler", "a.b", "--env", "NOEQUALS"],
            "--env takes KEY=VALUE",
        ),
    ],
)
def test_errors_are_one_line(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv, "--endpoint", gureum_server.endpoint)
    assert code == 1
    assert err.startswith("gureum: ") and message in err and err.count("\n") == 1


def test_unreachable_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "functions", "--endpoint", "http://127.0.0.1:9")
    assert code == 1
    assert "cannot reach gureum at http://127.0.0.1:9" in err


def test_zip_directory_is_deterministic(code_dir: Path) -> None:
    (code_dir / "bootstrap").write_text("#!/bin/sh\n")
    (code_dir / "bootstrap").chmod(0o755)
    first = zip_directory(code_dir)
    assert first == zip_directory(code_dir)
    with zipfile.ZipFile(BytesIO(first)) as archive:
        names = archive.namelist()
        modes: dict[str, Any] = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    assert names == ["app.py", "bootstrap"]
    assert modes["bootstrap"] & 0o111


def test_doctor_reports_the_hosts_protections(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "doctor", "--data-dir", str(tmp_path / "data"))
    lines = out.splitlines()
    assert lines[0].startswith("isolation: ")
    assert any(line.startswith("runtime python3.11: /") for line in lines)
    assert code == (0 if lines[0].startswith("isolation: namespaces") else 1)
