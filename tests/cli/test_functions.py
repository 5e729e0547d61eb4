"""``gureum deploy``, ``invoke`` and ``functions`` against a real server, as a user runs them."""

from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from gureum.cli import CLIError
from gureum.cli.functions import default_runtime, zip_directory
from tests.cli.conftest import run
from tests.conftest import RunningServer, client, unique_name


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


def test_deploy_defaults_and_keeps_the_runtime(
    gureum_server: RunningServer,
    code_dir: Path,
    capsys: pytest.CaptureFixture[str],
    lambda_client: Any,
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    name = unique_name("rt")
    deploy = ["deploy", str(code_dir), "--name", name, "--handler", "app.handler", *endpoint]
    code, out, _ = run(capsys, *deploy)
    assert code == 0 and f"({default_runtime()}, app.handler)" in out
    assert default_runtime() == f"python{sys.version_info[0]}.{sys.version_info[1]}"
    code, out, _ = run(capsys, *deploy, "--runtime", "python3.12")
    assert code == 0 and out.startswith(f"updated {name} (python3.12, app.handler)")
    (code_dir / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
    code, out, _ = run(capsys, *deploy, "--json")  # no --runtime: the function keeps its own
    config = json.loads(out)
    assert code == 0 and config["action"] == "updated" and config["Runtime"] == "python3.12"
    assert (
        config["CodeSha256"]
        == lambda_client.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    )
    code, out, _ = run(capsys, "invoke", name, *endpoint)
    assert (code, out) == (0, '"v2"\n')


def test_invoke_payload_from_stdin_and_json_output(
    gureum_server: RunningServer,
    code_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    name = unique_name("stdin")
    run(capsys, "deploy", str(code_dir), "--name", name, "--handler", "app.handler", *endpoint)
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"word": "piped"}'))
    code, out, _ = run(capsys, "invoke", name, "--payload", "@-", "--json", "--log", *endpoint)
    answer = json.loads(out)
    assert code == 0 and answer["StatusCode"] == 200 and answer["FunctionError"] is None
    assert json.loads(answer["Payload"])["word"] == "piped"
    assert "cli says piped" in answer["Log"]
    code, out, err = run(capsys, "invoke", name, "--payload", '{"fail": 1}', "--log", *endpoint)
    assert code == 1 and json.loads(out)["errorMessage"] == "asked to fail"
    assert "RuntimeError" in err

    code, out, _ = run(
        capsys, "invoke", name, "--async", "--payload", '{"word": "later"}', *endpoint
    )
    request_id = out.strip().removeprefix("accepted: ")
    assert code == 0 and out.startswith("accepted: ") and len(request_id) == 36
    code, out, _ = run(capsys, "invoke", name, "--async", "--json", *endpoint)
    assert code == 0 and json.loads(out)["StatusCode"] == 202
    code, _, err = run(capsys, "invoke", name, "--async", "--log", *endpoint)
    assert code == 1 and "--log needs a synchronous invoke" in err
    logs = client("logs", gureum_server.endpoint)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the event ran, with the id the CLI printed
        found = logs.filter_log_events(
            logGroupName=f"/aws/lambda/{name}", filterPattern=f'"START RequestId: {request_id}"'
        )["events"]
        if found:
            break
        time.sleep(0.2)
    assert found


def test_zip_directory_skips_caches_and_follows_file_links(code_dir: Path) -> None:
    (code_dir / ".git").mkdir()
    (code_dir / ".git" / "HEAD").write_text("ref")
    (code_dir / "lib").mkdir()
    (code_dir / "lib" / "util.py").write_text("X = 1\n")
    (code_dir / "link.py").symlink_to(code_dir / "lib" / "util.py")
    (code_dir / "dangling").symlink_to(code_dir / "nowhere")
    with zipfile.ZipFile(BytesIO(zip_directory(code_dir))) as archive:
        assert archive.namelist() == ["app.py", "lib/util.py", "link.py"]
        assert archive.read("link.py") == b"X = 1\n"
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    empty = code_dir / "empty"
    empty.mkdir()
    with pytest.raises(CLIError, match="has no files to deploy"):
        zip_directory(empty)


def test_deploy_with_a_url(
    gureum_server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import urllib.request

    (tmp_path / "app.py").write_text(
        'def handler(event, context):\n    return {"statusCode": 200, "body": "hi"}\n'
    )
    name = unique_name("cli-url")
    endpoint = ["--endpoint", gureum_server.endpoint]
    code, out, _ = run(
        capsys,
        "deploy",
        str(tmp_path),
        "--name",
        name,
        "--handler",
        "app.handler",
        "--url",
        *endpoint,
    )
    assert code == 0
    url = out.splitlines()[-1]
    assert "/_aws/lambda-url/" in url
    with urllib.request.urlopen(url, timeout=60) as answer:
        assert answer.read() == b"hi"
    # deployed again, the function keeps its URL
    code, out, _ = run(
        capsys,
        "deploy",
        str(tmp_path),
        "--name",
        name,
        "--handler",
        "app.handler",
        "--url",
        *endpoint,
    )
    assert code == 0 and out.splitlines()[-1] == url
