"""The edge in-process: the ASGI app driven by Starlette's test client, no network.

For API behaviour where a socket is not the point (validation, error shapes, routing,
SigV4's checks); the boto3 tests run against a real server on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.testclient import TestClient

from gureum.frontend.app import create_app
from tests.conftest import make_settings


class InProcessEdge:
    """The edge app in this process; requests are signed as botocore signs them."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        service: str = "lambda",
        region: str = "us-east-1",
        signed: bool = True,
    ) -> httpx2.Response:
        url = f"http://127.0.0.1:9070{path}"
        sent = dict(headers or {})
        if signed:
            request = AWSRequest(method=method, url=url, data=body, headers=sent)
            SigV4Auth(Credentials("test", "test"), service, region).add_auth(request)
            sent = dict(request.headers)
        response: httpx2.Response = self.client.request(method, url, content=body, headers=sent)
        return response

    def target(self, target: str, body: bytes, service: str) -> httpx2.Response:
        """A JSON-protocol call (``X-Amz-Target``)."""
        headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"}
        return self.request("POST", "/", body, headers=headers, service=service)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessEdge]:
    settings = make_settings(Path(tmp_path_factory.mktemp("edge")))
    with TestClient(create_app(settings)) as client:  # (runs the platform's lifespan)
        yield InProcessEdge(client)
