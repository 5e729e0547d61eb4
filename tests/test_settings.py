"""Every setting is documented, and flags, variables and defaults agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from gureum.cli import build_parser, main
from gureum.cli.server import settings_from_args
from gureum.settings import Settings

DOC = (Path(__file__).parent.parent / "docs" / "settings.md").read_text()


#: Settings whose default the table says in words (it is computed at start-up).
DESCRIBED_DEFAULTS = {
    "sandbox_memory_budget": "80% of the host's memory",
    "tls_port": "`--port` + 1",
}


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_setting_is_documented(name: str) -> None:
    rows = [
        line for line in DOC.splitlines() if line.startswith(f"| `--{name.replace('_', '-')}` |")
    ]
    assert len(rows) == 1, name
    flag, variable, default, meaning = [cell.strip() for cell in rows[0].strip("|").split(" | ")]
    assert variable == f"`GUREUM_{name.upper()}`"
    field = Settings.model_fields[name]
    assert default == DESCRIBED_DEFAULTS.get(name, f"`{field.default}`")
    assert meaning


def test_flag_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUREUM_PORT", "9999")
    monkeypatch.setenv("GUREUM_SANDBOX_IDLE_TIMEOUT", "12.5")
    args = build_parser().parse_args(["server", "--port", "1234"])
    settings = settings_from_args(args)
    assert settings.port == 1234
    assert settings.sandbox_idle_timeout == 12.5
    assert settings.host == "127.0.0.1"


def test_bad_setting_is_refused() -> None:
    args = build_parser().parse_args(["server", "--port", "70000"])
    with pytest.raises(ValueError):
        settings_from_args(args)


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--processes", "100"], "gureum: --processes: Input should be less than or equal to 64"),
        (["--node-address", "foo"], "gureum: --node-address: String should match pattern"),
        (["--port", "70000"], "gureum: --port: Input should be less than or equal to 65535"),
    ],
)
def test_a_bad_setting_is_said_in_one_line(
    flags: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["server", *flags])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(said) and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("port", "tls_port", "resolved"),
    [(9070, None, 9071), (0, None, 0), (65535, None, 0), (9070, 0, 0), (9070, 8443, 8443)],
)
def test_tls_port(port: int, tls_port: int | None, resolved: int) -> None:
    settings = Settings.model_validate({"port": port, "tls_port": tls_port})
    assert settings.resolved_tls_port == resolved


def test_tls_port_minus_one_turns_https_off() -> None:
    args = build_parser().parse_args(["server", "--tls-port", "-1"])
    assert settings_from_args(args).resolved_tls_port is None
