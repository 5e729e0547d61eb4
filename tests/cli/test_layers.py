"""``gureum layers publish|list`` and ``gureum deploy --layer`` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import run
from tests.conftest import RunningServer, unique_name, zip_files


def test_publish_list_and_deploy_with_layers(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    name = unique_name("cli-layer")
    layer_dir = tmp_path / "layer"
    (layer_dir / "python").mkdir(parents=True)
    (layer_dir / "python" / "shout.py").write_text("def shout(s):\n    return s.upper()\n")
    code, out, _ = run(
        capsys,
        "layers",
        "publish",
        str(layer_dir),
        "--name",
        name,
        "--runtime",
        "python3.11",
        "--runtime",
        "python3.12",
        "--description",
        "shouting",
        *endpoint,
    )
    first_arn = f"arn:aws:lambda:us-east-1:000000000000:layer:{name}:1"
    assert code == 0 and out.startswith(f"published {first_arn} (")
    zipped = tmp_path / "second.zip"
    zipped.write_bytes(zip_files({"python/shout.py": "def shout(s):\n    return s + '!'\n"}))
    code, out, _ = run(
        capsys, "layers", "publish", str(zipped), "--name", name, "--json", *endpoint
    )
    second = json.loads(out)
    assert code == 0 and second["Version"] == 2 and "CompatibleRuntimes" not in second
    code, out, _ = run(
        capsys, "layers", "publish", str(zipped), "--name", f"{name}-x", "--json", *endpoint
    )
    other_arn = json.loads(out)["LayerVersionArn"]

    code, out, _ = run(capsys, "layers", "list", *endpoint)
    rows = [line.split() for line in out.splitlines()]
    assert code == 0 and rows[0] == ["NAME", "VERSION", "RUNTIMES", "CREATED", "ARN"]
    (mine,) = [row for row in rows if row[0] == name]
    assert mine[1] == "2" and mine[2] == "-" and mine[-1] == second["LayerVersionArn"]
    code, out, _ = run(capsys, "layers", "list", "--runtime", "python3.12", "--json", *endpoint)
    (matching,) = [layer for layer in json.loads(out) if layer["LayerName"] == name]
    assert matching["LatestMatchingVersion"]["LayerVersionArn"] == first_arn

    function_dir = tmp_path / "fn"
    function_dir.mkdir()
    (function_dir / "app.py").write_text(
        "from shout import shout\ndef handler(event, context):\n    return shout('hey')\n"
    )
    function = unique_name("cli-layered")
    deploy = ["deploy", str(function_dir), "--name", function, "--handler", "app.handler"]
    code, out, _ = run(
        capsys, *deploy, "--runtime", "python3.11", "--layer", first_arn, "--json", *endpoint
    )
    assert code == 0 and [layer["Arn"] for layer in json.loads(out)["Layers"]] == [first_arn]
    code, out, _ = run(capsys, "invoke", function, *endpoint)
    assert code == 0 and json.loads(out) == "HEY"
    # Two layers, in order: the later layer's shout.py wins.
    code, out, _ = run(capsys, *deploy, "--layer", first_arn, "--layer", other_arn, *endpoint)
    assert code == 0 and out.startswith(f"updated {function} ")
    code, out, _ = run(capsys, "invoke", function, *endpoint)
    assert json.loads(out) == "hey!"
    # An update without --layer keeps them.
    code, out, _ = run(capsys, *deploy, "--json", *endpoint)
    assert len(json.loads(out)["Layers"]) == 2


def test_layer_errors(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    code, _, err = run(
        capsys, "layers", "publish", str(tmp_path / "nothing"), "--name", "x", *endpoint
    )
    assert code == 1 and "is neither a directory nor a zip file" in err
    text = tmp_path / "notes.txt"
    text.write_text("not a zip")
    code, _, err = run(capsys, "layers", "publish", str(text), "--name", "x", *endpoint)
    assert code == 1 and "is not a zip file" in err
    layer_dir = tmp_path / "layer"
    layer_dir.mkdir()
    (layer_dir / "f").write_text("x")
    code, _, err = run(capsys, "layers", "publish", str(layer_dir), "--name", "bad.name", *endpoint)
    assert code == 1 and err.startswith("gureum: ValidationException: 1 validation error")
    function_dir = tmp_path / "fn"
    function_dir.mkdir()
    (function_dir / "app.py").write_text("def handler(e, c):\n    return 1\n")
    missing = "arn:aws:lambda:us-east-1:000000000000:layer:nope:1"
    code, _, err = run(
        capsys,
        "deploy",
        str(function_dir),
        "--name",
        unique_name("cli-nolayer"),
        "--handler",
        "app.handler",
        "--layer",
        missing,
        *endpoint,
    )
    assert code == 1 and f"Layer version {missing} does not exist." in err
