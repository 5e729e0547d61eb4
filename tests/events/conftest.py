"""What the event source mapping tests share: a server, its clients, queues."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    RunningServer,
    client,
    make_settings,
    server_on,
    unique_name,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = RunningServer(make_settings(Path(tmp_path_factory.mktemp("esm"))))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server_on_each_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A module's server on each store engine: a module that reads streams has its
    ``server`` be this one (a mapping's leases and checkpoints are rows like any)."""
    with server_on(request.param, Path(tmp_path_factory.mktemp("esm"))) as running:
        yield running


@pytest.fixture
def lam(server: RunningServer) -> Any:
    return client("lambda", server.endpoint, parameter_validation=False)


@pytest.fixture
def sqs(server: RunningServer) -> Any:
    return client("sqs", server.endpoint)


@pytest.fixture
def kinesis(server: RunningServer) -> Any:
    return client("kinesis", server.endpoint)


def queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique_name("q"), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def drain(sqs: Any, url: str, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """``count`` messages of ``url`` (deleted), as JSON; fails if they don't all come."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(got) == count, got
    return got


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
