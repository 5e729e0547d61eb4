"""``gureum tls ca``: the store's CA, as the server wrote it for clients to trust."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import run
from tests.conftest import RunningServer


def test_tls_ca_prints_the_stores_ca(
    capsys: pytest.CaptureFixture[str], start_server: Callable[..., RunningServer]
) -> None:
    server = start_server()
    data_dir = server.settings.data_dir
    code, out, _ = run(capsys, "tls", "ca", "--data-dir", str(data_dir))
    assert code == 0
    assert out == (data_dir / "tls" / "ca.pem").read_text()
    assert out.startswith("-----BEGIN CERTIFICATE-----")


def test_tls_ca_without_a_store(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "tls", "ca", "--data-dir", str(tmp_path / "none"))
    assert code == 1 and "start `gureum server` once" in err
    assert not (tmp_path / "none").exists()
