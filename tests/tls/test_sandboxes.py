"""Functions reach the HTTPS edge at API Gateway's domain names with their code as it is
on AWS: sandboxes trust gureum's CA (and the host's CAs still) and resolve every
``*.localhost`` name to the loopback, in Node.js and Python, isolated or not.

The chain tested is the one a WebSocket function's callback client takes: a function
calls ``https://{api_id}.execute-api.localhost:{tls port}/...`` with verification on; the
gateway invokes the API's function, whose answer comes back over that connection.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from gureum.runtimes import python_interpreter
from gureum.runtimes.paths import SYSTEM_LIBRARIES
from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files
from tests.runtimes.test_nodejs_functions import host_runtime, wait_for

NODE = shutil.which("node")

BACKEND = """
def handler(event, context):
    return {"statusCode": 200, "body": "hello over https " + event["rawPath"]}
"""

PYTHON_CALLER = """
import os
import urllib.request

import boto3


def handler(event, context):
    with urllib.request.urlopen(event["url"], timeout=30) as response:
        body = response.read().decode()
    functions = boto3.client("lambda", endpoint_url=event["endpoint"]).list_functions()
    names = ("SSL_CERT_FILE", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
    return {
        "body": body,
        "functions": len(functions["Functions"]),
        "env": {name: os.environ.get(name) for name in names},
    }
"""

NODE_CALLER = """
const https = require('https');

exports.handler = (event) => new Promise((resolve) => {
  https.get(event.url, (response) => {
    let body = '';
    response.on('data', (chunk) => { body += chunk; });
    response.on('end', () => resolve({ status: response.statusCode, body }));
  }).on('error', (error) => resolve({ error: String(error), code: error.code }));
});
"""


def create(server: RunningServer, runtime: str, files: dict[str, str], **config: Any) -> str:
    name = unique_name("tls")
    client("lambda", server.endpoint).create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler=config.pop("Handler", "app.handler"),
        Code={"ZipFile": zip_files(files)},
        # (a cold start with ssl loaded, then a TLS handshake: past 3 s on a busy machine)
        Timeout=config.pop("Timeout", 30),
        **config,
    )
    return name


def api_url(server: RunningServer) -> str:
    """The invoke URL, on the HTTPS edge, of a new HTTP API over a new function."""
    backend = create(server, "python3.11", {"app.py": BACKEND})
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{backend}"
    api = client("apigatewayv2", server.endpoint).create_api(
        Name=unique_name("api"), ProtocolType="HTTP", Target=arn
    )
    return f"https://{server.platform.tls_host(api['ApiId'] + '.execute-api')}/from/a/function"


def invoke(server: RunningServer, name: str, event: Any) -> Any:
    response = client("lambda", server.endpoint).invoke(
        FunctionName=name, Payload=json.dumps(event)
    )
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


@pytest.fixture(params=["zygote", "exec", "rlimits"])
def server(
    request: pytest.FixtureRequest,
    gureum_server: RunningServer,
    start_server: Callable[..., RunningServer],
) -> RunningServer:
    """The session's server (isolated where the host allows: sandboxes forked from
    zygotes), one whose isolated sandboxes are each a new jail process, and one without
    isolation."""
    if request.param == "rlimits":
        return start_server(isolation="rlimits")
    if not gureum_server.platform.isolation.isolated:
        pytest.skip("sandboxes are not isolated on this host")
    return gureum_server if request.param == "zygote" else start_server(cold_start="exec")


def ssl_loads_without_isolation() -> bool:
    """Whether python3.11's ``ssl`` loads under the LD_LIBRARY_PATH an unisolated sandbox
    has (a host whose interpreter was built with a newer libpython than the system's, as
    pyenv's here, loads the system's first and fails: not the edge's concern)."""
    environ = {**os.environ, "LD_LIBRARY_PATH": SYSTEM_LIBRARIES}
    command = [python_interpreter("python3.11"), "-c", "import ssl"]
    return subprocess.run(command, env=environ, capture_output=True).returncode == 0


def test_a_python_function_calls_the_https_edge(server: RunningServer) -> None:
    if not server.platform.isolation.isolated and not ssl_loads_without_isolation():
        pytest.skip("python3.11 cannot load ssl under an unisolated sandbox's LD_LIBRARY_PATH")
    url = api_url(server)
    name = create(
        server,
        "python3.11",
        {"app.py": PYTHON_CALLER},
        # a variable the function sets is its own
        Environment={"Variables": {"REQUESTS_CA_BUNDLE": "/its/own.pem"}},
    )
    answer = invoke(server, name, {"url": url, "endpoint": f"https://{server.platform.tls_host()}"})
    assert answer["body"] == "hello over https /from/a/function"
    assert answer["functions"] >= 2
    env = answer["env"]
    assert env["REQUESTS_CA_BUNDLE"] == "/its/own.pem"
    assert env["SSL_CERT_FILE"] == env["AWS_CA_BUNDLE"] and env["SSL_CERT_FILE"].endswith(
        "ca-bundle.pem"
    )
    assert env["NODE_EXTRA_CA_CERTS"].endswith("/ca.pem")


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_a_node_function_calls_the_https_edge(server: RunningServer) -> None:
    url = api_url(server)
    name = create(server, host_runtime(), {"index.js": NODE_CALLER}, Handler="index.handler")
    answer = invoke(server, name, {"url": url})
    assert answer == {"status": 200, "body": "hello over https /from/a/function"}


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_a_node_runtime_started_ahead_of_need_trusts_the_ca(
    start_server: Callable[..., RunningServer],
) -> None:
    """Node reads NODE_EXTRA_CA_CERTS once, as it starts: before its sandbox is known."""
    server = start_server(node_started=1)
    if server.platform.zygotes is None:
        pytest.skip("no zygotes (sandboxes are not isolated on this host)")
    url = api_url(server)
    name = create(server, host_runtime(), {"index.js": NODE_CALLER}, Handler="index.handler")

    def pool() -> set[int]:
        kind = f"{host_runtime()}/128"
        return {started.pid for started in server.platform.zygotes.started(kind)}

    waiting = wait_for(pool)
    assert len(waiting) == 1
    answer = invoke(server, name, {"url": url})
    assert answer == {"status": 200, "body": "hello over https /from/a/function"}
    assert not waiting & pool()  # the sandbox was the runtime started ahead of need
