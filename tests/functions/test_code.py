"""The code store: content addressing, AWS's CodeSha256, safe unpacking."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from pathlib import Path

import pytest

from gureum.errors import InvalidParameterValueException
from gureum.functions.code import CodeStore
from tests.conftest import zip_files


def test_put_zip_digests_and_stores_once(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    data = zip_files({"app.py": "x = 1\n"})
    info = code.put_zip(data)
    assert info.code_sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert info.sha256_hex == hashlib.sha256(data).hexdigest()
    assert info.code_size == len(data)
    assert code.read_zip(info.sha256_hex) == data
    assert code.put_zip(data) == info


@pytest.mark.parametrize("data", [b"not a zip", b"", b"PK\x03\x04garbage"])
def test_bad_zip_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(InvalidParameterValueException, match="Could not unzip"):
        CodeStore(tmp_path).put_zip(data)


@pytest.mark.parametrize("name", ["../escape.py", "/etc/passwd", "a/../../b"])
def test_zip_slip_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidParameterValueException):
        CodeStore(tmp_path).put_zip(zip_files({name: "x"}))


def test_unpack_keeps_modes_and_is_read_only(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    info = code.put_zip(
        zip_files({"bootstrap": "#!/bin/sh\n", "lib/mod.py": "y = 2\n"}, {"bootstrap": 0o777})
    )
    task = code.unpacked(info.sha256_hex)
    assert (task / "lib" / "mod.py").read_text() == "y = 2\n"
    assert os.access(task / "bootstrap", os.X_OK)
    assert (task / "bootstrap").stat().st_mode & 0o022 == 0
    assert code.unpacked(info.sha256_hex) == task


def test_concurrent_unpack_is_safe(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    info = code.put_zip(zip_files({f"m{i}.py": "z = 3\n" * 100 for i in range(50)}))
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(code.unpacked(info.sha256_hex)))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert len(list(results[0].iterdir())) == 50
    assert [p for p in (tmp_path / "tasks").iterdir() if p.name.startswith(".")] == []


def test_delete(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    info = code.put_zip(zip_files({"a.py": ""}))
    code.unpacked(info.sha256_hex)
    code.delete(info.sha256_hex)
    assert not code.zip_path(info.sha256_hex).exists()
    assert not (tmp_path / "tasks" / info.sha256_hex).exists()
