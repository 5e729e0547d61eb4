"""``gureum apis list|routes|url|create`` against a real server, and a request through
the URL the CLI prints."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from gureum.cli import apis
from tests.cli.conftest import run
from tests.conftest import RunningServer, client, unique_name

HI = """
def handler(event, context):
    return {"statusCode": 200, "body": "hi"}
"""


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_create_list_routes_url_and_a_request(
    gureum_server: RunningServer,
    deploy: Callable[..., str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    function = deploy(HI)
    name = unique_name("cliapi")

    code, out, err = run(capsys, "apis", "create", name, "--function", function, *endpoint)
    assert code == 0, err
    url = out.strip()
    assert out == url + "\n" and url.startswith(f"{gureum_server.endpoint}/_aws/execute-api/")
    api_id = url.rsplit("/", 1)[-1]
    assert _get(f"{url}/anything/at/all") == (200, b"hi")

    code, out, _ = run(capsys, "apis", "list", *endpoint)
    assert code == 0 and out.splitlines()[0].split() == ["ID", "NAME", "PROTOCOL", "ENDPOINT"]
    assert [api_id, name, "HTTP", url] in [line.split() for line in out.splitlines()]
    code, out, _ = run(capsys, "apis", "list", "--json", *endpoint)
    listed = {api["ApiId"]: api for api in json.loads(out)}
    assert code == 0 and listed[api_id]["Name"] == name

    for api in (name, api_id):
        code, out, _ = run(capsys, "apis", "routes", api, *endpoint)
        header, *lines = out.splitlines()
        assert code == 0 and header.split() == ["ROUTE", "KEY", "TARGET", "FUNCTION"]
        assert len(lines) == 1 and lines[0].split()[0] == "$default"
        assert lines[0].split()[1].startswith("integrations/")
        assert lines[0].split()[2] == function
        code, out, _ = run(capsys, "apis", "url", api, *endpoint)
        assert (code, out) == (0, url + "\n")
    code, out, _ = run(capsys, "apis", "routes", name, "--json", *endpoint)
    answer = json.loads(out)
    assert code == 0 and answer["Routes"][0]["RouteKey"] == "$default"
    assert answer["Integrations"][0]["IntegrationUri"].endswith(f":function:{function}")
    code, out, _ = run(capsys, "apis", "url", name, "--stage", "$default", "--json", *endpoint)
    assert code == 0 and json.loads(out) == {"ApiId": api_id, "Stage": "$default", "Url": url}


def test_create_with_a_route_key_and_a_named_stage(
    gureum_server: RunningServer,
    deploy: Callable[..., str],
    lambda_client: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    function = deploy(HI)
    arn = lambda_client.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    name = unique_name("cliroute")
    code, out, err = run(
        capsys, "apis", "create", name, "--function", arn, "--route-key", "GET /items", *endpoint
    )
    assert code == 0, err
    url = out.strip()
    assert _get(f"{url}/items") == (200, b"hi")
    assert _get(f"{url}/other")[0] == 404

    code, out, _ = run(capsys, "apis", "routes", name, *endpoint)
    assert code == 0 and out.splitlines()[1].split()[:2] == ["GET", "/items"]
    assert out.splitlines()[1].split()[3] == function

    gateway = client("apigatewayv2", gureum_server.endpoint)
    gateway.create_stage(ApiId=url.rsplit("/", 1)[-1], StageName="prod")
    code, out, _ = run(capsys, "apis", "url", name, "--stage", "prod", *endpoint)
    assert (code, out) == (0, f"{url}/prod\n")
    assert _get(f"{out.strip()}/items") == (200, b"hi")


def test_list_and_routes_read_every_page(
    gureum_server: RunningServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages of two: the commands follow NextToken to the end."""
    monkeypatch.setattr(apis, "PAGE_SIZE", 2)
    gateway = client("apigatewayv2", gureum_server.endpoint)
    target = "arn:aws:lambda:us-east-1:000000000000:function:paged"
    prefix = unique_name("clipage")
    ids = [
        gateway.create_api(Name=f"{prefix}-{n}", ProtocolType="HTTP", Target=target)["ApiId"]
        for n in range(5)
    ]
    integration = gateway.get_integrations(ApiId=ids[0])["Items"][0]["IntegrationId"]
    keys = [f"GET /r{n}" for n in range(4)]
    for key in keys:
        gateway.create_route(ApiId=ids[0], RouteKey=key, Target=f"integrations/{integration}")

    code, out, _ = run(capsys, "apis", "list", "--endpoint", gureum_server.endpoint)
    assert code == 0
    assert set(ids) <= {line.split()[0] for line in out.splitlines()[1:]}
    code, out, _ = run(capsys, "apis", "routes", ids[0], "--endpoint", gureum_server.endpoint)
    assert code == 0
    routes = [" ".join(line.split()[:-2]) for line in out.splitlines()[1:]]
    assert sorted(routes) == sorted(["$default", *keys])
    assert {line.split()[-1] for line in out.splitlines()[1:]} == {"paged"}


def test_apis_errors_are_one_line(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = client("apigatewayv2", gureum_server.endpoint)
    twice = unique_name("clitwice")
    ids = [gateway.create_api(Name=twice, ProtocolType="HTTP")["ApiId"] for _ in range(2)]
    lonely = gateway.create_api(Name=unique_name("clinostage"), ProtocolType="HTTP")["ApiId"]
    cases = [
        (["apis", "routes", "no-such-api"], "gureum: no API has the id or name 'no-such-api'"),
        (["apis", "url", "no-such-api"], "gureum: no API has the id or name 'no-such-api'"),
        (["apis", "routes", twice], f"gureum: 2 APIs are named {twice!r} ("),
        (
            ["apis", "url", lonely],
            f"gureum: API {lonely} has no stage '$default' (its stages: none)",
        ),
        (
            ["apis", "create", "x", "--function", "no-such-function"],
            "gureum: ResourceNotFoundException: ",
        ),
        (
            [
                "apis",
                "create",
                "x",
                "--function",
                "arn:aws:lambda:us-east-1:000000000000:function:f",
                "--route-key",
                "FETCH /x",
            ],
            "gureum: BadRequestException: ",
        ),
    ]
    for argv, message in cases:
        code, out, err = run(capsys, *argv, "--endpoint", gureum_server.endpoint)
        assert code == 1 and out == "", (argv, out)
        assert err.startswith(message) and err.count("\n") == 1, (argv, err)
    assert all(
        api_id in run(capsys, "apis", "routes", twice, "--endpoint", gureum_server.endpoint)[2]
        for api_id in ids
    )


def test_apis_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["apis", "list"],
        ["apis", "url", "demo"],
        ["apis", "create", "d", "--function", "f"],
    ):
        code, _, err = run(capsys, *argv, "--endpoint", "http://127.0.0.1:9")
        assert code == 1 and "cannot reach gureum at http://127.0.0.1:9" in err, err


@pytest.mark.parametrize(
    ("uri", "function"),
    [
        ("arn:aws:lambda:us-east-1:000000000000:function:pets", "pets"),
        ("arn:aws:lambda:us-east-1:000000000000:function:pets:live", "pets:live"),
        (
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            "arn:aws:lambda:us-east-1:000000000000:function:pets/invocations",
            "pets",
        ),
        ("https://example.com/", "https://example.com/"),
        ("", "-"),
    ],
)
def test_the_function_an_integration_reaches(uri: str, function: str) -> None:
    assert apis._function_of(uri) == function
