"""Functions with layers, invoked through boto3 against a real server: a layer's Python
package, its ``bin`` and ``lib``, layers in order (a later layer's file wins), a custom
runtime's ``bootstrap`` from a layer, a deleted layer version that goes on working, and
the same without isolation (the merged layers in place of ``/opt``)."""

from __future__ import annotations

import base64
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, RunningServer, client, unique_name, zip_files

#: A custom runtime in a layer: the Runtime API's loop with the standard library only.
LAYER_BOOTSTRAP = textwrap.dedent("""\
    #!/usr/bin/python3
    import json, os, sys, urllib.request
    api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
    while True:
        with urllib.request.urlopen(api + "next") as answer:
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.load(answer)
        body = json.dumps({"bootstrap": sys.argv[0], "handler": os.environ["_HANDLER"],
                           "event": event, "task": sorted(os.listdir("."))}).encode()
        urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", body))
""")


def publish(lam: Any, files: dict[str, str], modes: dict[str, int] | None = None) -> str:
    answer = lam.publish_layer_version(
        LayerName=unique_name("layer"), Content={"ZipFile": zip_files(files, modes)}
    )
    return str(answer["LayerVersionArn"])


def create(lam: Any, code: str, layers: list[str], **params: Any) -> str:
    name = unique_name("uses-layers")
    params.setdefault("Runtime", "python3.11")
    lam.create_function(
        FunctionName=name,
        Role=ROLE,
        Handler=params.pop("Handler", "app.handler"),
        Code={"ZipFile": zip_files({"app.py": textwrap.dedent(code)})},
        Layers=layers,
        **params,
    )
    return name


def call(lam: Any, name: str, payload: Any = None) -> Any:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}), LogType="Tail")
    body = answer["Payload"].read()
    log = base64.b64decode(answer.get("LogResult", "")).decode()
    assert "FunctionError" not in answer, (body, log)
    return json.loads(body)


PYTHON_LAYER = {
    "python/greeting/__init__.py": "WORD = 'hello from a layer'\n",
    "python/lib/python3.11/site-packages/pinned.py": "VERSION = '1.0'\n",
}
USES_PYTHON_LAYER = """
    import sys, greeting, pinned
    def handler(event, context):
        return {"word": greeting.WORD, "pinned": pinned.VERSION,
                "from": [greeting.__file__, pinned.__file__], "path": sys.path[:4]}
"""


def test_a_python_layer_is_imported(lambda_client: Any) -> None:
    name = create(lambda_client, USES_PYTHON_LAYER, [publish(lambda_client, PYTHON_LAYER)])
    result = call(lambda_client, name)
    assert result["word"] == "hello from a layer" and result["pinned"] == "1.0"
    assert result["from"] == [
        "/opt/python/greeting/__init__.py",
        "/opt/python/lib/python3.11/site-packages/pinned.py",
    ]
    assert result["path"] == [
        "/var/task",
        "/opt/python/lib/python3.11/site-packages",
        "/opt/python",
        "/var/runtime",
    ]


def test_a_layers_bin_and_lib(lambda_client: Any) -> None:
    layer = publish(
        lambda_client,
        {"bin/greet": '#!/bin/sh\necho "greetings, $1"\n', "lib/libfake.so.1": "not really"},
        {"bin/greet": 0o755},
    )
    code = """
        import os, subprocess
        def handler(event, context):
            out = subprocess.run(["greet", "layers"], capture_output=True, text=True, check=True)
            try:
                open("/opt/bin/greet", "a").close()
                writable = True
            except OSError:
                writable = False
            return {"out": out.stdout, "path": os.environ["PATH"],
                    "ld": os.environ["LD_LIBRARY_PATH"], "lib": os.listdir("/opt/lib"),
                    "writable": writable}
    """
    result = call(lambda_client, create(lambda_client, code, [layer]))
    assert result["out"] == "greetings, layers\n"
    assert result["path"].split(":")[-1] == "/opt/bin"
    assert result["ld"].split(":")[-1] == "/opt/lib" and result["lib"] == ["libfake.so.1"]
    assert result["writable"] is False  # shared read-only


def test_a_later_layers_file_wins(lambda_client: Any) -> None:
    first = publish(lambda_client, {"python/which.py": "NAME = 'first'\n", "python/one.py": ""})
    second = publish(lambda_client, {"python/which.py": "NAME = 'second'\n"})
    code = """
        import which, one
        def handler(event, context):
            return which.NAME
    """
    assert call(lambda_client, create(lambda_client, code, [first, second])) == "second"
    name = create(lambda_client, code, [second, first])
    assert call(lambda_client, name) == "first"
    # A change of layers is a new revision: the next invoke runs in a new sandbox.
    lambda_client.update_function_configuration(FunctionName=name, Layers=[first, second])
    assert call(lambda_client, name) == "second"


