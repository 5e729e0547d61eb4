"""A gureum server on each store engine, and boto3's ``kinesis`` client for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    RunningServer,
    client,
    server_on,
    unique_name,
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def streams_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server on the engine ``request.param`` names, for a module; without Kinesis's
    per-shard limits, since these tests read a shard many times a second (the limits
    have tests of their own, in test_shard_limits.py, on servers that keep them)."""
    path = Path(tmp_path_factory.mktemp("streams"))
    with server_on(request.param, path, stream_throughput="unlimited") as server:
        yield server


@pytest.fixture
def kinesis(streams_server: RunningServer) -> Any:
    return client("kinesis", streams_server.endpoint)


@pytest.fixture
def unchecked(streams_server: RunningServer) -> Any:
    """A client that sends what it is given (the server's own checks answer)."""
    return client("kinesis", streams_server.endpoint, parameter_validation=False)


@pytest.fixture
def new_stream(kinesis: Any) -> Callable[..., str]:
    """Create a stream (a fresh name, ``shards`` shards) and give its name."""

    def create(shards: int = 1, **extra: Any) -> str:
        name = unique_name("stream")
        kinesis.create_stream(StreamName=name, ShardCount=shards, **extra)
        return name

    return create
