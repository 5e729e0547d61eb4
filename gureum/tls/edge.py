"""The edge over HTTPS: the same ASGI app on a second port, with a certificate this node
issues itself from gureum's local authority at every start.

What the node writes to ``DATA_DIR/tls`` (``docs/tls.md``):

- ``ca.pem``: the authority's certificate, for users to trust (``curl --cacert``) and
  for Node.js sandboxes (``NODE_EXTRA_CA_CERTS`` adds it to Node's own CAs);
- ``ca-bundle.pem``: the host's CA bundle followed by the authority, for what replaces
  its CAs with a file (botocore's ``AWS_CA_BUNDLE``, ``REQUESTS_CA_BUNDLE``, OpenSSL's
  ``SSL_CERT_FILE``), so that real TLS sites still verify;
- ``server.pem`` and ``server.key`` (0600): the node's certificate chain and key, as
  uvicorn loads them (``server-{pid}.*`` for each of the processes of ``--processes``,
  removed when it stops). The authority's key is never written outside the store.
"""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from gureum import sockets
from gureum.gateway import websocket_protocol
from gureum.tls.authority import CA_NAME, Authority, issue_server_certificate, server_names

#: Where a host keeps its CA bundle (Debian's and Alpine's, then Fedora's), if OpenSSL's
#: own default names no file; certifi's when the host has none.
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


@dataclass(frozen=True, slots=True)
class TrustFiles:
    """What a node wrote for clients to trust its edge: public files, PEM."""

    #: gureum's authority alone.
    ca: Path
    #: The host's CAs and gureum's.
    bundle: Path


def system_ca_bundle() -> Path | None:
    """The host's bundle of trusted CAs: OpenSSL's default file, a distribution's, or
    certifi's; None if there is none."""
    candidates = [ssl.get_default_verify_paths().cafile, *SYSTEM_BUNDLES]
    try:
        import certifi

        candidates.append(certifi.where())
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            return Path(candidate)
    return None


def _write(path: Path, text: str, mode: int) -> None:
    """Write ``path`` whole, never half: a temporary file beside it renamed over it."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


class TlsEdge:
    """This node's certificate and trust files, and the HTTPS listener that serves the
    edge app with them."""

    def __init__(self, directory: Path, *, shared: bool = False) -> None:
        self.directory = directory
        self.files = TrustFiles(directory / "ca.pem", directory / "ca-bundle.pem")
        # Processes sharing one data directory (--processes) each issue a certificate:
        # each keeps its own files (removed when it stops), lest one load another's key
        # with its own certificate.
        name = f"server-{os.getpid()}" if shared else "server"
        self.shared = shared
        self.certificate = directory / f"{name}.pem"
        self.key = directory / f"{name}.key"
        self._server: uvicorn.Server | None = None

    def prepare(self, authority: Authority, host: str) -> TrustFiles:
        """A new server certificate from ``authority`` for ``host`` and the loopback
        names, and the files that say so (blocking I/O)."""
        issued = issue_server_certificate(
            authority, server_names(host), datetime.datetime.now(datetime.UTC)
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        _write(self.key, issued.private_key_pem, 0o600)
        _write(self.certificate, issued.chain_pem, 0o644)
        _write(self.files.ca, authority.certificate_pem, 0o644)
        system = system_ca_bundle()
        bundle = system.read_text() if system is not None else ""
        if bundle and not bundle.endswith("\n"):
            bundle += "\n"
        _write(self.files.bundle, f"{bundle}# {CA_NAME}\n{authority.certificate_pem}", 0o644)
        return self.files

    async def serve(
        self,
        app: ASGIApp,
        host: str,
        port: int,
        *,
        shutdown_timeout: float,
        reuse_port: bool = False,
    ) -> int:
        """Serve ``app`` over HTTPS on ``host:port`` (0: a free port; ``reuse_port``: shared
        with other processes, :mod:`gureum.sockets`); the port bound.

        Raises OSError if the address cannot be had (bound here: uvicorn would exit the
        process).
        """
        sock = sockets.bind(host, port, reuse_port=reuse_port)
        try:
            server = await self._start(app, host, port, sock, shutdown_timeout)
        except BaseException:
            sock.close()
            raise
        self._server = server
        return int(sock.getsockname()[1])

    async def _start(
        self, app: ASGIApp, host: str, port: int, sock: socket.socket, shutdown_timeout: float
    ) -> uvicorn.Server:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http="httptools",
            lifespan="off",  # the HTTP edge's lifespan starts and stops the platform
            access_log=False,
            log_config=None,
            log_level=None,
            ssl_certfile=str(self.certificate),
            ssl_keyfile=str(self.key),
            timeout_graceful_shutdown=int(shutdown_timeout) or None,
            **websocket_protocol.UVICORN_OPTIONS,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        return server

    async def close(self) -> None:
        """Stop listening and let the requests in flight finish."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.shutdown()
        if self.shared:
            self.certificate.unlink(missing_ok=True)
            self.key.unlink(missing_ok=True)
