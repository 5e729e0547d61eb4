"""``gureum queues list|send|receive|purge`` against a real server."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from tests.cli.conftest import run
from tests.conftest import RunningServer, client, unique_name


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
