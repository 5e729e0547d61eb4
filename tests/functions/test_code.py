"""The code store: content addressing, AWS's CodeSha256, safe unpacking."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import threading
import zipfile
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


def _patched(data: bytes, local: int, central: int, value: bytes) -> bytes:
    """``data`` with bytes overwritten at an offset of the local and the central header."""
    out = bytearray(data)
    for header, offset in ((b"PK\x03\x04", local), (b"PK\x01\x02", central)):
        at = out.index(header) + offset
        out[at : at + len(value)] = value
    return bytes(out)


def test_unreadable_members_are_refused(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    stored = io.BytesIO()
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.py", "x = 1\n")
    data = stored.getvalue()
    encrypted = _patched(data, 6, 8, b"\x01")  # flag bit 0: needs a password
    unknown_method = _patched(data, 8, 10, b"\x63\x00")  # method 99 (AES)
    deflated = zip_files({"a.py": "x = 1\n" * 100})
    at = deflated.index(b"PK\x03\x04") + 30 + len("a.py")
    bad_stream = deflated[:at] + b"\xff" + deflated[at + 1 :]  # an invalid deflate block
    for data in (encrypted, unknown_method, bad_stream):
        with pytest.raises(InvalidParameterValueException, match="Could not unzip"):
            code.put_zip(data)
    assert list((tmp_path / "zips").iterdir()) == []


@pytest.mark.parametrize("name", ["../escape.py", "/etc/passwd", "a/../../b", "a\\..\\b"])
def test_zip_slip_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidParameterValueException, match="outside the code directory"):
        CodeStore(tmp_path).put_zip(zip_files({name: "x"}))
    assert list((tmp_path / "zips").iterdir()) == []


def test_a_path_both_file_and_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValueException, match="both a file and a directory"):
        CodeStore(tmp_path).put_zip(zip_files({"lib": "x", "lib/mod.py": "y"}))


def test_unzipped_size_is_limited(tmp_path: Path) -> None:
    code = CodeStore(tmp_path, max_unzipped_size=1000)
    code.put_zip(zip_files({"a.py": "x" * 1000}))
    with pytest.raises(InvalidParameterValueException, match="smaller than 1000 bytes"):
        code.put_zip(zip_files({"a.py": "x" * 600, "b.py": "y" * 401}))


def test_unpack_keeps_modes_and_is_read_only(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    info = code.put_zip(
        zip_files({"bootstrap": "#!/bin/sh\n", "lib/mod.py": "y = 2\n"}, {"bootstrap": 0o777})
    )
    task = code.unpacked(info.sha256_hex)
    assert (task / "lib" / "mod.py").read_text() == "y = 2\n"
    assert os.access(task / "bootstrap", os.X_OK)
    assert stat.S_IMODE((task / "bootstrap").stat().st_mode) == 0o755
    assert stat.S_IMODE((task / "lib" / "mod.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((task / "lib").stat().st_mode) == 0o755
    assert stat.S_IMODE(task.stat().st_mode) == 0o755


def test_unpack_strips_special_bits_and_defaults_the_mode(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    info = code.put_zip(zip_files({"suid": "#!/bin/sh\n", "rw": ""}, {"suid": 0o6755, "rw": 0o666}))
    task = code.unpacked(info.sha256_hex)
    assert stat.S_IMODE((task / "suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((task / "rw").stat().st_mode) == 0o644
    # No unix mode at all (zipfile cannot write one: patch the central directory).
    data = zip_files({"plain.py": ""})
    at = data.index(b"PK\x01\x02") + 38
    no_mode = data[:at] + bytes(4) + data[at + 4 :]
    task = code.unpacked(code.put_zip(no_mode).sha256_hex)
    assert stat.S_IMODE((task / "plain.py").stat().st_mode) == 0o644


def test_unpack_happens_once(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    info = code.put_zip(zip_files({"a.py": "x = 1\n"}))
    task = code.unpacked(info.sha256_hex)
    inode = (task / "a.py").stat().st_ino
    code.zip_path(info.sha256_hex).unlink()  # a second unpack would now fail
    assert code.unpacked(info.sha256_hex) == task
    assert (task / "a.py").stat().st_ino == inode


def test_symlinks_are_not_unpacked(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("passwd")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("a.py", "")
    code = CodeStore(tmp_path)
    task = code.unpacked(code.put_zip(buffer.getvalue()).sha256_hex)
    assert sorted(p.name for p in task.iterdir()) == ["a.py"]


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
    assert len(results) == 6 and len(set(results)) == 1
    assert len(list(results[0].iterdir())) == 50
    assert all((results[0] / f"m{i}.py").read_text() == "z = 3\n" * 100 for i in range(50))
    assert [p for p in (tmp_path / "tasks").iterdir() if p.name.startswith(".")] == []


def test_leftovers_of_a_crash_are_removed_at_open(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    info = code.put_zip(zip_files({"a.py": "x = 1\n"}))
    task = code.unpacked(info.sha256_hex)
    half_unpacked = tmp_path / "tasks" / f".{info.sha256_hex[:12]}-crashed"
    half_unpacked.mkdir()
    (half_unpacked / "a.py").write_text("x = 1\n")
    half_written = tmp_path / "zips" / "tmpabc.part"
    half_written.write_bytes(b"PK")
    CodeStore(tmp_path)  # a server starting again
    assert not half_unpacked.exists() and not half_written.exists()
    assert task.is_dir() and code.zip_path(info.sha256_hex).exists()  # real code stays


def test_collect_removes_code_nothing_names_and_spares_what_is_new(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    kept = store.put_zip(zip_files({"app.py": "x = 1\n"})).sha256_hex
    dropped = store.put_zip(zip_files({"app.py": "x = 2\n"})).sha256_hex
    store.unpacked(kept), store.unpacked(dropped)
    assert store.collect(set(), older_than=60) == 0  # both were stored just now
    old = os.stat(store.zip_path(dropped)).st_mtime - 3600
    os.utime(store.zip_path(dropped), (old, old))
    os.utime(store.zip_path(kept), (old, old))
    store.put_zip(zip_files({"app.py": "x = 1\n"}))  # uploaded again: new once more
    assert store.collect(set(), older_than=60) == 2  # the dropped zip and its tree
    assert not store.zip_path(dropped).exists()
    assert not (tmp_path / "tasks" / dropped).exists()
    assert store.zip_path(kept).exists() and (tmp_path / "tasks" / kept).is_dir()
    assert store.collect({kept}) == 0
    assert store.collect(set()) == 2
    assert list((tmp_path / "zips").iterdir()) == list((tmp_path / "tasks").iterdir()) == []


def test_unzipped_sizes(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    info = code.put_zip(zip_files({"a.py": "x" * 100, "lib/b.so": "y" * 50}))
    assert info.unzipped_size == 150 == code.unzipped_size(info.sha256_hex)


def test_merged_opt_lays_later_layers_over_earlier_ones(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    first = code.put_zip(
        zip_files(
            {"python/common.py": "WHO = 'first'\n", "python/only1.py": "", "bin/x": "dir later"},
            {"python/only1.py": 0o755},
        )
    ).sha256_hex
    second = code.put_zip(
        zip_files({"python/common.py": "WHO = 'second'\n", "bin/x/inside": "", "lib/l.so": ""})
    ).sha256_hex
    opt = code.merged_opt([first, second])
    assert opt.name == code.opt_key([first, second]) and opt.parent == tmp_path / "opt"
    assert (opt / "python" / "common.py").read_text() == "WHO = 'second'\n"
    assert (opt / "python" / "only1.py").stat().st_mode & 0o777 == 0o755
    assert (opt / "bin" / "x" / "inside").is_file() and (opt / "lib" / "l.so").is_file()
    # hard links into the layers' unpacked trees: each layer is unpacked once, shared
    shared = code.unpacked(second) / "python" / "common.py"
    assert (opt / "python" / "common.py").stat().st_ino == shared.stat().st_ino
    assert stat.S_IMODE(opt.stat().st_mode) == 0o755
    assert code.merged_opt([first, second]) == opt  # built once
    reverse = code.merged_opt([second, first])
    assert reverse != opt and (reverse / "python" / "common.py").read_text() == "WHO = 'first'\n"
    assert (reverse / "bin" / "x").read_text() == "dir later"  # the file replaced the directory


def test_collect_removes_merged_opts_nothing_uses(tmp_path: Path) -> None:
    code = CodeStore(tmp_path)
    a = code.put_zip(zip_files({"python/a.py": ""})).sha256_hex
    b = code.put_zip(zip_files({"python/b.py": ""})).sha256_hex
    both, one = code.merged_opt([a, b]), code.merged_opt([a])
    assert code.collect({a, b}, older_than=60, keep_opt=()) == 0  # built just now
    assert code.collect({a, b}, keep_opt={code.opt_key([a])}) == 1
    assert not both.exists() and one.is_dir()
    assert code.collect({a, b}) == 1 and not one.exists()
    assert code.unpacked(a).is_dir()  # the layers' own trees stay while named
