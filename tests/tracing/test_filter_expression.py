"""X-Ray filter expressions, parsed and evaluated against hand-built traces (no store)."""

from __future__ import annotations

import random

import pytest

from gureum.tracing.filter_expression import (
    AnnotationCondition,
    Compare,
    EdgeView,
    FilterSyntaxError,
    ServiceView,
    TraceView,
    UnsupportedFilter,
)
from gureum.tracing.filter_parser import parse

API = ServiceView(
    name="api.example.com",
    type="AWS::EC2::Instance",
    ok=True,
    responsetime=0.4,
    root=True,
    account_id="123456789012",
)
LAMBDA_SERVICE = ServiceView(name="random-name", type="AWS::Lambda", ok=True, responsetime=1.2)
LAMBDA_FUNCTION = ServiceView(
    name="random-name",
    type="AWS::Lambda::Function",
    ok=False,
    error=True,
    responsetime=1.1,
    names=("random-name-alias",),
)
DYNAMO = ServiceView(
    name="backend.example.com",
    type="AWS::DynamoDB::Table",
    ok=False,
    fault=True,
    responsetime=0.05,
    inferred=True,
)
CALL = EdgeView(
    source="api.example.com",
    target="backend.example.com",
    ok=False,
    fault=True,
    responsetime=0.05,
    source_type="AWS::EC2::Instance",
    target_type="AWS::DynamoDB::Table",
)
INVOKE = EdgeView(
    source="api.example.com",
    target="random-name",
    ok=False,
    error=True,
    responsetime=1.2,
    target_type="AWS::Lambda",
)

TRACE = TraceView(
    id="1-5759e988-bd862e3fe1be46a994272793",
    duration=6.5,
    responsetime=6.0,
    fault=True,
    http_status=502,
    http_url="http://api.example.com/api/v2/game/17",
    http_method="POST",
    http_useragent="curl/8.5.0",
    http_clientip="10.0.0.7",
    users=("alice", "bob"),
    annotations={
        "gameid": ["817DL6VO"],
        "age": [30, "thirty"],
        "retry": [False],
        "cached": [True, False],
        "ratio": [0.25],
    },
    services=(API, LAMBDA_SERVICE, LAMBDA_FUNCTION, DYNAMO),
    edges=(CALL, INVOKE),
    groups=("slow", "arn:aws:xray:us-east-1:123456789012:group/slow/ABC"),
    availability_zones=("us-east-1a",),
    instance_ids=("i-0123456789abcdef0",),
    resource_arns=("arn:aws:lambda:us-east-1:123456789012:function:random-name",),
)
QUIET = TraceView(id="1-5759e988-000000000000000000000001", duration=0.2, responsetime=0.1)


def matches(text: str, trace: TraceView = TRACE) -> bool:
    return parse(text).matches(trace)


# parsing: structure, precedence, case, quoting


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("ok", "ok"),
        ("ok OR error AND fault", "(ok OR (error AND fault))"),
        ("ok AND error OR fault", "((ok AND error) OR fault)"),
        ("(ok OR error) AND fault", "((ok OR error) AND fault)"),
        ("NOT ok AND error", "(!ok AND error)"),
        ("!ok OR !error", "(!ok OR !error)"),
        ("NOT (ok OR error)", "!(ok OR error)"),
        ("!!ok", "!!ok"),
        ("ok OR error OR fault", "(ok OR error OR fault)"),
        ("ok AND error AND fault", "(ok AND error AND fault)"),
        ("ok !partial duration <3", "(ok AND !partial AND duration < 3)"),
        ("((ok))", "ok"),
        ("!http.status = 200", "!http.status = 200"),
        ("http.url AND responseTime > 2", "(http.url AND responsetime > 2)"),
    ],
)
def test_structure_and_precedence(text: str, canonical: str) -> None:
    assert str(parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("OK and Error", "(ok AND error)"),
        ("ok or error", "(ok OR error)"),
        ("not Fault", "!fault"),
        ("ResponseTime >= 5", "responsetime >= 5"),
        ('HTTP.URL contains "/api/"', 'http.url CONTAINS "/api/"'),
        ('http.method BeginsWith "PO"', 'http.method BEGINSWITH "PO"'),
        ('user endswith "ce"', 'user ENDSWITH "ce"'),
        ("ok = TRUE", "ok = true"),
        ("fault != False", "fault != false"),
        ('SERVICE("x") { FAULT }', 'service("x") { fault }'),
        ('Edge("a", "b")', 'edge("a", "b")'),
        ('service(ID(NAME: "x", Type: "T"))', 'service(id(name: "x", type: "T"))'),
        ("Annotation.GameId", "annotation.GameId"),
        ('GROUP.NAME = "g"', 'group.name = "g"'),
    ],
)
def test_keywords_and_operators_are_case_insensitive(text: str, canonical: str) -> None:
    assert str(parse(text)) == canonical


