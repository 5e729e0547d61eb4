"""The console's endpoints in process (Starlette's test client): sign-in, sessions, CSRF,
and what each JSON endpoint answers. The browser tests drive the same pages."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gureum.frontend.app import create_app
from tests.conftest import make_settings

BASE = "http://127.0.0.1:9070"
HELLO = "def lambda_handler(event, context):\n    print('console says', event)\n    return 7\n"


def signed_in(client: TestClient) -> str:
    """Sign ``client`` in; the page's CSRF token."""
    answer = client.post(
        "/_console/signin",
        data={"access_key_id": "test", "secret_access_key": "test"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = client.get("/_console/functions")
    match = re.search(r'name="csrf" content="([^"]+)"', page.text)
    assert match
    return match.group(1)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    settings = make_settings(Path(tmp_path_factory.mktemp("console")))
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client, signed_in(client)


def post(client: TestClient, csrf: str, path: str, body: Any) -> Any:
    return client.post(f"/_console/api{path}", json=body, headers={"X-Gureum-Csrf": csrf})


def test_nothing_but_sign_in_is_reached_without_a_session(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path)), base_url=BASE) as client:
        page = client.get("/_console/traces?filter=x", follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == "/_console/signin?next=/_console/traces%3Ffilter%3Dx"
        for path in ("/_console/api/functions", "/_console/api/traces", "/_console/api/nope"):
            answer = client.get(path)
            assert answer.status_code == 401 and answer.json()["error"] == "Unauthorized"
        assert client.post("/_console/api/functions", json={}).status_code == 401
        script = client.get("/_console/static/app.js")  # (no data in it)
        assert script.status_code == 200 and script.headers["cache-control"] == "no-cache"
        again = client.get(
            "/_console/static/app.js", headers={"If-None-Match": script.headers["etag"]}
        )
        assert again.status_code == 304
        assert client.get("/_console/static/nope.js").status_code == 404
        refused = client.post(
            "/_console/signin",
            data={"access_key_id": "test", "secret_access_key": "wrong"},
            follow_redirects=False,
        )
        assert refused.status_code == 401 and "Wrong access key id" in refused.text
        assert "set-cookie" not in refused.headers
        client.cookies.set("gureum_console", "eyJrIjoidGVzdCJ9.AAAA", path="/_console")
        assert client.get("/_console/api/session").status_code == 401
        client.cookies.clear()
        # A SigV4 header is not a console session either.
        signed = client.get("/_console/api/session", headers={"Authorization": "AWS4-HMAC"})
        assert signed.status_code == 401
        accepted = client.post(
            "/_console/signin",
            data={"access_key_id": "test", "secret_access_key": "test", "next": "//evil.test/"},
            follow_redirects=False,
        )
        assert accepted.headers["location"] == "/_console/"  # (never off-site)
        cookie = accepted.headers["set-cookie"]
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/_console", "Max-Age=43200"):
            assert attribute in cookie
        assert client.get("/_console/api/session").json()["AccessKeyId"] == "test"


def test_changes_need_the_csrf_token_and_a_same_origin(console: tuple[TestClient, str]) -> None:
    client, csrf = console
    body = {"FunctionName": "csrf-fn", "Runtime": "python3.12", "Code": HELLO}
    assert client.post("/_console/api/functions", json=body).status_code == 403
    wrong = client.post("/_console/api/functions", json=body, headers={"X-Gureum-Csrf": "x"})
    assert wrong.status_code == 403
    foreign = client.post(
        "/_console/api/functions",
        json=body,
        headers={"X-Gureum-Csrf": csrf, "Origin": "http://evil.test"},
    )
    assert foreign.status_code == 403
    assert client.get("/_console/api/functions/csrf-fn").status_code == 404
    same = client.post(
        "/_console/api/functions", json=body, headers={"X-Gureum-Csrf": csrf, "Origin": BASE}
    )
    assert same.status_code == 200, same.text
    big = b"x" * (7 * 1024 * 1024)
    headers = {"X-Gureum-Csrf": csrf}
    assert client.post("/_console/api/functions", content=big, headers=headers).status_code == 413
    chunked = client.post("/_console/api/functions", content=iter([big]), headers=headers)
    assert chunked.status_code == 413


def test_deploy_test_invoke_and_saved_events(console: tuple[TestClient, str]) -> None:
    client, csrf = console
    created = post(
        client,
        csrf,
        "/functions",
        {"FunctionName": "console-hello", "Runtime": "python3.12", "Code": HELLO, "Timeout": 5},
    )
    assert created.status_code == 200, created.text
    assert created.json()["Handler"] == "lambda_function.lambda_handler"
    result = post(client, csrf, "/functions/console-hello/invoke", {"Event": '{"a": 1}'}).json()
    assert result["Payload"] == "7" and result["FunctionError"] is None
    assert "console says {'a': 1}" in result["LogTail"]
    assert result["Report"].startswith(f"REPORT RequestId: {result['RequestId']}")
    listed = client.get("/_console/api/functions").json()["Functions"]
    (row,) = [f for f in listed if f["FunctionName"] == "console-hello"]
    assert row["State"] == "Active" and row["Sandboxes"] == {"idle": 1, "busy": 0}
    detail = client.get("/_console/api/functions/console-hello").json()
    assert [v["Version"] for v in detail["Versions"]] == ["$LATEST"] and detail["Editable"]

    saved = post(client, csrf, "/functions/console-hello/events", {"Name": "s3", "Event": "{}"})
    assert [e["name"] for e in saved.json()["Saved"]] == ["s3"]
    bad = post(client, csrf, "/functions/console-hello/events", {"Name": "a b", "Event": "{}"})
    assert bad.status_code == 400
    assert post(client, csrf, "/functions/console-hello/events", {"Name": "x", "Event": "{"})
    gone = client.delete(
        "/_console/api/functions/console-hello/events/s3", headers={"X-Gureum-Csrf": csrf}
    )
    assert gone.json()["Saved"] == []
    template = client.get("/_console/api/templates/sqs-receive-message").json()["Event"]
    failed = post(client, csrf, "/functions/console-hello/invoke", {"Event": template})
    assert failed.status_code == 200

    updated = post(
        client,
        csrf,
        "/functions",
        {"FunctionName": "console-hello", "Update": True, "Code": HELLO.replace("7", "8")},
    )
    assert updated.status_code == 200, updated.text
    again = post(client, csrf, "/functions/console-hello/invoke", {"Event": "{}"}).json()
    assert again["Payload"] == "8"


def test_log_tail_filters_with_cloudwatch_patterns(console: tuple[TestClient, str]) -> None:
    client, csrf = console
    code = "def lambda_handler(event, context):\n    print(event['line'])\n"
    assert (
        post(
            client,
            csrf,
            "/functions",
            {"FunctionName": "tailed", "Runtime": "python3.12", "Code": code},
        ).status_code
        == 200
    )
    for line in ("apple pie", "banana split", '{"level": "error", "n": 3}'):
        post(client, csrf, "/functions/tailed/invoke", {"Event": {"line": line}})
    group = "/aws/lambda/tailed"

    def tail(pattern: str) -> list[str]:
        deadline = time.monotonic() + 10
        while True:
            answer = client.get(
                "/_console/api/logs/tail", params={"group": group, "pattern": pattern}
            )
            assert answer.status_code == 200, answer.text
            found = [e["message"].strip() for e in answer.json()["events"]]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    assert tail("banana") == ["banana split"]
    assert tail('{ $.level = "error" }') == ['{"level": "error", "n": 3}']
    bad = client.get("/_console/api/logs/tail", params={"group": group, "pattern": "{ $.x = "})
    assert bad.status_code == 400
    first = client.get("/_console/api/logs/tail", params={"group": group}).json()
    later = client.get("/_console/api/logs/tail", params={"group": group, "after": first["after"]})
    assert later.json()["events"] == []


def test_traces_metrics_and_browsers_answer(console: tuple[TestClient, str]) -> None:
    client, csrf = console
    body = {"FunctionName": "metrics-fn", "Runtime": "python3.12", "Code": HELLO}
    assert post(client, csrf, "/functions", body).status_code == 200
    bad = client.get("/_console/api/traces", params={"filter": "service(("})
    assert bad.status_code == 400 and bad.json()["error"] == "InvalidParameterValueException"
    assert client.get("/_console/api/traces/1-00000000-000000000000000000000000").status_code == 404
    graph = client.get("/_console/api/service-map", params={"minutes": 5})
    assert graph.status_code == 200 and isinstance(graph.json()["Services"], list)
    assert client.get("/_console/api/service-map", params={"minutes": 0}).status_code == 400
    assert post(client, csrf, "/functions/metrics-fn/invoke", {"Event": {}}).status_code == 200
    metrics = client.get("/_console/api/functions/metrics-fn/metrics?window=1d").json()
    assert metrics["Available"] is True and metrics["Period"] == 3600
    charts = {(c["Metric"], c["Stat"]): c["Points"] for c in metrics["Charts"]}
    assert sum(value for _, value in charts[("Invocations", "Sum")]) == 1
    assert charts[("Errors", "Sum")] in ([], [[charts[("Invocations", "Sum")][0][0], 0.0]])
    assert all(value > 0 for _, value in charts[("Duration", "p99")])
    wrong = client.get("/_console/api/functions/metrics-fn/metrics?window=2h")
    assert wrong.status_code == 400
    for path in ("queues", "streams", "tables", "mappings", "apis"):
        assert client.get(f"/_console/api/{path}").status_code == 200
        assert client.get(f"/_console/{path}").status_code == 200
    assert client.get("/_console/api/queues/nope").status_code == 400  # (SQS's error)
    assert client.get("/_console/api/tables/nope").status_code in (400, 404)


def test_without_authentication_everyone_is_signed_in(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, auth="none")), base_url=BASE) as client:
        page = client.get("/_console/functions")
        assert page.status_code == 200 and 'name="auth" content="off"' in page.text
        assert client.get("/_console/api/session").json()["Authentication"] is False
        assert client.get("/_console/signin", follow_redirects=False).status_code == 303
        # POSTs still carry the page's token (a cross-site form cannot).
        assert client.post("/_console/api/functions", json={}).status_code == 403


def test_a_nodejs_function_from_pasted_code(console: tuple[TestClient, str]) -> None:
    client, csrf = console
    code = (
        "export const handler = async (event) => {\n"
        "  console.log('node got', event.n);\n  return event.n * 2;\n};\n"
    )
    created = post(
        client,
        csrf,
        "/functions",
        {"FunctionName": "console-node", "Runtime": "nodejs20.x", "Code": code},
    )
    assert created.status_code == 200, created.text
    assert created.json()["Handler"] == "index.handler"
    result = post(client, csrf, "/functions/console-node/invoke", {"Event": {"n": 21}}).json()
    assert result["Payload"] == "42", result
    assert "node got 21" in result["LogTail"]
    refused = post(
        client, csrf, "/functions", {"FunctionName": "x", "Runtime": "provided.al2023", "Code": "x"}
    )
    assert refused.status_code == 400


def test_metric_series_says_when_there_are_no_metrics() -> None:
    from gureum.console.metrics import MetricsNotAvailable, metric_series

    with pytest.raises(MetricsNotAvailable):
        asyncio.run(metric_series(object(), "fn", "Invocations", "Sum", 0.0, 60.0, 60))
