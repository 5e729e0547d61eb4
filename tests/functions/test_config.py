"""Function configuration rules, without a server."""

from __future__ import annotations

import re

import pytest

from gureum.errors import (
    InvalidParameterValueException,
    ResourceNotFoundException,
    ValidationException,
)
from gureum.functions.config import last_modified, parse_function_ref, validate_environment


@pytest.mark.parametrize(
    ("value", "qualifier", "name", "expected_qualifier"),
    [
        ("my-fn", None, "my-fn", None),
        ("my-fn:$LATEST", None, "my-fn", "$LATEST"),
        ("my-fn", "prod", "my-fn", "prod"),
        ("000000000000:function:my-fn", None, "my-fn", None),
        ("arn:aws:lambda:us-east-1:000000000000:function:my-fn", None, "my-fn", None),
        ("arn:aws:lambda:us-east-1:000000000000:function:my-fn:7", "7", "my-fn", "7"),
    ],
)
def test_function_refs(
    value: str, qualifier: str | None, name: str, expected_qualifier: str | None
) -> None:
    ref = parse_function_ref(value, qualifier, "us-east-1", "000000000000")
    assert (ref.name, ref.qualifier) == (name, expected_qualifier)


def test_function_ref_errors() -> None:
    with pytest.raises(ValidationException):
        parse_function_ref("bad name", None, "us-east-1", "000000000000")
    with pytest.raises(ResourceNotFoundException):
        parse_function_ref("111111111111:function:f", None, "us-east-1", "000000000000")
    with pytest.raises(InvalidParameterValueException):
        parse_function_ref("f:1", "2", "us-east-1", "000000000000")
    with pytest.raises(ValidationException, match="'qualifier'"):
        parse_function_ref("f", "no such!", "us-east-1", "000000000000")


def test_environment_rules() -> None:
    assert validate_environment({"Variables": {"A_1": "x"}}) == {"A_1": "x"}
    assert validate_environment({}) == {}
    with pytest.raises(InvalidParameterValueException, match="LAMBDA_TASK_ROOT"):
        validate_environment({"Variables": {"LAMBDA_TASK_ROOT": "/x"}})
    with pytest.raises(InvalidParameterValueException):
        validate_environment({"Variables": {"AA": 1}})


def test_last_modified_format() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", last_modified())


def test_one_letter_variable_names_are_refused_as_on_lambda() -> None:
    with pytest.raises(ValidationException):
        validate_environment({"Variables": {"A": "x"}})
