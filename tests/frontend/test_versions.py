"""Published versions through boto3: immutable snapshots of $LATEST, invoked by number."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from tests.conftest import ROLE, unique_name, zip_files


def code(answer: str) -> bytes:
    return zip_files(
        {
            "app.py": (
                "def handler(event, context):\n"
                f"    return {{'answer': {answer!r}, 'version': context.function_version,\n"
                "            'arn': context.invoked_function_arn}\n"
            )
        }
    )


def call(lam: Any, name: str, qualifier: str | None = None) -> tuple[dict[str, Any], str]:
    args = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    response = lam.invoke(**args)
    return json.loads(response["Payload"].read()), response["ExecutedVersion"]


def test_publish_invoke_list_and_delete_versions(lambda_client: Any) -> None:
    name = unique_name("ver")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code("one")},
    )
    v1 = lambda_client.publish_version(FunctionName=name, Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1" and v1["Description"] == "first"
    assert v1["FunctionArn"].endswith(f"function:{name}:1")
    # nothing changed: the same version again
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "1"

    lambda_client.update_function_code(FunctionName=name, ZipFile=code("two"))
    v2 = lambda_client.publish_version(FunctionName=name)
    assert v2["Version"] == "2"
    assert v2["CodeSha256"] == base64.b64encode(hashlib.sha256(code("two")).digest()).decode()

    latest, executed = call(lambda_client, name)
    assert (latest["answer"], executed, latest["version"]) == ("two", "$LATEST", "$LATEST")
    first, executed = call(lambda_client, name, "1")
    assert (first["answer"], executed, first["version"]) == ("one", "1", "1")
    assert first["arn"].endswith(f"function:{name}:1")
    assert call(lambda_client, f"{name}:2")[0]["answer"] == "two"

    got = lambda_client.get_function(FunctionName=name, Qualifier="1")["Configuration"]
    assert got["Version"] == "1" and got["CodeSha256"] == v1["CodeSha256"]
    versions = [
        v["Version"] for v in lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    ]
    assert versions == ["$LATEST", "1", "2"]
    paged = [
        v["Version"]
        for page in lambda_client.get_paginator("list_versions_by_function").paginate(
            FunctionName=name, PaginationConfig={"PageSize": 1}
        )
        for v in page["Versions"]
    ]
    assert paged == versions
    everything = [
        (f["FunctionName"], f["Version"])
        for f in lambda_client.list_functions(FunctionVersion="ALL", MaxItems=10000)["Functions"]
        if f["FunctionName"] == name
    ]
    assert everything == [(name, "$LATEST"), (name, "1"), (name, "2")]

    lambda_client.delete_function(FunctionName=name, Qualifier="1")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName=name, Qualifier="1")
    assert call(lambda_client, name, "2")[0]["answer"] == "two"
    lambda_client.update_function_code(FunctionName=name, ZipFile=code("three"))
    assert lambda_client.publish_version(FunctionName=name)["Version"] == "3"  # never reused
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.delete_function(FunctionName=name, Qualifier="1")


def test_publish_at_create_and_update(lambda_client: Any) -> None:
    name = unique_name("pub")
    created = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code("a")},
        Publish=True,
    )
    assert created["Version"] == "1"
    updated = lambda_client.update_function_code(FunctionName=name, ZipFile=code("b"), Publish=True)
    assert updated["Version"] == "2"
    assert call(lambda_client, name, "2")[0]["answer"] == "b"


def test_publish_preconditions(lambda_client: Any) -> None:
    name = unique_name("pre")
    config = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code("a")},
    )
    with pytest.raises(
        lambda_client.exceptions.InvalidParameterValueException,
        match="different from current CodeSHA256",
    ):
        lambda_client.publish_version(FunctionName=name, CodeSha256="bm90IGl0")
    with pytest.raises(lambda_client.exceptions.PreconditionFailedException):
        lambda_client.publish_version(FunctionName=name, RevisionId="stale")
    published = lambda_client.publish_version(
        FunctionName=name, RevisionId=config["RevisionId"], CodeSha256=config["CodeSha256"]
    )
    assert published["Version"] == "1"
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.publish_version(FunctionName="absent-fn")
