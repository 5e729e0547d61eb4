"""``gureum logs`` against a real server: filters, ``--since``, ``--follow``."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from gureum.cli.client import parse_since
from gureum.cli.logs import format_event
from tests.cli.conftest import run
from tests.conftest import RunningServer, unique_name


def lines_of(pipe: IO[str]) -> queue.Queue[str]:
    """The lines ``pipe`` yields, read in a thread, so a test can wait with a timeout."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in pipe:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_logs_follow_prints_new_lines(gureum_server: RunningServer, code_dir: Path) -> None:
    name = unique_name("follow")
    endpoint = ["--endpoint", gureum_server.endpoint]
    python = [sys.executable, "-m", "gureum"]
    subprocess.run(
        [*python, "deploy", str(code_dir), "--name", name, "--handler", "app.handler", *endpoint],
        check=True,
        capture_output=True,
    )
    # Started before the function ever ran: its log group does not exist yet.
    follower = subprocess.Popen(
        [*python, "logs", name, "--follow", *endpoint],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stderr is not None and follower.stdout is not None
        out, err = lines_of(follower.stdout), lines_of(follower.stderr)
        assert err.get(timeout=15) == f"no logs yet for {name}; waiting\n"
        printed = []
        for word in ("live", "again"):
            subprocess.run(
                [*python, "invoke", name, "--payload", json.dumps({"word": word}), *endpoint],
                check=True,
                capture_output=True,
            )
            # this invoke's lines, up to its REPORT line
            while not (line := out.get(timeout=15)).split(" ", 1)[1].startswith("REPORT"):
                printed.append(line)
            assert any(f"cli says {word}" in line for line in printed)
            assert all(line[:4].isdigit() for line in printed)
        follower.send_signal(signal.SIGINT)  # Ctrl-C
        assert follower.wait(timeout=10) == 0
        assert out.empty()
        assert sum("cli says" in line for line in printed) == 2  # each line once
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


def test_logs_filter_pattern_and_since(
    gureum_server: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    endpoint = ["--endpoint", gureum_server.endpoint]
    name = unique_name("jsonlog")
    directory = tmp_path / "jsonlog"
    directory.mkdir()
    (directory / "app.py").write_text(
        "import json\n"
        "def handler(event, context):\n"
        "    print(json.dumps({'level': event['level'], 'n': event['n']}))\n"
    )
    run(capsys, "deploy", str(directory), "--name", name, "--handler", "app.handler", *endpoint)
    for level, n in (("INFO", 1), ("ERROR", 2), ("ERROR", 30)):
        code, _, _ = run(
            capsys, "invoke", name, "--payload", json.dumps({"level": level, "n": n}), *endpoint
        )
        assert code == 0
    pattern = '{ $.level = "ERROR" && $.n > 10 }'
    deadline = time.monotonic() + 10
    while True:
        code, out, _ = run(capsys, "logs", name, "--filter", pattern, "--since", "5m", *endpoint)
        if out or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert code == 0 and len(out.splitlines()) == 1 and out.rstrip().endswith('"n": 30}')
    code, out, _ = run(capsys, "logs", name, "--filter", "?INFO ?nothing", *endpoint)
    assert len(out.splitlines()) == 1
    code, out, _ = run(capsys, "logs", name, "--since", "0s", *endpoint)
    assert (code, out) == (0, "")


def test_parse_since_and_format_event() -> None:
    now = 1_700_000_000.0
    assert parse_since("30s", now) == 1_699_999_970_000
    assert parse_since("10m", now) == 1_699_999_400_000
    assert parse_since("1h", now) == 1_699_996_400_000
    assert parse_since("2d", now) == 1_699_827_200_000
    line = format_event({"timestamp": 1_700_000_000_123, "message": "hello\n"})
    assert line == "2023-11-14T22:13:20.123+00:00 hello"
