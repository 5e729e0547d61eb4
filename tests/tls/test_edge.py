"""The edge over HTTPS, with real clients: urllib, boto3 and curl, verifying the
certificate with gureum's CA file for localhost, 127.0.0.1 and API Gateway's names."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from gureum.store import open_store
from gureum.tls.authority_store import local_certificate
from tests.conftest import RunningServer, signed_request

CURL = shutil.which("curl")
NAMES = ["localhost", "127.0.0.1", "abc123.execute-api.localhost"]


@pytest.fixture
def localhost_names(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process resolves ``*.localhost`` to 127.0.0.1 (glibc here does not), as
    gureum's runtimes do in sandboxes."""
    system = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return system(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield


def ca_file(server: RunningServer) -> Path:
    files = server.platform.tls_files
    assert files is not None
    return Path(files.ca)


def list_functions(url: str, context: ssl.SSLContext) -> Any:
    with urllib.request.urlopen(signed_request(url), context=context, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1"])
def test_urllib_verifies_the_edge_with_the_ca_file(gureum_server: RunningServer, name: str) -> None:
    port = gureum_server.platform.tls_port
    context = ssl.create_default_context(cafile=str(ca_file(gureum_server)))
    body = list_functions(f"https://{name}:{port}/2015-03-31/functions", context)
    assert "Functions" in body


def test_urllib_verifies_an_api_gateway_domain_name(
    gureum_server: RunningServer, localhost_names: None
) -> None:
    """A host of ``*.execute-api.localhost`` is an HTTP API's invoke URL: the gateway
    answers (here: no such API) over a connection verified for that name."""
    host = gureum_server.platform.tls_host("abc123.execute-api")
    context = ssl.create_default_context(cafile=str(ca_file(gureum_server)))
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(f"https://{host}/anything", context=context, timeout=30)
    assert answered.value.code == 404
    assert json.loads(answered.value.read()) == {"message": "Not Found"}


def test_a_client_that_does_not_trust_the_ca_refuses_the_edge(
    gureum_server: RunningServer,
) -> None:
    port = gureum_server.platform.tls_port
    with pytest.raises(urllib.error.URLError) as refused:
        list_functions(
            f"https://localhost:{port}/2015-03-31/functions", ssl.create_default_context()
        )
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)


def test_boto3_verifies_the_edge_with_the_ca_file(gureum_server: RunningServer) -> None:
    make: Any = boto3.client
    lam = make(
        "lambda",
        endpoint_url=f"https://{gureum_server.platform.tls_host()}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        verify=str(ca_file(gureum_server)),
        config=Config(retries={"total_max_attempts": 1}),
    )
    assert "Functions" in lam.list_functions()


@pytest.mark.skipif(CURL is None, reason="curl is not on PATH")
@pytest.mark.parametrize("name", NAMES)
def test_curl_verifies_the_edge_with_the_ca_file(gureum_server: RunningServer, name: str) -> None:
    assert CURL is not None
    port = gureum_server.platform.tls_port
    answered = subprocess.run(
        [
            CURL,
            "--silent",
            "--show-error",
            "--cacert",
            str(ca_file(gureum_server)),
            "--resolve",
            f"{name}:{port}:127.0.0.1",
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_code}",
            # over a connection curl verified: unsigned, the Lambda API answers 403;
            # the gateway, which serves *.execute-api hosts, 404 (no such API)
            f"https://{name}:{port}/2015-03-31/functions",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout == ("404" if "execute-api" in name else "403")


def test_trust_files(gureum_server: RunningServer) -> None:
    files = gureum_server.platform.tls_files
    ca = Path(files.ca).read_text()
    store = open_store(gureum_server.settings.resolved_database_url)
    try:
        assert local_certificate(store) == ca
    finally:
        store.close()
    bundle = Path(files.bundle).read_text()
    assert bundle.endswith(ca) and bundle.count("BEGIN CERTIFICATE") > 1
    key = Path(files.ca).parent / "server.key"
    assert key.stat().st_mode & 0o077 == 0


def test_https_can_be_turned_off(start_server: Callable[..., RunningServer]) -> None:
    server = start_server(tls_port=-1)
    assert server.platform.tls_address is None and server.platform.tls_host("x") is None
    assert server.platform.tls_files is None
