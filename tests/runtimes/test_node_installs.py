"""``gureum runtimes install``: a Node.js of another major version, and the AWS SDK for
JavaScript v3 at ``/var/runtime/node_modules``, fetched from the npm registry into the
data directory, then used by functions on a server over that directory."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gureum.cli import main
from gureum.runtimes import node_executable
from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files

pytestmark = pytest.mark.skipif(
    shutil.which("npm") is None or shutil.which("node") is None, reason="needs node and npm"
)

#: A major version the host's own node is not, to install.
OTHER = "nodejs22.x"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runtimes") / "data"


def test_install_a_node_major_and_the_sdk_then_use_them(
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    start_server: Callable[..., RunningServer],
) -> None:
    code, out, err = run(capsys, "runtimes", "install", OTHER, "--data-dir", str(data_dir))
    assert code == 0, err
    assert f"for {OTHER}" in out
    node = node_executable(OTHER, data_dir.resolve())
    assert node.startswith(str(data_dir.resolve()))
    code, out, err = run(
        capsys,
        "runtimes",
        "install",
        "nodejs",
        "@aws-sdk/client-lambda",
        "--data-dir",
        str(data_dir),
    )
    assert code == 0, err
    code, out, _ = run(capsys, "runtimes", "list", "--data-dir", str(data_dir))
    assert f"{OTHER}  {node}" in out and "client-lambda" in out

    server = start_server(data_dir=data_dir)
    lam = client("lambda", server.endpoint)
    target = unique_name("target")
    lam.create_function(
        FunctionName=target,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": "def handler(e, c):\n    return e['n'] * 2\n"})},
    )
    # SDK v3 from /var/runtime/node_modules; endpoint, region and keys from the sandbox's
    # environment, as on Lambda: the function's code names none of them.
    caller = unique_name("sdkv3")
    code_js = f"""
import {{ LambdaClient, InvokeCommand }} from '@aws-sdk/client-lambda';
const lambda = new LambdaClient({{}});
export const handler = async (event) => {{
  const out = await lambda.send(new InvokeCommand({{
    FunctionName: '{target}', Payload: JSON.stringify({{ n: event.n }}) }}));
  return {{ node: process.version, doubled: JSON.parse(Buffer.from(out.Payload).toString()) }};
}};
"""
    lam.create_function(
        FunctionName=caller,
        Runtime=OTHER,
        Role=ROLE,
        Handler="index.handler",
        Timeout=30,
        Code={"ZipFile": zip_files({"index.mjs": code_js})},
    )
    answer = lam.invoke(FunctionName=caller, Payload=b'{"n": 21}', LogType="Tail")
    body: Any = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, base64.b64decode(answer["LogResult"]).decode()
    assert body["node"].startswith("v22.") and body["doubled"] == 42


def test_nothing_else_to_install(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, _, err = run(capsys, "runtimes", "install", "java21", "--data-dir", str(data_dir))
    assert code == 1 and "nothing to install for 'java21'" in err
