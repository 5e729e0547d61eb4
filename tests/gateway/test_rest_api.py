"""REST APIs (apigateway's) on a real server, on both engines: configured through boto3's
``apigateway`` client, and served to plain HTTP requests (urllib) at their invoke URLs:
resources chosen as API Gateway chooses them, the Lambda proxy event, stage variables,
deployments as snapshots, and API Gateway's own answers."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ROLE,
    RunningServer,
    client,
    make_settings,
    server_on,
    signed_request,
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
    with server_on(request.param, Path(tmp_path_factory.mktemp("rest"))) as server:
        yield server


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


#: The errors apigateway's model has (boto3 raises them as their own classes).
MODELED = ("NotFoundException", "BadRequestException", "ConflictException")


def error_of(call: Any, **params: Any) -> tuple[str, int, str]:
    """(code, status, message) of the error ``call(**params)`` (a client's method)
    raises, checked to be the client's class of that error where the model has one."""
    with pytest.raises(ClientError) as raised:
        call(**params)
    response = raised.value.response
    error = response["Error"]
    if error["Code"] in MODELED:
        assert isinstance(raised.value, getattr(call.__self__.exceptions, error["Code"]))
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


def test_bad_rest_api_requests(apigw: Any, rest_server: RunningServer) -> None:
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
    assert error_of(apigw.create_rest_api, name=5)[0] == "BadRequestException"
    for body in (b"[1]", b"{not json", b'{"name": "x", "tags": "no"}'):
        sent = signed_request(
            f"{rest_server.endpoint}/restapis",
            method="POST",
            data=body,
            headers={"Content-Type": "application/json"},
            service="apigateway",
        )
        status, headers, answer = send(sent)
        assert (status, headers["x-amzn-errortype"]) == (400, "BadRequestException")
        assert json.loads(answer)["message"].startswith("Invalid request body")
    # an operation gureum lacks is named, not a bare 404
    code, status, message = error_of(apigw.get_authorizers, restApiId=api)
    assert (code, status) == ("NotImplementedException", 501) and "GetAuthorizers" in message


def test_management_requests_are_signed_for_apigateway(rest_server: RunningServer) -> None:
    url = f"{rest_server.endpoint}/restapis"
    status, _, body = send(signed_request(url, service="apigateway"))
    assert status == 200 and "item" in json.loads(body)
    status, _, body = send(signed_request(url, service="lambda"))
    assert status == 403 and b"scoped to correct service: 'apigateway'" in body
    assert send(urllib.request.Request(url))[0] == 403  # unsigned


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
        patchOperations=[{"op": "replace", "path": "/cacheClusterEnabled", "value": "true"}],
    )[0] == ("NotImplementedException")
    assert error_of(
        apigw.update_stage,
        restApiId=api_id,
        stageName="test",
        patchOperations=[{"op": "replace", "path": "/tracingEnabled", "value": "maybe"}],
    )[0] == ("BadRequestException")
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


# serving


def test_routing_priority(apigw: Any, rest_server: RunningServer, echo: str) -> None:
    api, ids = make_api(
        apigw,
        echo,
        {
            "/": ["GET"],
            "/items": ["GET"],
            "/items/{id}": ["GET", "ANY"],
            "/items/{id}/tags": ["ANY"],
            "/{proxy+}": ["ANY"],
        },
    )

    def resource(path: str, method: str = "GET") -> tuple[str, str]:
        status, _, body = fetch(rest_server, api, path, method=method)
        assert status == 200, (path, body)
        event = json.loads(body)
        return event["resource"], event["requestContext"]["resourceId"]

    assert resource("/prod/items") == ("/items", ids["/items"])
    assert resource("/prod/items/7") == ("/items/{id}", ids["/items/{id}"])
    assert resource("/prod/items/7", "DELETE")[0] == "/items/{id}"  # its ANY
    assert resource("/prod/items/7/tags")[0] == "/items/{id}/tags"
    assert resource("/prod/items/7/tags/x")[0] == "/{proxy+}"
    assert resource("/prod/other/a/b", "PUT")[0] == "/{proxy+}"
    assert resource("/prod/")[0] == "/"
    assert resource("/prod")[0] == "/"
    # the resource that matches best is chosen first, then its method: /items has no POST
    for path, method in [("/prod/items", "POST"), ("/prod/", "POST"), ("/nostage/items", "GET")]:
        status, headers, body = fetch(rest_server, api, path, method=method)
        assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
        assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
        assert headers["x-amzn-requestid"] and headers["x-amz-apigw-id"]


