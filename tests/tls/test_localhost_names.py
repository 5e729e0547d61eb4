"""The runtimes' resolution of ``*.localhost`` (RFC 6761), outside a sandbox: loopback
for those names, the system's resolver for every other."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import subprocess
from typing import Any

import pytest

from gureum.runtimes import BOOTSTRAP, NODE_RUNTIME

NODE = shutil.which("node")


def test_python_resolves_localhost_names(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Any] = []

    def system(host: Any, port: Any, family: int = 0, *rest: Any) -> Any:
        asked.append(host)
        return [(family, socket.SOCK_STREAM, 6, "", (host, port))]

    monkeypatch.setattr(socket, "getaddrinfo", system)
    spec = importlib.util.spec_from_file_location("_gureum_bootstrap_test", BOOTSTRAP)
    assert spec is not None and spec.loader is not None
    bootstrap: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    bootstrap.resolve_localhost_names()
    bootstrap.resolve_localhost_names()  # once is enough: not wrapped twice
    socket.getaddrinfo("abc.execute-api.localhost", 443)
    socket.getaddrinfo("X.LOCALHOST.", 443)
    socket.getaddrinfo(b"b.localhost", 443, socket.AF_INET6)
    socket.getaddrinfo("example.com", 443)
    socket.getaddrinfo("localhost.example.com", 443)
    assert asked == ["127.0.0.1", "127.0.0.1", "::1", "example.com", "localhost.example.com"]


PROBE = """
const { resolveLocalhostNames } = require(process.argv[1]);
const dns = require('dns');
const asked = [];
const SYSTEM = '192.0.2.1';
dns.lookup = (name, options, callback) => {
  asked.push(name);
  (callback || options)(null, SYSTEM, 4);
};
dns.promises.lookup = async (name) => {
  asked.push(name);
  return { address: SYSTEM, family: 4 };
};
resolveLocalhostNames();
const answers = {};
dns.lookup('abc.execute-api.localhost', (e, address, family) => {
  answers.plain = [address, family];
});
dns.lookup('abc.localhost', { all: true }, (e, all) => { answers.all = all; });
dns.lookup('abc.localhost', 6, (e, address) => { answers.six = address; });
dns.lookup('example.com', {}, (e, address) => { answers.other = address; });
(async () => {
  answers.promise = await dns.promises.lookup('Q.LOCALHOST');
  answers.promiseOther = await dns.promises.lookup('localhost.example.com');
  console.log(JSON.stringify({ answers, asked }));
})();
"""


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_node_resolves_localhost_names() -> None:
    assert NODE is not None
    module = str(NODE_RUNTIME / "localhost.cjs")
    ran = subprocess.run(
        [NODE, "-e", PROBE, module], capture_output=True, text=True, check=True, timeout=30
    )
    said = json.loads(ran.stdout)
    assert said["answers"] == {
        "plain": ["127.0.0.1", 4],
        "all": [{"address": "127.0.0.1", "family": 4}],
        "six": "::1",
        "other": "192.0.2.1",
        "promise": {"address": "127.0.0.1", "family": 4},
        "promiseOther": {"address": "192.0.2.1", "family": 4},
    }
    assert said["asked"] == ["example.com", "localhost.example.com"]
