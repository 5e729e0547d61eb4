"""The tables' control plane through boto3, on both engines: CreateTable's checks in
DynamoDB's words, UpdateTable (indexes added and removed, streams, billing), TTL
settings, tags, and the statuses DynamoDB reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import unique_name

KEY = [{"AttributeName": "pk", "KeyType": "HASH"}]
DEFINED = [{"AttributeName": "pk", "AttributeType": "S"}]
ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/"


def refused(call: Callable[..., Any], **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    details = caught.value.response["Error"]
    return details["Code"], details["Message"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"TableName": "ab"},
            "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy "
            "constraint: Member must have length greater than or equal to 3",
        ),
        (
            {"TableName": "bad name!"},
            "1 validation error detected: Value 'bad name!' at 'tableName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ),
        (
            {"KeySchema": [{"AttributeName": "pk", "KeyType": "RANGE"}]},
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
        (
            {"AttributeDefinitions": [{"AttributeName": "other", "AttributeType": "S"}]},
            "One or more parameter values were invalid: Some index key attributes are not "
            "defined in AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]",
        ),
        (
            {"AttributeDefinitions": [*DEFINED, {"AttributeName": "x", "AttributeType": "N"}]},
            "One or more parameter values were invalid: Number of attributes in KeySchema does "
            "not exactly match number of attributes defined in AttributeDefinitions",
        ),
        (
            {"BillingMode": "PROVISIONED"},
            "No provisioned throughput specified for the table",
        ),
        (
            {"ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}},
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
            "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        ),
        (
            {
                "LocalSecondaryIndexes": [
                    {
                        "IndexName": "local",
                        "KeySchema": [
                            {"AttributeName": "pk", "KeyType": "HASH"},
                            {"AttributeName": "pk2", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                "AttributeDefinitions": [*DEFINED, {"AttributeName": "pk2", "AttributeType": "S"}],
            },
            "One or more parameter values were invalid: Table KeySchema does not have a range "
            "key, which is required when specifying a LocalSecondaryIndex",
        ),
        (
            {
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "global",
                        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "INCLUDE"},
                    }
                ],
                "AttributeDefinitions": [*DEFINED, {"AttributeName": "g", "AttributeType": "S"}],
            },
            "One or more parameter values were invalid: ProjectionType is INCLUDE, but "
            "NonKeyAttributes is not specified",
        ),
        (
            {"StreamSpecification": {"StreamEnabled": True}},
            "One or more parameter values were invalid: You must specify a StreamViewType when "
            "enabling a stream",
        ),
    ],
)
def test_create_table_refuses_as_dynamodb_does(
    dynamodb: Any, params: dict[str, Any], message: str
) -> None:
    request = {
        "TableName": unique_name("table"),
        "KeySchema": KEY,
        "AttributeDefinitions": DEFINED,
        "BillingMode": "PAY_PER_REQUEST",
        **params,
    }
    if "ProvisionedThroughput" not in params and params.get("BillingMode") == "PROVISIONED":
        request.pop("ProvisionedThroughput", None)
    assert refused(dynamodb.create_table, **request) == ("ValidationException", message)


def test_create_table_answers_creating_then_active(dynamodb: Any) -> None:
    name = unique_name("table")
    created = dynamodb.create_table(
        TableName=name,
        KeySchema=KEY,
        AttributeDefinitions=DEFINED,
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 2},
        Tags=[{"Key": "team", "Value": "cloud"}],
    )["TableDescription"]
    assert created["TableStatus"] == "CREATING"
    assert created["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert "BillingModeSummary" not in created  # PROVISIONED is the default
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    assert dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"
    tags = dynamodb.list_tags_of_resource(ResourceArn=ARN + name)["Tags"]
    assert tags == [{"Key": "team", "Value": "cloud"}]


def test_update_table_adds_and_removes_a_global_index(
    dynamodb: Any, new_table: Callable[..., str]
) -> None:
    name = new_table()
    for number in range(5):
        item = {"pk": {"S": f"k{number}"}, "color": {"S": "red" if number % 2 else "blue"}}
        dynamodb.put_item(TableName=name, Item=item)
    updated = dynamodb.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "color", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-color",
                    "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            }
        ],
    )["TableDescription"]
    assert updated["TableStatus"] == "UPDATING"
    assert updated["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"
    red = dynamodb.query(
        TableName=name,
        IndexName="by-color",
        KeyConditionExpression="color = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
    )
    assert sorted(item["pk"]["S"] for item in red["Items"]) == ["k1", "k3"]  # filled in
    assert refused(
        dynamodb.update_table,
        TableName=name,
        GlobalSecondaryIndexUpdates=[
            {"Delete": {"IndexName": "by-color"}},
            {
                "Create": {
                    "IndexName": "other",
                    "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            },
        ],
    ) == (
        "LimitExceededException",
        "Subscriber limit exceeded: Only 1 online index can be created or deleted "
        "simultaneously per table",
    )
    dynamodb.update_table(
        TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-color"}}]
    )
    description = dynamodb.describe_table(TableName=name)["Table"]
    assert "GlobalSecondaryIndexes" not in description
    assert description["AttributeDefinitions"] == DEFINED
    assert refused(
        dynamodb.query,
        TableName=name,
        IndexName="by-color",
        KeyConditionExpression="color = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
    ) == ("ValidationException", "The table does not have the specified index: by-color")


def test_update_table_streams_and_billing(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    assert refused(dynamodb.update_table, TableName=name) == (
        "ValidationException",
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
        "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
    )
    on = dynamodb.update_table(
        TableName=name,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    assert on["LatestStreamArn"] == f"{ARN}{name}/stream/{on['LatestStreamLabel']}"
    assert refused(
        dynamodb.update_table,
        TableName=name,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    ) == ("ValidationException", f"Table already has an enabled stream: TableName: {name}")
    off = dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    assert "StreamSpecification" not in off["TableDescription"]
    provisioned = dynamodb.update_table(
        TableName=name,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4},
    )["TableDescription"]
    assert provisioned["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
    assert "BillingModeSummary" not in provisioned


def test_time_to_live_settings(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    assert dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"
    }
    spec = {"Enabled": True, "AttributeName": "expires"}
    assert (
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=spec)[
            "TimeToLiveSpecification"
        ]
        == spec
    )
    assert dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }
    assert refused(dynamodb.update_time_to_live, TableName=name, TimeToLiveSpecification=spec) == (
        "ValidationException",
        "TimeToLive is already enabled",
    )


def test_tags(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    arn = ARN + name
    dynamodb.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]
    )
    dynamodb.untag_resource(ResourceArn=arn, TagKeys=["b"])
    assert dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "1"}]
    missing = ARN + "no-such-table"
    assert refused(dynamodb.list_tags_of_resource, ResourceArn=missing) == (
        "ResourceNotFoundException",
        f"Requested resource not found: ResourcArn: {missing} not found",
    )
    assert refused(
        dynamodb.tag_resource, ResourceArn="not-an-arn", Tags=[{"Key": "a", "Value": "1"}]
    )[0] == ("ValidationException")


def test_a_table_named_by_its_arn(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    dynamodb.put_item(TableName=ARN + name, Item={"pk": {"S": "a"}})
    assert dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}}


def test_deletion_protection(dynamodb: Any) -> None:
    name = unique_name("table")
    dynamodb.create_table(
        TableName=name,
        KeySchema=KEY,
        AttributeDefinitions=DEFINED,
        BillingMode="PAY_PER_REQUEST",
        DeletionProtectionEnabled=True,
    )
    code, _ = refused(dynamodb.delete_table, TableName=name)
    assert code == "ValidationException"
    dynamodb.update_table(TableName=name, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=name)