def test_canonical_form_parses_back_to_the_same_tree() -> None:
    text = (
        'ok !partial (duration <3 OR annotation.k != "a\\"b") AND '
        'service(id(name: "s", account.id: "1")) {fault OR responsetime > 0.5} '
        'AND NOT edge("a", id(type: "T")) AND group.arn = "arn:x" AND http.url'
    )
    first = parse(text)
    assert parse(str(first)).root == first.root


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('user = "plain"', "plain"),
        ('user = ""', ""),
        ('user = "say \\"hi\\""', 'say "hi"'),
        ('user = "back\\\\slash"', "back\\slash"),
        ('user = "tab\\there"', "tab\there"),
        ('user = "\\u00e9t\\u00e9"', "été"),
        ('user = "a/b\\/c"', "a/b/c"),
        ('user = "AND OR ( ) { } , : #"', "AND OR ( ) { } , : #"),
        ('user = "한국어"', "한국어"),
    ],
)
def test_strings_take_json_escapes(text: str, value: str) -> None:
    root = parse(text).root
    assert isinstance(root, Compare)
    assert root.value == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("duration = 5", 5),
        ("duration = 0.5", 0.5),
        ("duration = .5", 0.5),
        ("duration > -1", -1),
        ("duration < 1e3", 1000.0),
        ("duration<3", 3),
    ],
)
def test_numbers(text: str, value: float) -> None:
    root = parse(text).root
    assert isinstance(root, Compare)
    assert root.value == value


@pytest.mark.parametrize(
    "keyword",
    ["ok", "error", "throttle", "fault", "partial", "inferred", "first", "last", "remote", "root"],
)
def test_every_boolean_keyword_parses_in_every_form(keyword: str) -> None:
    assert str(parse(keyword)) == keyword
    assert str(parse(f"!{keyword}")) == f"!{keyword}"
    assert str(parse(f"{keyword} = true")) == f"{keyword} = true"
    assert str(parse(f"{keyword} != false")) == f"{keyword} != false"


@pytest.mark.parametrize(
    "keyword", ["responsetime", "duration", "http.status", "index", "coverage"]
)
@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_every_number_keyword_takes_every_number_operator(keyword: str, op: str) -> None:
    assert str(parse(f"{keyword} {op} 1.5")) == f"{keyword} {op} 1.5"


@pytest.mark.parametrize(
    "keyword",
    [
        "http.url",
        "http.method",
        "http.useragent",
        "http.clientip",
        "user",
        "name",
        "type",
        "message",
        "availabilityzone",
        "instance.id",
        "resource.arn",
    ],
)
@pytest.mark.parametrize("op", ["=", "!=", "CONTAINS", "BEGINSWITH", "ENDSWITH"])
def test_every_string_keyword_takes_every_string_operator(keyword: str, op: str) -> None:
    assert str(parse(f'{keyword} {op} "v"')) == f'{keyword} {op} "v"'


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("annotation.gameid", "annotation.gameid"),
        ("!annotation.gameid", "!annotation.gameid"),
        ('annotation.gameid = "817DL6VO"', 'annotation.gameid = "817DL6VO"'),
        ("annotation.age > 29", "annotation.age > 29"),
        ("annotation.age <= 29.5", "annotation.age <= 29.5"),
        ("annotation.retry = false", "annotation.retry = false"),
        ("annotation.retry != TRUE", "annotation.retry != true"),
        ('annotation.k contains "x"', 'annotation.k CONTAINS "x"'),
        ('annotation.k_2 beginswith "x"', 'annotation.k_2 BEGINSWITH "x"'),
        ('annotation.K endswith "x"', 'annotation.K ENDSWITH "x"'),
    ],
)
def test_annotation_forms(text: str, canonical: str) -> None:
    assert str(parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('service("api.example.com")', 'service("api.example.com")'),
        ('service("api.example.com") { fault }', 'service("api.example.com") { fault }'),
        ("service() { fault }", "service() { fault }"),
        ("service()", "service()"),
        (
            'service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }',
            'service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }',
        ),
        (
            'service(id(type: "AWS::Lambda::Function"))',
            'service(id(type: "AWS::Lambda::Function"))',
        ),
        ('service(id(account.id: "1", name: "n"))', 'service(id(name: "n", account.id: "1"))'),
        (
            'service("data-plane") {root = true and fault = true}',
            'service("data-plane") { (root = true AND fault = true) }',
        ),
        ('edge("a", "b") { error }', 'edge("a", "b") { error }'),
        ('edge("a","b")', 'edge("a", "b")'),
        (
            'edge(id(name: "a", type: "T"), id(name: "b", type: "U")) { responsetime > 1 }',
            'edge(id(name: "a", type: "T"), id(name: "b", type: "U")) { responsetime > 1 }',
        ),
        ('!service("api.example.com")', '!service("api.example.com")'),
        ('group.name = "high_response_time"', 'group.name = "high_response_time"'),
        ('group.arn != "arn:aws:xray:g"', 'group.arn != "arn:aws:xray:g"'),
    ],
)
def test_service_edge_and_group_forms(text: str, canonical: str) -> None:
    assert str(parse(text)) == canonical


