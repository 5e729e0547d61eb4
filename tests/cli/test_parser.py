"""The parser ``gureum.cli`` builds from every command group."""

from __future__ import annotations

import argparse

import pytest

from gureum.cli import build_parser
from tests.cli.conftest import run


def _command_paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every command and subcommand of ``parser``, as the words that name it."""
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                paths += _command_paths(sub, (*prefix, word))
    return paths


def test_every_command_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _command_paths(build_parser())
    assert ("server",) in paths and ("queues", "send") in paths and ("tables", "put") in paths
    assert ("apis", "create") in paths and ("apis", "url") in paths
    for path in paths:
        code, out, err = run(capsys, *path, "--help")
        assert code == 0, (path, err)
        assert out.startswith("usage: gureum"), (path, out)
