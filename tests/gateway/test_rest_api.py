"""REST APIs (apigateway's) on a real server, on both engines: configured through boto3's
``apigateway`` client, every bad input answered with API Gateway's typed error."""

from __future__ import annotations

import datetime
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ROLE,
    RunningServer,
    client,
    make_settings,
    store_settings,
    unique_name,
    zip_files,
)

ECHO = """
import json

def handler(event, context):
    if event["path"].endswith("/answer"):
        return json.loads(event["body"])
    return {"statusCode": 200, "headers": {"x-resource": event["resource"]},
            "multiValueHeaders": {"x-two": ["a", "b"]}, "body": json.dumps(event)}
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def rest_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with store_settings(request.param) as overrides:
        server = RunningServer(make_settings(Path(tmp_path_factory.mktemp("rest")), **overrides))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def apigw(rest_server: RunningServer) -> Any:
    """The client, leaving every check to the server (botocore would check some first)."""
    return client("apigateway", rest_server.endpoint, parameter_validation=False)


@pytest.fixture
def lam(rest_server: RunningServer) -> Any:
    return client("lambda", rest_server.endpoint)


@pytest.fixture
def deploy(lam: Any) -> Callable[..., str]:
    def create(code: str, **config: Any) -> str:
        name = unique_name()
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_files({"app.py": code})},
            **config,
        )
        return name

    return create


@pytest.fixture(scope="module")
def echo(rest_server: RunningServer) -> str:
    name = unique_name("echo")
    client("lambda", rest_server.endpoint).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": ECHO})},
    )
    return name


def invoke_uri(function: str) -> str:
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function}"
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"


def add_method(
    apigw: Any,
    api: str,
    resource: str,
    method: str,
    function: str,
    *,
    authorization: str = "NONE",
    **integration: Any,
) -> None:
    apigw.put_method(
        restApiId=api, resourceId=resource, httpMethod=method, authorizationType=authorization
    )
    apigw.put_integration(
        restApiId=api,
        resourceId=resource,
        httpMethod=method,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=invoke_uri(function),
        **integration,
    )


def make_api(
    apigw: Any,
    function: str,
    methods: dict[str, list[str]],
    *,
    stage: str | None = "prod",
    **integration: Any,
) -> tuple[str, dict[str, str]]:
    """A REST API of ``methods`` (path -> verbs) to ``function``, deployed to ``stage``;
    its id and its resources' ids by path."""
    api = apigw.create_rest_api(name=unique_name("rest"))
    api_id: str = api["id"]
    ids = {"/": api["rootResourceId"]}
    for path, verbs in methods.items():
        at = "/"
        for part in path.strip("/").split("/") if path != "/" else []:
            below = f"{at.rstrip('/')}/{part}"
            if below not in ids:
                made = apigw.create_resource(restApiId=api_id, parentId=ids[at], pathPart=part)
                ids[below] = made["id"]
            at = below
        for verb in verbs:
            add_method(apigw, api_id, ids[path], verb, function, **integration)
    if stage is not None:
        apigw.create_deployment(restApiId=api_id, stageName=stage, variables={"color": "blue"})
    return api_id, ids


