"""Bad requests to the item operations: each answers DynamoDB's error type and words, and
nothing is written. Requests boto3 would refuse itself go out unchecked
(``parameter_validation=False``), as another SDK's might."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import RunningServer, client, signed_request

S = {"S": "a"}


@pytest.fixture
def raw(tables_server: RunningServer) -> Any:
    return client("dynamodb", tables_server.endpoint, parameter_validation=False)


@pytest.fixture
def table(new_table: Callable[..., str], dynamodb: Any) -> str:
    name = new_table(
        sort="S",
        definitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    dynamodb.put_item(TableName=name, Item={"pk": S, "sk": S, "g": S})
    return name


QUERY = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": S}}

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "query",
        {},
        "ValidationException",
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the "
        "request.",
    ),
    (
        "query",
        {**QUERY, "FilterExpression": "sk = :p"},
        "ValidationException",
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk",
    ),
    (
        "query",
        {**QUERY, "Select": "ALL_PROJECTED_ATTRIBUTES"},
        "ValidationException",
        "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES can only "
        "be used when querying an index",
    ),
    (
        "query",
        {
            "KeyConditionExpression": "g = :p",
            "ExpressionAttributeValues": {":p": S},
            "IndexName": "by-g",
            "ConsistentRead": True,
        },
        "ValidationException",
        "Consistent reads are not supported on global secondary indexes",
    ),
    (
        "query",
        {
            "KeyConditionExpression": "g = :p",
            "ExpressionAttributeValues": {":p": S},
            "IndexName": "by-g",
            "Select": "ALL_ATTRIBUTES",
        },
        "ValidationException",
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported "
        "for global secondary index by-g because its projection type is not ALL",
    ),
    (
        "query",
        {**QUERY, "IndexName": "nope"},
        "ValidationException",
        "The table does not have the specified index: nope",
    ),
    (
        "query",
        {**QUERY, "ExclusiveStartKey": {"pk": {"S": "b"}, "sk": S}},
        "ValidationException",
        "The provided starting key is outside query range.",
    ),
    (
        "query",
        {**QUERY, "ExclusiveStartKey": {"pk": S}},
        "ValidationException",
        "The provided starting key is invalid: The provided key element does not match the schema",
    ),
    (
        "query",
        {**QUERY, "Limit": 0},
        "ValidationException",
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member "
        "must have value greater than or equal to 1",
    ),
    (
        "query",
        {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": S, ":unused": S}},
        "ValidationException",
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
    ),
    (
        "query",
        {"KeyConditionExpression": "sk = :p", "ExpressionAttributeValues": {":p": S}},
        "ValidationException",
        "Query condition missed key schema element: pk",
    ),
    (
        "query",
        {**QUERY, "KeyConditions": {}},
        "ValidationException",
        "gureum does not support the legacy parameter KeyConditions; use KeyConditionExpression",
    ),
    (
        "scan",
        {"Segment": 1},
        "ValidationException",
        "The TotalSegments parameter is required but was not present in the request when Segment "
        "parameter is present",
    ),
    (
        "scan",
        {"Segment": 2, "TotalSegments": 2},
        "ValidationException",
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 2 is not less than TotalSegments: 2",
    ),
    (
        "scan",
        {"ExpressionAttributeNames": {"#a": "a"}},
        "ValidationException",
        "ExpressionAttributeNames can only be specified when using expressions",
    ),
    (
        "scan",
        {"Select": "SPECIFIC_ATTRIBUTES"},
        "ValidationException",
        "One or more parameter values were invalid: Select type SPECIFIC_ATTRIBUTES requires "
        "ProjectionExpression or AttributesToGet",
    ),
    (
        "scan",
        {"Select": "NOPE"},
        "ValidationException",
        "1 validation error detected: Value 'NOPE' at 'select' failed to satisfy constraint: "
        "Member must satisfy enum value set: [ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES, "
        "SPECIFIC_ATTRIBUTES, COUNT]",
    ),
    (
        "put_item",
        {"Item": {"pk": S, "sk": S}, "ReturnValues": "ALL_NEW"},
        "ValidationException",
        "ReturnValues can only be ALL_OLD or NONE",
    ),
    (
        "put_item",
        {"Item": {"pk": S, "sk": S, "g": {"N": "1"}}},
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S "
        "Actual: N IndexName: by-g",
    ),
    (
        "put_item",
        {"Item": {"pk": {"S": ""}, "sk": S}},
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: pk",
    ),
    (
        "put_item",
        {"Item": {"pk": S, "sk": S, "n": {"N": "1e200"}}},
        "ValidationException",
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    ),
    (
        "put_item",
        {"Item": {"pk": S, "sk": S}, "Expected": {}},
        "ValidationException",
        "gureum does not support the legacy parameter Expected; use ConditionExpression",
    ),
    (
        "get_item",
        {"Key": {"pk": S}},
        "ValidationException",
        "The provided key element does not match the schema",
    ),
    (
        "update_item",
        {"Key": {"pk": S, "sk": S}, "UpdateExpression": "SET a = :v"},
        "ValidationException",
        "Invalid UpdateExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :v",
    ),
    (
        "update_item",
        {"Key": {"pk": S, "sk": S}, "ReturnValues": "EVERYTHING"},
        "ValidationException",
        "1 validation error detected: Value 'EVERYTHING' at 'returnValues' failed to satisfy "
        "constraint: Member must satisfy enum value set: [NONE, ALL_OLD, UPDATED_OLD, ALL_NEW, "
        "UPDATED_NEW]",
    ),
    (
        "delete_item",
        {"Key": {"pk": S, "sk": S}, "ConditionExpression": "a ="},
        "ValidationException",
        "",
    ),
]


@pytest.mark.parametrize(("operation", "params", "code", "message"), CASES)
def test_refused_with_dynamodbs_error(
    raw: Any,
    dynamodb: Any,
    table: str,
    operation: str,
    params: dict[str, Any],
    code: str,
    message: str,
) -> None:
    with pytest.raises(ClientError) as caught:
        getattr(raw, operation)(TableName=table, **params)
    details = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert details["Code"] == code
    if message:
        assert details["Message"] == message
    else:
        assert details["Message"].startswith("Invalid ConditionExpression: Syntax error")
    # nothing written: the table holds its one item, unchanged
    assert dynamodb.scan(TableName=table)["Items"] == [{"pk": S, "sk": S, "g": S}]


def test_batches_and_transactions_refused(raw: Any, dynamodb: Any, table: str) -> None:
    key = {"pk": S, "sk": S}
    cases: list[tuple[Callable[..., Any], dict[str, Any], str]] = [
        (
            raw.batch_get_item,
            {
                "RequestItems": {
                    table: {"Keys": [{"pk": S, "sk": {"S": str(n)}} for n in range(101)]}
                }
            },
            "Too many items requested for the BatchGetItem call",
        ),
        (
            raw.batch_write_item,
            {
                "RequestItems": {
                    table: [{"PutRequest": {"Item": key}, "DeleteRequest": {"Key": key}}]
                }
            },
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes",
        ),
        (
            raw.transact_write_items,
            {
                "TransactItems": [
                    {"Put": {"TableName": table, "Item": {**key, "x": S}}},
                    {"Delete": {"TableName": table, "Key": key}},
                ]
            },
            "Transaction request cannot include multiple operations on one item",
        ),
        (
            raw.transact_write_items,
            {
                "TransactItems": [{"Delete": {"TableName": table, "Key": key}}],
                "ClientRequestToken": "x" * 37,
            },
            "1 validation error detected: Value '" + "x" * 37 + "' at 'clientRequestToken' "
            "failed to satisfy constraint: Member must have length less than or equal to 36",
        ),
        (
            raw.transact_write_items,
            {"TransactItems": [{"ConditionCheck": {"TableName": table, "Key": key}}]},
            "1 validation error detected: Value 'null' at "
            "'transactItems.member.conditionCheck.conditionExpression' failed to satisfy "
            "constraint: Member must not be null",
        ),
        (
            raw.transact_get_items,
            {"TransactItems": [{"Get": {"TableName": table, "Key": key}}] * 2},
            "Transaction request cannot include multiple operations on one item",
        ),
    ]
    for call, params, message in cases:
        with pytest.raises(ClientError) as caught:
            call(**params)
        assert caught.value.response["Error"] == {"Code": "ValidationException", "Message": message}
    assert dynamodb.scan(TableName=table)["Items"] == [{"pk": S, "sk": S, "g": S}]


@pytest.mark.parametrize(
    ("item", "code", "message"),
    [
        (
            {"pk": "not-a-value", "sk": S},
            "SerializationException",
            "Start of structure or map found where not expected",
        ),
        (
            None,
            "ValidationException",
            "1 validation error detected: Value 'null' at 'item' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            {"pk": S, "sk": S, "x": {"S": "a", "N": "1"}},
            "ValidationException",
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
            "the supported datatypes",
        ),
    ],
)
def test_shapes_no_sdk_would_send(
    tables_server: RunningServer, dynamodb: Any, table: str, item: Any, code: str, message: str
) -> None:
    body = json.dumps({"TableName": table, "Item": item}).encode()
    request = signed_request(
        tables_server.endpoint + "/",
        method="POST",
        data=body,
        headers={
            "X-Amz-Target": "DynamoDB_20120810.PutItem",
            "Content-Type": "application/x-amz-json-1.0",
        },
        service="dynamodb",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    answer = json.loads(caught.value.read())
    assert answer == {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
    assert dynamodb.scan(TableName=table)["Items"] == [{"pk": S, "sk": S, "g": S}]
