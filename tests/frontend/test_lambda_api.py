"""The Lambda control plane through boto3: create, get, list, update, delete, and bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ROLE, client, signed_request, unique_name, zip_files

CODE = zip_files({"app.py": "def handler(event, context):\n    return event\n"})


def create(lambda_client: Any, name: str | None = None, **overrides: Any) -> dict[str, Any]:
    args = {
        "FunctionName": name or unique_name("api"),
        "Runtime": "python3.11",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": CODE},
        **overrides,
    }
    return lambda_client.create_function(**args)  # type: ignore[no-any-return]


def test_create_function_answers_its_configuration(lambda_client: Any) -> None:
    name = unique_name("api")
    config = create(
        lambda_client,
        name,
        Description="d",
        MemorySize=512,
        Timeout=30,
        Environment={"Variables": {"AA": "1"}},
        EphemeralStorage={"Size": 1024},
        Tags={"team": "x"},
    )
    assert config["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert config["FunctionName"] == name
    assert config["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(CODE).digest()).decode()
    assert config["CodeSize"] == len(CODE)
    assert config["Version"] == "$LATEST"
    assert config["State"] == "Active" and config["LastUpdateStatus"] == "Successful"
    assert config["MemorySize"] == 512 and config["Timeout"] == 30
    assert config["Environment"] == {"Variables": {"AA": "1"}}
    assert config["EphemeralStorage"] == {"Size": 1024}
    assert config["PackageType"] == "Zip"
    assert config["Runtime"] == "python3.11" and config["Handler"] == "app.handler"
    assert len(config["LastModified"]) == len("2020-04-10T19:06:32.563+0000")
    assert config["LastModified"].endswith("+0000")
    got = lambda_client.get_function(FunctionName=name)
    assert got["Configuration"]["RevisionId"] == config["RevisionId"]
    assert got["Tags"] == {"team": "x"}
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"]) as download:
        assert download.read() == CODE
    waiter = lambda_client.get_waiter("function_active_v2")
    waiter.wait(FunctionName=name)


def test_defaults(lambda_client: Any) -> None:
    config = create(lambda_client)
    assert config["MemorySize"] == 128 and config["Timeout"] == 3
    assert config["EphemeralStorage"] == {"Size": 512}
    assert config["TracingConfig"] == {"Mode": "PassThrough"}
    assert config["Architectures"] == ["x86_64"]
    assert "Environment" not in config


def test_duplicate_name_conflicts(lambda_client: Any) -> None:
    name = create(lambda_client)["FunctionName"]
    with pytest.raises(lambda_client.exceptions.ResourceConflictException) as error:
        create(lambda_client, name)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert name in str(error.value)


def test_get_missing_function(lambda_client: Any) -> None:
    for call in (
        lambda_client.get_function,
        lambda_client.get_function_configuration,
        lambda_client.delete_function,
    ):
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as error:
            call(FunctionName="absent-fn")
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert "arn:aws:lambda:us-east-1:000000000000:function:absent-fn" in str(error.value)


def test_get_by_arn_and_qualifier(lambda_client: Any) -> None:
    name = create(lambda_client)["FunctionName"]
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert lambda_client.get_function_configuration(FunctionName=arn)["FunctionName"] == name
    assert lambda_client.get_function(FunctionName=name, Qualifier="$LATEST")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName=name, Qualifier="7")
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.get_function(FunctionName=arn + ":$LATEST", Qualifier="1")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(
            FunctionName=f"arn:aws:lambda:eu-west-1:000000000000:function:{name}"
        )


def test_list_functions_paginates(start_server: Any) -> None:
    server = start_server()
    lam = client("lambda", server.endpoint)
    names = [f"list-{i:02d}" for i in range(7)]
    for name in reversed(names):
        create(lam, name)
    page = lam.list_functions(MaxItems=3)
    assert [f["FunctionName"] for f in page["Functions"]] == names[:3]
    assert page["NextMarker"]
    seen = [
        f["FunctionName"]
        for p in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
        for f in p["Functions"]
    ]
    assert seen == names
    last = lam.list_functions(Marker=names[5], MaxItems=5)
    assert [f["FunctionName"] for f in last["Functions"]] == names[6:]
    assert "NextMarker" not in last


def test_update_function_configuration(lambda_client: Any) -> None:
    config = create(lambda_client, Environment={"Variables": {"AA": "1"}})
    name = config["FunctionName"]
    updated = lambda_client.update_function_configuration(
        FunctionName=name,
        MemorySize=1024,
        Timeout=60,
        Handler="app.other",
        Description="new",
        Environment={"Variables": {"BB": "2"}},
        Runtime="python3.12",
        EphemeralStorage={"Size": 2048},
    )
    assert updated["MemorySize"] == 1024 and updated["Timeout"] == 60
    assert updated["Handler"] == "app.other" and updated["Description"] == "new"
    assert updated["Environment"] == {"Variables": {"BB": "2"}}
    assert updated["Runtime"] == "python3.12"
    assert updated["EphemeralStorage"] == {"Size": 2048}
    assert updated["RevisionId"] != config["RevisionId"]
    assert updated["CodeSha256"] == config["CodeSha256"]
    stored = lambda_client.get_function_configuration(FunctionName=name)
    stored.pop("ResponseMetadata")
    updated.pop("ResponseMetadata")
    assert stored == updated
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_update_with_stale_revision_fails(lambda_client: Any) -> None:
    config = create(lambda_client)
    name = config["FunctionName"]
    lambda_client.update_function_configuration(
        FunctionName=name, Description="1", RevisionId=config["RevisionId"]
    )
    with pytest.raises(lambda_client.exceptions.PreconditionFailedException):
        lambda_client.update_function_configuration(
            FunctionName=name, Description="2", RevisionId=config["RevisionId"]
        )


def test_update_function_code(lambda_client: Any) -> None:
    config = create(lambda_client)
    name = config["FunctionName"]
    new_zip = zip_files({"app.py": "def handler(e, c):\n    return 2\n"})
    dry = lambda_client.update_function_code(FunctionName=name, ZipFile=new_zip, DryRun=True)
    assert dry["CodeSha256"] == base64.b64encode(hashlib.sha256(new_zip).digest()).decode()
    assert (
        lambda_client.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
        == config["CodeSha256"]
    )
    updated = lambda_client.update_function_code(FunctionName=name, ZipFile=new_zip)
    assert updated["CodeSha256"] == dry["CodeSha256"]
    assert updated["CodeSize"] == len(new_zip)
    assert updated["RevisionId"] != config["RevisionId"]
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.update_function_code(FunctionName=name, ZipFile=b"not a zip")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.update_function_code(FunctionName="absent-fn", ZipFile=new_zip)


def test_delete_function(lambda_client: Any) -> None:
    name = create(lambda_client)["FunctionName"]
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.delete_function(FunctionName=name, Qualifier="$LATEST")
    response = lambda_client.delete_function(FunctionName=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_function(FunctionName=name)
    create(lambda_client, name)  # the name is free again


@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        ({"MemorySize": 64}, "ValidationException", "greater than or equal to 128"),
        ({"MemorySize": 20000}, "ValidationException", "less than or equal to 10240"),
        ({"Timeout": 0}, "ValidationException", "greater than or equal to 1"),
        ({"Timeout": 901}, "ValidationException", "less than or equal to 900"),
        ({"EphemeralStorage": {"Size": 100}}, "ValidationException", "512"),
        ({"Runtime": "python2.7"}, "ValidationException", "enum value set"),
        ({"Runtime": "java21"}, "InvalidParameterValueException", "not supported by gureum"),
        ({"Role": "not-a-role"}, "ValidationException", "role"),
        ({"FunctionName": "bad name!"}, "ValidationException", "functionName"),
        ({"FunctionName": "x" * 65}, "ValidationException", "64"),
        (
            {"Environment": {"Variables": {"AWS_REGION": "x"}}},
            "InvalidParameterValueException",
            "reserved keys",
        ),
        (
            {"Environment": {"Variables": {"BIG": "x" * 5000}}},
            "InvalidParameterValueException",
            "4KB",
        ),
        ({"Environment": {"Variables": {"1BAD": "x"}}}, "ValidationException", "environment"),
        ({"Code": {"ZipFile": b"not a zip"}}, "InvalidParameterValueException", "Could not unzip"),
        ({"Code": {"S3Bucket": "b", "S3Key": "k"}}, "NotImplementedException", "S3"),
        ({"Code": {}}, "InvalidParameterValueException", "ZipFile"),
        (
            {"Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:no-such-layer:1"]},
            "InvalidParameterValueException",
            "does not exist",
        ),
        (
            {"DeadLetterConfig": {"TargetArn": "arn:aws:sns:us-east-1:000000000000:topic"}},
            "InvalidParameterValueException",
            "not supported by gureum",
        ),
        (
            {"DeadLetterConfig": {"TargetArn": "not-an-arn"}},
            "ValidationException",
            "deadLetterConfig.targetArn",
        ),
        ({"Description": "d" * 300}, "ValidationException", "256"),
        ({"SnapStart": {"ApplyOn": "Always"}}, "ValidationException", "snapStart.applyOn"),
        (
            {"SnapStart": {"ApplyOn": "PublishedVersions"}},
            "InvalidParameterValueException",
            "not supported for SnapStart",
        ),
    ],
)
def test_create_function_validation(
    gureum_server: Any, overrides: dict[str, Any], code: str, fragment: str
) -> None:
    # botocore checks some minimums itself; the server must check them all.
    lambda_client = client("lambda", gureum_server.endpoint, parameter_validation=False)
    with pytest.raises(lambda_client.exceptions.ClientError) as error:
        create(lambda_client, **overrides)
    assert error.value.response["Error"]["Code"] == code
    assert fragment in error.value.response["Error"]["Message"]
    status = error.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert status == (501 if code == "NotImplementedException" else 400)


def test_zip_slip_is_refused(lambda_client: Any) -> None:
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        create(lambda_client, Code={"ZipFile": zip_files({"../evil.py": "x"})})


def test_update_configuration_validation(gureum_server: Any) -> None:
    lambda_client = client("lambda", gureum_server.endpoint, parameter_validation=False)
    name = create(lambda_client)["FunctionName"]
    with pytest.raises(lambda_client.exceptions.ClientError) as error:
        lambda_client.update_function_configuration(FunctionName=name, MemorySize=1)
    assert error.value.response["Error"]["Code"] == "ValidationException"
    # nothing changed
    assert lambda_client.get_function_configuration(FunctionName=name)["MemorySize"] == 128


def test_list_functions_validation(gureum_server: Any) -> None:
    lambda_client = client("lambda", gureum_server.endpoint, parameter_validation=False)
    with pytest.raises(lambda_client.exceptions.ClientError) as error:
        lambda_client.list_functions(MaxItems=0)
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_error_shape_is_aws(gureum_server: Any) -> None:
    request = signed_request(f"{gureum_server.endpoint}/2015-03-31/functions/absent-fn")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 404
    assert error.value.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert error.value.headers["x-amzn-RequestId"]
    assert json.loads(error.value.read()) == {
        "Type": "User",
        "Message": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:absent-fn",
    }


def test_malformed_json_body(gureum_server: Any) -> None:
    request = signed_request(
        f"{gureum_server.endpoint}/2015-03-31/functions", data=b"{oops", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 400
    assert error.value.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"


def test_unknown_operation(gureum_server: Any) -> None:
    request = signed_request(f"{gureum_server.endpoint}/2015-03-31/nothing-here")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 404
    assert error.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"


def test_account_settings(lambda_client: Any) -> None:
    create(lambda_client)
    settings = lambda_client.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] >= 1


def test_unsigned_and_badly_signed_requests_are_refused(gureum_server: Any) -> None:
    url = f"{gureum_server.endpoint}/2015-03-31/functions/"
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(url)
    assert unsigned.value.code == 403
    assert unsigned.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    with pytest.raises(urllib.error.HTTPError) as wrong:
        urllib.request.urlopen(signed_request(url, secret="not-the-secret"))
    assert wrong.value.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    stranger = boto3.client(
        "lambda",
        endpoint_url=gureum_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDSTRANGER",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(stranger.exceptions.ClientError) as unknown:
        stranger.list_functions()
    assert unknown.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_requests_signed_for_another_region_or_service_are_refused(gureum_server: Any) -> None:
    def refused(call: Any, status: int = 403, **params: Any) -> str:
        with pytest.raises(ClientError) as raised:
            call(**params)
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"
        return str(raised.value.response["Error"]["Message"])

    def abroad(service: str) -> Any:
        make: Any = boto3.client
        return make(
            service,
            endpoint_url=gureum_server.endpoint,
            region_name="eu-west-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}),
        )

    message = refused(abroad("lambda").list_functions)
    assert message.startswith("Credential should be scoped to a valid region, not 'eu-west-1'")
    refused(abroad("lambda").invoke, FunctionName="any")  # the invoke path checks it too
    refused(abroad("sqs").list_queues)
    refused(abroad("logs").describe_log_groups, 400)  # (JSON 1.1 services answer 400)
    refused(abroad("xray").get_sampling_rules)
    url = f"{gureum_server.endpoint}/2015-03-31/functions/"
    with pytest.raises(urllib.error.HTTPError) as as_sqs:
        urllib.request.urlopen(signed_request(url, service="sqs"))
    assert as_sqs.value.code == 403
    assert b"Credential should be scoped to correct service: 'lambda'" in as_sqs.value.read()
    invoke = f"{gureum_server.endpoint}/2015-03-31/functions/any/invocations"
    with pytest.raises(urllib.error.HTTPError) as as_xray:
        urllib.request.urlopen(signed_request(invoke, method="POST", data=b"{}", service="xray"))
    assert as_xray.value.code == 403


def test_auth_none_accepts_unsigned_requests(start_server: Any) -> None:
    server = start_server(auth="none")
    with urllib.request.urlopen(f"{server.endpoint}/2015-03-31/functions/") as response:
        assert json.loads(response.read()) == {"Functions": []}


def test_snapstart_off_is_accepted_and_reported(lambda_client: Any) -> None:
    config = create(lambda_client, SnapStart={"ApplyOn": "None"})
    assert config["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException):
        lambda_client.update_function_configuration(  # python3.11: Lambda has no SnapStart
            FunctionName=config["FunctionName"], SnapStart={"ApplyOn": "PublishedVersions"}
        )


def test_tag_untag_and_list_tags(lambda_client: Any, deploy: Any) -> None:
    name = deploy("def handler(e, c):\n    return 1\n", Tags={"team": "a"})
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    revision = lambda_client.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    lambda_client.publish_version(FunctionName=name)
    lambda_client.tag_resource(Resource=arn, Tags={"team": "b", "cost": "42"})
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"team": "b", "cost": "42"}
    # Tags are the function's: every version shows them, and no configuration changed.
    assert lambda_client.get_function(FunctionName=name, Qualifier="1")["Tags"] == {
        "team": "b",
        "cost": "42",
    }
    assert lambda_client.get_function(FunctionName=name)["Configuration"]["RevisionId"] == revision
    lambda_client.untag_resource(Resource=arn, TagKeys=["team", "not-there"])
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {"cost": "42"}
    lambda_client.untag_resource(Resource=arn, TagKeys=["cost"])
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {}
    assert "Tags" not in lambda_client.get_function(FunctionName=name)


def test_tagging_errors(lambda_client: Any, deploy: Any) -> None:
    name = deploy("def handler(e, c):\n    return 1\n")
    arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    errors = lambda_client.exceptions
    with pytest.raises(errors.ResourceNotFoundException):
        lambda_client.list_tags(Resource=arn.replace(name, "no-such-function"))
    with pytest.raises(errors.ResourceNotFoundException):  # another account's
        lambda_client.list_tags(Resource=arn.replace("000000000000", "111111111111"))
    with pytest.raises(errors.ClientError) as not_an_arn:
        lambda_client.tag_resource(Resource=name, Tags={"a": "b"})
    assert not_an_arn.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(errors.InvalidParameterValueException, match="not to one of its versions"):
        lambda_client.tag_resource(Resource=arn + ":$LATEST", Tags={"a": "b"})
    for tags in (
        {"aws:owner": "x"},
        {"k" * 129: "v"},
        {"k": "v" * 257},
        {f"k{i}": "v" for i in range(51)},
        {"gureum:network": "sometimes"},
    ):
        with pytest.raises(errors.InvalidParameterValueException):
            lambda_client.tag_resource(Resource=arn, Tags=tags)
    lambda_client.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(50)})
    with pytest.raises(errors.InvalidParameterValueException, match="at most 50 tags"):
        lambda_client.tag_resource(Resource=arn, Tags={"one-more": "v"})
    assert len(lambda_client.list_tags(Resource=arn)["Tags"]) == 50  # nothing was lost


def test_code_no_version_names_is_removed_when_the_server_starts(start_server: Any) -> None:
    from tests.conftest import RunningServer

    server: RunningServer = start_server()
    lam = client("lambda", server.endpoint)
    first = zip_files({"app.py": "def handler(e, c):\n    return 1\n"})
    second = zip_files({"app.py": "def handler(e, c):\n    return 2\n"})
    lam.create_function(
        FunctionName="updated",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": first},
    )
    lam.publish_version(FunctionName="updated")  # version 1 keeps the first code
    lam.update_function_code(FunctionName="updated", ZipFile=second)
    lam.create_function(
        FunctionName="deleted",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": "def handler(e, c):\n    return 3\n"})},
    )
    assert json.load(lam.invoke(FunctionName="deleted")["Payload"]) == 3
    lam.delete_function(FunctionName="deleted")
    zips = server.settings.data_dir / "code" / "zips"
    assert len(list(zips.iterdir())) == 3
    server.stop()
    restarted = RunningServer(server.settings)
    restarted.start()
    try:
        names = {hashlib.sha256(data).hexdigest() + ".zip" for data in (first, second)}
        assert {p.name for p in zips.iterdir()} == names
        lam = client("lambda", restarted.endpoint)
        assert json.load(lam.invoke(FunctionName="updated")["Payload"]) == 2
        assert json.load(lam.invoke(FunctionName="updated", Qualifier="1")["Payload"]) == 1
    finally:
        restarted.stop()
