"""Operations of the served services that gureum lacks: 501 NotImplementedException,
naming the operation, through the client a user would call them with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gureum.frontend.operations import rest_operation
from tests.conftest import RunningServer, client
from tests.frontend.conftest import InProcessEdge


def test_rest_operations_are_matched_by_method_path_and_query() -> None:
    layer = rest_operation("POST", "/2018-10-31/layers/my-layer/versions", "")
    assert layer is not None and (layer.service, layer.name) == ("Lambda", "PublishLayerVersion")
    by_arn = rest_operation("GET", "/2018-10-31/layers", "find=LayerVersion&Arn=x")
    assert by_arn is not None and by_arn.name == "GetLayerVersionByArn"
    listing = rest_operation("GET", "/2018-10-31/layers", "")
    assert listing is not None and listing.name == "ListLayers"
    group = rest_operation("POST", "/CreateGroup", "")
    assert group is not None and (group.service, group.name) == ("X-Ray", "CreateGroup")
    cors = rest_operation("DELETE", "/v2/apis/abc/cors", "")
    assert cors is not None and (cors.service, cors.name) == (
        "API Gateway",
        "DeleteCorsConfiguration",
    )
    assert rest_operation("POST", "/2018-10-31/nothing", "") is None
    assert rest_operation("PATCH", "/2018-10-31/layers/x/versions", "") is None


def _not_implemented(call: Callable[..., Any], operation: str, **params: Any) -> None:
    with pytest.raises(ClientError) as raised:
        call(**params)
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["Error"]["Code"] == "NotImplementedException"
    assert f"'s {operation} operation yet" in response["Error"]["Message"]


def test_one_unimplemented_operation_per_service(gureum_server: RunningServer) -> None:
    endpoint = gureum_server.endpoint
    lam = client("lambda", endpoint)
    _not_implemented(lam.get_policy, "GetPolicy", FunctionName="f")
    _not_implemented(lam.list_code_signing_configs, "ListCodeSigningConfigs")
    _not_implemented(
        lam.get_function_code_signing_config, "GetFunctionCodeSigningConfig", FunctionName="f"
    )
    sqs = client("sqs", endpoint)
    url = sqs.create_queue(QueueName="not-implemented")["QueueUrl"]
    _not_implemented(sqs.remove_permission, "RemovePermission", QueueUrl=url, Label="l")
    logs = client("logs", endpoint)
    _not_implemented(logs.create_log_group, "CreateLogGroup", logGroupName="/g")
    xray = client("xray", endpoint)
    _not_implemented(xray.create_group, "CreateGroup", GroupName="g")
    dynamodb = client("dynamodb", endpoint)
    _not_implemented(dynamodb.create_backup, "CreateBackup", TableName="tbl", BackupName="bkp")
    gateway = client("apigatewayv2", endpoint)
    api_id = gateway.create_api(Name="not-implemented", ProtocolType="HTTP")["ApiId"]
    _not_implemented(gateway.delete_cors_configuration, "DeleteCorsConfiguration", ApiId=api_id)
    _not_implemented(gateway.get_authorizers, "GetAuthorizers", ApiId=api_id)


def test_what_no_service_has_stays_unknown(edge: InProcessEdge) -> None:
    unknown = edge.request("POST", "/2018-10-31/nothing")
    assert unknown.status_code == 404
    assert unknown.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    logs = edge.target("Logs_20140328.NoSuchThing", b"{}", "logs")
    assert logs.status_code == 400
    assert logs.json()["__type"] == "UnknownOperationException"
