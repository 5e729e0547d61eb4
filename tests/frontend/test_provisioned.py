"""Provisioned concurrency through boto3: sandboxes kept initialized, no Init Duration."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files

CODE = zip_files(
    {
        "app.py": (
            "import os, time, uuid\n"
            "SANDBOX = uuid.uuid4().hex\n"
            "def handler(event, context):\n"
            "    time.sleep(event.get('sleep', 0))\n"
            "    kind = os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n"
            "    return {'sandbox': SANDBOX, 'type': kind}\n"
        )
    }
)


def wait_ready(lam: Any, name: str, qualifier: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        status = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if status["Status"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return status  # type: ignore[no-any-return]
        time.sleep(0.05)


def published(lam: Any) -> str:
    name = unique_name("prov")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": CODE},
        Publish=True,
    )
    return name


def test_provisioned_sandboxes_are_ready_before_the_first_invoke(
    lambda_client: Any, gureum_server: RunningServer
) -> None:
    name = published(lambda_client)
    put = lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    status = wait_ready(lambda_client, name, "1")
    assert status["Status"] == "READY"
    assert status["AvailableProvisionedConcurrentExecutions"] == 2
    sandboxes = {
        s
        for s in gureum_server.platform.workers.sandboxes()
        if s.function.name == name and s.provisioned
    }
    assert len(sandboxes) == 2

    response = lambda_client.invoke(FunctionName=name, Qualifier="1", LogType="Tail")
    body = json.loads(response["Payload"].read())
    assert body["type"] == "provisioned-concurrency"
    log = base64.b64decode(response["LogResult"]).decode()
    assert "REPORT RequestId" in log and "Init Duration" not in log

    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]] == [
        f"arn:aws:lambda:us-east-1:000000000000:function:{name}:1"
    ]
    lambda_client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    with pytest.raises(lambda_client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")


def test_on_an_alias_and_replaced_when_one_dies(
    lambda_client: Any, gureum_server: RunningServer
) -> None:
    name = published(lambda_client)
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert wait_ready(lambda_client, name, "live")["Status"] == "READY"
    workers = gureum_server.platform.workers
    (first,) = [s for s in workers.sandboxes() if s.function.name == name and s.provisioned]
    first.kill()  # the platform keeps the count: a new one is started
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        alive = [
            s
            for s in workers.sandboxes()
            if s.function.name == name
            and s.provisioned
            and s is not first
            and s.ready.done()
            and s.ready.result()
        ]
        if alive:
            break
        time.sleep(0.1)
    assert alive


@pytest.mark.parametrize(
    ("qualifier", "count", "code_name"),
    [
        ("$LATEST", 1, "InvalidParameterValueException"),
        ("9", 1, "ResourceNotFoundException"),
        ("1", 0, "InvalidParameterValueException"),
    ],
)
def test_validation(
    gureum_server: RunningServer, qualifier: str, count: int, code_name: str
) -> None:
    lam = client("lambda", gureum_server.endpoint, parameter_validation=False)
    name = published(lam)
    with pytest.raises(lam.exceptions.ClientError) as error:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=count
        )
    assert error.value.response["Error"]["Code"] == code_name


def test_a_failing_init_is_reported(lambda_client: Any) -> None:
    name = unique_name("provbad")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": "raise RuntimeError('no init for you')\n"})},
        Publish=True,
    )
    lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    status = wait_ready(lambda_client, name, "1")
    assert status["Status"] == "FAILED" and status["StatusReason"]


def test_provisioned_concurrency_comes_back_after_a_restart(start_server: Any) -> None:
    server: RunningServer = start_server()
    lam = client("lambda", server.endpoint)
    name = published(lam)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    assert wait_ready(lam, name, "1")["Status"] == "READY"
    server.stop()
    restarted = RunningServer(server.settings)
    restarted.start()
    try:
        lam = client("lambda", restarted.endpoint)
        assert wait_ready(lam, name, "1")["Status"] == "READY"
    finally:
        restarted.stop()