def test_the_proxy_event(apigw: Any, rest_server: RunningServer, echo: str) -> None:
    api, ids = make_api(apigw, echo, {"/items/{id}": ["ANY"], "/files/{proxy+}": ["PUT"]})
    status, headers, body = fetch(
        rest_server,
        api,
        "/prod/items/a%20b?x=1&x=2&y=",
        method="POST",
        body=b'{"n": 1}',
        headers={"Content-Type": "application/json", "X-Twice": "one", "User-Agent": "agent"},
    )
    assert status == 200, body
    assert headers["x-resource"] == "/items/{id}"
    assert headers["x-two"] == "a, b"  # (multiValueHeaders: the header twice)
    assert headers["x-amzn-requestid"] and headers["x-amz-apigw-id"]
    event = json.loads(body)
    assert "version" not in event
    assert event["resource"] == "/items/{id}" and event["httpMethod"] == "POST"
    assert event["path"] == "/items/a%20b"
    assert event["pathParameters"] == {"id": "a b"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    # (names lower-cased: the edge's HTTP server gives them so, where API Gateway keeps them)
    assert event["headers"]["x-twice"] == "one"
    assert event["multiValueHeaders"]["x-twice"] == ["one"]
    assert event["body"] == '{"n": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["apiId"] == api and context["stage"] == "prod"
    assert context["resourceId"] == ids["/items/{id}"]
    assert context["resourcePath"] == "/items/{id}" and context["httpMethod"] == "POST"
    assert context["path"] == "/prod/items/a%20b"
    assert context["requestId"] == headers["x-amzn-requestid"]
    assert context["extendedRequestId"] == headers["x-amz-apigw-id"]
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "agent"
    assert context["identity"]["accessKey"] is None
    assert context["domainName"] == f"{api}.execute-api.localhost"
    assert isinstance(context["requestTimeEpoch"], int)
    # no query, no parameters: null, as API Gateway sends them
    status, _, body = fetch(rest_server, api, "/prod/files/a/b.png", method="PUT")
    event = json.loads(body)
    assert event["pathParameters"] == {"proxy": "a/b.png"}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None and event["body"] is None


def test_host_style_and_stage_variables(apigw: Any, rest_server: RunningServer, echo: str) -> None:
    api, _ = make_api(apigw, echo, {"/hello": ["GET"]})
    apigw.update_stage(
        restApiId=api,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/variables/size", "value": "big"}],
    )
    sent = urllib.request.Request(
        f"{rest_server.endpoint}/prod/hello", headers={"Host": f"{api}.execute-api.localhost"}
    )
    status, _, body = send(sent)
    assert status == 200, body
    event = json.loads(body)
    assert event["stageVariables"] == {"color": "blue", "size": "big"}
    assert event["path"] == "/hello" and event["requestContext"]["path"] == "/prod/hello"


def test_a_stage_variable_names_the_function(
    apigw: Any, rest_server: RunningServer, echo: str, deploy: Callable[..., str]
) -> None:
    other = deploy(
        "def handler(event, context):\n    return {'statusCode': 200, 'body': 'other'}\n"
    )
    api, ids = make_api(apigw, "${stageVariables.fn}", {"/x": ["GET"]}, stage=None)
    apigw.create_deployment(restApiId=api, stageName="a", variables={"fn": echo})
    apigw.create_deployment(restApiId=api, stageName="b", variables={"fn": other})
    apigw.create_deployment(restApiId=api, stageName="none")
    status, headers, _ = fetch(rest_server, api, "/a/x")
    assert status == 200 and headers["x-resource"] == "/x"
    assert fetch(rest_server, api, "/b/x")[::2] == (200, b"other")
    status, _, body = fetch(rest_server, api, "/none/x")
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})


def test_a_stage_serves_its_deployment(apigw: Any, rest_server: RunningServer, echo: str) -> None:
    """Changes reach a stage when they are deployed to it, as on API Gateway."""
    api, ids = make_api(apigw, echo, {"/old": ["GET"]})
    new = apigw.create_resource(restApiId=api, parentId=ids["/"], pathPart="new")
    add_method(apigw, api, new["id"], "GET", echo)
    apigw.delete_method(restApiId=api, resourceId=ids["/old"], httpMethod="GET")
    assert fetch(rest_server, api, "/prod/new")[0] == 403  # not deployed yet
    assert fetch(rest_server, api, "/prod/old")[0] == 200  # still deployed
    apigw.create_deployment(restApiId=api, stageName="prod")
    assert fetch(rest_server, api, "/prod/new")[0] == 200
    assert fetch(rest_server, api, "/prod/old")[0] == 403
    # a second stage at the first deployment serves the old one
    first = apigw.get_deployments(restApiId=api)["items"][0]["id"]
    apigw.create_stage(restApiId=api, stageName="back", deploymentId=first)
    assert fetch(rest_server, api, "/back/old")[0] == 200
    apigw.delete_stage(restApiId=api, stageName="back")
    assert fetch(rest_server, api, "/back/old")[0] == 403
    # an HTTP API's id is not a REST API's: its invoke URL answers as HTTP APIs do
    v2 = client("apigatewayv2", rest_server.endpoint)
    http_id = v2.create_api(Name="h", ProtocolType="HTTP")["ApiId"]
    assert fetch(rest_server, http_id, "/prod/new")[0] == 404
    apigw.update_rest_api(
        restApiId=api,
        patchOperations=[{"op": "replace", "path": "/name", "value": "renamed"}],
    )
    apigw.delete_rest_api(restApiId=api)
    assert fetch(rest_server, api, "/prod/new")[0] == 404


