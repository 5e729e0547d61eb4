"""The AWS CLI on the tables, as a user types it: create a table, write, read, query,
scan, list its stream; and its error for a table that is not there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import RunningServer, unique_name

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="needs the AWS CLI")


def aws(server: RunningServer, *args: str, check: bool = True) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    done = subprocess.run(
        ["aws", "--endpoint-url", server.endpoint, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if check:
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None
    return done


def test_the_aws_cli_works_unchanged(tables_server: RunningServer) -> None:
    name = unique_name("cli")
    created = aws(
        tables_server,
        "dynamodb", "create-table", "--table-name", name,
        "--attribute-definitions", "AttributeName=id,AttributeType=S",
        "AttributeName=at,AttributeType=N",
        "--key-schema", "AttributeName=id,KeyType=HASH", "AttributeName=at,KeyType=RANGE",
        "--billing-mode", "PAY_PER_REQUEST",
        "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_IMAGE",
    )  # fmt: skip
    assert created["TableDescription"]["TableName"] == name
    for at in ("1", "2", "10"):
        aws(
            tables_server,
            "dynamodb", "put-item", "--table-name", name,
            "--item", json.dumps({"id": {"S": "a"}, "at": {"N": at}, "v": {"S": f"v{at}"}}),
        )  # fmt: skip
    got = aws(
        tables_server,
        "dynamodb", "get-item", "--table-name", name,
        "--key", json.dumps({"id": {"S": "a"}, "at": {"N": "2"}}),
    )  # fmt: skip
    assert got["Item"]["v"] == {"S": "v2"}
    queried = aws(
        tables_server,
        "dynamodb", "query", "--table-name", name,
        "--key-condition-expression", "id = :id AND #at > :low",
        "--expression-attribute-names", '{"#at": "at"}',
        "--expression-attribute-values", '{":id": {"S": "a"}, ":low": {"N": "1"}}',
    )  # fmt: skip
    assert [item["at"]["N"] for item in queried["Items"]] == ["2", "10"]
    # The CLI pages a scan by itself (--max-items/--page-size), following LastEvaluatedKey.
    scanned = aws(tables_server, "dynamodb", "scan", "--table-name", name, "--page-size", "1")
    assert scanned["Count"] == 3
    streams = aws(tables_server, "dynamodbstreams", "list-streams", "--table-name", name)
    assert [stream["TableName"] for stream in streams["Streams"]] == [name]
    missing = aws(
        tables_server, "dynamodb", "describe-table", "--table-name", "no-such-table", check=False
    )
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