# errors, each with its position


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "unexpected end of expression"),
        ("   ", 3, "unexpected end of expression"),
        ("ok AND", 6, "unexpected end of expression"),
        ("AND ok", 0, "unexpected token 'AND'"),
        ("ok AND OR error", 7, "unexpected token 'OR'"),
        ("ok OR", 5, "unexpected end of expression"),
        ("(ok", 0, "unclosed '('"),
        ("((ok) AND error", 0, "unclosed '('"),
        ("ok)", 2, "unexpected token ')'"),
        ("(ok))", 4, "unexpected token ')'"),
        ("()", 1, "unexpected token ')'"),
        ("ok error )", 9, "unexpected token ')'"),
        ("foo", 0, "unknown keyword 'foo'"),
        ("ok AND http.path = 1", 7, "unknown keyword 'http.path'"),
        ("http.url > 3", 9, "operator '>' is not valid for string keyword 'http.url'"),
        (
            'responsetime CONTAINS "x"',
            13,
            "operator 'CONTAINS' is not valid for number keyword 'responsetime'",
        ),
        ("ok > true", 3, "operator '>' is not valid for boolean keyword 'ok'"),
        ("responsetime", 12, "expected an operator after 'responsetime'"),
        ("responsetime >", 14, "expected a number"),
        ('responsetime > "5"', 15, "expected a number"),
        ("http.url =", 10, "expected a quoted string"),
        ("http.method = GET", 14, "expected a quoted string"),
        ("http.status = 200 300", 18, "unexpected token '300'"),
        ("ok = 1", 5, "expected true or false"),
        ('ok = "true"', 5, "expected true or false"),
        ('user = "abc', 7, "unterminated string"),
        ('user = "abc\\"', 7, "unterminated string"),
        ('user = "a\\qb"', 9, "invalid escape in string"),
        ("duration = 5 'x'", 13, 'unexpected character "\'"'),
        ("duration = 5 & ok", 13, "unexpected character '&'"),
        ("annotation.", 11, "missing annotation key after 'annotation.'"),
        ("ok AND annotation. = 1", 18, "missing annotation key"),
        ("annotation.a.b", 11, "invalid annotation key 'a.b'"),
        ('annotation.k > "a"', 13, "operator '>' is not valid for a string value"),
        ("annotation.k CONTAINS 3", 13, "operator 'CONTAINS' is not valid for a number value"),
        ("annotation.k < true", 13, "operator '<' is not valid for a boolean value"),
        ("annotation.k =", 14, "expected a string, number, true or false"),
        ("annotation.k = ok", 15, "expected a string, number, true or false"),
        ("service", 7, "expected '(' after 'service'"),
        ("service(", 8, "expected a quoted service name or id(...)"),
        ('service("a"', 11, "expected ')'"),
        ('service("a" "b")', 12, "expected ')'"),
        ("service(a)", 8, "expected a quoted service name or id(...)"),
        ("service(5) { fault }", 8, "expected a quoted service name or id(...)"),
        ('service("a") {', 14, "unexpected end of expression"),
        ('service("a") { fault', 13, "unclosed '{'"),
        ('service("a") { }', 15, "unexpected token '}'"),
        ('service("a") { fault )', 21, "expected '}'"),
        ("service(id())", 11, "expected name, type or account.id"),
        ('service(id(name "x"))', 16, "expected ':' after 'name'"),
        ('service(id(colour: "x"))', 11, "expected name, type or account.id"),
        ('service(id(name: "x", name: "y"))', 22, "'name' given twice in id()"),
        ("service(id(name: 5))", 17, "expected a quoted string"),
        ('service(id(name: "x")', 21, "expected ')'"),
        ('edge("a")', 8, "expected ',' between the edge's two services"),
        ('edge("a", )', 10, "expected a quoted service name or id(...)"),
        ("edge()", 5, "expected a quoted service name or id(...)"),
        ('edge("a", "b", "c")', 13, "expected ')'"),
        ('service("a") { annotation.x }', 15, "'annotation.x' cannot be used inside a service"),
        ('service("a") { service("b") }', 15, "'service' cannot be used inside a service"),
        ('edge("a", "b") { edge("a", "b") }', 17, "'edge' cannot be used inside a edge"),
        ('service() { group.name = "g" }', 12, "'group.name' cannot be used inside"),
        ("group.name", 10, "expected '=' or '!=' after 'group.name'"),
        ('group.name CONTAINS "x"', 11, "operator 'CONTAINS' is not valid for 'group.name'"),
        ("group.arn = 5", 12, "expected a quoted string"),
        ("rootcause.fault.service {", 25, "unexpected end of expression"),
        ("rootcause.fault.service { bogus }", 26, "unknown keyword 'bogus'"),
        ("rootcause.fault.nothing", 0, "unknown keyword 'rootcause.fault.nothing'"),
        ("rootcause.json = #[1, ", 22, "invalid JSON after '#'"),
        ("rootcause.json = [1]", 17, "unexpected character '['"),
        ("rootcause.json #[1]", 15, "expected '=' after 'rootcause.json'"),
        ("true", 0, "unexpected token 'true'"),
        ("= 5", 0, "unexpected token '='"),
        ("NOT", 3, "unexpected end of expression"),
        ("!", 1, "unexpected end of expression"),
        ("duration < 3 CONTAINS", 13, "unexpected token 'CONTAINS'"),
    ],
)
def test_every_malformed_input_raises_with_its_position(
    text: str, position: int, message: str
) -> None:
    with pytest.raises(FilterSyntaxError) as raised:
        parse(text)
    error = raised.value
    assert not isinstance(error, UnsupportedFilter)
    assert isinstance(error, ValueError)
    assert message in error.message
    assert error.position == position
    assert str(error) == f"Invalid filter expression: {error.message} at position {position}"


