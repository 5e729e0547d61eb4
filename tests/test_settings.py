"""Every setting is documented, and flags, variables and defaults agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from gureum.cli import build_parser, settings_from_args
from gureum.settings import Settings

DOC = (Path(__file__).parent.parent / "docs" / "settings.md").read_text()


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_setting_is_documented(name: str) -> None:
    assert f"`--{name.replace('_', '-')}`" in DOC
    assert f"`GUREUM_{name.upper()}`" in DOC


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
