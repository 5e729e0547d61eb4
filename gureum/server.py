"""Running the edge: uvicorn (uvloop, httptools) serving the app of one platform."""

from __future__ import annotations

import logging
import os
import socket
import urllib.parse
from typing import Any

import sqlalchemy as sa
import uvicorn

from gureum import sockets
from gureum.frontend.app import Edge, create_app
from gureum.gateway import websocket_protocol
from gureum.settings import Settings
from gureum.supervisor import PROCESS_NUMBER, READY_FD, supervise

logger = logging.getLogger("gureum")


class EdgeServer(uvicorn.Server):
    """uvicorn serving the edge, saying where gureum listens once it does, and when it
    has stopped."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        edge = self.config.app
        assert isinstance(edge, Edge)
        platform = edge.state.platform
        settings = platform.settings
        bound = [s.getsockname() for server in self.servers for s in server.sockets]
        host, port = bound[0][:2] if bound else (settings.host, settings.port)
        url = sa.engine.make_url(settings.resolved_database_url)
        store = (
            f"SQLite at {url.database}"
            if url.get_backend_name() == "sqlite"
            else f"{url.get_backend_name()} {url.render_as_string(hide_password=True)}"
        )
        logger.info("ready: edge http://%s:%s", host, port)
        if platform.tls_address is not None:
            assert platform.tls_files is not None
            logger.info(
                "edge over HTTPS: https://%s (https://%s, ...; trust %s)",
                platform.tls_address,
                platform.tls_host("API.execute-api"),
                platform.tls_files.ca,
            )
        logger.info(
            "X-Ray daemon: %s (UDP segments, TCP sampling)",
            platform.xray_address or "not running",
        )
        logger.info("data directory: %s; store: %s", settings.data_dir.resolve(), store)
        ready = os.environ.pop(READY_FD, None)
        if ready is not None:  # a process of --processes: its supervisor waits for this
            os.write(int(ready), b"ready\n")
            os.close(int(ready))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # WebSocket clients are closed while the edge still listens: their $disconnect
        # functions call back into it (to delete the connection from a table, say).
        edge = self.config.app
        if isinstance(edge, Edge) and edge.websocket_apis is not None:
            grace = edge.state.platform.settings.shutdown_timeout
            await edge.websocket_apis.stop(grace)
        await super().shutdown(sockets)
        logger.info("stopped")


def uvicorn_config(settings: Settings, app: Edge | None = None, **overrides: Any) -> uvicorn.Config:
    """How uvicorn serves the edge (``app``, or a new one of ``settings``)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        **websocket_protocol.UVICORN_OPTIONS,
        "access_log": False,
        "log_level": settings.log_level,
        "timeout_graceful_shutdown": int(settings.shutdown_timeout) or None,
        **overrides,
    }
    return uvicorn.Config(app if app is not None else create_app(settings), **options)


def serve(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM; then drain in-flight invokes and stop every sandbox.
    With ``--processes`` other than 1, run that many server processes instead
    (:mod:`gureum.supervisor`). The exit status."""
    process = os.environ.get(PROCESS_NUMBER)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s "
        + (f"[{process}] " if process else "")
        + "%(name)s: %(message)s",
    )
    if settings.log_level != "debug":  # each migration's name, on every first start
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if settings.processes != 1:
        return supervise(settings)
    listening = None
    if settings.reuse_port:
        listening = shared_edge(settings)
        if listening is None:
            return 1
    server = EdgeServer(uvicorn_config(settings))
    server.run(sockets=listening)
    return 0 if server.started else 1


def shared_edge(settings: Settings) -> list[socket.socket] | None:
    """The edge's sockets for a node that shares its port (``--reuse-port``): the shared
    one, and one of the node's own, which it advertises to other nodes as its address
    (``settings.node_address`` set to it); None when the port cannot be had."""
    try:
        shared = sockets.bind(settings.host, settings.port, reuse_port=True)
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", settings.host, settings.port, exc)
        return None
    own = sockets.bind(settings.host, 0)
    advertised = urllib.parse.urlsplit(settings.node_address or settings.endpoint_url)
    host = advertised.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    settings.node_address = f"{advertised.scheme}://{host}:{sockets.port_of(own)}"
    return [shared, own]
