"""The console's page loads on loopback, beside the floor of a bare ASGI echo server.

Run: ``python benchmarks/console.py [--loads 50] [--no-browser]``

- HTTP: for each page, its HTML shell and the JSON its module reads, fetched in turn
  on one keep-alive connection with the session cookie (what the page costs the
  server); ``--loads`` times each, p50 and p99. Floor: the echo server's GET.
- Browser (Debian's chromium through Playwright, when both are here): each page
  navigated to until its module has drawn it, by the browser's own clock (from the
  navigation's start to the ``gureum-ready`` mark app.js sets once the page's data is
  drawn), scripts and styles revalidated from the cache as on a second visit; p50 and
  max of ``--loads // 3``, and the p50 wall time Playwright saw (its own round trips in).

Before timing, the server gets what the pages show: a function invoked a few times (a
log group, a traced chain's worth of segments), a queue with messages, a table with
items. Budget (issue 18): every page loads in < 300 ms on loopback.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).parent))
from invoke_latency import echo_and_gureum, percentile  # noqa: E402

#: page path -> the JSON endpoints its module reads on load
PAGES: dict[str, list[str]] = {
    "/functions": ["/functions"],
    "/functions/bench-fn": ["/functions/bench-fn", "/functions/bench-fn/events"],
    "/logs?group=/aws/lambda/bench-fn": [
        "/logs/groups",
        "/logs/tail?group=/aws/lambda/bench-fn",
    ],
    "/metrics?function=bench-fn": ["/functions", "/functions/bench-fn/metrics?window=1h"],
    "/service-map": ["/service-map?minutes=15"],
    "/traces": ["/traces?minutes=15"],
    "/queues/bench-queue": ["/queues/bench-queue"],
    "/tables/bench-table": ["/tables/bench-table"],
}
BUDGET_MS = 300.0


class Session:
    """A keep-alive connection signed in to the console."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port)
        body = urlencode({"access_key_id": "test", "secret_access_key": "test"})
        answer = self.request("POST", "/_console/signin", body.encode(), form=True)
        cookie = answer.getheader("set-cookie") or ""
        answer.read()
        self.cookie = cookie.split(";")[0]
        page = self.get("/_console/functions")
        self.csrf = page.split('name="csrf" content="')[1].split('"')[0]

    def request(
        self, method: str, path: str, body: bytes | None = None, *, form: bool = False
    ) -> http.client.HTTPResponse:
        headers = {"Host": f"127.0.0.1:{self.connection.port}"}
        if getattr(self, "cookie", None):
            headers["Cookie"] = self.cookie
        if form:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            headers["Content-Type"] = "application/json"
            headers["X-Gureum-Csrf"] = self.csrf
        self.connection.request(method, path, body, headers)
        return self.connection.getresponse()

    def get(self, path: str) -> str:
        answer = self.request("GET", path)
        text = answer.read().decode()
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: {answer.status} {text[:200]}")
        return text

    def post(self, path: str, body: Any) -> Any:
        answer = self.request("POST", f"/_console/api{path}", json.dumps(body).encode())
        text = answer.read().decode()
        if answer.status != 200:
            raise RuntimeError(f"POST {path}: {answer.status} {text[:200]}")
        return json.loads(text)


def prepare(port: int, session: Session) -> None:
    """What the pages show: a traced function invoked a few times, a queue, a table."""
    session.post(
        "/functions",
        {
            "FunctionName": "bench-fn",
            "Runtime": "python3.12",
            "Tracing": True,
            "Code": "def lambda_handler(event, context):\n    print('bench', event)\n"
            "    return event\n",
        },
    )
    for n in range(20):
        session.post("/functions/bench-fn/invoke", {"Event": {"n": n}})
    import boto3

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    sqs = client("sqs")
    url = sqs.create_queue(QueueName="bench-queue")["QueueUrl"]
    for n in range(30):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {n}")
    ddb = client("dynamodb")
    ddb.create_table(
        TableName="bench-table",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(30):
        ddb.put_item(TableName="bench-table", Item={"id": {"S": f"item-{n}"}})
    time.sleep(1.0)  # (logs and segments are written in batches)


def floor(port: int, loads: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    samples = []
    for _ in range(loads):
        start = time.perf_counter()
        connection.request("GET", "/")
        connection.getresponse().read()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def http_loads(session: Session, page: str, endpoints: list[str], loads: int) -> list[float]:
    samples = []
    for i in range(loads + 3):
        start = time.perf_counter()
        session.get(f"/_console{page}")
        for endpoint in endpoints:
            session.get(f"/_console/api{endpoint}")
        if i >= 3:  # (the first few warm up)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def browser_loads(port: int, loads: int) -> dict[str, tuple[list[float], list[float]]] | None:
    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    found: dict[str, tuple[list[float], list[float]]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context()
        page = context.new_page()
        base = f"http://127.0.0.1:{port}/_console"
        page.goto(f"{base}/signin")
        page.fill("input[name=access_key_id]", "test")
        page.fill("input[name=secret_access_key]", "test")
        page.click("button[type=submit]")
        page.wait_for_selector("main[data-ready]")
        for path in PAGES:
            drawn, walls = [], []
            for i in range(loads + 1):
                start = time.perf_counter()
                page.goto(f"{base}{path}")
                page.wait_for_selector("main[data-ready]")
                wall = (time.perf_counter() - start) * 1000
                mark = page.evaluate(
                    "performance.getEntriesByName('gureum-ready').pop()?.startTime ?? -1"
                )
                if i:  # (the first fills the cache)
                    drawn.append(float(mark))
                    walls.append(wall)
            found[path] = (drawn, walls)
        browser.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=50, help="loads of each page to time")
    parser.add_argument("--no-browser", action="store_true", help="HTTP figures only")
    args = parser.parse_args()
    with echo_and_gureum("--tls-port", "-1") as (echo_port, port):
        session = Session(port)
        prepare(port, session)
        base = statistics.median(floor(echo_port, args.loads * 4))
        print(f"floor: bare ASGI echo GET                 p50 {base:7.2f} ms")
        print("HTTP: a page's shell and its JSON, one keep-alive client:")
        worst = 0.0
        for page, endpoints in PAGES.items():
            samples = http_loads(session, page, endpoints, args.loads)
            p50, p99 = statistics.median(samples), percentile(samples, 0.99)
            worst = max(worst, p99)
            print(
                f"  {page:<40} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
                f"({1 + len(endpoints)} requests, {p50 / base:5.1f}x floor)"
            )
        loaded = None if args.no_browser else browser_loads(port, max(3, args.loads // 3))
        if loaded is None:
            print("browser: not measured (needs playwright and chromium, or --no-browser)")
        else:
            print("browser: navigation start to page drawn (headless chromium's clock):")
            for page, (drawn, walls) in loaded.items():
                p50 = statistics.median(drawn)
                worst = max(worst, max(drawn))
                print(
                    f"  {page:<40} p50 {p50:7.2f} ms  max {max(drawn):7.2f} ms  "
                    f"(wall, with Playwright's round trips: p50 {statistics.median(walls):.1f})"
                )
        verdict = "within" if worst < BUDGET_MS else "OVER"
        print(f"budget: every page < {BUDGET_MS:.0f} ms on loopback: {verdict} (worst {worst:.1f})")


if __name__ == "__main__":
    main()
