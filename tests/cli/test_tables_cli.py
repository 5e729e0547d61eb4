"""``gureum tables list|describe|scan|get|put`` against a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import run
from tests.conftest import RunningServer, client, unique_name


def _create(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_tables_put_get_scan_describe_list(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    dynamodb = client("dynamodb", gureum_server.endpoint)
    name = unique_name("clit")
    _create(dynamodb, name)

    item = (
        '{"id": "1", "n": 2, "price": 1.25, "big": 12345678901234567890, "m": {"l": [true, null]}}'
    )
    code, out, _ = run(capsys, "tables", "put", name, item, *endpoint)
    assert (code, out) == (0, "put a new item\n")
    stored = dynamodb.get_item(TableName=name, Key={"id": {"S": "1"}})["Item"]
    assert stored["n"] == {"N": "2"} and stored["price"] == {"N": "1.25"}
    assert stored["big"] == {"N": "12345678901234567890"}
    assert stored["m"] == {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}]}}}
    code, out, _ = run(capsys, "tables", "put", name, '{"id": "1", "n": 3}', "--json", *endpoint)
    assert code == 0 and json.loads(out)["Replaced"]["n"] == 2

    dynamodb.put_item(
        TableName=name, Item={"id": {"S": "2"}, "tags": {"SS": ["b", "a"]}, "x": {"N": "0.1"}}
    )
    code, out, _ = run(capsys, "tables", "get", name, '{"id": "2"}', *endpoint)
    assert code == 0 and json.loads(out) == {"id": "2", "tags": ["a", "b"], "x": 0.1}

    for number in range(3, 8):
        dynamodb.put_item(TableName=name, Item={"id": {"S": str(number)}})
    code, out, _ = run(capsys, "tables", "scan", name, *endpoint)
    assert code == 0 and sorted(item["id"] for item in json.loads(out)) == [
        str(n) for n in range(1, 8)
    ]
    code, out, _ = run(capsys, "tables", "scan", name, "--limit", "3", *endpoint)
    assert code == 0 and len(json.loads(out)) == 3

    code, out, _ = run(capsys, "tables", "describe", name, *endpoint)
    described = json.loads(out)
    assert code == 0 and described["TableName"] == name
    assert described["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]

    code, out, _ = run(capsys, "tables", "list", *endpoint)
    assert code == 0 and name in out.splitlines()
    code, out, _ = run(capsys, "tables", "list", "--json", *endpoint)
    assert code == 0 and name in json.loads(out)


def test_tables_list_reads_every_page(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """ListTables answers at most 100 names a page; the command follows
    LastEvaluatedTableName to the end."""
    dynamodb = client("dynamodb", gureum_server.endpoint)
    prefix = unique_name("clipage")
    names = [f"{prefix}-{n:03}" for n in range(105)]
    for name in names:
        _create(dynamodb, name)
    code, out, _ = run(capsys, "tables", "list", "--endpoint", gureum_server.endpoint)
    assert code == 0
    listed = out.splitlines()
    assert [n for n in listed if n.startswith(prefix)] == names
    assert listed == sorted(listed)


def test_tables_scan_reads_every_page(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scan pages hold at most 1 MB; items of 300 KB make a page of three."""
    dynamodb = client("dynamodb", gureum_server.endpoint)
    name = unique_name("cliscan")
    _create(dynamodb, name)
    for number in range(8):
        dynamodb.put_item(
            TableName=name, Item={"id": {"S": str(number)}, "pad": {"S": "x" * 300_000}}
        )
    assert "LastEvaluatedKey" in dynamodb.scan(TableName=name)
    code, out, _ = run(capsys, "tables", "scan", name, "--endpoint", gureum_server.endpoint)
    assert code == 0 and sorted(item["id"] for item in json.loads(out)) == [
        str(n) for n in range(8)
    ]
    code, out, _ = run(
        capsys, "tables", "scan", name, "--limit", "5", "--endpoint", gureum_server.endpoint
    )
    assert code == 0 and len(json.loads(out)) == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["tables", "describe", "no-such-table"],
            "ResourceNotFoundException: Requested resource not found: Table: no-such-table",
        ),
        (["tables", "scan", "no-such-table"], "ResourceNotFoundException: "),
        (["tables", "get", "no-such-table", '{"id": "1"}'], "ResourceNotFoundException: "),
        (["tables", "put", "no-such-table", '{"id": "1"}'], "ResourceNotFoundException: "),
        (["tables", "put", "t", "{not json"], "ITEM is not JSON: "),
        (["tables", "get", "t", '["id"]'], "KEY must be a JSON object"),
        (["tables", "put", "t", "{}"], "ITEM must be a JSON object with at least one attribute"),
        (["tables", "scan", "t", "--limit", "0"], "--limit must be at least 1"),
        (["tables", "describe", "x"], "ValidationException: "),
    ],
)
def test_tables_errors_are_one_line(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv, "--endpoint", gureum_server.endpoint)
    assert code == 1
    assert err.startswith("gureum: ") and message in err and err.count("\n") == 1, err


def test_tables_wrong_key_and_missing_item(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    dynamodb = client("dynamodb", gureum_server.endpoint)
    name = unique_name("clikey")
    _create(dynamodb, name)
    endpoint = ["--endpoint", gureum_server.endpoint]
    code, _, err = run(capsys, "tables", "get", name, '{"id": "nope"}', *endpoint)
    assert code == 1 and err == f'gureum: no item with key {{"id": "nope"}} in table {name}\n'
    code, _, err = run(capsys, "tables", "get", name, '{"other": "1"}', *endpoint)
    assert code == 1 and err.startswith("gureum: ValidationException: The provided key element")
    code, _, err = run(capsys, "tables", "put", name, '{"id": 1}', *endpoint)
    assert code == 1 and "ValidationException: One or more parameter values were invalid" in err


def test_tables_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "tables", "list", "--endpoint", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach gureum at http://127.0.0.1:9" in err
