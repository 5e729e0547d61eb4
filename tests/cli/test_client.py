"""What every client command shares: the endpoint, gureum's keys, errors in one line."""

from __future__ import annotations

import pytest

from tests.cli.conftest import run
from tests.conftest import RunningServer


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["invoke", "x", "--payload", "{bad"], "--payload is not valid JSON"),
        (["invoke", "x", "--payload", "@/no/such/file"], "cannot read payload file"),
        (["invoke", "no-such-function-here"], "ResourceNotFoundException: Function not found"),
        (["logs", "no-such-function-here"], "no logs yet for no-such-function-here"),
        (["logs", "x", "--since", "yesterday"], "--since takes a duration"),
        (["deploy", "/no/such/dir", "--name", "x", "--handler", "a.b"], "is not a directory"),
        (
            ["deploy", ".", "--name", "x", "--handler", "a.b", "--env", "NOEQUALS"],
            "--env takes KEY=VALUE",
        ),
        (
            ["deploy", ".", "--name", "x", "--handler", "a.b", "--memory", "64"],
            "invalid parameters: Invalid value for parameter MemorySize",
        ),
        (["invoke", ""], "invalid parameters: Invalid length for parameter FunctionName"),
        (["logs", "x", "--filter", "{ $.a = "], "InvalidParameterException: Invalid filter"),
    ],
)
def test_errors_are_one_line(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv, "--endpoint", gureum_server.endpoint)
    assert code == 1
    assert err.startswith("gureum: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["functions"],
        ["invoke", "x"],
        ["logs", "x"],
        ["logs", "x", "--follow"],
        ["deploy", "tests", "--name", "x", "--handler", "a.b"],
    ],
)
def test_unreachable_endpoint(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, *argv, "--endpoint", "http://127.0.0.1:9")
    assert code == 1
    assert err == (
        "gureum: cannot reach gureum at http://127.0.0.1:9: is `gureum server` running?\n"
    )


def test_endpoint_from_the_environment(
    gureum_server: RunningServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GUREUM_ENDPOINT", gureum_server.endpoint)
    code, out, _ = run(capsys, "functions")
    assert code == 0 and out.startswith("NAME")
    monkeypatch.delenv("GUREUM_ENDPOINT")
    code, _, err = run(capsys, "functions")
    assert code == 1 and "cannot reach gureum at http://127.0.0.1:9" in err


def test_bad_endpoint_and_wrong_keys_are_one_line(
    gureum_server: RunningServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(capsys, "functions", "--endpoint", "127.0.0.1:9070")
    assert code == 1 and err.startswith("gureum: invalid --endpoint '127.0.0.1:9070'")
    monkeypatch.setenv("GUREUM_SECRET_ACCESS_KEY", "not-the-servers")
    code, _, err = run(capsys, "functions", "--endpoint", gureum_server.endpoint)
    assert code == 1 and err.count("\n") == 1
    assert "InvalidSignatureException" in err and "GUREUM_SECRET_ACCESS_KEY" in err
