"""Items through boto3's ``dynamodb`` client and ``Table`` resource, on both engines:
writes with conditions and ReturnValues, reads, Query and Scan with their pages."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    details = caught.value.response["Error"]
    return details["Code"], details["Message"]


def test_put_get_delete_with_the_resource(
    dynamodb_resource: Any, new_table: Callable[..., str]
) -> None:
    table = dynamodb_resource.Table(new_table())
    table.put_item(
        Item={"pk": "a", "n": Decimal("1.50"), "tags": {"x", "y"}, "m": {"l": [1, None]}}
    )
    item = table.get_item(Key={"pk": "a"})["Item"]
    assert item == {"pk": "a", "n": Decimal("1.5"), "tags": {"x", "y"}, "m": {"l": [1, None]}}
    old = table.delete_item(Key={"pk": "a"}, ReturnValues="ALL_OLD")["Attributes"]
    assert old["pk"] == "a"
    assert "Item" not in table.get_item(Key={"pk": "a"})


def test_conditions_decide_inside_the_write(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    with pytest.raises(ClientError) as caught:
        dynamodb.put_item(
            TableName=name,
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert error(caught) == ("ConditionalCheckFailedException", "The conditional request failed")
    response: dict[str, Any] = dict(caught.value.response)
    assert response["Item"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    dynamodb.delete_item(
        TableName=name,
        Key={"pk": {"S": "a"}},
        ConditionExpression="v = :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert "Item" not in dynamodb.get_item(TableName=name, Key={"pk": {"S": "a"}})


def test_update_item_return_values(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    key = {"pk": {"S": "c"}}
    created = dynamodb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET visits = if_not_exists(visits, :zero) + :one ADD tags :t",
        ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}, ":t": {"SS": ["a"]}},
        ReturnValues="ALL_NEW",
    )
    assert created["Attributes"] == {**key, "visits": {"N": "1"}, "tags": {"SS": ["a"]}}
    updated = dynamodb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET visits = visits + :one REMOVE tags",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_OLD",
    )
    assert updated["Attributes"] == {"visits": {"N": "1"}, "tags": {"SS": ["a"]}}
    with pytest.raises(ClientError) as caught:
        dynamodb.update_item(
            TableName=name,
            Key=key,
            UpdateExpression="SET pk = :x",
            ExpressionAttributeValues={":x": {"S": "x"}},
        )
    assert error(caught) == (
        "ValidationException",
        "One or more parameter values were invalid: Cannot update attribute pk. "
        "This attribute is part of the key",
    )


def test_query_in_sort_key_order_with_pages(
    dynamodb_resource: Any, new_table: Callable[..., str]
) -> None:
    table = dynamodb_resource.Table(new_table(sort="N"))
    with table.batch_writer() as batch:
        for number in (10, -2, 3, 100, 0.5, 7):
            batch.put_item(Item={"pk": "p", "sk": Decimal(str(number)), "odd": number % 2 == 1})
        batch.put_item(Item={"pk": "other", "sk": 1})
    found = table.query(KeyConditionExpression=Key("pk").eq("p"))["Items"]
    assert [item["sk"] for item in found] == [-2, Decimal("0.5"), 3, 7, 10, 100]
    backwards = table.query(
        KeyConditionExpression=Key("pk").eq("p") & Key("sk").between(0, 10),
        ScanIndexForward=False,
    )["Items"]
    assert [item["sk"] for item in backwards] == [10, 7, 3, Decimal("0.5")]
    seen: list[Any] = []
    start, pages = None, 0
    while True:
        extra: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
        page = table.query(KeyConditionExpression=Key("pk").eq("p"), Limit=4, **extra)
        seen += [item["sk"] for item in page["Items"]]
        pages += 1
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    assert seen == [-2, Decimal("0.5"), 3, 7, 10, 100] and pages == 2
    odd = table.query(
        KeyConditionExpression=Key("pk").eq("p"), FilterExpression=Attr("odd").eq(True)
    )
    assert (odd["Count"], odd["ScannedCount"]) == (2, 6)  # 3 and 7
    counted = table.query(KeyConditionExpression=Key("pk").eq("p"), Select="COUNT")
    assert counted["Count"] == 6 and "Items" not in counted


def test_scan_segments_cover_the_table_once(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    for number in range(60):
        dynamodb.put_item(TableName=name, Item={"pk": {"S": f"k{number}"}})
    seen: list[str] = []
    for segment in range(4):
        start = None
        while True:
            extra: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = dynamodb.scan(TableName=name, Segment=segment, TotalSegments=4, Limit=7, **extra)
            seen += [item["pk"]["S"] for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if start is None:
                break
    assert sorted(seen) == sorted(f"k{number}" for number in range(60))


def test_global_and_local_indexes(
    dynamodb_resource: Any, dynamodb: Any, new_table: Callable[..., str]
) -> None:
    name = new_table(
        sort="S",
        definitions=[
            {"AttributeName": "email", "AttributeType": "S"},
            {"AttributeName": "score", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-email",
                "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-score",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "score", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]},
            }
        ],
    )
    table = dynamodb_resource.Table(name)
    table.put_item(Item={"pk": "u", "sk": "1", "email": "a@x", "score": 5, "note": "n", "big": "b"})
    table.put_item(Item={"pk": "u", "sk": "2", "score": 1, "big": "b"})  # not in by-email
    by_email = table.query(IndexName="by-email", KeyConditionExpression=Key("email").eq("a@x"))
    assert by_email["Items"] == [{"pk": "u", "sk": "1", "email": "a@x"}]
    by_score = table.query(IndexName="by-score", KeyConditionExpression=Key("pk").eq("u"))
    assert [item["sk"] for item in by_score["Items"]] == ["2", "1"]
    assert "big" not in by_score["Items"][1] and by_score["Items"][1]["note"] == "n"
    everything = table.query(
        IndexName="by-score", KeyConditionExpression=Key("pk").eq("u"), Select="ALL_ATTRIBUTES"
    )
    assert everything["Items"][1]["big"] == "b"
    table.update_item(Key={"pk": "u", "sk": "1"}, UpdateExpression="REMOVE email")
    assert (
        table.query(IndexName="by-email", KeyConditionExpression=Key("email").eq("a@x"))["Items"]
        == []
    )
    description = dynamodb.describe_table(TableName=name)["Table"]
    assert description["ItemCount"] == 2
    assert description["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    assert description["LocalSecondaryIndexes"][0]["ItemCount"] == 2


def test_errors_in_dynamodbs_words(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    with pytest.raises(ClientError) as caught:
        dynamodb.get_item(TableName="no-such-table", Key={"pk": {"S": "a"}})
    assert error(caught) == ("ResourceNotFoundException", "Requested resource not found")
    with pytest.raises(ClientError) as caught:
        dynamodb.put_item(TableName=name, Item={"other": {"S": "a"}})
    assert error(caught) == (
        "ValidationException",
        "One or more parameter values were invalid: Missing the key pk in the item",
    )
    with pytest.raises(ClientError) as caught:
        dynamodb.get_item(TableName=name, Key={"pk": {"N": "1"}})
    assert error(caught) == (
        "ValidationException",
        "The provided key element does not match the schema",
    )
    with pytest.raises(ClientError) as caught:
        dynamodb.put_item(TableName=name, Item={"pk": {"S": "a"}, "big": {"S": "x" * 410_000}})
    assert error(caught) == (
        "ValidationException",
        "Item size has exceeded the maximum allowed size",
    )
    with pytest.raises(ClientError) as caught:
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error(caught) == ("ResourceInUseException", f"Table already exists: {name}")
    with pytest.raises(ClientError) as caught:
        dynamodb.scan(TableName=name, FilterExpression="a = = b")
    assert error(caught)[0] == "ValidationException"


def test_tables_listed_described_and_deleted(dynamodb: Any, new_table: Callable[..., str]) -> None:
    names = sorted(new_table() for _ in range(3))
    listed: list[str] = []
    start = None
    while True:
        extra: dict[str, Any] = {"ExclusiveStartTableName": start} if start else {}
        page = dynamodb.list_tables(Limit=2, **extra)
        listed += page["TableNames"]
        start = page.get("LastEvaluatedTableName")
        if start is None:
            break
    assert set(names) <= set(listed) and listed == sorted(listed)
    description = dynamodb.describe_table(TableName=names[0])["Table"]
    assert description["TableStatus"] == "ACTIVE"
    assert description["TableArn"].endswith(f":table/{names[0]}")
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert (
        dynamodb.delete_table(TableName=names[0])["TableDescription"]["TableStatus"] == "DELETING"
    )
    with pytest.raises(ClientError) as caught:
        dynamodb.describe_table(TableName=names[0])
    assert error(caught) == (
        "ResourceNotFoundException",
        f"Requested resource not found: Table: {names[0]} not found",
    )


def test_transactions_all_or_nothing(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "taken"}})
    with pytest.raises(ClientError) as caught:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"pk": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": name,
                        "Item": {"pk": {"S": "taken"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert error(caught)[0] == "TransactionCanceledException"
    reasons = caught.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in dynamodb.get_item(TableName=name, Key={"pk": {"S": "new"}})
    request = [
        {
            "Update": {
                "TableName": name,
                "Key": {"pk": {"S": "n"}},
                "UpdateExpression": "ADD c :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }
    ]
    for _ in range(2):  # the same token: done once
        dynamodb.transact_write_items(TransactItems=request, ClientRequestToken="token-1")
    got = dynamodb.transact_get_items(
        TransactItems=[{"Get": {"TableName": name, "Key": {"pk": {"S": "n"}}}}]
    )
    assert got["Responses"] == [{"Item": {"pk": {"S": "n"}, "c": {"N": "1"}}}]
    with pytest.raises(ClientError) as caught:
        dynamodb.transact_write_items(
            TransactItems=[{"Delete": {"TableName": name, "Key": {"pk": {"S": "n"}}}}],
            ClientRequestToken="token-1",
        )
    assert error(caught)[0] == "IdempotentParameterMismatchException"


def test_batches(dynamodb: Any, new_table: Callable[..., str]) -> None:
    name = new_table()
    puts = [{"PutRequest": {"Item": {"pk": {"S": f"b{n}"}}}} for n in range(25)]
    assert dynamodb.batch_write_item(RequestItems={name: puts})["UnprocessedItems"] == {}
    keys = [{"pk": {"S": f"b{n}"}} for n in range(30)]
    found = dynamodb.batch_get_item(RequestItems={name: {"Keys": keys}})
    assert len(found["Responses"][name]) == 25 and found["UnprocessedKeys"] == {}
    with pytest.raises(ClientError) as caught:
        dynamodb.batch_write_item(RequestItems={name: puts + puts[:1]})
    assert error(caught)[0] == "ValidationException"
    with pytest.raises(ClientError) as caught:
        dynamodb.batch_get_item(RequestItems={name: {"Keys": keys[:2] + keys[:1]}})
    assert error(caught) == (
        "ValidationException",
        "Provided list of item keys contains duplicates",
    )
