"""Shared fixtures: a real gureum server on a free loopback port, and boto3 clients for it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError

from gureum.frontend.app import create_app
from gureum.server import EdgeServer, uvicorn_config
from gureum.settings import Settings
from gureum.store import Store, open_store

ROLE = "arn:aws:iam::000000000000:role/gureum-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningServer:
    """A gureum server running in a background thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        # (served as `gureum server` serves it: its WebSocket protocol and limits)
        config = uvicorn_config(settings, self.app, log_level="warning")
        self.server = EdgeServer(config)
        # Older uvicorn installs signal handlers, which only the main thread may do.
        vars(self.server)["install_signal_handlers"] = lambda: None
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    @property
    def platform(self) -> Any:
        return self.app.state.platform

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("gureum server did not start")
            time.sleep(0.01)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run a coroutine factory on the server's event loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(fn(), self.platform.loop).result(timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)


@contextlib.contextmanager
def store_settings(engine: str) -> Iterator[dict[str, Any]]:
    """Settings for a server on ``engine``: ``{}`` for SQLite (the default), or a fresh
    PostgreSQL database of its own (dropped after) when GUREUM_TEST_POSTGRES_URL is set;
    skips the test on PostgreSQL otherwise."""
    if engine == "sqlite":
        yield {}
        return
    postgres_url = os.environ.get("GUREUM_TEST_POSTGRES_URL")
    if not postgres_url:
        pytest.skip("GUREUM_TEST_POSTGRES_URL is not set")
    name = f"gureum_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_url).set(database=name)
    try:
        yield {"database_url": url.render_as_string(hide_password=False)}
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def server_on(engine: str, data_dir: Path, **settings: Any) -> Iterator[RunningServer]:
    """A started server on ``engine`` (``sqlite``, or ``postgres`` in a database of its
    own, as :func:`store_settings` makes it), stopped after; for a module's fixture
    parametrized over both engines."""
    with store_settings(engine) as overrides:
        server = RunningServer(make_settings(data_dir, **settings, **overrides))
        server.start()
        try:
            yield server
        finally:
            server.stop()


def server_command(port: int, data_dir: Path, *flags: str) -> list[str]:
    """``gureum server`` on ``port``, its daemon and its HTTPS edge on free ports (a
    later ``--log-level`` in ``flags`` wins over this one's)."""
    return [
        sys.executable,
        "-m",
        "gureum",
        "server",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--xray-address",
        "127.0.0.1:0",
        "--tls-port",
        "0",
        "--log-level",
        "warning",
        *flags,
    ]


