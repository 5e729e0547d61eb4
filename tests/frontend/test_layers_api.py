"""Lambda's layer operations through boto3 against a real server: publish, get, list,
delete, permissions, a function's ``Layers``, and every error as Lambda answers it."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import urllib.request
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, unique_name, zip_files

REGION, ACCOUNT = "us-east-1", "000000000000"
LAYER_ZIP = zip_files({"python/helper.py": "VALUE = 1\n"})
SOURCE = "def handler(event, context):\n    return event\n"
CODE = zip_files({"app.py": SOURCE})


def publish(lambda_client: Any, name: str, **params: Any) -> dict[str, Any]:
    params.setdefault("Content", {"ZipFile": LAYER_ZIP})
    return lambda_client.publish_layer_version(LayerName=name, **params)  # type: ignore[no-any-return]


def error_of(call: Any, **params: Any) -> tuple[int, str, str]:
    """(status, error code, message) of a call that must fail."""
    with pytest.raises(ClientError) as raised:
        call(**params)
    response = raised.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def create_function(lambda_client: Any, **params: Any) -> dict[str, Any]:
    return lambda_client.create_function(  # type: ignore[no-any-return]
        FunctionName=unique_name("layered"),
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": CODE},
        **params,
    )


def test_publish_and_get_a_layer_version(lambda_client: Any) -> None:
    name = unique_name("layer")
    published = publish(
        lambda_client,
        name,
        Description="helpers",
        CompatibleRuntimes=["python3.12", "python3.11"],
        CompatibleArchitectures=["x86_64", "arm64"],
        LicenseInfo="MIT",
    )
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    layer_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}"
    assert published["LayerArn"] == layer_arn
    assert published["LayerVersionArn"] == f"{layer_arn}:1" and published["Version"] == 1
    assert published["Description"] == "helpers" and published["LicenseInfo"] == "MIT"
    assert published["CompatibleRuntimes"] == ["python3.12", "python3.11"]
    assert published["CompatibleArchitectures"] == ["x86_64", "arm64"]
    content = published["Content"]
    assert content["CodeSha256"] == base64.b64encode(hashlib.sha256(LAYER_ZIP).digest()).decode()
    assert content["CodeSize"] == len(LAYER_ZIP)
    with urllib.request.urlopen(content["Location"]) as download:
        assert download.read() == LAYER_ZIP
    assert published["CreatedDate"].endswith("+0000")
    assert len(published["CreatedDate"]) == len("2018-11-14T23:03:52.894+0000")
    got = lambda_client.get_layer_version(LayerName=name, VersionNumber=1)
    got_by_arn = lambda_client.get_layer_version(LayerName=layer_arn, VersionNumber=1)
    by_arn = lambda_client.get_layer_version_by_arn(Arn=f"{layer_arn}:1")
    for answer in (got, got_by_arn, by_arn):
        answer.pop("ResponseMetadata")
    published.pop("ResponseMetadata")
    assert got == got_by_arn == by_arn == published
    bare = publish(lambda_client, name)
    assert bare["Version"] == 2 and bare["Description"] == ""
    assert not {"CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"} & set(bare)


def test_version_numbers_are_never_reused(lambda_client: Any) -> None:
    name = unique_name("layer")
    for _ in range(2):
        publish(lambda_client, name)
    for version in (1, 2):
        lambda_client.delete_layer_version(LayerName=name, VersionNumber=version)
    lambda_client.delete_layer_version(LayerName=name, VersionNumber=2)  # again: fine
    assert lambda_client.list_layer_versions(LayerName=name)["LayerVersions"] == []
    assert publish(lambda_client, name)["Version"] == 3
    status, code, message = error_of(
        lambda_client.get_layer_version, LayerName=name, VersionNumber=1
    )
    assert (status, code, message) == (
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )


def test_list_layers_and_versions_with_filters(lambda_client: Any) -> None:
    prefix = unique_name("listed")
    first, second = f"{prefix}-a", f"{prefix}-b"
    publish(lambda_client, first, CompatibleRuntimes=["python3.12"])
    publish(
        lambda_client, first, CompatibleRuntimes=["nodejs20.x"], CompatibleArchitectures=["arm64"]
    )
    publish(lambda_client, second, CompatibleRuntimes=["python3.12"])

    def mine(**query: Any) -> dict[str, int]:
        found, marker = {}, None
        while True:
            page = lambda_client.list_layers(**query, **({"Marker": marker} if marker else {}))
            for layer in page["Layers"]:
                if layer["LayerName"].startswith(prefix):
                    assert (
                        layer["LayerArn"]
                        == layer["LatestMatchingVersion"]["LayerVersionArn"].rpartition(":")[0]
                    )
                    found[layer["LayerName"]] = layer["LatestMatchingVersion"]["Version"]
            marker = page.get("NextMarker")
            if not marker:
                return found

    assert mine() == {first: 2, second: 1}
    assert mine(MaxItems=1) == {first: 2, second: 1}  # page by page
    assert mine(CompatibleRuntime="python3.12") == {first: 1, second: 1}
    assert mine(CompatibleArchitecture="arm64") == {first: 2}
    assert mine(CompatibleRuntime="python3.12", CompatibleArchitecture="arm64") == {}
    versions = lambda_client.list_layer_versions(LayerName=first)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]  # newest first
    assert set(versions[0]) == {
        "LayerVersionArn",
        "Version",
        "Description",
        "CreatedDate",
        "CompatibleRuntimes",
        "CompatibleArchitectures",
    }
    page = lambda_client.list_layer_versions(LayerName=first, MaxItems=1)
    assert [v["Version"] for v in page["LayerVersions"]] == [2]
    rest = lambda_client.list_layer_versions(LayerName=first, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1] and "NextMarker" not in rest
    python = lambda_client.list_layer_versions(LayerName=first, CompatibleRuntime="python3.12")
    assert [v["Version"] for v in python["LayerVersions"]] == [1]
    assert lambda_client.list_layer_versions(LayerName=unique_name("none"))["LayerVersions"] == []
    paginator = lambda_client.get_paginator("list_layer_versions")
    pages = list(paginator.paginate(LayerName=first, PaginationConfig={"PageSize": 1}))
    assert [v["Version"] for p in pages for v in p["LayerVersions"]] == [2, 1]


def test_publish_errors(lambda_client: Any) -> None:
    publish_layer = lambda_client.publish_layer_version
    status, code, message = error_of(
        publish_layer, LayerName="bad.name", Content={"ZipFile": LAYER_ZIP}
    )
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value 'bad.name' at 'layerName' failed to satisfy constraint"
    )
    status, code, message = error_of(
        publish_layer,
        LayerName="ok",
        Content={"ZipFile": LAYER_ZIP},
        CompatibleRuntimes=["python2.8"],
        CompatibleArchitectures=["sparc"],
    )
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("2 validation errors detected: Value '[python2.8]'")
    assert error_of(publish_layer, LayerName="ok", Content={})[1:] == (
        "InvalidParameterValueException",
        "Missing Content",
    )
    status, code, message = error_of(
        publish_layer, LayerName="ok", Content={"S3Bucket": "bucket", "S3Key": "key.zip"}
    )
    assert (status, code) == (501, "NotImplementedException") and "S3" in message
    status, code, message = error_of(publish_layer, LayerName="ok", Content={"ZipFile": b"no"})
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.startswith("Could not unzip uploaded file.")
    foreign = "arn:aws:lambda:eu-west-1:000000000000:layer:ok"
    assert error_of(publish_layer, LayerName=foreign, Content={"ZipFile": LAYER_ZIP})[0] == 404


def test_get_list_and_delete_errors(lambda_client: Any) -> None:
    name = unique_name("layer")
    publish(lambda_client, name)
    assert error_of(lambda_client.get_layer_version, LayerName=name, VersionNumber=0) == (
        400,
        "InvalidParameterValueException",
        "Layer Version Cannot be less than 1",
    )
    assert error_of(lambda_client.delete_layer_version, LayerName=name, VersionNumber=0)[0] == 400
    status, code, message = error_of(
        lambda_client.get_layer_version_by_arn,
        Arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}",
    )
    assert (status, code) == (400, "ValidationException") and "at 'arn'" in message
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:9"
    assert error_of(lambda_client.get_layer_version_by_arn, Arn=missing)[:2] == (
        404,
        "ResourceNotFoundException",
    )
    status, code, message = error_of(lambda_client.list_layers, MaxItems=51)
    assert (status, code) == (400, "ValidationException") and "less than or equal to 50" in message
    status, code, message = error_of(lambda_client.list_layers, CompatibleRuntime="cobol")
    assert (status, code) == (400, "ValidationException") and "'compatibleRuntime'" in message
    status, _, message = error_of(
        lambda_client.list_layer_versions, LayerName=name, CompatibleArchitecture="sparc"
    )
    assert status == 400 and "'compatibleArchitecture'" in message


def test_layer_version_permissions(lambda_client: Any) -> None:
    name = unique_name("shared")
    arn = publish(lambda_client, name)["LayerVersionArn"]
    grant = {
        "LayerName": name,
        "VersionNumber": 1,
        "Action": "lambda:GetLayerVersion",
    }
    assert error_of(lambda_client.get_layer_version_policy, LayerName=name, VersionNumber=1) == (
        404,
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    )
    added = lambda_client.add_layer_version_permission(
        StatementId="xaccount", Principal="223456789012", **grant
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "xaccount",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::223456789012:root"},
        "Action": "lambda:GetLayerVersion",
        "Resource": arn,
    }
    everyone = lambda_client.add_layer_version_permission(
        StatementId="org",
        Principal="*",
        OrganizationId="o-abcdefghij",
        RevisionId=added["RevisionId"],
        **grant,
    )
    assert everyone["RevisionId"] != added["RevisionId"]
    policy = lambda_client.get_layer_version_policy(LayerName=name, VersionNumber=1)
    assert policy["RevisionId"] == everyone["RevisionId"]
    document = json.loads(policy["Policy"])
    assert document["Version"] == "2012-10-17" and document["Id"] == "default"
    assert [s["Sid"] for s in document["Statement"]] == ["xaccount", "org"]
    assert document["Statement"][1]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}
    }
    status, code, message = error_of(
        lambda_client.add_layer_version_permission,
        StatementId="xaccount",
        Principal="*",
        **grant,
    )
    assert (status, code) == (409, "ResourceConflictException")
    assert message.startswith("The statement id (xaccount) provided already exists.")
    stale = {"RevisionId": added["RevisionId"]}
    status, code, message = error_of(
        lambda_client.add_layer_version_permission,
        StatementId="new",
        Principal="*",
        **grant,
        **stale,
    )
    assert (status, code) == (412, "PreconditionFailedException")
    assert message.endswith("Call the GetLayerPolicy API to retrieve the latest Revision Id")
    status, code, message = error_of(
        lambda_client.add_layer_version_permission,
        LayerName=name,
        VersionNumber=1,
        StatementId="bad",
        Action="lambda:InvokeFunction",
        Principal="someone",
    )
    assert (status, code) == (400, "ValidationException")
    assert message.startswith("2 validation errors detected: ")
    assert error_of(
        lambda_client.add_layer_version_permission,
        LayerName=name,
        VersionNumber=7,
        StatementId="x",
        Action="lambda:GetLayerVersion",
        Principal="*",
    ) == (404, "ResourceNotFoundException", f"Layer version {arn[:-1]}7 does not exist.")
    remove = lambda_client.remove_layer_version_permission
    assert error_of(remove, LayerName=name, VersionNumber=1, StatementId="xaccount", **stale)[
        :2
    ] == (412, "PreconditionFailedException")
    assert error_of(remove, LayerName=name, VersionNumber=1, StatementId="nope") == (
        404,
        "ResourceNotFoundException",
        "Statement nope is not found in resource policy.",
    )
    removed = remove(LayerName=name, VersionNumber=1, StatementId="xaccount")
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    remove(LayerName=name, VersionNumber=1, StatementId="org")
    assert error_of(lambda_client.get_layer_version_policy, LayerName=name, VersionNumber=1)[0] == (
        404
    )
    assert error_of(lambda_client.get_layer_version_policy, LayerName=name, VersionNumber=3)[2] == (
        f"Layer version {arn[:-1]}3 does not exist."
    )


def test_a_function_shows_its_layers(lambda_client: Any) -> None:
    first = publish(lambda_client, unique_name("layer"))
    second = publish(lambda_client, unique_name("layer"), Content={"ZipFile": CODE})
    arns = [first["LayerVersionArn"], second["LayerVersionArn"]]
    created = create_function(lambda_client, Layers=arns)
    name = created["FunctionName"]
    shown = [{"Arn": arns[0], "CodeSize": len(LAYER_ZIP)}, {"Arn": arns[1], "CodeSize": len(CODE)}]
    assert created["Layers"] == shown
    assert lambda_client.get_function(FunctionName=name)["Configuration"]["Layers"] == shown
    assert lambda_client.get_function_configuration(FunctionName=name)["Layers"] == shown
    assert not any(key.startswith("_") for key in created)
    published = lambda_client.publish_version(FunctionName=name)
    assert published["Layers"] == shown  # a version keeps the layers it was published with
    updated = lambda_client.update_function_configuration(FunctionName=name, Layers=arns[::-1])
    assert [layer["Arn"] for layer in updated["Layers"]] == arns[::-1]
    assert updated["RevisionId"] != created["RevisionId"]
    untouched = lambda_client.update_function_configuration(FunctionName=name, Timeout=9)
    assert untouched["Layers"] == updated["Layers"]
    removed = lambda_client.update_function_configuration(FunctionName=name, Layers=[])
    assert "Layers" not in removed
    version_1 = lambda_client.get_function_configuration(FunctionName=name, Qualifier="1")
    assert version_1["Layers"] == shown
    listed = lambda_client.list_versions_by_function(FunctionName=name)["Versions"]
    assert ["Layers" in v for v in listed] == [False, True]


def test_a_functions_layers_are_checked(lambda_client: Any) -> None:
    name = unique_name("layer")
    version = publish(lambda_client, name)["LayerVersionArn"]
    six = [publish(lambda_client, f"{name}-{i}")["LayerVersionArn"] for i in range(6)]
    assert error_of(create_function, lambda_client=lambda_client, Layers=six) == (
        400,
        "InvalidParameterValueException",
        "Cannot reference more than 5 layers.",
    )
    assert create_function(lambda_client, Layers=six[:5])["Layers"][4]["Arn"] == six[4]
    missing = f"{version[:-1]}9"
    assert error_of(create_function, lambda_client=lambda_client, Layers=[missing]) == (
        400,
        "InvalidParameterValueException",
        f"Layer version {missing} does not exist.",
    )
    status, _, message = error_of(
        create_function,
        lambda_client=lambda_client,
        Layers=[version, publish(lambda_client, name)["LayerVersionArn"]],
    )
    assert status == 400 and message.startswith(
        "Two different versions of the same layer are not allowed to be referenced"
    )
    elsewhere = version.replace(REGION, "eu-west-1")
    assert error_of(create_function, lambda_client=lambda_client, Layers=[elsewhere])[2] == (
        "Layers are not in the same region as the function. "
        f"Layers are expected to be in region {REGION}."
    )
    foreign = version.replace(ACCOUNT, "123456789012")
    status, code, _ = error_of(create_function, lambda_client=lambda_client, Layers=[foreign])
    assert (status, code) == (403, "AccessDeniedException")
    status, code, message = error_of(
        create_function, lambda_client=lambda_client, Layers=[version.rpartition(":")[0]]
    )
    assert (status, code) == (400, "ValidationException") and "at 'layers'" in message
    fn = create_function(lambda_client)["FunctionName"]
    status, code, _ = error_of(
        lambda_client.update_function_configuration, FunctionName=fn, Layers=[missing]
    )
    assert (status, code) == (400, "InvalidParameterValueException")


def big_zip(path: str, size: int) -> bytes:
    """A zip that unpacks to ``size`` bytes of zeros, built quickly and small."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open(path, "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(size >> 20):
                member.write(chunk)
            member.write(bytes(size % (1 << 20)))
    return buffer.getvalue()


def test_code_and_layers_together_fit_250_mb(lambda_client: Any) -> None:
    half = 131_072_001  # two of these pass 262,144,000 bytes by 2
    layers = [
        publish(lambda_client, unique_name("big"), Content={"ZipFile": big_zip("data.bin", half)})[
            "LayerVersionArn"
        ]
        for _ in range(2)
    ]
    expected = (
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. "
        f"The actual size is {2 * half + len(SOURCE)} "
        "bytes."
    )
    assert error_of(create_function, lambda_client=lambda_client, Layers=layers) == (
        400,
        "InvalidParameterValueException",
        expected,
    )
    name = create_function(lambda_client, Layers=layers[:1])["FunctionName"]
    status, _, message = error_of(
        lambda_client.update_function_configuration, FunctionName=name, Layers=layers
    )
    assert status == 400 and message == expected
    status, _, message = error_of(
        lambda_client.update_function_code,
        FunctionName=name,
        ZipFile=big_zip("app.py", half),
    )
    assert status == 400 and message.startswith("Function code combined with layers exceeds")