def test_error_reads_like_x_ray() -> None:
    with pytest.raises(FilterSyntaxError) as raised:
        parse("responsetime > 5 AND AND ok")
    assert str(raised.value) == ("Invalid filter expression: unexpected token 'AND' at position 21")


@pytest.mark.parametrize(
    ("text", "position", "what"),
    [
        ('rootcause.fault.service { name = "Auth" }', 0, "rootcause.fault.service"),
        ("ok AND rootcause.responsetime.entity { last and coverage > 0.8 }", 7, "responsetime"),
        ("rootcause.error.exception", 0, "rootcause.error.exception"),
        ('RootCause.Fault.Exception { last and message = "x" }', 0, "rootcause.fault.exception"),
        ('rootcause.json = #[{ "Services": [ { "Name": "GetWeatherData" } ] }]', 0, "json"),
        ("json = #{}", 0, "rootcause.json"),
    ],
)
def test_rootcause_is_parsed_then_refused(text: str, position: int, what: str) -> None:
    with pytest.raises(UnsupportedFilter) as raised:
        parse(text)
    error = raised.value
    assert isinstance(error, FilterSyntaxError)
    assert error.position == position
    assert what in error.message
    assert "gureum does not support" in error.message
    assert str(error).startswith("Unsupported filter expression: gureum does not support")


def test_syntax_errors_win_over_unsupported_parts() -> None:
    with pytest.raises(FilterSyntaxError) as raised:
        parse("rootcause.fault.service { fault } AND )")
    assert not isinstance(raised.value, UnsupportedFilter)
    assert raised.value.position == 38


