"""What the CLI's tests share: ``gureum`` run in-process, a function's code to deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from gureum.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "fn"
    directory.mkdir()
    (directory / "app.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    print('cli says', event.get('word'))\n"
        "    if event.get('fail'):\n"
        "        raise RuntimeError('asked to fail')\n"
        "    return {'word': event.get('word'), 'greeting': os.environ.get('GREETING')}\n"
    )
    (directory / "__pycache__").mkdir()
    (directory / "__pycache__" / "junk.pyc").write_bytes(b"junk")
    return directory
