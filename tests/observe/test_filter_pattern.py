"""CloudWatch filter patterns, parsed and matched without a server."""

from __future__ import annotations

import json

import pytest

from gureum.observe.filter_pattern import FilterPatternError, parse

APACHE = '127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326'


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ("   ", "anything", True),
        ("ERROR", "[ERROR] disk full", True),
        ("ERROR", "[error] disk full", False),  # case-sensitive, as CloudWatch is
        ("ERROR disk", "[ERROR] disk full", True),
        ("ERROR memory", "[ERROR] disk full", False),
        ('"disk full"', "[ERROR] disk full", True),
        ('"full disk"', "[ERROR] disk full", False),
        ("ERROR -Exiting", "ERROR retrying", True),
        ("ERROR -Exiting", "ERROR Exiting now", False),
        ('-"exit code"', "exit code 1", False),
        ("?ERROR ?WARN", "WARN low memory", True),
        ("?ERROR ?WARN", "INFO all good", False),
        ("%AUTHORI[ZS]ED%", "[SUCCESS 200] AUTHORIZED REQUEST", True),
        ("%^\\[ERROR%", "[ERROR] x", True),
        ("%^\\[ERROR%", "x [ERROR]", False),
        ('"say \\"hi\\""', 'they say "hi"', True),
    ],
)
def test_terms(pattern: str, message: str, expected: bool) -> None:
    assert parse(pattern).matches(message) is expected


def test_plain_terms_can_be_pushed_down() -> None:
    simple = parse('ERROR "disk full"')
    assert simple.terms_only and simple.required_terms == ("ERROR", "disk full")
    mixed = parse("ERROR -retry %x+%")
    assert not mixed.terms_only and mixed.required_terms == ("ERROR",)
    assert not parse("{ $.a = 1 }").terms_only


EVENT = json.dumps(
    {
        "level": "ERROR",
        "latency": 250,
        "user": {"id": "u-17", "admin": False, "team": None},
        "items": [{"sku": "a1", "qty": 2}, {"sku": "b7", "qty": 5}],
        "code": "404",
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.level = "ERROR" }', True),
        ("{ $.level = ERROR }", True),
        ('{ $.level = "ERR*" }', True),
        ('{ $.level = "WARN" }', False),
        ('{ $.level != "WARN" }', True),
        ("{ $.latency > 100 }", True),
        ("{ $.latency >= 250 }", True),
        ("{ $.latency < 250 }", False),
        ("{ $.latency = 250 }", True),
        ("{ $.code = 404 }", True),
        ('{ $.user.id = "u-*" }', True),
        ("{ $.user.admin IS FALSE }", True),
        ("{ $.user.admin IS TRUE }", False),
        ("{ $.user.team IS NULL }", True),
        ("{ $.user.missing IS NULL }", False),
        ("{ $.user.missing NOT EXISTS }", True),
        ("{ $.user.id NOT EXISTS }", False),
        ('{ $.items[1].sku = "b7" }', True),
        ('{ $.items[5].sku = "b7" }', False),
        ("{ $.items[*].qty > 4 }", True),
        ('{ $.level = "ERROR" && $.latency > 1000 }', False),
        ('{ $.level = "ERROR" && ($.latency > 1000 || $.user.admin IS FALSE) }', True),
        ('{ $.level = "INFO" || $.latency > 1000 || $.code = "4*" }', True),
        ("{ $.level = %^ERR% }", True),
        ("{ $.missing != 1 }", False),
        ("{ $.user = 1 }", False),
    ],
)
def test_json(pattern: str, expected: bool) -> None:
    assert parse(pattern).matches(EVENT) is expected


def test_json_patterns_skip_messages_that_are_not_json() -> None:
    pattern = parse('{ $.level = "ERROR" }')
    assert not pattern.matches("ERROR level")
    assert not pattern.matches('"a JSON string"')


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("[ip, user, timestamp, request, status, size]", APACHE, True),
        ("[ip, user, timestamp, request, status = 404, size]", APACHE, True),
        ("[ip, user, timestamp, request, status = 4*, size > 2000]", APACHE, True),
        ("[ip, user, timestamp, request, status != 404, size]", APACHE, False),
        ('[ip, user, timestamp, request = "GET *", ...]', APACHE, True),
        ("[ip, user = frank, ...]", APACHE, True),
        ("[..., status = 404, size]", APACHE, True),
        ("[..., size < 100]", APACHE, False),
        ("[ip, user]", APACHE, False),  # six fields, two names, no ellipsis
        ("[w1 = ERROR || w1 = WARN, ...]", "WARN disk 91%", True),
        ("[w1 = ERROR || w1 = WARN, ...]", "INFO disk 11%", False),
        ("[level, ..., pct = %^9[0-9]%]", "WARN disk 91%", True),
    ],
)
def test_space_delimited(pattern: str, message: str, expected: bool) -> None:
    assert parse(pattern).matches(message) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        '"unterminated',
        'ERR"OR',
        "-",
        "ERROR ?",
        "%unclosed",
        "%(%",
        "{ $.a = 1",
        "{ $.a 1 }",
        "{ $.a > abc }",
        "{ $.a IS MAYBE }",
        "{ $.a NOT THERE }",
        "{ a = 1 }",
        "{ $.a = 1 } trailing",
        "[a, b",
        "[a = ]",
        "[a, , b]",
        "[a < x]",
    ],
)
def test_invalid_patterns(pattern: str) -> None:
    with pytest.raises(FilterPatternError):
        parse(pattern)