def test_malformed_answers_and_function_errors(
    apigw: Any, rest_server: RunningServer, echo: str, deploy: Callable[..., str]
) -> None:
    api, _ = make_api(apigw, echo, {"/answer": ["POST"]})

    def answer(value: Any) -> tuple[int, Any]:
        status, _, body = fetch(
            rest_server,
            api,
            "/prod/answer",
            method="POST",
            body=json.dumps(value).encode(),
            headers={"Content-Type": "application/json"},
        )
        return status, json.loads(body) if body else None

    assert answer({"statusCode": 201, "body": '"made"'}) == (201, "made")
    server_error = (502, {"message": "Internal server error"})
    assert answer({"statusCode": 200, "body": "x", "cookies": ["a=1"]}) == server_error
    assert answer({"statusCode": "200", "body": "x"}) == server_error
    assert answer({"statusCode": 200, "body": {"not": "text"}}) == server_error
    assert answer(["not", "an", "object"]) == server_error
    failing = deploy("def handler(event, context):\n    raise ValueError('no')\n")
    api, _ = make_api(apigw, failing, {"/x": ["GET"]})
    status, _, body = fetch(rest_server, api, "/prod/x")
    assert (status, json.loads(body)) == server_error


def test_timeouts_throttles_and_missing_functions(
    apigw: Any, rest_server: RunningServer, lam: Any, deploy: Callable[..., str]
) -> None:
    slow = deploy("import time\n\ndef handler(event, context):\n    time.sleep(3)\n", Timeout=10)
    api, _ = make_api(apigw, slow, {"/x": ["GET"]}, timeoutInMillis=300)
    status, _, body = fetch(rest_server, api, "/prod/x")
    assert (status, json.loads(body)) == (504, {"message": "Endpoint request timed out"})
    throttled = deploy("def handler(event, context):\n    return {'statusCode': 200}\n")
    lam.put_function_concurrency(FunctionName=throttled, ReservedConcurrentExecutions=0)
    api, _ = make_api(apigw, throttled, {"/x": ["GET"]})
    status, _, body = fetch(rest_server, api, "/prod/x")
    assert (status, json.loads(body)) == (429, {"message": "Too Many Requests"})
    api, _ = make_api(apigw, "no-such-function", {"/x": ["GET"]})
    status, _, body = fetch(rest_server, api, "/prod/x")
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})


def test_aws_iam_methods_take_signed_requests(
    apigw: Any, rest_server: RunningServer, echo: str
) -> None:
    api, _ = make_api(apigw, echo, {"/private": ["GET"]}, authorization="AWS_IAM")
    url = f"{rest_server.endpoint}/_aws/execute-api/{api}/prod/private"
    status, _, body = send(urllib.request.Request(url))
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
    status, headers, _ = send(signed_request(url, service="execute-api", secret="wrong"))
    assert status == 403 and headers["x-amzn-errortype"] == "InvalidSignatureException"
    status, _, body = send(signed_request(url, service="execute-api"))
    assert status == 200, body
    identity = json.loads(body)["requestContext"]["identity"]
    assert identity["accessKey"] == "test" and identity["accountId"] == "000000000000"
    assert identity["userArn"] == "arn:aws:iam::000000000000:root"