def test_a_custom_runtime_from_a_layers_bootstrap(lambda_client: Any) -> None:
    layer = publish(lambda_client, {"bootstrap": LAYER_BOOTSTRAP}, {"bootstrap": 0o755})
    name = create(lambda_client, "", [layer], Runtime="provided.al2023", Handler="my.handler")
    result = call(lambda_client, name, {"n": 1})
    assert result == {
        "bootstrap": "/opt/bootstrap",
        "handler": "my.handler",
        "event": {"n": 1},
        "task": ["app.py"],
    }
    without = unique_name("no-bootstrap")
    lambda_client.create_function(
        FunctionName=without,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="x",
        Code={"ZipFile": zip_files({"app.py": ""})},
        Layers=[publish(lambda_client, {"bin/other": ""})],
    )
    with pytest.raises(ClientError) as error:
        lambda_client.invoke(FunctionName=without)
    assert error.value.response["Error"]["Code"] == "InvalidRuntimeException"
    assert error.value.response["Error"]["Message"] == (
        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
    )


def test_a_deleted_layer_version_goes_on_working(start_server: Any) -> None:
    server: RunningServer = start_server()
    lam = client("lambda", server.endpoint)
    layer = publish(lam, PYTHON_LAYER)
    name = create(lam, USES_PYTHON_LAYER, [layer])
    lam.publish_version(FunctionName=name)
    assert call(lam, name)["word"] == "hello from a layer"
    layer_name, version = layer.split(":")[-2], int(layer.split(":")[-1])
    digest = lam.get_layer_version(LayerName=layer_name, VersionNumber=version)["Content"][
        "Location"
    ].rsplit("/", 1)[-1]
    lam.delete_layer_version(LayerName=layer_name, VersionNumber=version)
    with pytest.raises(ClientError) as refused:
        create(lam, USES_PYTHON_LAYER, [layer])
    assert refused.value.response["Error"]["Message"] == f"Layer version {layer} does not exist."
    with pytest.raises(ClientError):
        lam.update_function_configuration(FunctionName=name, Layers=[layer])
    # Collected as a restart collects (nothing running yet): the layer's code stays.
    code_dir = server.settings.data_dir / "code"
    server.call(lambda: server.platform._collect_code(older_than=0))
    assert (code_dir / "zips" / digest).exists()
    # New sandboxes (a new revision, and the published version) still get it.
    lam.update_function_configuration(FunctionName=name, Timeout=5)
    assert call(lam, name)["word"] == "hello from a layer"
    assert call(lam, f"{name}:1")["word"] == "hello from a layer"
    assert lam.get_function(FunctionName=name)["Configuration"]["Layers"][0]["Arn"] == layer
    # Once no version names it and its sandboxes are gone, it goes (and the merged /opt
    # of its combination).
    lam.delete_function(FunctionName=name)
    deadline = time.monotonic() + 10
    while (code_dir / "zips" / digest).exists() and time.monotonic() < deadline:
        server.call(lambda: server.platform._collect_code(older_than=0))
        time.sleep(0.05)
    assert not (code_dir / "zips" / digest).exists()
    assert list((code_dir / "opt").iterdir()) == []


def test_without_isolation_the_merged_layers_stand_in_for_opt(start_server: Any) -> None:
    server: RunningServer = start_server(isolation="rlimits")
    lam = client("lambda", server.endpoint)
    tools = publish(lam, {"bin/greet": "#!/bin/sh\necho hi\n"}, {"bin/greet": 0o755})
    name = create(
        lam,
        USES_PYTHON_LAYER.replace(
            'return {"word"', 'import os\n        return {"env": os.environ["PATH"], "word"'
        ),
        [publish(lam, PYTHON_LAYER), tools],
    )
    result = call(lam, name)
    opt = Path(result["from"][0]).parents[2]
    assert opt.parent == (server.settings.data_dir / "code" / "opt").resolve()
    assert result["word"] == "hello from a layer"
    assert result["path"][1:3] == [f"{opt}/python/lib/python3.11/site-packages", f"{opt}/python"]
    assert result["env"].endswith(f":{opt}/bin") and (opt / "bin" / "greet").is_file()
    layer = publish(lam, {"bootstrap": LAYER_BOOTSTRAP}, {"bootstrap": 0o755})
    custom = create(lam, "", [layer], Runtime="provided.al2023", Handler="h")
    assert call(lam, custom)["bootstrap"].endswith("/bootstrap")
