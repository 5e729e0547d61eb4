"""The examples in ``examples/`` deploy and behave as their docstrings say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import ROLE, unique_name, zip_files

EXAMPLES = Path(__file__).parent.parent / "examples"


def deploy_example(lambda_client: Any, example: str) -> str:
    name = unique_name(example)
    files = {p.name: p.read_text() for p in (EXAMPLES / example).glob("*.py")}
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files(files)},
    )
    return name


def call(lambda_client: Any, name: str, payload: Any) -> Any:
    response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(payload))
    assert "FunctionError" not in response
    return json.loads(response["Payload"].read())


def test_hello(lambda_client: Any) -> None:
    name = deploy_example(lambda_client, "hello")
    result = call(lambda_client, name, {"name": "gureum"})
    assert result["message"] == "hello, gureum!"
    assert result["request_id"]


def test_warm_cold(lambda_client: Any) -> None:
    name = deploy_example(lambda_client, "warm-cold")
    assert call(lambda_client, name, {})["start"] == "cold start"
    assert call(lambda_client, name, {})["start"] == "warm start"