def fetch(
    server: RunningServer,
    api: str,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    url = f"{server.endpoint}/_aws/execute-api/{api}{path}"
    return send(urllib.request.Request(url, data=body, method=method, headers=headers or {}))


def send(sent: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    """(status, headers by lower-case name, a header sent twice joined, body)."""
    try:
        with urllib.request.urlopen(sent, timeout=60) as answer:
            return answer.status, _joined(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, _joined(error.headers.items()), error.read()


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def error_of(call: Callable[..., Any], **params: Any) -> tuple[str, int, str]:
    """(code, status, message) of the error ``call(**params)`` raises."""
    with pytest.raises(ClientError) as raised:
        call(**params)
    response = raised.value.response
    error = response["Error"]
    return error["Code"], response["ResponseMetadata"]["HTTPStatusCode"], error["Message"]


# the management API


def test_create_get_update_list_and_delete_a_rest_api(apigw: Any) -> None:
    before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=5)
    api = apigw.create_rest_api(name="shop", description="things", tags={"team": "a"})
    assert api["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert api["name"] == "shop" and api["description"] == "things"
    assert api["apiKeySource"] == "HEADER" and api["endpointConfiguration"] == {"types": ["EDGE"]}
    assert api["tags"] == {"team": "a"} and api["disableExecuteApiEndpoint"] is False
    assert api["createdDate"] >= before
    resources = apigw.get_resources(restApiId=api["id"])["items"]
    assert resources == [{"id": api["rootResourceId"], "path": "/"}]
    got = apigw.get_rest_api(restApiId=api["id"])
    assert got["name"] == "shop" and got["rootResourceId"] == api["rootResourceId"]
    updated = apigw.update_rest_api(
        restApiId=api["id"],
        patchOperations=[
            {"op": "replace", "path": "/name", "value": "store"},
            {"op": "replace", "path": "/description", "value": "more"},
        ],
    )
    assert (updated["name"], updated["description"]) == ("store", "more")
    assert api["id"] in [a["id"] for a in apigw.get_rest_apis(limit=500)["items"]]
    apigw.delete_rest_api(restApiId=api["id"])
    with pytest.raises(apigw.exceptions.NotFoundException) as raised:
        apigw.get_rest_api(restApiId=api["id"])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert api["id"] in raised.value.response["Error"]["Message"]


def test_pages_of_rest_apis(apigw: Any) -> None:
    made = {apigw.create_rest_api(name=unique_name("page"))["id"] for _ in range(3)}
    seen: list[str] = []
    position = None
    while True:
        page = apigw.get_rest_apis(limit=2, **({"position": position} if position else {}))
        assert len(page["items"]) <= 2
        seen += [a["id"] for a in page["items"]]
        position = page.get("position")
        if position is None:
            break
    assert made <= set(seen) and len(seen) == len(set(seen))
    assert error_of(apigw.get_rest_apis, limit=0)[:2] == ("BadRequestException", 400)


def test_rest_and_http_apis_are_apart(apigw: Any, rest_server: RunningServer) -> None:
    """One id space, two services: neither's operations find the other's APIs."""
    v2 = client("apigatewayv2", rest_server.endpoint)
    http_id = v2.create_api(Name="h", ProtocolType="HTTP")["ApiId"]
    rest_id = apigw.create_rest_api(name="r")["id"]
    assert rest_id not in [a["ApiId"] for a in v2.get_apis()["Items"]]
    assert http_id not in [a["id"] for a in apigw.get_rest_apis(limit=500)["items"]]
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.get_api(ApiId=rest_id)
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_rest_api(restApiId=http_id)
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.delete_rest_api(restApiId=http_id)
    v2.get_api(ApiId=http_id)  # still there


def test_bad_rest_api_requests(apigw: Any) -> None:
    assert error_of(apigw.create_rest_api, name="")[:2] == ("BadRequestException", 400)
    assert error_of(apigw.create_rest_api)[:2] == ("BadRequestException", 400)
    code, status, message = error_of(apigw.create_rest_api, name="x", binaryMediaTypes=["*/*"])
    assert (code, status) == ("NotImplementedException", 501) and "binaryMediaTypes" in message
    code, status, message = error_of(
        apigw.create_rest_api, name="x", endpointConfiguration={"types": ["PRIVATE"]}
    )
    assert (code, status) == ("NotImplementedException", 501) and "PRIVATE" in message
    api = apigw.create_rest_api(name="x")["id"]
    code, _, message = error_of(
        apigw.update_rest_api,
        restApiId=api,
        patchOperations=[{"op": "replace", "path": "/policy", "value": "{}"}],
    )
    assert code == "NotImplementedException" and "/policy" in message
    code, _, _ = error_of(
        apigw.update_rest_api,
        restApiId=api,
        patchOperations=[{"op": "move", "path": "/name", "value": "y"}],
    )
    assert code == "BadRequestException"
    code, _, _ = error_of(
        apigw.update_rest_api,
        restApiId=api,
        patchOperations=[{"op": "replace", "path": "/name", "value": ""}],
    )
    assert code == "BadRequestException"
    assert error_of(apigw.update_rest_api, restApiId="nosuchapi0", patchOperations=[])[:2] == (
        "NotFoundException",
        404,
    )
    assert error_of(apigw.delete_rest_api, restApiId="nosuchapi0")[:2] == ("NotFoundException", 404)
    # an operation gureum lacks is named, not a bare 404
    code, status, message = error_of(apigw.get_authorizers, restApiId=api)
    assert (code, status) == ("NotImplementedException", 501) and "GetAuthorizers" in message


def test_resources(apigw: Any) -> None:
    api = apigw.create_rest_api(name="tree")
    api_id, root = api["id"], api["rootResourceId"]
    items = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="items")
    assert items["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (items["path"], items["parentId"], items["pathPart"]) == ("/items", root, "items")
    one = apigw.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{id}")
    assert one["path"] == "/items/{id}"
    proxy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")
    assert proxy["path"] == "/{proxy+}"
    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/", "/items", "/items/{id}", "/{proxy+}"}
    got = apigw.get_resource(restApiId=api_id, resourceId=one["id"])
    assert got["path"] == "/items/{id}" and "resourceMethods" not in got

    def refused(parent: str, part: str) -> tuple[str, int, str]:
        return error_of(apigw.create_resource, restApiId=api_id, parentId=parent, pathPart=part)

    code, status, message = refused(root, "items")
    assert (code, status) == ("ConflictException", 409) and "same parent" in message
    code, _, message = refused(items["id"], "{other}")
    assert code == "BadRequestException" and "only one is allowed" in message
    code, _, message = refused(proxy["id"], "deeper")
    assert code == "BadRequestException" and "greedy" in message
    assert refused(root, "bad/part")[0] == "BadRequestException"
    assert refused(root, "{unclosed")[0] == "BadRequestException"
    assert refused(one["id"], "{id}")[0] == "BadRequestException"  # the name is used above
    assert refused("nosuchres0", "x")[:2] == ("NotFoundException", 404)
    assert error_of(apigw.get_resource, restApiId=api_id, resourceId="nosuchres0")[:2] == (
        "NotFoundException",
        404,
    )
    code, _, _ = error_of(apigw.delete_resource, restApiId=api_id, resourceId=root)
    assert code == "BadRequestException"
    # deleting a resource deletes the resources under it
    apigw.delete_resource(restApiId=api_id, resourceId=items["id"])
    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/", "/{proxy+}"}
    assert error_of(apigw.delete_resource, restApiId=api_id, resourceId=items["id"])[0] == (
        "NotFoundException"
    )


def test_methods_and_integrations(apigw: Any, echo: str) -> None:
    api = apigw.create_rest_api(name="methods")
    api_id, root = api["id"], api["rootResourceId"]
    where = {"restApiId": api_id, "resourceId": root}
    method = apigw.put_method(**where, httpMethod="GET", authorizationType="NONE")
    assert method["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert method["httpMethod"] == "GET" and method["authorizationType"] == "NONE"
    assert method["apiKeyRequired"] is False
    code, status, _ = error_of(
        apigw.put_method, **where, httpMethod="GET", authorizationType="NONE"
    )
    assert (code, status) == ("ConflictException", 409)
    assert error_of(apigw.put_method, **where, httpMethod="FETCH", authorizationType="NONE")[0] == (
        "BadRequestException"
    )
    assert error_of(apigw.put_method, **where, httpMethod="PUT", authorizationType="ODD")[0] == (
        "BadRequestException"
    )
    for kind in ("CUSTOM", "COGNITO_USER_POOLS"):
        code, status, message = error_of(
            apigw.put_method, **where, httpMethod="PUT", authorizationType=kind
        )
        assert (code, status) == ("NotImplementedException", 501) and kind in message
    code, _, message = error_of(
        apigw.put_method, **where, httpMethod="PUT", authorizationType="NONE", apiKeyRequired=True
    )
    assert code == "NotImplementedException" and "apiKeyRequired" in message
    code, _, message = error_of(
        apigw.put_method,
        **where,
        httpMethod="PUT",
        authorizationType="NONE",
        requestModels={"application/json": "Empty"},
    )
    assert code == "NotImplementedException" and "requestModels" in message
    assert error_of(apigw.get_method, **where, httpMethod="POST")[:2] == ("NotFoundException", 404)
    assert error_of(apigw.get_integration, **where, httpMethod="GET")[:2] == (
        "NotFoundException",
        404,
    )

    def integrate(**given: Any) -> tuple[str, int, str]:
        params = {
            "type": "AWS_PROXY",
            "integrationHttpMethod": "POST",
            "uri": invoke_uri(echo),
            **given,
        }
        return error_of(apigw.put_integration, **where, httpMethod="GET", **params)

    code, status, message = integrate(type="HTTP_PROXY", uri="https://example.com")
    assert (code, status) == ("NotImplementedException", 501) and "HTTP_PROXY" in message
    assert integrate(type="MOCK")[0] == "NotImplementedException"
    assert integrate(type="SOAP")[0] == "BadRequestException"
    assert integrate(uri="arn:aws:lambda:us-east-1:000000000000:function:x")[0] == (
        "BadRequestException"
    )
    assert integrate(integrationHttpMethod="GET")[0] == "BadRequestException"
    assert integrate(timeoutInMillis=30000)[0] == "BadRequestException"
    assert integrate(requestTemplates={"application/json": "{}"})[0] == "NotImplementedException"
    assert error_of(
        apigw.put_integration,
        **where,
        httpMethod="POST",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=invoke_uri(echo),
    )[:2] == ("NotFoundException", 404)
    put = apigw.put_integration(
        **where,
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=invoke_uri(echo),
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 201
    integration = apigw.get_integration(**where, httpMethod="GET")
    assert integration["type"] == "AWS_PROXY" and integration["httpMethod"] == "POST"
    assert integration["uri"] == invoke_uri(echo) and integration["timeoutInMillis"] == 29000
    assert integration["cacheNamespace"] == root
    method = apigw.get_method(**where, httpMethod="GET")
    assert method["methodIntegration"]["uri"] == invoke_uri(echo)
    listed = apigw.get_resources(restApiId=api_id)["items"][0]
    assert listed["resourceMethods"] == {"GET": {}}  # named only, without embed
    embedded = apigw.get_resources(restApiId=api_id, embed=["methods"])["items"][0]
    assert embedded["resourceMethods"]["GET"]["methodIntegration"]["type"] == "AWS_PROXY"
    apigw.delete_integration(**where, httpMethod="GET")
    assert error_of(apigw.get_integration, **where, httpMethod="GET")[0] == "NotFoundException"
    assert error_of(apigw.delete_integration, **where, httpMethod="GET")[0] == "NotFoundException"
    apigw.delete_method(**where, httpMethod="GET")
    assert error_of(apigw.get_method, **where, httpMethod="GET")[0] == "NotFoundException"
    assert error_of(apigw.delete_method, **where, httpMethod="GET")[0] == "NotFoundException"


def test_deployments_and_stages(apigw: Any, echo: str) -> None:
    api = apigw.create_rest_api(name="stages")
    api_id, root = api["id"], api["rootResourceId"]
    code, _, message = error_of(apigw.create_deployment, restApiId=api_id, stageName="prod")
    assert code == "BadRequestException" and "doesn't contain any methods" in message
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    code, _, message = error_of(apigw.create_deployment, restApiId=api_id)
    assert code == "BadRequestException" and "No integration" in message
    add_method(apigw, api_id, root, "POST", echo)
    apigw.delete_method(restApiId=api_id, resourceId=root, httpMethod="GET")
    first = apigw.create_deployment(
        restApiId=api_id, stageName="prod", description="one", variables={"color": "blue"}
    )
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201 and first["description"] == "one"
    stage = apigw.get_stage(restApiId=api_id, stageName="prod")
    assert stage["deploymentId"] == first["id"] and stage["variables"] == {"color": "blue"}
    assert isinstance(stage["createdDate"], datetime.datetime)
    second = apigw.create_deployment(restApiId=api_id)
    got = apigw.get_deployment(restApiId=api_id, deploymentId=second["id"])
    assert got["id"] == second["id"] and "snapshot" not in got
    listed = [d["id"] for d in apigw.get_deployments(restApiId=api_id)["items"]]
    assert listed == [first["id"], second["id"]]
    made = apigw.create_stage(
        restApiId=api_id,
        stageName="test",
        deploymentId=second["id"],
        description="testing",
        variables={"v": "1"},
    )
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201 and made["stageName"] == "test"
    code, status, _ = error_of(
        apigw.create_stage, restApiId=api_id, stageName="test", deploymentId=second["id"]
    )
    assert (code, status) == ("ConflictException", 409)
    assert error_of(apigw.create_stage, restApiId=api_id, stageName="x", deploymentId="nosuchdep0")[
        :2
    ] == ("NotFoundException", 404)
    assert error_of(
        apigw.create_stage, restApiId=api_id, stageName="bad name", deploymentId=second["id"]
    )[0] == ("BadRequestException")
    code, _, message = error_of(
        apigw.create_stage,
        restApiId=api_id,
        stageName="cached",
        deploymentId=second["id"],
        cacheClusterEnabled=True,
    )
    assert code == "NotImplementedException" and "cacheClusterEnabled" in message
    updated = apigw.update_stage(
        restApiId=api_id,
        stageName="test",
        patchOperations=[
            {"op": "replace", "path": "/variables/v", "value": "2"},
            {"op": "replace", "path": "/variables/w", "value": "3"},
            {"op": "replace", "path": "/description", "value": "changed"},
            {"op": "replace", "path": "/deploymentId", "value": first["id"]},
        ],
    )
    assert updated["variables"] == {"v": "2", "w": "3"} and updated["description"] == "changed"
    assert updated["deploymentId"] == first["id"]
    updated = apigw.update_stage(
        restApiId=api_id,
        stageName="test",
        patchOperations=[{"op": "remove", "path": "/variables/w"}],
    )
    assert updated["variables"] == {"v": "2"}
    assert error_of(
        apigw.update_stage,
        restApiId=api_id,
        stageName="test",
        patchOperations=[{"op": "replace", "path": "/deploymentId", "value": "nosuchdep0"}],
    )[0] == ("NotFoundException")
    assert error_of(
        apigw.update_stage,
        restApiId=api_id,
        stageName="test",
        patchOperations=[{"op": "replace", "path": "/tracingEnabled", "value": "true"}],
    )[0] == ("NotImplementedException")
    assert error_of(
        apigw.update_stage,
        restApiId=api_id,
        stageName="test",
        patchOperations=[{"op": "replace", "path": "/variables/bad-name", "value": "x"}],
    )[0] == ("BadRequestException")
    names = [s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]]
    assert sorted(names) == ["prod", "test"]
    only = apigw.get_stages(restApiId=api_id, deploymentId=second["id"])["item"]
    assert only == []
    code, _, message = error_of(apigw.delete_deployment, restApiId=api_id, deploymentId=first["id"])
    assert code == "BadRequestException" and "Active stages" in message
    apigw.delete_deployment(restApiId=api_id, deploymentId=second["id"])
    assert error_of(apigw.get_deployment, restApiId=api_id, deploymentId=second["id"])[0] == (
        "NotFoundException"
    )
    apigw.delete_stage(restApiId=api_id, stageName="test")
    assert error_of(apigw.get_stage, restApiId=api_id, stageName="test")[:2] == (
        "NotFoundException",
        404,
    )
    assert error_of(apigw.delete_stage, restApiId=api_id, stageName="test")[0] == (
        "NotFoundException"
    )
