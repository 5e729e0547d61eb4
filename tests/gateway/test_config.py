"""The HTTP API's configuration rules, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from gureum.errors import BadRequestException
from gureum.gateway import config


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("$default", ("$default", "")),
        ("GET /", ("GET", "/")),
        ("ANY /pets", ("ANY", "/pets")),
        ("POST /pets/{id}/toys", ("POST", "/pets/{id}/toys")),
        ("DELETE /files/{proxy+}", ("DELETE", "/files/{proxy+}")),
        ("OPTIONS /a-b_c.d/~e", ("OPTIONS", "/a-b_c.d/~e")),
    ],
)
def test_route_keys_are_a_method_and_a_path(key: str, parsed: tuple[str, str]) -> None:
    assert config.parse_route_key(key) == parsed


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("GET", "A route key is $default"),
        ("FETCH /pets", "A route key is $default"),
        ("get /pets", "A route key is $default"),
        ("GET pets", "must start with '/'"),
        ("GET /{proxy+}/more", "must be the last segment"),
        ("GET /{id}/{id}", "used twice"),
        ("GET /pets//toys", "Segment '' of the path"),
        ("GET /pe ts", "Segment 'pe ts'"),
        ("GET /{}", "Segment '{}'"),
        ("$connect", "A route key is $default"),
    ],
)
def test_bad_route_keys_say_why(key: str, why: str) -> None:
    with pytest.raises(BadRequestException, match="Invalid route key") as raised:
        config.parse_route_key(key)
    assert why in raised.value.message


def test_integration_uris_name_a_function() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert config.function_arn_of(arn) == arn
    assert config.function_arn_of(arn + ":live") == arn + ":live"
    invoke = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    assert config.function_arn_of(invoke) == arn
    for bad in ("f", "https://example.com", "arn:aws:sqs:us-east-1:123456789012:q", 7):
        with pytest.raises(BadRequestException, match="Invalid integration URI"):
            config.function_arn_of(bad)


def test_integrations_get_their_defaults_and_limits() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    checked = config.check_integration(
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": arn, "PayloadFormatVersion": "1.0"},
        "HTTP",
    )
    assert checked["TimeoutInMillis"] == 30000
    assert checked["IntegrationMethod"] == "POST"
    assert checked["ConnectionType"] == "INTERNET"
    base = {"IntegrationType": "AWS_PROXY", "IntegrationUri": arn, "PayloadFormatVersion": "2.0"}
    without_version = {k: v for k, v in base.items() if k != "PayloadFormatVersion"}
    cases: list[tuple[dict[str, Any], str]] = [
        (without_version, "PayloadFormatVersion is a required parameter"),
        ({**base, "PayloadFormatVersion": "3.0"}, "Invalid PayloadFormatVersion"),
        ({**base, "TimeoutInMillis": 49}, "between 50 ms and 30000 ms"),
        ({**base, "TimeoutInMillis": 30001}, "between 50 ms and 30000 ms"),
        ({**base, "IntegrationType": "HTTP_PROXY"}, "only AWS_PROXY integrations"),
        ({**base, "IntegrationType": "AWS"}, "may only be associated with proxy integrations"),
    ]
    for given, message in cases:
        with pytest.raises(BadRequestException, match=message):
            config.check_integration(given, "HTTP")


def test_targets_stage_names_and_tags() -> None:
    assert config.integration_of_target("integrations/abc123") == "abc123"
    with pytest.raises(BadRequestException, match="integrations/"):
        config.integration_of_target("abc123")
    assert config.check_stage_name("$default") == "$default"
    assert config.check_stage_name("prod_1-a") == "prod_1-a"
    for bad in ("", "a b", "x" * 129, "$prod"):
        with pytest.raises(BadRequestException, match="Invalid stage name"):
            config.check_stage_name(bad)
    with pytest.raises(BadRequestException, match="Invalid tag key"):
        config.check_tags({"aws:reserved": "x"})
    with pytest.raises(BadRequestException, match="at most 50 tags"):
        config.check_tags({f"k{i}": "v" for i in range(51)})
    with pytest.raises(BadRequestException, match="Invalid stage variable name"):
        config.check_stage_variables({"a-b": "v"})
