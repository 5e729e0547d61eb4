"""A node keeps the schemas it checks requests against for a moment
(``Tables.schema``); its own table changes must show at once all the same."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import unique_name


def _create(dynamodb: Any, name: str, kind: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": kind}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_deleted_and_recreated_table_shows_at_once(dynamodb: Any) -> None:
    name = unique_name("cached")
    _create(dynamodb, name, "S")
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}})
    assert dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]
    dynamodb.delete_table(TableName=name)
    with pytest.raises(ClientError) as caught:
        dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        dynamodb.query(
            TableName=name,
            KeyConditionExpression="pk = :a",
            ExpressionAttributeValues={":a": {"S": "a"}},
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"

    _create(dynamodb, name, "N")  # the same name, another key type
    dynamodb.put_item(TableName=name, Item={"pk": {"N": "1"}})
    assert dynamodb.get_item(TableName=name, Key={"pk": {"N": "1"}})["Item"] == {"pk": {"N": "1"}}
    with pytest.raises(ClientError) as caught:
        dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_an_added_index_is_queried_at_once(dynamodb: Any) -> None:
    name = unique_name("cached")
    _create(dynamodb, name, "S")
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}, "color": {"S": "red"}})
    dynamodb.query(  # the schema without the index is now kept
        TableName=name,
        KeyConditionExpression="pk = :a",
        ExpressionAttributeValues={":a": {"S": "a"}},
    )
    dynamodb.update_table(
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
    )
    found = dynamodb.query(
        TableName=name,
        IndexName="by-color",
        KeyConditionExpression="color = :red",
        ExpressionAttributeValues={":red": {"S": "red"}},
    )
    assert [item["pk"] for item in found["Items"]] == [{"S": "a"}]