# evaluation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fault", True),
        ("ok", False),
        ("!ok", True),
        ("ok = false", True),
        ("ok != true", True),
        ("error", False),
        ("throttle", False),
        ("partial", False),
        ("inferred", True),  # DYNAMO is an inferred node
        ("fault = true AND error = false", True),
        ("responsetime > 5", True),
        ("responsetime > 6", False),
        ("responsetime >= 6", True),
        ("duration >= 5 AND duration <= 8", True),
        ("duration < 6.5", False),
        ("http.status = 502", True),
        ("http.status != 200", True),
        ("http.status >= 500 AND http.status < 600", True),
        ('http.url CONTAINS "/api/v2/"', True),
        ('http.url BEGINSWITH "http://api.example.com/"', True),
        ('http.url ENDSWITH "/17"', True),
        ('http.url = "http://api.example.com/api/v2/game/17"', True),
        ('http.url = "HTTP://API.EXAMPLE.COM/api/v2/game/17"', False),  # values: case matters
        ('http.method = "POST"', True),
        ('http.method != "POST"', False),
        ('http.useragent BEGINSWITH "curl/"', True),
        ('http.clientip = "10.0.0.7"', True),
        ('user = "bob"', True),  # any segment's user
        ('user != "alice"', True),  # bob is not alice
        ('user = "carol"', False),
        ('user CONTAINS ""', True),  # X-Ray's idiom for "the field is set"
        ("http.url", True),
        ("user", True),
        ('availabilityzone = "us-east-1a"', True),
        ('instance.id BEGINSWITH "i-"', True),
        ('resource.arn ENDSWITH ":function:random-name"', True),
        ('name = "api.example.com"', False),  # no trace-level name
        ("first", False),
        ("!first", True),
        ("index > 0", False),
        ("index != 0", False),
        ("ok !partial duration < 3", False),
        ("fault !partial duration < 7", True),
        ("ok OR fault", True),
        ("NOT (ok OR fault)", False),
        ("ok AND fault OR throttle", False),
        ("ok AND (fault OR throttle)", False),
        ("fault OR ok AND error", True),  # AND first: fault OR (ok AND error)
    ],
)
def test_trace_level_keywords(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ok", True),
        ("!fault", True),
        ("responsetime < 1", True),
        ("http.status = 200", False),  # missing
        ("http.status != 200", False),  # missing: != is false too
        ("!(http.status = 200)", True),
        ("http.url", False),
        ("!http.url", True),
        ('http.url CONTAINS ""', False),
        ('user != "alice"', False),
        ("user", False),
        ("inferred", False),
        ("annotation.gameid", False),
        ("!annotation.gameid", True),
        ('annotation.gameid != "x"', False),
        ("service()", False),
        ("!service()", True),
        ('edge("a", "b")', False),
        ('group.name = "slow"', False),
        ('group.name != "slow"', True),
    ],
)
def test_a_trace_without_those_fields(text: str, expected: bool) -> None:
    assert matches(text, QUIET) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("annotation.gameid", True),
        ("annotation.missing", False),
        ("!annotation.missing", True),
        ("!annotation.gameid", False),
        ("annotation.retry", False),  # a boolean annotation evaluates to its value
        ("!annotation.retry", True),
        ("annotation.cached", True),  # one of its values is true
        ('annotation.gameid = "817DL6VO"', True),
        ('annotation.gameid = "817dl6vo"', False),
        ('annotation.gameid != "817DL6VO"', False),
        ('annotation.gameid != "other"', True),
        ('annotation.gameid BEGINSWITH "817"', True),
        ('annotation.gameid ENDSWITH "VO"', True),
        ('annotation.gameid CONTAINS "DL6"', True),
        ("annotation.age > 29", True),  # 30, among [30, "thirty"]
        ("annotation.age = 30", True),
        ("annotation.age = 30.0", True),
        ("annotation.age < 30", False),
        ('annotation.age = "thirty"', True),  # any value matches
        ('annotation.age = "30"', False),  # a number never equals a string
        ('annotation.age CONTAINS "thir"', True),
        ("annotation.age != 30", False),  # no number other than 30
        ('annotation.age != "thirty"', False),  # no string other than "thirty"
        ("annotation.gameid = 5", False),
        ("annotation.gameid != 5", False),  # kinds differ: no comparison
        ("annotation.retry = false", True),
        ("annotation.retry = true", False),
        ("annotation.retry != true", True),
        ("annotation.cached = true AND annotation.cached = false", True),
        ("annotation.ratio >= 0.25", True),
        ("annotation.ratio = 1", False),
        ("annotation.missing = 1", False),
        ("annotation.missing != 1", False),
        ("annotation.retry = 0", False),  # false is not the number 0
        ("annotation.age = true", False),  # nor is 30 true
    ],
)
def test_annotations(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_annotation_keys_are_case_sensitive() -> None:
    assert matches("annotation.gameid")
    assert not matches("annotation.GameId")
    assert matches("ANNOTATION.gameid")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('service("api.example.com")', True),
        ('service("API.example.com")', False),
        ('service("nowhere")', False),
        ('!service("nowhere")', True),
        ('service("api.example.com") { fault }', False),
        ('service("backend.example.com") { fault }', True),
        ("service() { fault }", True),
        ("service() { throttle }", False),
        ("service()", True),
        ('service("api.example.com") { ok }', True),
        ('service("api.example.com") { root }', True),
        ('service("backend.example.com") { root = true }', False),
        ('service("backend.example.com") { inferred }', True),
        ('service("random-name") { error }', True),  # either node of that name
        ('service("random-name") { responsetime > 1.15 }', True),  # the AWS::Lambda node
        ('service("random-name") { responsetime > 1.15 AND error }', False),  # not one node
        (
            'service("random-name") { responsetime > 1.15 } AND service("random-name") { error }',
            True,
        ),
        ('service("random-name-alias") { error }', True),  # by alias
        ('service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }', True),
        ('service(id(name: "random-name", type: "AWS::Lambda")) { error }', False),
        ('service(id(type: "AWS::Lambda::Function")) { error }', True),
        ('service(id(type: "AWS::SQS::Queue"))', False),
        ('service(id(account.id: "123456789012"))', True),
        ('service(id(name: "random-name", account.id: "123456789012"))', False),
        ('service() { name = "random-name-alias" }', True),
        ('service() { type BEGINSWITH "AWS::DynamoDB" }', True),
        ('service() { name = "backend.example.com" AND fault }', True),
        ("service() { http.url }", False),  # a node has no http.url: missing
        ("service() { duration > 0 }", False),
        (
            'http.url BEGINSWITH "http://api.example.com/" AND http.url CONTAINS "/v2/" '
            'AND !service("api.example.com")',
            False,
        ),
        ('service("api.example.com") AND NOT service("random-name") { fault }', True),
        ('service("api.example.com") {fault} OR service("backend.example.com") {fault}', True),
    ],
)
def test_services(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('edge("api.example.com", "backend.example.com")', True),
        ('edge("backend.example.com", "api.example.com")', False),  # direction matters
        ('edge("api.example.com", "backend.example.com") { fault }', True),
        ('edge("api.example.com", "backend.example.com") { error }', False),
        ('edge("api.example.com", "random-name") { error }', True),
        ('edge("api.example.com", "random-name") { responsetime >= 1.2 }', True),
        ('edge("api.example.com", "random-name") { responsetime > 1.2 }', False),
        ('edge("api.example.com", "random-name") { ok }', False),
        ('!edge("api.example.com", "random-name") { ok }', True),
        ('edge(id(name: "api.example.com"), id(type: "AWS::DynamoDB::Table")) { fault }', True),
        ('edge(id(type: "AWS::EC2::Instance"), id(type: "AWS::Lambda"))', False),  # no type
        ('edge("api.example.com", id(name: "random-name", type: "AWS::Lambda"))', True),
        ('edge(id(account.id: "123456789012"), "random-name")', False),  # edges: no account
        ('edge("api.example.com", "random-name") { name = "random-name" }', False),
    ],
)
def test_edges(text: str, expected: bool) -> None:
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('group.name = "slow"', True),
        ('group.name = "fast"', False),
        ('group.name != "fast"', True),
        ('group.name != "slow"', False),
        ('group.arn = "arn:aws:xray:us-east-1:123456789012:group/slow/ABC"', True),
        ('group.name = "slow" AND user = "alice"', True),
    ],
)
def test_groups_read_from_the_trace(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_groups_resolved_at_parse_time_are_inlined() -> None:
    groups = {
        ("name", "slow"): "responsetime > 3",
        ("arn", "arn:g/errors"): "error OR fault",
        ("name", "everything"): "",
        ("name", "nested"): 'group.name = "slow" AND annotation.gameid',
        ("name", "broken"): "responsetime >",
        ("name", "loop"): 'group.name = "loop"',
        ("name", "rooty"): "rootcause.fault.service { fault }",
    }

    def resolve(attribute: str, value: str) -> str | None:
        return groups.get((attribute, value))

    def check(text: str) -> bool:
        return parse(text, resolve_group=resolve).matches(TRACE)

    assert check('group.name = "slow" AND user = "alice"')
    assert not parse('group.name = "slow"', resolve_group=resolve).matches(QUIET)
    assert not check('group.name != "slow"')
    assert check('group.arn = "arn:g/errors"')
    assert check('group.name = "everything"')
    assert parse('group.name = "everything"', resolve_group=resolve).matches(QUIET)
    assert check('group.name = "nested"')
    expression = parse('group.name = "nested" AND user = "bob"', resolve_group=resolve)
    assert str(expression) == '((responsetime > 3 AND annotation.gameid) AND user = "bob")'
    assert expression.required_annotations() == [AnnotationCondition("gameid", "exists", None)]
    with pytest.raises(FilterSyntaxError) as raised:
        parse('ok AND group.name = "nope"', resolve_group=resolve)
    assert raised.value.position == 7
    assert "group name 'nope' not found" in raised.value.message
    with pytest.raises(FilterSyntaxError) as raised:
        parse('ok AND group.name = "broken"', resolve_group=resolve)
    assert raised.value.position == 7
    assert "group 'broken' has an invalid filter expression" in raised.value.message
    assert "expected a number" in raised.value.message
    with pytest.raises(FilterSyntaxError) as raised:
        parse('group.name = "loop"', resolve_group=resolve)
    assert "too deeply" in raised.value.message
    with pytest.raises(UnsupportedFilter) as unsupported:
        parse('ok OR group.name = "rooty"', resolve_group=resolve)
    assert unsupported.value.position == 6


def test_nested_service_figures_do_not_leak_to_the_trace() -> None:
    # The trace did not answer ok, but one of its nodes did.
    assert not matches("ok")
    assert matches("service() { ok }")


def test_empty_trace_views_have_defaults() -> None:
    trace = TraceView(id="1-00000000-000000000000000000000000")
    assert trace.ok and not trace.inferred
    assert not matches('service() OR edge("a", "b") OR annotation.x OR http.url', trace)
    assert matches("ok AND !partial", trace)


def test_trace_ok_is_derived_from_its_flags() -> None:
    assert TraceView(id="t").ok
    assert not TraceView(id="t", error=True).ok
    assert not TraceView(id="t", throttle=True).ok
    assert not TraceView(id="t", fault=True).ok
    assert parse("throttle AND !ok").matches(TraceView(id="t", error=True, throttle=True))


# pushdown


def test_required_annotations_come_from_top_level_conjuncts() -> None:
    expression = parse(
        'annotation.gameid = "817DL6VO" AND annotation.age > 29 AND fault '
        "AND (annotation.ratio <= 0.5 AND annotation.flag) AND annotation.retry = false "
        'AND annotation.k CONTAINS "x" AND annotation.k BEGINSWITH "a" '
        'AND annotation.k ENDSWITH "z" AND annotation.k != "q" AND annotation.n >= 1 '
        "AND annotation.n < 9 AND annotation.n = 3"
    )
    assert expression.required_annotations() == [
        AnnotationCondition("gameid", "=", "817DL6VO"),
        AnnotationCondition("age", ">", 29),
        AnnotationCondition("ratio", "<=", 0.5),
        AnnotationCondition("flag", "exists", None),
        AnnotationCondition("retry", "=", False),
        AnnotationCondition("k", "contains", "x"),
        AnnotationCondition("k", "beginswith", "a"),
        AnnotationCondition("k", "endswith", "z"),
        AnnotationCondition("k", "!=", "q"),
        AnnotationCondition("n", ">=", 1),
        AnnotationCondition("n", "<", 9),
        AnnotationCondition("n", "=", 3),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "annotation.a OR annotation.b",
        "annotation.a OR ok",
        "!annotation.a",
        "NOT annotation.a = 1",
        "NOT (annotation.a AND annotation.b)",
        "(annotation.a OR ok) AND fault",
        "ok OR (annotation.a AND annotation.b)",
        "fault",
    ],
)
def test_nothing_is_pushed_down_from_under_or_or_not(text: str) -> None:
    assert parse(text).required_annotations() == []


