"""What the console's browser tests share: a server for the module, and where their
screenshots go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, server_on

#: Screenshots of each page, kept as the tests' artefacts.
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with server_on("sqlite", tmp_path_factory.mktemp("console")) as running:
        yield running
