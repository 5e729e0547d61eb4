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


def test_aliases_point_at_versions(lambda_client: Any) -> None:
    name = unique_name("alias")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code("one")},
        Publish=True,
    )
    lambda_client.update_function_code(FunctionName=name, ZipFile=code("two"), Publish=True)
    created = lambda_client.create_alias(
        FunctionName=name, Name="live", FunctionVersion="1", Description="production"
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["AliasArn"].endswith(f"function:{name}:live")
    result, executed = call(lambda_client, name, "live")
    assert (result["answer"], executed) == ("one", "1")
    assert result["arn"].endswith(f"function:{name}:live")
    assert call(lambda_client, f"{name}:live")[0]["answer"] == "one"
    assert lambda_client.get_alias(FunctionName=name, Name="live")["Description"] == "production"

    moved = lambda_client.update_alias(
        FunctionName=name, Name="live", FunctionVersion="2", RevisionId=created["RevisionId"]
    )
    assert moved["FunctionVersion"] == "2" and moved["Description"] == "production"
    assert call(lambda_client, name, "live")[0]["answer"] == "two"
    with pytest.raises(lambda_client.exceptions.PreconditionFailedException):
        lambda_client.update_alias(
            FunctionName=name, Name="live", FunctionVersion="1", RevisionId=created["RevisionId"]
        )

    # weighted routing: half the invokes of "canary" go to version 2
    lambda_client.create_alias(
        FunctionName=name,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    executed_versions = {call(lambda_client, name, "canary")[1] for _ in range(40)}
    assert executed_versions == {"1", "2"}

    listed = lambda_client.list_aliases(FunctionName=name)["Aliases"]
    assert [a["Name"] for a in listed] == ["canary", "live"]
    on_two = lambda_client.list_aliases(FunctionName=name, FunctionVersion="2")["Aliases"]
    assert [a["Name"] for a in on_two] == ["canary", "live"]
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.delete_function(FunctionName=name, Qualifier="2")  # aliases use it
    lambda_client.delete_alias(FunctionName=name, Name="canary")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_alias(FunctionName=name, Name="canary")


@pytest.mark.parametrize(
    ("params", "code_name"),
    [
        ({"Name": "123", "FunctionVersion": "1"}, "ValidationException"),
        ({"Name": "$LATEST", "FunctionVersion": "1"}, "ValidationException"),
        ({"Name": "x", "FunctionVersion": "9"}, "ResourceNotFoundException"),
        (
            {
                "Name": "x",
                "FunctionVersion": "$LATEST",
                "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.1}},
            },
            "InvalidParameterValueException",
        ),
        (
            {
                "Name": "x",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.1}},
            },
            "InvalidParameterValueException",
        ),
        (
            {
                "Name": "x",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"2": 1.5}},
            },
            "ValidationException",
        ),
    ],
)
def test_alias_validation(gureum_server: Any, params: dict[str, Any], code_name: str) -> None:
    from tests.conftest import client

    lam = client("lambda", gureum_server.endpoint, parameter_validation=False)
    name = unique_name("aliasbad")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code("one")},
        Publish=True,
    )
    lam.update_function_code(FunctionName=name, ZipFile=code("two"), Publish=True)
    with pytest.raises(lam.exceptions.ClientError) as error:
        lam.create_alias(FunctionName=name, **params)
    assert error.value.response["Error"]["Code"] == code_name


def test_duplicate_alias_and_missing_function(lambda_client: Any) -> None:
    name = unique_name("aliasdup")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code("one")},
    )
    lambda_client.create_alias(FunctionName=name, Name="a", FunctionVersion="$LATEST")
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.create_alias(FunctionName=name, Name="a", FunctionVersion="$LATEST")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.create_alias(FunctionName="absent-fn", Name="a", FunctionVersion="1")
    lambda_client.delete_function(FunctionName=name)
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": code("one")},
    )
    assert lambda_client.list_aliases(FunctionName=name)["Aliases"] == []  # gone with it
