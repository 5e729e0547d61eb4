"""Lambda layers' rules, without a server: names, ARNs, publish requests, filters,
policy statements and a function's ``Layers``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gureum.errors import (
    AccessDeniedException,
    InvalidParameterValueException,
    NotImplementedException,
    ResourceNotFoundException,
    ServiceError,
    ValidationException,
)
from gureum.functions import layer_rules as rules
from gureum.functions.config import (
    FunctionVersion,
    requested_layers,
    with_layers,
    with_metadata,
)
from gureum.functions.layer_rules import FunctionLayer, LayerVersion

REGION, ACCOUNT = "us-east-1", "000000000000"
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:lib:3"


def raised(call: Any, *args: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args)
    return info.value


def test_arns_as_lambda_writes_them() -> None:
    assert rules.layer_arn(REGION, ACCOUNT, "lib") == f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:lib"
    assert rules.layer_version_arn(REGION, ACCOUNT, "lib", 3) == ARN
    parsed = rules.parse_version_arn(ARN)
    assert (parsed.region, parsed.account, parsed.name, parsed.version) == (
        REGION,
        ACCOUNT,
        "lib",
        3,
    )
    assert parsed.layer_arn == ARN.rpartition(":")[0]


def test_layer_names_and_arns() -> None:
    assert rules.layer_name("my-layer_1", REGION, ACCOUNT) == "my-layer_1"
    assert rules.layer_name(ARN.rpartition(":")[0], REGION, ACCOUNT) == "lib"
    error = raised(rules.layer_name, "bad name", REGION, ACCOUNT)
    assert isinstance(error, ValidationException)
    assert error.message == (
        "1 validation error detected: Value 'bad name' at 'layerName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        r"(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
    )
    assert (
        "less than or equal to 140" in raised(rules.layer_name, "x" * 141, REGION, ACCOUNT).message
    )
    # Another account's or region's layer is not here.
    other = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:lib"
    assert isinstance(raised(rules.layer_name, other, REGION, ACCOUNT), ResourceNotFoundException)


def test_version_numbers() -> None:
    assert rules.version_number("7") == 7
    error = raised(rules.version_number, "0")
    assert isinstance(error, InvalidParameterValueException)
    assert error.message == "Layer Version Cannot be less than 1"
    assert isinstance(raised(rules.version_number, "x"), ValidationException)


def test_version_arns_must_name_a_version() -> None:
    error = raised(rules.parse_version_arn, ARN.rpartition(":")[0])
    assert isinstance(error, ValidationException)
    assert error.message.startswith(
        f"1 validation error detected: Value '{ARN.rpartition(':')[0]}' at 'arn' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: arn:(aws"
    )


def test_a_publish_request() -> None:
    request = rules.publish_request(
        "lib",
        {
            "Content": {"ZipFile": "UEs="},
            "CompatibleRuntimes": ["python3.12", "nodejs20.x"],
            "CompatibleArchitectures": ["arm64"],
            "LicenseInfo": "MIT",
        },
    )
    assert request.zip_file == "UEs=" and request.description == ""
    assert request.compatible_runtimes == ("python3.12", "nodejs20.x")
    assert request.compatible_architectures == ("arm64",) and request.license_info == "MIT"


def test_publish_problems_are_named_together() -> None:
    error = raised(
        rules.publish_request,
        "lib",
        {
            "Content": {"ZipFile": "UEs="},
            "Description": "d" * 257,
            "CompatibleRuntimes": ["python2.8"],
            "CompatibleArchitectures": ["sparc"],
        },
    )
    assert isinstance(error, ValidationException)
    assert error.message.startswith("3 validation errors detected: Value '")
    assert "at 'description' failed to satisfy constraint: Member must have length less" in (
        error.message
    )
    assert (
        "Value '[python2.8]' at 'compatibleRuntimes' failed to satisfy constraint: Member must "
        "satisfy enum value set: [" in error.message
    )
    assert (
        "Value '[sparc]' at 'compatibleArchitectures' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]"
    ) in error.message
    too_many = raised(rules.publish_request, "lib", {"CompatibleRuntimes": ["python3.12"] * 16})
    assert "less than or equal to 15" in too_many.message
    license_error = raised(rules.publish_request, "lib", {"LicenseInfo": "l" * 513})
    assert "'licenseInfo'" in license_error.message


def test_publish_content() -> None:
    for content in (None, {}, {"ZipFile": ""}):
        error = raised(rules.publish_request, "lib", {"Content": content})
        assert isinstance(error, InvalidParameterValueException)
        assert error.message == "Missing Content"
    s3 = raised(rules.publish_request, "lib", {"Content": {"S3Bucket": "b", "S3Key": "k"}})
    assert isinstance(s3, NotImplementedException)


def test_list_filters() -> None:
    wanted = rules.list_filter({"CompatibleRuntime": "python3.12", "MaxItems": "2"})
    assert wanted.max_items == 2
    assert wanted.admits(["python3.11", "python3.12"], [])
    assert not wanted.admits(["nodejs20.x"], ["x86_64"])
    assert rules.list_filter({}).max_items == 50
    both = rules.list_filter({"CompatibleRuntime": "python3.12", "CompatibleArchitecture": "arm64"})
    assert both.admits(["python3.12"], ["x86_64", "arm64"])
    assert not both.admits(["python3.12"], ["x86_64"])
    for query, words in (
        ({"MaxItems": "0"}, "greater than or equal to 1"),
        ({"MaxItems": "51"}, "less than or equal to 50"),
        ({"CompatibleRuntime": "cobol"}, "'compatibleRuntime'"),
        ({"CompatibleArchitecture": "sparc"}, "[x86_64, arm64]"),
    ):
        error = raised(rules.list_filter, query)
        assert isinstance(error, ValidationException) and words in error.message


def test_version_shapes() -> None:
    version = LayerVersion(
        name="lib",
        version=2,
        layer_arn=ARN.rpartition(":")[0],
        description="",
        created_date="2024-01-01T00:00:00.000+0000",
        compatible_runtimes=("python3.12",),
        compatible_architectures=(),
        license_info=None,
        code_sha256="c2hh",
        code_size=10,
        code_sha256_hex="ab" * 32,
        unzipped_size=20,
    )
    assert version.shape("http://x/zip") == {
        "Content": {"Location": "http://x/zip", "CodeSha256": "c2hh", "CodeSize": 10},
        "LayerArn": ARN.rpartition(":")[0],
        "LayerVersionArn": ARN.rpartition(":")[0] + ":2",
        "Version": 2,
        "Description": "",
        "CreatedDate": "2024-01-01T00:00:00.000+0000",
        "CompatibleRuntimes": ["python3.12"],
    }


def test_permission_statements() -> None:
    base = {"StatementId": "s1", "Action": "lambda:GetLayerVersion"}
    sid, everyone = rules.permission_statement({**base, "Principal": "*"}, ARN)
    assert sid == "s1"
    assert everyone == {
        "Sid": "s1",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:GetLayerVersion",
        "Resource": ARN,
    }
    _, account = rules.permission_statement({**base, "Principal": "223456789012"}, ARN)
    assert account["Principal"] == {"AWS": "arn:aws:iam::223456789012:root"}
    _, org = rules.permission_statement(
        {**base, "Principal": "*", "OrganizationId": "o-abcdefghij"}, ARN
    )
    assert org["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    assert rules.statement_text(everyone).startswith('{"Sid":"s1","Effect":"Allow"')
    policy = json.loads(rules.policy_document([everyone]))
    assert policy == {"Version": "2012-10-17", "Id": "default", "Statement": [everyone]}


def test_permission_problems() -> None:
    error = raised(
        rules.permission_statement,
        {"StatementId": "bad id", "Action": "lambda:InvokeFunction", "Principal": "me"},
        ARN,
    )
    assert isinstance(error, ValidationException)
    assert error.message.startswith("3 validation errors detected: Value 'bad id' at ")
    assert (
        "Value 'lambda:InvokeFunction' at 'action' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: lambda:GetLayerVersion"
    ) in error.message
    assert r"at 'principal' failed to satisfy constraint" in error.message
    assert isinstance(raised(rules.check_statement_id, "a/b"), ValidationException)


def test_function_layers() -> None:
    assert rules.function_layer_arns([]) == []
    assert rules.function_layer_arns([ARN]) == [ARN]
    not_a_version = raised(rules.function_layer_arns, [ARN.rpartition(":")[0]])
    assert isinstance(not_a_version, ValidationException)
    assert "at 'layers' failed to satisfy constraint: Member must satisfy constraint:" in (
        not_a_version.message
    )
    six = [rules.layer_version_arn(REGION, ACCOUNT, f"l{i}", 1) for i in range(6)]
    too_many = raised(rules.function_layer_arns, six)
    assert isinstance(too_many, InvalidParameterValueException)
    assert too_many.message == "Cannot reference more than 5 layers."
    two = raised(rules.function_layer_arns, [ARN, ARN[:-1] + "4"])
    assert two.message == (
        "Two different versions of the same layer are not allowed to be referenced in the same "
        f"function. {ARN} and {ARN[:-1]}4 are versions of the same layer."
    )


def test_a_function_layer_lives_in_its_region_and_account() -> None:
    assert rules.check_layer_home(ARN, REGION, ACCOUNT).name == "lib"
    elsewhere = raised(rules.check_layer_home, ARN.replace(REGION, "eu-west-1"), REGION, ACCOUNT)
    assert elsewhere.message == (
        "Layers are not in the same region as the function. "
        f"Layers are expected to be in region {REGION}."
    )
    foreign = raised(rules.check_layer_home, ARN.replace(ACCOUNT, "123456789012"), REGION, ACCOUNT)
    assert isinstance(foreign, AccessDeniedException) and foreign.status == 403
    assert rules.layer_version_missing(ARN).message == f"Layer version {ARN} does not exist."


def test_the_combined_size_limit() -> None:
    rules.check_combined_size([rules.MAX_COMBINED_SIZE - 1, 1])
    error = raised(rules.check_combined_size, [rules.MAX_COMBINED_SIZE, 1])
    assert isinstance(error, InvalidParameterValueException)
    assert error.message == (
        "Function code combined with layers exceeds the maximum allowed size of 262144000 "
        "bytes. The actual size is 262144001 bytes."
    )


def test_a_configuration_with_layers() -> None:
    layers = [FunctionLayer(ARN, 10, "ab" * 32, 20), FunctionLayer(ARN[:-1] + "9", 5, "cd" * 32, 9)]
    config = with_layers({"FunctionName": "f", "Version": "$LATEST"}, layers)
    assert config["Layers"] == [
        {"Arn": ARN, "CodeSize": 10},
        {"Arn": ARN[:-1] + "9", "CodeSize": 5},
    ]
    version = FunctionVersion(config, "ef" * 32)
    assert version.layer_digests == ("ab" * 32, "cd" * 32)
    assert version.metadata.layer_digests == ["ab" * 32, "cd" * 32]
    removed = with_layers(config, [])
    assert "Layers" not in removed and FunctionVersion(removed, "ef" * 32).layer_digests == ()
    assert with_metadata(config, tags={"a": "b"})["Layers"] == config["Layers"]
    assert requested_layers({}) is None and requested_layers({"Layers": []}) == []
