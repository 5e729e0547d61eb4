"""The console in a real browser: Debian's chromium (``scripts/services`` installs it)
driven by Playwright, against a server on loopback. Each page's screenshot is kept in
``test-artifacts/console/`` (git-ignored)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROLE, RunningServer, client, unique_name
from tests.console.conftest import ARTIFACTS
from tests.tracing.test_xray import SDK_FUNCTION, wait_for_trace, xray_sdk_zip

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="needs playwright (the test extra)"),
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs chromium (scripts/services installs Debian's)"
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert sync_playwright is not None and CHROMIUM is not None
    with sync_playwright() as playwright:
        # (--no-sandbox: the tests may run as root, where chromium's sandbox refuses)
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    errors: list[str] = []  # a script's uncaught error fails the test that met it
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, errors


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, server: RunningServer, next_path: str = "/_console/functions") -> None:
    page.goto(f"{server.endpoint}{next_path}")
    page.fill("input[name=access_key_id]", "test")
    page.fill("input[name=secret_access_key]", "test")
    page.click("button[type=submit]")
    page.wait_for_selector("main[data-ready]")


def test_refused_without_credentials_and_with_wrong_ones(page: Page, server: RunningServer) -> None:
    page.goto(f"{server.endpoint}/_console/traces")
    assert "/_console/signin?next=/_console/traces" in page.url
    shot(page, "signin")
    page.fill("input[name=access_key_id]", "test")
    page.fill("input[name=secret_access_key]", "not-the-secret")
    page.click("button[type=submit]")
    expect(page.locator(".problem")).to_contain_text("Wrong access key id or secret access key")
    assert "/_console/signin" in page.url
    shot(page, "signin-refused")
    status = page.evaluate("fetch('/_console/api/functions').then(r => r.status)")
    assert status == 401
    page.goto(f"{server.endpoint}/_console/functions")
    assert "/_console/signin" in page.url  # still nothing but the form


def test_deploy_and_invoke_through_the_console(page: Page, server: RunningServer) -> None:
    sign_in(page, server)
    name = unique_name("console")
    marker = f"hello from the console {time.time()}"
    page.click("#create-function")
    page.fill("#fn-name", name)
    page.select_option("#fn-runtime", "python3.12")
    page.fill(
        "#fn-code",
        "def lambda_handler(event, context):\n"
        f"    print({marker!r}, event.get('key1'))\n"
        "    return {'statusCode': 200, 'body': 'done'}\n",
    )
    shot(page, "create-function")
    page.click("#deploy")
    expect(page.locator("h1")).to_have_text(name)
    page.select_option("#event-picker", "template:hello-world")
    page.fill("#event-name", "hello")
    page.click("#save-event")
    expect(page.locator("#test-result")).to_contain_text("Saved test event hello")
    page.click("#test-invoke")
    expect(page.locator("#test-log")).to_contain_text(f"{marker} value1", timeout=30_000)
    expect(page.locator("#test-report")).to_contain_text("REPORT RequestId:")
    expect(page.locator("#test-response")).to_contain_text('"statusCode": 200')
    shot(page, "function-test")

    # The saved event is in the store: a fresh page (any node) lists it.
    page.reload()
    expect(page.locator("#event-picker option[value='saved:hello']")).to_have_count(
        1, timeout=15_000
    )
    page.goto(f"{server.endpoint}/_console/functions")
    row = page.locator("tr", has_text=name)
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("1 idle")
    shot(page, "functions")

    page.goto(
        f"{server.endpoint}/_console/logs?group=/aws/lambda/{name}&pattern="
        + "%22hello from the console%22"
    )
    expect(page.locator("#log-output")).to_contain_text(marker, timeout=15_000)
    # A line logged after the tail started appears in it too.
    lam = client("lambda", server.endpoint)
    lam.invoke(FunctionName=name, Payload=json.dumps({"key1": "second"}))
    expect(page.locator("#log-output")).to_contain_text(f"{marker} second", timeout=15_000)
    shot(page, "logs")

    page.goto(f"{server.endpoint}/_console/metrics?function={name}")
    invocations = page.locator("[data-metric='Invocations:Sum']")
    expect(invocations).to_contain_text("Invocations (Sum)")
    expect(invocations.locator("circle.point")).not_to_have_count(0)  # (the invokes above)
    expect(page.locator("[data-metric='Duration:p99'] circle.point")).not_to_have_count(0)
    shot(page, "metrics")


def _traced_chain(server: RunningServer) -> tuple[str, str, str]:
    """A caller invoking a callee through boto3 inside its sandbox, both with active
    tracing and aws-xray-sdk; (caller, callee, trace id) once the trace is whole."""
    lam, xray = client("lambda", server.endpoint), client("xray", server.endpoint)
    callee, caller = unique_name("callee"), unique_name("caller")
    for name in (callee, caller):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Timeout=30,
            TracingConfig={"Mode": "Active"},
            Code={"ZipFile": xray_sdk_zip({"app.py": SDK_FUNCTION})},
        )
    xray.create_sampling_rule(
        SamplingRule={
            "RuleName": "console-all",
            "Priority": 1,
            "FixedRate": 1.0,
            "ReservoirSize": 100,
            "ServiceName": "*",
            "ServiceType": "*",
            "Host": "*",
            "HTTPMethod": "*",
            "URLPath": "*",
            "ResourceARN": "*",
            "Version": 1,
        }
    )
    answer = lam.invoke(
        FunctionName=caller, Payload=json.dumps({"customer": "alice", "call": callee})
    )
    result: dict[str, Any] = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, result
    root = result["trace"].split(";")[0].removeprefix("Root=")
    deadline = time.monotonic() + 30
    while True:  # both functions' two segments each, the caller's last
        trace = wait_for_trace(xray, root, segments=4, timeout=30)
        origins = {json.loads(s["Document"]).get("origin") for s in trace["Segments"]}
        if len(trace["Segments"]) >= 4 and "AWS::Lambda::Function" in origins:
            break
        assert time.monotonic() < deadline, trace
        time.sleep(0.2)
    return caller, callee, root


def test_service_map_and_trace_waterfall(page: Page, server: RunningServer) -> None:
    caller, callee, root = _traced_chain(server)
    sign_in(page, server, "/_console/service-map?minutes=15")
    nodes = page.locator("#service-map g.node")
    for name, kind in (
        ("client", "client"),
        (caller, "AWS::Lambda"),
        (caller, "AWS::Lambda::Function"),
        (callee, "AWS::Lambda"),
        (callee, "AWS::Lambda::Function"),
    ):
        node = f"#service-map g.node[data-name='{name}'][data-type='{kind}']"
        expect(page.locator(node)).to_have_count(1)
    assert nodes.count() >= 5
    edge = page.locator(
        f"#service-map g.edge-group[data-source='{caller}'][data-target='{callee}']"
    )
    expect(edge).to_have_count(1)
    page.locator(f"#service-map g.node[data-name='{callee}'][data-type='AWS::Lambda']").click()
    expect(page.locator("#map-detail")).to_contain_text("Requests")
    shot(page, "service-map")

    page.goto(f"{server.endpoint}/_console/traces?filter=" + f'service("{caller}")')
    expect(page.locator(f"a[href='/_console/traces/{root}']")).to_have_count(1, timeout=10_000)
    shot(page, "traces")
    page.click(f"a[href='/_console/traces/{root}']")
    waterfall = page.locator("#waterfall")
    for subsegment in ("Initialization", "Invocation", "Overhead", "business", "lambda"):
        expect(waterfall.locator(f".wf-row[data-name='{subsegment}']").first).to_be_visible()
    page.locator(".wf-row[data-name='business']").first.click()
    expect(page.locator("#detail-annotations")).to_contain_text('"customer"')
    shot(page, "trace-waterfall")


def test_browsers_peek_without_consuming(page: Page, server: RunningServer) -> None:
    sqs = client("sqs", server.endpoint)
    url = sqs.create_queue(QueueName="console-peek")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="peek at me")
    ddb = client("dynamodb", server.endpoint)
    ddb.create_table(
        TableName="console-items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="console-items", Item={"id": {"S": "one"}, "n": {"N": "1"}})
    kinesis = client("kinesis", server.endpoint)
    kinesis.create_stream(StreamName="console-stream", ShardCount=1)
    kinesis.put_record(StreamName="console-stream", Data=b"a record", PartitionKey="k")
    sign_in(page, server, "/_console/queues/console-peek")
    expect(page.locator("#queue-messages")).to_contain_text("peek at me")
    page.reload()
    expect(page.locator("#queue-messages")).to_contain_text("peek at me")
    shot(page, "queue")
    # Peeking twice took nothing: a receive still gets the message, for the first time.
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    page.goto(f"{server.endpoint}/_console/tables/console-items")
    expect(page.locator("#table-items")).to_contain_text('"one"')
    shot(page, "table")
    page.goto(f"{server.endpoint}/_console/streams/console-stream")
    expect(page.locator("main")).to_contain_text("a record")
    for path in ("mappings", "apis", "streams", "tables", "queues"):
        page.goto(f"{server.endpoint}/_console/{path}")
        page.wait_for_selector("main[data-ready]")
        assert not page.locator(".problem").count(), page.inner_text("main")