def server_process(port: int, data_dir: Path, *flags: str) -> subprocess.Popen[bytes]:
    """``gureum server`` as a user runs it, in a process of its own (on ``port``, its
    daemon and its HTTPS edge on free ports); returns once it answers."""
    process = subprocess.Popen(server_command(port, data_dir, *flags))
    lam = client("lambda", f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            lam.list_functions()
            return process
        except (BotoCoreError, ConnectionError):
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gureum server did not start")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store per test, on SQLite and (when GUREUM_TEST_POSTGRES_URL is set) on
    PostgreSQL, in a database of its own so that tests never meet each other's rows."""
    with store_settings(request.param) as overrides:
        opened = open_store(overrides.get("database_url") or f"sqlite:///{tmp_path / 'store.db'}")
        try:
            yield opened
        finally:
            opened.close()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    port = free_port()
    # Many servers run at once in the tests: each gets its own daemon port.
    overrides.setdefault("xray_address", "127.0.0.1:0")
    overrides.setdefault("tls_port", 0)
    overrides.setdefault("data_dir", tmp_path / "data")
    return Settings(host="127.0.0.1", port=port, **overrides)


@pytest.fixture(scope="session")
def gureum_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server shared by the session (tests use unique function names)."""
    server = RunningServer(make_settings(tmp_path_factory.mktemp("gureum")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., RunningServer]]:
    """Start a private server with custom settings: ``start_server(sandbox_idle_timeout=1)``."""
    started: list[RunningServer] = []

    def start(**overrides: Any) -> RunningServer:
        server = RunningServer(make_settings(tmp_path / f"s{len(started)}", **overrides))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


#: What npm says when the registry cannot be reached (the tests that need it skip).
NPM_UNREACHABLE = (
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ETIMEDOUT",
    "ECONNRESET",
    "ENETUNREACH",
)


#: What the tests' Node.js functions use beside the runtime: the SDK v2 (as Lambda's
#: older runtimes had it) and the v3 clients they call; one set, so that it is fetched
#: once a session (``install_node_packages``) and linked into each server after.
NODE_TEST_PACKAGES = (
    "@aws-sdk/client-apigatewaymanagementapi",
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "aws-sdk@2",
)
#: Data directories where ``install_node_packages`` installed a set of packages, by set
_NODE_INSTALLS: dict[tuple[str, ...], Path] = {}


def install_node_packages(data_dir: Path, *packages: str) -> None:
    """``gureum runtimes install nodejs PACKAGES`` into a server's data directory (its
    sandboxes' /var/runtime/node_modules); skipped without npm or its registry. A set
    installed once in the session is linked in again (``cp -al``) instead of fetched."""
    if shutil.which("npm") is None:
        pytest.skip("needs npm (scripts/services installs it)")
    installed = _NODE_INSTALLS.get(packages)
    modules = Path("runtime", "nodejs", "node_modules")
    if (
        installed is not None
        and (installed / modules).is_dir()
        and not (data_dir / modules).exists()
    ):
        (data_dir / modules).parent.mkdir(parents=True, exist_ok=True)
        link = ["cp", "-al", str(installed / modules), str(data_dir / modules)]
        subprocess.run(link, check=True, timeout=120)
        return
    done = subprocess.run(
        [sys.executable, "-m", "gureum", "runtimes", "install", "nodejs", *packages]
        + ["--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0 and any(code in done.stderr for code in NPM_UNREACHABLE):
        pytest.skip(f"the npm registry is unreachable: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr
    _NODE_INSTALLS[packages] = data_dir


def signed_request(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    service: str = "lambda",
    secret: str = "test",
) -> urllib.request.Request:
    """A urllib request signed with SigV4 as botocore signs it (for raw-HTTP tests)."""
    request = AWSRequest(method=method, url=url, data=data or b"", headers=headers or {})
    SigV4Auth(Credentials("test", secret), service, "us-east-1").add_auth(request)
    return urllib.request.Request(url, data=data, method=method, headers=dict(request.headers))


def client(service: str, endpoint: str, **config: Any) -> Any:
    make: Any = boto3.client  # typed per service name; the name is a variable here
    return make(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(**{"retries": {"total_max_attempts": 1}, "read_timeout": 120, **config}),
    )


@pytest.fixture
def lambda_client(gureum_server: RunningServer) -> Any:
    return client("lambda", gureum_server.endpoint)


def zip_files(files: Mapping[str, str | bytes], modes: Mapping[str, int] | None = None) -> bytes:
    """A zip of ``files`` (name -> content), with unix modes where given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = ((modes or {}).get(name, 0o644) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


_names = iter(range(1_000_000))


def unique_name(prefix: str = "fn") -> str:
    return f"{prefix}-{next(_names)}-{int(time.time() * 1000) % 100000}"


@pytest.fixture
def deploy(lambda_client: Any) -> Callable[..., str]:
    """Create a Python function from source code; returns its name."""

    def create(
        code: str,
        *,
        handler: str = "app.handler",
        runtime: str = "python3.11",
        name: str | None = None,
        client: Any = None,
        files: dict[str, str] | None = None,
        **config: Any,
    ) -> str:
        name = name or unique_name()
        (client or lambda_client).create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": zip_files({"app.py": code, **(files or {})})},
            **config,
        )
        return name

    return create
