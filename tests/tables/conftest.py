"""A gureum server on each store engine, and boto3's ``dynamodb`` client and resource for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import (
    RunningServer,
    client,
    server_on,
    unique_name,
)


def serve_tables(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, **settings: Any
) -> Iterator[RunningServer]:
    """A server on the engine ``request.param`` names, with ``settings``, for a module."""
    with server_on(request.param, Path(tmp_path_factory.mktemp("tables")), **settings) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def tables_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    yield from serve_tables(request, tmp_path_factory)


@pytest.fixture
def dynamodb(tables_server: RunningServer) -> Any:
    return client("dynamodb", tables_server.endpoint)


@pytest.fixture
def dynamodb_resource(tables_server: RunningServer) -> Any:
    return boto3.resource(
        "dynamodb",
        endpoint_url=tables_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def new_table(dynamodb: Any) -> Callable[..., str]:
    """Create a table (a fresh name; key ``pk`` S, and ``sk`` with ``sort=``) and give
    its name."""

    def create(sort: str | None = None, **extra: Any) -> str:
        name = unique_name("table")
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
        definitions = [{"AttributeName": "pk", "AttributeType": "S"}]
        if sort is not None:
            keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
            definitions.append({"AttributeName": "sk", "AttributeType": sort})
        for definition in extra.pop("definitions", []):
            definitions.append(definition)
        dynamodb.create_table(
            TableName=name,
            KeySchema=keys,
            AttributeDefinitions=definitions,
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        return name

    return create
