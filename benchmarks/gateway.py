"""HTTP APIs: a request through an API's invoke URL to a no-op function and back, beside
a direct Invoke of the same function in the same run (and the echo floor).

Run: ``python benchmarks/gateway.py [--requests 2000] [--clients 64] [--seconds 5]``
(the throughput part needs ``wrk``: ``apt-get install wrk``).

- Sequential, one keep-alive client: the echo floor, a direct (signed) Invoke, and
  ``GET`` on the API's invoke URL (quick create: an AWS_PROXY integration with payload
  format 2.0, route ``$default``, stage ``$default``). Budget: the API's p50 <= 1.3x the
  direct Invoke's.
- 64 keep-alive clients (wrk): the same two. Budget: the API >= 80 % of direct Invoke's
  throughput.

The function answers ``{"statusCode": 200, "body": "ok"}`` at 1,769 MB (one vCPU), so
that the figures are the platform's and not the CPU quota's. Invoke requests are signed
before the clock starts; invoke URLs are not signed, as API Gateway's are not.
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

sys.path.insert(0, str(Path(__file__).parent))
from concurrency import wrk  # noqa: E402
from invoke_latency import (  # noqa: E402
    create_function,
    echo_and_gureum,
    measure,
    percentile,
    sign,
)

NO_OP = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'


def get_latencies(port: int, path: str, n: int) -> list[float]:
    """Sequential GETs on one keep-alive connection; latencies in ms (a tenth warms up)."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    samples = []
    for i in range(n + n // 10):
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200 or body != b"ok":
            raise RuntimeError(f"{path} answered {response.status} {body[:200]!r}")
        if i >= n // 10:
            samples.append(elapsed)
    connection.close()
    return samples


def report(label: str, samples: list[float]) -> float:
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    print(f"  {label:<36} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   (n={len(samples)})")
    return p50


def create_api(port: int, function_arn: str) -> str:
    """Quick create through apigatewayv2 (signed as boto3 signs it); the API's id."""
    body_bytes = json.dumps(
        {"name": "bench", "protocolType": "HTTP", "target": function_arn}
    ).encode()
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{port}/v2/apis",
        data=body_bytes,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials("test", "test"), "apigateway", "us-east-1").add_auth(request)
    headers = dict(request.headers)
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("POST", "/v2/apis", body_bytes, headers)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 201:
        raise RuntimeError(f"CreateApi: {response.status} {answer!r}")
    return str(json.loads(answer)["apiId"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    with echo_and_gureum() as (echo_port, port):
        function = create_function(port, "noop", NO_OP, memory=1769)
        api = create_api(port, function["FunctionArn"])
        invoke_path = "/2015-03-31/functions/noop/invocations"
        api_path = f"/_aws/execute-api/{api}/"
        measure(port, invoke_path, 50, signed=True)  # the sandbox warm
        print("sequential, one keep-alive client:")
        report("floor: bare ASGI echo", measure(echo_port, "/", args.requests))
        direct = report("direct Invoke", measure(port, invoke_path, args.requests, signed=True))
        through = report(
            "GET on the API's invoke URL", get_latencies(port, api_path, args.requests)
        )
        print(f"    {through / direct:.2f}x the direct Invoke   (budget: <= 1.3x)")
        if shutil.which("wrk") is None:
            print("throughput: skipped (needs wrk: apt-get install wrk)")
            return
        print(f"throughput, {args.clients} keep-alive clients:")
        headers = sign(port, "POST", invoke_path, b"{}")
        direct_rate = wrk(port, invoke_path, headers, args.clients, args.seconds)
        print(f"  direct Invoke                        {direct_rate:9.0f} requests/s")
        api_rate = wrk(port, api_path, {}, args.clients, args.seconds)
        print(
            f"  the API's invoke URL                 {api_rate:9.0f} requests/s   "
            f"({api_rate / direct_rate:.0%} of the direct Invoke's; budget >= 80 %)"
        )


if __name__ == "__main__":
    main()