def test_a_disabled_execute_api_endpoint_is_forbidden(
    apigw: Any, rest_server: RunningServer, echo: str
) -> None:
    api = apigw.create_rest_api(name="closed", disableExecuteApiEndpoint=True)
    add_method(apigw, api["id"], api["rootResourceId"], "GET", echo)
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, _, body = fetch(rest_server, api["id"], "/prod/")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_two_nodes_on_one_postgresql(tmp_path: Path) -> None:
    """Nodes sharing a PostgreSQL: a REST API made on one is served by the other once
    deployed (no state of a node's own), and two nodes adding the same path part at once
    get one resource and ConflictExceptions, as the check runs in the write's
    transaction, which holds the API."""
    with store_settings("postgres") as overrides:
        # (one data directory: a node keeps function code on its disk, not in the store)
        nodes = [RunningServer(make_settings(tmp_path, **overrides)) for _ in range(2)]
        nodes[0].start()
        try:
            function = unique_name("shared")
            client("lambda", nodes[0].endpoint).create_function(
                FunctionName=function,
                Runtime="python3.11",
                Role=ROLE,
                Handler="app.handler",
                Code={"ZipFile": zip_files({"app.py": ECHO})},
            )
            # (started after: a node learns of other nodes' functions when it starts)
            nodes[1].start()
            one, two = (client("apigateway", n.endpoint) for n in nodes)
            api = one.create_rest_api(name="shared")
            api_id, root = api["id"], api["rootResourceId"]

            def create(apigw: Any) -> str:
                try:
                    made = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="x")
                    return str(made["id"])
                except apigw.exceptions.ConflictException:
                    return "conflict"

            with ThreadPoolExecutor(6) as pool:
                outcomes = list(pool.map(create, [one, two] * 3))
            assert outcomes.count("conflict") == 5, outcomes
            made = next(o for o in outcomes if o != "conflict")
            add_method(two, api_id, made, "GET", function)
            two.create_deployment(restApiId=api_id, stageName="prod")
            for node in nodes:
                status, headers, body = fetch(node, api_id, "/prod/x")
                assert status == 200 and headers["x-resource"] == "/x", body
        finally:
            for node in nodes:
                node.stop()


def test_a_traced_stage_puts_the_api_in_the_trace(
    apigw: Any, rest_server: RunningServer, echo: str
) -> None:
    """A stage with tracingEnabled records its AWS::ApiGateway::Stage segment, the
    function's segments hang under its Lambda subsegment, the answer names the trace,
    and the service map reads client -> API stage -> function; an untraced stage
    records nothing of its own (its answer still names a trace, unsampled, as AWS's)."""
    import time

    api, _ = make_api(apigw, echo, {"/items": ["GET"]}, stage="live")
    apigw.create_stage(
        restApiId=api,
        stageName="quiet",
        deploymentId=apigw.get_stage(restApiId=api, stageName="live")["deploymentId"],
    )
    apigw.update_stage(
        restApiId=api,
        stageName="live",
        patchOperations=[{"op": "replace", "path": "/tracingEnabled", "value": "true"}],
    )
    assert apigw.get_stage(restApiId=api, stageName="live")["tracingEnabled"] is True
    name = apigw.get_rest_api(restApiId=api)["name"]
    status, headers, _ = fetch(rest_server, api, "/live/items")
    assert status == 200
    trace_id = headers["x-amzn-trace-id"].split(";")[0].removeprefix("Root=")
    quiet_status, quiet_headers, _ = fetch(rest_server, api, "/quiet/items")
    assert quiet_status == 200 and quiet_headers["x-amzn-trace-id"].endswith("Sampled=0")
    xray = client("xray", rest_server.endpoint)
    deadline = time.monotonic() + 30
    while True:
        traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
        documents = [json.loads(s["Document"]) for t in traces for s in t["Segments"]]
        origins = {d.get("origin") for d in documents}
        if {"AWS::ApiGateway::Stage", "AWS::Lambda"} <= origins or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    stage = next(d for d in documents if d.get("origin") == "AWS::ApiGateway::Stage")
    assert stage["name"] == f"{name}/live"
    assert stage["http"]["response"]["status"] == 200
    lambda_call = next(s for s in stage["subsegments"] if s["name"] == "Lambda")
    service = next(d for d in documents if d.get("origin") == "AWS::Lambda")
    assert service["parent_id"] == lambda_call["id"]
    now = datetime.datetime.now(datetime.UTC)
    graph = xray.get_service_graph(
        StartTime=now - datetime.timedelta(minutes=5), EndTime=now + datetime.timedelta(minutes=1)
    )
    by_id = {s["ReferenceId"]: s for s in graph["Services"]}
    stage_service = next(s for s in graph["Services"] if s["Name"] == f"{name}/live")
    assert stage_service["Type"] == "AWS::ApiGateway::Stage"
    callees = {by_id[e["ReferenceId"]]["Name"] for e in stage_service["Edges"]}
    assert echo in callees
    assert not any(s["Name"] == f"{name}/quiet" for s in graph["Services"])
