"""The ``gureum`` CLI against a real server, as a user runs it."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import queue
import signal
import subprocess
import sys
import threading
import time
import zipfile
from io import BytesIO
from pathlib import Path
from typing import IO, Any

import pytest

from gureum.cli import CLIError, build_parser, main
from gureum.client_commands import (
    default_runtime,
    format_event,
    parse_since,
    zip_directory,
)
from tests.conftest import RunningServer, client, unique_name


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


def lines_of(pipe: IO[str]) -> queue.Queue[str]:
    """The lines ``pipe`` yields, read in a thread, so a test can wait with a timeout."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in pipe:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_logs_follow_prints_new_lines(gureum_server: RunningServer, code_dir: Path) -> None:
    name = unique_name("follow")
    endpoint = ["--endpoint", gureum_server.endpoint]
    python = [sys.executable, "-m", "gureum"]
    subprocess.run(
        [*python, "deploy", str(code_dir), "--name", name, "--handler", "app.handler", *endpoint],
        check=True,
        capture_output=True,
    )
    # Started before the function ever ran: its log group does not exist yet.
    follower = subprocess.Popen(
        [*python, "logs", name, "--follow", *endpoint],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stderr is not None and follower.stdout is not None
        out, err = lines_of(follower.stdout), lines_of(follower.stderr)
        assert err.get(timeout=15) == f"no logs yet for {name}; waiting\n"
        printed = []
        for word in ("live", "again"):
            subprocess.run(
                [*python, "invoke", name, "--payload", json.dumps({"word": word}), *endpoint],
                check=True,
                capture_output=True,
            )
            # this invoke's lines, up to its REPORT line
            while not (line := out.get(timeout=15)).split(" ", 1)[1].startswith("REPORT"):
                printed.append(line)
            assert any(f"cli says {word}" in line for line in printed)
            assert all(line[:4].isdigit() for line in printed)
        follower.send_signal(signal.SIGINT)  # Ctrl-C
        assert follower.wait(timeout=10) == 0
        assert out.empty()
        assert sum("cli says" in line for line in printed) == 2  # each line once
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


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
        (
            ["deploy", ".", "--name", "x", "--handler", "a.b", "--memory", "64"],
            "invalid parameters: Invalid value for parameter MemorySize",
        ),
        (["invoke", ""], "invalid parameters: Invalid length for parameter FunctionName"),
        (["logs", "x", "--filter", "{ $.a = "], "InvalidParameterException: Invalid filter"),
    ],
)
def test_errors_are_one_line(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv, "--endpoint", gureum_server.endpoint)
    assert code == 1
    assert err.startswith("gureum: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["functions"],
        ["invoke", "x"],
        ["logs", "x"],
        ["logs", "x", "--follow"],
        ["deploy", "tests", "--name", "x", "--handler", "a.b"],
    ],
)
def test_unreachable_endpoint(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv, "--endpoint", "http://127.0.0.1:9")
    assert code == 1
    assert err == (
        "gureum: cannot reach gureum at http://127.0.0.1:9: is `gureum server` running?\n"
    )