def test_partial_pushdown_next_to_an_or() -> None:
    expression = parse("annotation.a = 1 AND (annotation.b = 2 OR annotation.c = 3)")
    assert expression.required_annotations() == [AnnotationCondition("a", "=", 1)]
    juxtaposed = parse("annotation.a annotation.b = true")
    assert juxtaposed.required_annotations() == [
        AnnotationCondition("a", "exists", None),
        AnnotationCondition("b", "=", True),
    ]


def test_required_annotations_are_deduplicated() -> None:
    expression = parse("annotation.a AND annotation.a AND annotation.a = 1")
    assert expression.required_annotations() == [
        AnnotationCondition("a", "exists", None),
        AnnotationCondition("a", "=", 1),
    ]


def test_required_services() -> None:
    expression = parse(
        'service("api.example.com") { fault } AND service(id(name: "random-name", '
        'type: "AWS::Lambda")) AND service(id(type: "AWS::SQS::Queue")) AND service() '
        'AND edge("x", "y") AND service("api.example.com")'
    )
    assert expression.required_services() == ["api.example.com", "random-name"]


@pytest.mark.parametrize(
    "text",
    [
        'service("a") OR service("b")',
        '!service("a")',
        'NOT service("a") { fault }',
        '(service("a") OR ok) AND fault',
        "service() { fault }",
        'edge("a", "b")',
        'group.name = "a"',
    ],
)
def test_no_required_services_from_under_or_or_not(text: str) -> None:
    assert parse(text).required_services() == []


