"""Token soup and deep nesting through the server: every expression a client sends is
answered with success or DynamoDB's ValidationException, never a server error, and a
refused write changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tables.test_expression_fuzz import NAMES, TOKENS, VALUES

ITEM = {"pk": {"S": "key"}, "n": {"N": "5"}, "l": {"L": [{"S": "x"}]}, "ss": {"SS": ["a"]}}


def attempt(call: Callable[..., Any], **params: Any) -> None:
    try:
        call(**params)
    except ClientError as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400, error.response
        assert error.response["Error"]["Code"] in (
            "ValidationException",
            "ConditionalCheckFailedException",
        ), error.response


@pytest.fixture
def fuzzed(new_table: Callable[..., str], dynamodb: Any) -> str:
    name = new_table()
    dynamodb.put_item(TableName=name, Item=ITEM)
    return name


texts = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join),
    st.integers(min_value=0, max_value=400).map(lambda depth: "(" * depth + "a = :n" + ")" * depth),
    st.integers(min_value=0, max_value=400).map(lambda depth: "SET a = " + "(" * depth + "b"),
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=texts)
def test_expressions_never_fail_the_server(dynamodb: Any, fuzzed: str, text: str) -> None:
    placeholders = {"ExpressionAttributeNames": NAMES, "ExpressionAttributeValues": VALUES}
    attempt(dynamodb.scan, TableName=fuzzed, FilterExpression=text, **placeholders)
    attempt(
        dynamodb.query,
        TableName=fuzzed,
        KeyConditionExpression=text,
        **placeholders,
    )
    attempt(
        dynamodb.update_item,
        TableName=fuzzed,
        Key={"pk": {"S": "other"}},
        UpdateExpression=text,
        ConditionExpression="attribute_exists(pk)",
        **placeholders,
    )
    attempt(
        dynamodb.get_item,
        TableName=fuzzed,
        Key={"pk": {"S": "key"}},
        ProjectionExpression=text,
        ExpressionAttributeNames=NAMES,
    )
    # whatever was attempted, the one item is as it was and no other exists
    assert dynamodb.scan(TableName=fuzzed)["Items"] == [ITEM]
