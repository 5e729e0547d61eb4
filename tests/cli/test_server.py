"""``gureum doctor``: what this host's sandboxes can be given."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import run


def test_doctor_reports_the_hosts_protections(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "doctor", "--data-dir", str(tmp_path / "data"))
    lines = out.splitlines()
    assert lines[0].startswith("isolation: ")
    assert any(line.startswith("runtime python3.11: /") for line in lines)
    # every Node.js identifier, with the node that serves it or what is missing
    for major in (18, 20, 22, 24):
        (said,) = [line for line in lines if line.startswith(f"runtime nodejs{major}.x: ")]
        assert said.split(": ", 1)[1].startswith(("/", f"not available (no Node.js {major}"))
    assert code == (0 if lines[0].startswith("isolation: namespaces") else 1)
    if code == 0:
        assert "cold starts: zygote (a fork server per runtime, 4 children prepared)" in lines
        assert any(line.startswith("snapshots (SnapStart): ") for line in lines)
        code, out, _ = run(
            capsys, "doctor", "--data-dir", str(tmp_path / "data"), "--cold-start", "exec"
        )
        assert "snapshots (SnapStart): off: needs --cold-start zygote" in out.splitlines()
