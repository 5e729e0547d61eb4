"""apigatewayv2's management API through boto3's ``apigatewayv2`` client, on both engines."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    RunningServer,
    client,
    server_on,
    signed_request,
)

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:hello"
INVOKE_URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}/invocations"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gateway_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with server_on(request.param, Path(tmp_path_factory.mktemp("gw"))) as server:
        yield server


@pytest.fixture
def gw(gateway_server: RunningServer) -> Any:
    """The client, leaving every check to the server (botocore would check some first)."""
    return client("apigatewayv2", gateway_server.endpoint, parameter_validation=False)


@pytest.fixture
def api_id(gw: Any) -> str:
    api_id: str = gw.create_api(Name="plain", ProtocolType="HTTP")["ApiId"]
    return api_id


def _integration(gw: Any, api_id: str, **extra: Any) -> str:
    params = {
        "ApiId": api_id,
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": FUNCTION,
        "PayloadFormatVersion": "2.0",
        **extra,
    }
    integration_id: str = gw.create_integration(**params)["IntegrationId"]
    return integration_id


def _bad_request(call: Any, message: str, **params: Any) -> None:
    with pytest.raises(ClientError) as raised:
        call(**params)
    error = raised.value.response["Error"]
    assert error["Code"] == "BadRequestException", error
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert message in error["Message"], error["Message"]


def test_create_get_update_and_delete_an_api(gw: Any, gateway_server: RunningServer) -> None:
    before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=5)
    created = gw.create_api(
        Name="pets",
        ProtocolType="HTTP",
        Description="the pets",
        Version="1",
        CorsConfiguration={"AllowOrigins": ["https://example.com"], "MaxAge": 60},
        Tags={"team": "a"},
    )
    api_id = created["ApiId"]
    assert len(api_id) == 10
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["ApiEndpoint"] == f"{gateway_server.endpoint}/_aws/execute-api/{api_id}"
    assert created["RouteSelectionExpression"] == "$request.method $request.path"
    assert created["CreatedDate"] >= before
    assert created["CorsConfiguration"] == {"AllowOrigins": ["https://example.com"], "MaxAge": 60}
    assert created["DisableExecuteApiEndpoint"] is False
    got = gw.get_api(ApiId=api_id)
    for key in ("Name", "Description", "Version", "Tags", "CreatedDate", "ApiEndpoint"):
        assert got[key] == created[key]
    updated = gw.update_api(ApiId=api_id, Name="cats", Description="now cats")
    assert (updated["Name"], updated["Description"], updated["Version"]) == (
        "cats",
        "now cats",
        "1",
    )
    assert gw.get_api(ApiId=api_id)["Name"] == "cats"
    assert gw.get_routes(ApiId=api_id)["Items"] == []
    deleted = gw.delete_api(ApiId=api_id)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(gw.exceptions.NotFoundException) as raised:
        gw.get_api(ApiId=api_id)
    assert raised.value.response["Error"]["Message"] == (
        f"Invalid API identifier specified 000000000000:{api_id}"
    )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    for call in (gw.delete_api, gw.get_routes, gw.get_stages):
        with pytest.raises(gw.exceptions.NotFoundException):
            call(ApiId=api_id)
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.update_api(ApiId=api_id, Name="x")


def test_quick_create_makes_an_integration_a_route_and_an_auto_deployed_stage(gw: Any) -> None:
    api = gw.create_api(Name="quick", ProtocolType="HTTP", Target=FUNCTION, RouteKey="GET /hi")
    api_id = api["ApiId"]
    [integration] = gw.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == FUNCTION
    assert integration["PayloadFormatVersion"] == "2.0"
    assert integration["TimeoutInMillis"] == 30000
    assert integration["ApiGatewayManaged"] is True
    [route] = gw.get_routes(ApiId=api_id)["Items"]
    assert route["RouteKey"] == "GET /hi"
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    [stage] = gw.get_stages(ApiId=api_id)["Items"]
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    [deployment] = gw.get_deployments(ApiId=api_id)["Items"]
    assert deployment["AutoDeployed"] is True
    assert stage["DeploymentId"] == deployment["DeploymentId"]
    default = gw.create_api(Name="quick2", ProtocolType="HTTP", Target=INVOKE_URI)
    [route] = gw.get_routes(ApiId=default["ApiId"])["Items"]
    assert route["RouteKey"] == "$default"
    _bad_request(
        gw.create_api, "Invalid integration URI", Name="q", ProtocolType="HTTP", Target="f"
    )
    _bad_request(
        gw.create_api,
        "Invalid route key",
        Name="q",
        ProtocolType="HTTP",
        Target=FUNCTION,
        RouteKey="GET nope",
    )
    _bad_request(
        gw.create_api, "only allowed with Target", Name="q", ProtocolType="HTTP", RouteKey="GET /"
    )


def test_api_validation(gw: Any) -> None:
    _bad_request(gw.create_api, "Invalid protocol type", Name="x", ProtocolType="GRPC")
    _bad_request(gw.create_api, "Name is a required parameter", Name="", ProtocolType="HTTP")
    _bad_request(
        gw.create_api,
        "Invalid RouteSelectionExpression",
        Name="x",
        ProtocolType="HTTP",
        RouteSelectionExpression="$request.body.action",
    )
    _bad_request(
        gw.create_api, "RouteSelectionExpression is a required", Name="x", ProtocolType="WEBSOCKET"
    )
    _bad_request(
        gw.create_api,
        "does not support CredentialsArn",
        Name="x",
        ProtocolType="HTTP",
        CredentialsArn="arn:aws:iam::000000000000:role/r",
    )
    _bad_request(
        gw.create_api, "Invalid tag key", Name="x", ProtocolType="HTTP", Tags={"aws:x": "y"}
    )
    ws = gw.create_api(
        Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    assert ws["ApiEndpoint"].startswith("ws://")
    assert ws["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    http = gw.create_api(Name="x", ProtocolType="HTTP")["ApiId"]
    _bad_request(gw.update_api, "does not support Target", ApiId=http, Target=FUNCTION)


def test_apis_page_by_max_results_and_next_token(gw: Any) -> None:
    made = {gw.create_api(Name=f"page-{i}", ProtocolType="HTTP")["ApiId"] for i in range(5)}
    seen: list[str] = []
    pages = 0
    token = None
    while True:
        page = gw.get_apis(MaxResults="2", **({"NextToken": token} if token else {}))
        assert len(page["Items"]) <= 2
        seen += [item["ApiId"] for item in page["Items"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert made <= set(seen)
    assert len(seen) == len(set(seen))
    assert pages >= 3
    assert {item["ApiId"] for item in gw.get_apis()["Items"]} >= made
    _bad_request(gw.get_apis, "Invalid MaxResults", MaxResults="0")
    _bad_request(gw.get_apis, "Invalid MaxResults", MaxResults="many")
    _bad_request(gw.get_apis, "Invalid NextToken", NextToken="!!!")


def test_integrations(gw: Any, api_id: str) -> None:
    created = gw.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=INVOKE_URI,
        PayloadFormatVersion="1.0",
        TimeoutInMillis=5000,
        Description="old",
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    integration_id = created["IntegrationId"]
    got = gw.get_integration(ApiId=api_id, IntegrationId=integration_id)
    assert (got["IntegrationUri"], got["TimeoutInMillis"]) == (INVOKE_URI, 5000)
    assert got["IntegrationMethod"] == "POST"
    updated = gw.update_integration(
        ApiId=api_id, IntegrationId=integration_id, PayloadFormatVersion="2.0", TimeoutInMillis=50
    )
    assert (updated["PayloadFormatVersion"], updated["TimeoutInMillis"]) == ("2.0", 50)
    assert updated["Description"] == "old"
    _bad_request(
        gw.update_integration,
        "between 50 ms and 30000 ms",
        ApiId=api_id,
        IntegrationId=integration_id,
        TimeoutInMillis=30001,
    )
    assert [i["IntegrationId"] for i in gw.get_integrations(ApiId=api_id)["Items"]] == [
        integration_id
    ]
    gw.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    with pytest.raises(gw.exceptions.NotFoundException, match="Invalid Integration identifier"):
        gw.get_integration(ApiId=api_id, IntegrationId=integration_id)
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.update_integration(ApiId=api_id, IntegrationId=integration_id, Description="x")
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    with pytest.raises(gw.exceptions.NotFoundException, match="Invalid API identifier"):
        _integration(gw, "nosuchapi0")


def test_integration_validation(gw: Any, api_id: str) -> None:
    base = {"ApiId": api_id, "IntegrationType": "AWS_PROXY", "IntegrationUri": FUNCTION}
    _bad_request(gw.create_integration, "PayloadFormatVersion is a required parameter", **base)
    ok = {**base, "PayloadFormatVersion": "2.0"}
    _bad_request(
        gw.create_integration,
        "Invalid PayloadFormatVersion",
        **{**ok, "PayloadFormatVersion": "3.0"},
    )
    _bad_request(gw.create_integration, "between 50 ms", **ok, TimeoutInMillis=49)
    _bad_request(
        gw.create_integration, "Invalid integration URI", **{**ok, "IntegrationUri": "nope"}
    )
    _bad_request(gw.create_integration, "only AWS_PROXY", **{**ok, "IntegrationType": "HTTP_PROXY"})
    _bad_request(
        gw.create_integration,
        "may only be associated with proxy integrations",
        **{**ok, "IntegrationType": "AWS"},
    )
    _bad_request(
        gw.create_integration,
        "does not support RequestParameters",
        **ok,
        RequestParameters={"append:header.x": "y"},
    )
    _bad_request(gw.create_integration, "IntegrationType is a required", ApiId=api_id)


def test_routes(gw: Any, api_id: str) -> None:
    integration_id = _integration(gw, api_id)
    target = f"integrations/{integration_id}"
    created = gw.create_route(ApiId=api_id, RouteKey="GET /pets/{id}", Target=target)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    route_id = created["RouteId"]
    assert created["AuthorizationType"] == "NONE"
    proxy = gw.create_route(ApiId=api_id, RouteKey="ANY /files/{proxy+}", Target=target)
    default = gw.create_route(ApiId=api_id, RouteKey="$default")
    assert "Target" not in default
    got = gw.get_route(ApiId=api_id, RouteId=route_id)
    assert (got["RouteKey"], got["Target"]) == ("GET /pets/{id}", target)
    with pytest.raises(gw.exceptions.ConflictException):
        gw.create_route(ApiId=api_id, RouteKey="GET /pets/{id}", Target=target)
    with pytest.raises(gw.exceptions.ConflictException):
        gw.update_route(ApiId=api_id, RouteId=proxy["RouteId"], RouteKey="GET /pets/{id}")
    updated = gw.update_route(ApiId=api_id, RouteId=route_id, RouteKey="POST /pets")
    assert (updated["RouteKey"], updated["Target"]) == ("POST /pets", target)
    same = gw.update_route(ApiId=api_id, RouteId=route_id, OperationName="addPet")
    assert (same["RouteKey"], same["OperationName"]) == ("POST /pets", "addPet")
    keys = [r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]]
    assert sorted(keys) == sorted(["POST /pets", "ANY /files/{proxy+}", "$default"])
    page = gw.get_routes(ApiId=api_id, MaxResults="2")
    rest = gw.get_routes(ApiId=api_id, MaxResults="2", NextToken=page["NextToken"])
    assert len(page["Items"]) == 2 and len(rest["Items"]) == 1 and "NextToken" not in rest
    with pytest.raises(gw.exceptions.ConflictException) as raised:
        gw.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    assert raised.value.response["Error"]["Message"] == (
        "Cannot delete Integration because it is referenced by the following Routes with Ids: "
        f"[{route_id}, {proxy['RouteId']}]"
    )
    gw.delete_route(ApiId=api_id, RouteId=route_id)
    with pytest.raises(gw.exceptions.NotFoundException, match="Invalid Route identifier"):
        gw.get_route(ApiId=api_id, RouteId=route_id)
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.update_route(ApiId=api_id, RouteId=route_id, RouteKey="GET /x")
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.delete_route(ApiId=api_id, RouteId=route_id)


def test_route_validation(gw: Any, api_id: str) -> None:
    _bad_request(gw.create_route, "Invalid route key", ApiId=api_id, RouteKey="FETCH /pets")
    _bad_request(gw.create_route, "must be the last segment", ApiId=api_id, RouteKey="GET /{p+}/x")
    _bad_request(gw.create_route, "Invalid target", ApiId=api_id, RouteKey="GET /", Target="lambda")
    _bad_request(
        gw.create_route,
        "Invalid integration identifier specified nosuchint0",
        ApiId=api_id,
        RouteKey="GET /",
        Target="integrations/nosuchint0",
    )
    _bad_request(
        gw.create_route,
        "AuthorizationType NONE",
        ApiId=api_id,
        RouteKey="GET /",
        AuthorizationType="JWT",
    )
    _bad_request(
        gw.create_route,
        "does not support AuthorizerId",
        ApiId=api_id,
        RouteKey="GET /",
        AuthorizerId="a",
    )


def test_stages_and_deployments(gw: Any, api_id: str) -> None:
    created = gw.create_stage(
        ApiId=api_id, StageName="prod", StageVariables={"table": "pets"}, Description="live"
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (created["StageName"], created["AutoDeploy"]) == ("prod", False)
    assert "DeploymentId" not in created
    assert created["LastUpdatedDate"] >= created["CreatedDate"]
    with pytest.raises(gw.exceptions.ConflictException):
        gw.create_stage(ApiId=api_id, StageName="prod")
    deployment = gw.create_deployment(ApiId=api_id, StageName="prod", Description="first")
    assert deployment["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (deployment["AutoDeployed"], deployment["DeploymentStatus"]) == (False, "DEPLOYED")
    assert (
        gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == deployment["DeploymentId"]
    )
    got = gw.get_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    assert got["Description"] == "first"
    _bad_request(
        gw.delete_deployment,
        "Active stages pointing to this deployment",
        ApiId=api_id,
        DeploymentId=deployment["DeploymentId"],
    )
    updated = gw.update_stage(
        ApiId=api_id, StageName="prod", StageVariables={"table": "cats"}, AutoDeploy=True
    )
    assert updated["StageVariables"] == {"table": "cats"}
    assert updated["AutoDeploy"] is True
    assert updated["DeploymentId"] != deployment["DeploymentId"]
    _bad_request(gw.create_deployment, "AutoDeploy enabled", ApiId=api_id, StageName="prod")
    unattached = gw.create_deployment(ApiId=api_id)
    ids = [d["DeploymentId"] for d in gw.get_deployments(ApiId=api_id)["Items"]]
    assert ids == [deployment["DeploymentId"], updated["DeploymentId"], unattached["DeploymentId"]]
    gw.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    auto = gw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert auto["DeploymentId"]
    assert [s["StageName"] for s in gw.get_stages(ApiId=api_id)["Items"]] == ["prod", "$default"]
    gw.delete_stage(ApiId=api_id, StageName="prod")
    with pytest.raises(gw.exceptions.NotFoundException, match="Invalid Stage identifier"):
        gw.get_stage(ApiId=api_id, StageName="prod")
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.update_stage(ApiId=api_id, StageName="prod", Description="x")
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.create_deployment(ApiId=api_id, StageName="prod")


def test_stage_validation(gw: Any, api_id: str) -> None:
    _bad_request(gw.create_stage, "Invalid stage name", ApiId=api_id, StageName="a b")
    _bad_request(
        gw.create_stage,
        "Invalid stage variable name",
        ApiId=api_id,
        StageName="s",
        StageVariables={"a-b": "x"},
    )
    _bad_request(
        gw.create_stage,
        "Invalid deployment identifier",
        ApiId=api_id,
        StageName="s",
        DeploymentId="nosuchdep0",
    )
    _bad_request(
        gw.create_stage,
        "does not support AccessLogSettings",
        ApiId=api_id,
        StageName="s",
        AccessLogSettings={"DestinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:g"},
    )
    _bad_request(
        gw.create_stage,
        "does not support DefaultRouteSettings",
        ApiId=api_id,
        StageName="s",
        DefaultRouteSettings={"ThrottlingBurstLimit": 1},
    )


def test_tags_on_an_api(gw: Any, api_id: str) -> None:
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    assert gw.get_tags(ResourceArn=arn)["Tags"] == {}
    tagged = gw.tag_resource(ResourceArn=arn, Tags={"a": "1", "b": "2"})
    assert tagged["ResponseMetadata"]["HTTPStatusCode"] == 201
    gw.tag_resource(ResourceArn=arn, Tags={"b": "3"})
    assert gw.get_tags(ResourceArn=arn)["Tags"] == {"a": "1", "b": "3"}
    gw.untag_resource(ResourceArn=arn, TagKeys=["a", "missing"])
    assert gw.get_tags(ResourceArn=arn)["Tags"] == {"b": "3"}
    assert gw.get_api(ApiId=api_id)["Tags"] == {"b": "3"}
    missing = "arn:aws:apigateway:us-east-1::/apis/nosuchapi0"
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.get_tags(ResourceArn=missing)
    with pytest.raises(gw.exceptions.NotFoundException):
        gw.tag_resource(ResourceArn=missing, Tags={"a": "1"})
    _bad_request(
        gw.get_tags, "Invalid resource ARN", ResourceArn="arn:aws:lambda:us-east-1:0:function:f"
    )
    _bad_request(gw.tag_resource, "Invalid tag key", ResourceArn=arn, Tags={"aws:x": "1"})


def test_a_body_of_the_wrong_type_is_a_bad_request(gateway_server: RunningServer) -> None:
    request = signed_request(
        f"{gateway_server.endpoint}/v2/apis",
        method="POST",
        data=b'{"name": 7, "protocolType": "HTTP"}',
        headers={"Content-Type": "application/json"},
        service="apigateway",
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request)
    assert raised.value.code == 400
    assert raised.value.headers["x-amzn-ErrorType"] == "BadRequestException"
    body = json.loads(raised.value.read())
    assert body["message"] == "Invalid request body: Name must be a string"
    request = signed_request(
        f"{gateway_server.endpoint}/v2/apis",
        method="POST",
        data=b"[1, 2]",
        headers={"Content-Type": "application/json"},
        service="apigateway",
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request)
    assert raised.value.code == 400
    assert raised.value.headers["x-amzn-ErrorType"] == "BadRequestException"


def test_lambda_and_the_gateway_share_the_edge(gateway_server: RunningServer, gw: Any) -> None:
    lam = client("lambda", gateway_server.endpoint)
    assert "Functions" in lam.list_functions()
    assert "Items" in gw.get_apis()


def test_a_tags_request_must_be_signed_for_api_gateway(
    gateway_server: RunningServer, api_id: str
) -> None:
    arn = urllib.parse.quote(f"arn:aws:apigateway:us-east-1::/apis/{api_id}", safe="")
    url = f"{gateway_server.endpoint}/v2/tags/{arn}"
    with urllib.request.urlopen(signed_request(url, service="apigateway")) as answer:
        assert json.loads(answer.read()) == {"tags": {}}
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(signed_request(url, service="lambda"))
    assert raised.value.code == 403
    assert "scoped to correct service: 'apigateway'" in raised.value.read().decode()