def test_endpoint_from_the_environment(
    gureum_server: RunningServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GUREUM_ENDPOINT", gureum_server.endpoint)
    code, out, _ = run(capsys, "functions")
    assert code == 0 and out.startswith("NAME")
    monkeypatch.delenv("GUREUM_ENDPOINT")
    code, _, err = run(capsys, "functions")
    assert code == 1 and "cannot reach gureum at http://127.0.0.1:9" in err


def test_bad_endpoint_and_wrong_keys_are_one_line(
    gureum_server: RunningServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(capsys, "functions", "--endpoint", "127.0.0.1:9070")
    assert code == 1 and err.startswith("gureum: invalid --endpoint '127.0.0.1:9070'")
    monkeypatch.setenv("GUREUM_SECRET_ACCESS_KEY", "not-the-servers")
    code, _, err = run(capsys, "functions", "--endpoint", gureum_server.endpoint)
    assert code == 1 and err.count("\n") == 1
    assert "InvalidSignatureException" in err and "GUREUM_SECRET_ACCESS_KEY" in err


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


def test_logs_filter_pattern_and_since(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    name = unique_name("jsonlog")
    directory = tmp_path / "jsonlog"
    directory.mkdir()
    (directory / "app.py").write_text(
        "import json\n"
        "def handler(event, context):\n"
        "    print(json.dumps({'level': event['level'], 'n': event['n']}))\n"
    )
    run(capsys, "deploy", str(directory), "--name", name, "--handler", "app.handler", *endpoint)
    for level, n in (("INFO", 1), ("ERROR", 2), ("ERROR", 30)):
        code, _, _ = run(
            capsys, "invoke", name, "--payload", json.dumps({"level": level, "n": n}), *endpoint
        )
        assert code == 0
    pattern = '{ $.level = "ERROR" && $.n > 10 }'
    deadline = time.monotonic() + 10
    while True:
        code, out, _ = run(capsys, "logs", name, "--filter", pattern, "--since", "5m", *endpoint)
        if out or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert code == 0 and len(out.splitlines()) == 1 and out.rstrip().endswith('"n": 30}')
    code, out, _ = run(capsys, "logs", name, "--filter", "?INFO ?nothing", *endpoint)
    assert len(out.splitlines()) == 1
    code, out, _ = run(capsys, "logs", name, "--since", "0s", *endpoint)
    assert (code, out) == (0, "")


def test_parse_since_and_format_event() -> None:
    now = 1_700_000_000.0
    assert parse_since("30s", now) == 1_699_999_970_000
    assert parse_since("10m", now) == 1_699_999_400_000
    assert parse_since("1h", now) == 1_699_996_400_000
    assert parse_since("2d", now) == 1_699_827_200_000
    line = format_event({"timestamp": 1_700_000_000_123, "message": "hello\n"})
    assert line == "2023-11-14T22:13:20.123+00:00 hello"


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


def test_doctor_reports_the_hosts_protections(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "doctor", "--data-dir", str(tmp_path / "data"))
    lines = out.splitlines()
    assert lines[0].startswith("isolation: ")
    assert any(line.startswith("runtime python3.11: /") for line in lines)
    assert code == (0 if lines[0].startswith("isolation: namespaces") else 1)
    if code == 0:
        assert "cold starts: zygote (a fork server per runtime, 4 children prepared)" in lines
        assert any(line.startswith("snapshots (SnapStart): ") for line in lines)
        code, out, _ = run(
            capsys, "doctor", "--data-dir", str(tmp_path / "data"), "--cold-start", "exec"
        )
        assert "snapshots (SnapStart): off: needs --cold-start zygote" in out.splitlines()


# queues


def test_queues_list_send_receive_purge(
    gureum_server: RunningServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    sqs = client("sqs", gureum_server.endpoint)
    name = unique_name("cliq")
    dead_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    policy = {"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:000000000000:{name}-dlq"}
    url = sqs.create_queue(
        QueueName=name, Attributes={"RedrivePolicy": json.dumps({**policy, "maxReceiveCount": 3})}
    )["QueueUrl"]

    code, out, _ = run(capsys, "queues", "send", name, "hello", "--attribute", "k=v", *endpoint)
    assert code == 0 and len(out.strip()) == 36  # the MessageId
    body_file = tmp_path / "body.txt"
    body_file.write_text("from a file")
    code, out, _ = run(
        capsys, "queues", "send", url, f"@{body_file}", "--delay", "0", "--json", *endpoint
    )
    sent = json.loads(out)
    assert code == 0 and sent["MD5OfMessageBody"] == hashlib.md5(b"from a file").hexdigest()
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin"))
    code, out, _ = run(capsys, "queues", "send", name, "@-", *endpoint)
    assert code == 0

    code, out, _ = run(capsys, "queues", "list", "--prefix", name, *endpoint)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "NAME",
        "VISIBLE",
        "IN",
        "FLIGHT",
        "DELAYED",
        "DEAD-LETTER",
        "QUEUE",
    ]
    assert lines[1].split() == [name, "3", "0", "0", f"{name}-dlq"]
    assert lines[2].split() == [f"{name}-dlq", "0", "0", "0", "-"]
    code, out, _ = run(capsys, "queues", "list", "--prefix", name, "--json", *endpoint)
    listed = json.loads(out)
    assert [q["QueueUrl"] for q in listed] == [url, dead_url]
    assert listed[0]["Attributes"]["ApproximateNumberOfMessages"] == "3"

    code, out, _ = run(capsys, "queues", "receive", name, "--visibility", "0", "--json", *endpoint)
    received = json.loads(out)
    assert code == 0 and sorted(m["Body"] for m in received) == [
        "from a file",
        "from stdin",
        "hello",
    ]
    hello = next(m for m in received if m["Body"] == "hello")
    assert hello["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert hello["Attributes"]["ApproximateReceiveCount"] == "1"
    code, out, _ = run(capsys, "queues", "receive", name, "--delete", "--max", "10", *endpoint)
    assert code == 0 and sorted(out.splitlines()) == ["from a file", "from stdin", "hello"]
    code, out, err = run(capsys, "queues", "receive", url, "--wait", "1", *endpoint)
    assert code == 0 and out == "" and err == "no messages\n"

    run(capsys, "queues", "send", name, "to purge", *endpoint)
    code, out, _ = run(capsys, "queues", "purge", name, *endpoint)
    assert code == 0 and out == f"purged {name}\n"
    code, _, err = run(capsys, "queues", "purge", name, *endpoint)
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(
        "gureum: AWS.SimpleQueueService.PurgeQueueInProgress: Only one PurgeQueue operation"
    )
    code, out, _ = run(capsys, "queues", "receive", name, *endpoint)
    assert out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["queues", "send", "no-such-queue", "x"],
            "AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist.",
        ),
        (["queues", "receive", "no-such-queue"], "NonExistentQueue"),
        (["queues", "purge", "no-such-queue"], "NonExistentQueue"),
        (["queues", "send", "q", "x", "--attribute", "novalue"], "--attribute takes NAME=VALUE"),
        (["queues", "send", "q", "@/no/such/file"], "cannot read message body"),
    ],
)
def test_queues_errors_are_one_line(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv, "--endpoint", gureum_server.endpoint)
    assert code == 1
    assert err.startswith("gureum: ") and message in err and err.count("\n") == 1


def test_queues_validation_errors_and_unreachable(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    name = unique_name("cliv")
    client("sqs", gureum_server.endpoint).create_queue(QueueName=name)
    code, _, err = run(
        capsys, "queues", "receive", name, "--max", "11", "--endpoint", gureum_server.endpoint
    )
    assert code == 1 and err == (
        "gureum: InvalidParameterValue: Value 11 for parameter MaxNumberOfMessages is invalid. "
        "Reason: Must be between 1 and 10, if provided.\n"
    )
    code, _, err = run(capsys, "queues", "list", "--endpoint", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach gureum at http://127.0.0.1:9" in err


def _command_paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every command and subcommand of ``parser``, as the words that name it."""
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                paths += _command_paths(sub, (*prefix, word))
    return paths


def test_every_command_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _command_paths(build_parser())
    assert ("server",) in paths and ("queues", "send") in paths
    for path in paths:
        code, out, err = run(capsys, *path, "--help")
        assert code == 0, (path, err)
        assert out.startswith("usage: gureum"), (path, out)