def test_pushdown_is_a_necessary_condition_on_matching_traces() -> None:
    texts = [
        'annotation.gameid = "817DL6VO" AND service("api.example.com") { ok }',
        'annotation.age > 29 AND annotation.age = "thirty" AND fault',
        'annotation.cached AND service("random-name")',
    ]
    for text in texts:
        expression = parse(text)
        assert expression.matches(TRACE)
        for condition in expression.required_annotations():
            values = TRACE.annotations[condition.key]
            assert values
        names = {name for s in TRACE.services for name in (s.name, *s.names)}
        assert set(expression.required_services()) <= names


def test_many_evaluations_are_fast() -> None:
    expression = parse(
        'service("random-name") { error } AND annotation.age > 29 AND '
        '(http.url CONTAINS "/v2/" OR user = "carol") AND !partial'
    )
    assert all(expression.matches(TRACE) for _ in range(5000))


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("(" * 101 + "ok" + ")" * 101, 100, "expression nests too deeply"),
        ("!" * 101 + "ok", 100, "expression nests too deeply"),
        ("NOT " * 101 + "ok", 400, "expression nests too deeply"),
        ("rootcause.json = #" + "[" * 100_000, 18, "JSON after '#' nests too deeply"),
        ("duration = " + "9" * 5000, 11, "number too long"),
    ],
)
def test_pathological_inputs_are_syntax_errors(text: str, position: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as raised:
        parse(text)
    assert raised.value.position == position
    assert message in raised.value.message


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse("(" * 100 + "ok" + ")" * 100).matches(QUIET)
    assert parse("!" * 100 + "ok").matches(QUIET)


FUZZ_PIECES = [
    "ok", "fault", "responsetime", "http.url", "annotation.k", "annotation.", "service",
    "edge", "id", "name", "type", "account.id", "group.name", "rootcause.fault.service",
    "rootcause.json", "AND", "OR", "NOT", "!", "(", ")", "{", "}", ",", ":", "=", "!=",
    "<", ">=", "CONTAINS", "true", "false", "5", "-1.5", '"s"', '"unterminated', "#[1]",
    "#", "'", "&", "\\", "\"\\q\"", "",
]  # fmt: skip


def test_random_token_soup_only_ever_raises_filter_syntax_errors() -> None:
    rng = random.Random(20240601)
    for _ in range(3000):
        text = " ".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(1, 12)))
        try:
            expression = parse(text)
        except FilterSyntaxError as error:
            assert 0 <= error.position <= len(text)
            continue
        expression.matches(TRACE)
        expression.matches(QUIET)
        expression.required_annotations()
        expression.required_services()
        assert parse(str(expression)).root == expression.root
