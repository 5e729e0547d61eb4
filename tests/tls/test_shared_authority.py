"""Two ``gureum server`` processes on one PostgreSQL, started at once, share one CA: a
client that trusts either node's ``ca.pem`` verifies both nodes' HTTPS edges."""

from __future__ import annotations

import concurrent.futures
import json
import ssl
import subprocess
import urllib.request
from pathlib import Path

from tests.conftest import free_port, server_process, signed_request, store_settings


def test_two_nodes_on_one_postgresql_share_one_ca(tmp_path: Path) -> None:
    with store_settings("postgres") as overrides:
        url = overrides["database_url"]
        nodes = [(free_port(), free_port(), tmp_path / f"node{n}") for n in range(2)]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            starting = [
                pool.submit(
                    server_process,
                    port,
                    data_dir,
                    "--database-url",
                    url,
                    "--tls-port",
                    str(tls_port),
                )
                for port, tls_port, data_dir in nodes
            ]
        concurrent.futures.wait(starting)
        processes: list[subprocess.Popen[bytes]] = [
            s.result() for s in starting if s.exception() is None
        ]
        try:
            assert len(processes) == 2, [s.exception() for s in starting]
            authorities = {(data_dir / "tls" / "ca.pem").read_text() for _, _, data_dir in nodes}
            assert len(authorities) == 1
            context = ssl.create_default_context(cafile=str(nodes[0][2] / "tls" / "ca.pem"))
            for _, tls_port, _ in nodes:
                request = signed_request(f"https://localhost:{tls_port}/2015-03-31/functions")
                with urllib.request.urlopen(request, context=context, timeout=30) as response:
                    assert "Functions" in json.loads(response.read())
            # each node's own certificate, from the one authority
            assert (nodes[0][2] / "tls" / "server.pem").read_text() != (
                nodes[1][2] / "tls" / "server.pem"
            ).read_text()
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=60)
