"""The code store: function zips kept by content hash, each unpacked once.

``zips/<sha256>.zip`` holds the upload; ``tasks/<sha256>/`` its unpacked tree (the
``LAMBDA_TASK_ROOT`` of every sandbox of every version with that code), read-only.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gureum.errors import InvalidParameterValueException

UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."
#: Lambda's limit on a function's unpacked code (250 MB).
MAX_UNZIPPED_SIZE = 262_144_000


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """A stored zip: its hex digest (file name), AWS's ``CodeSha256`` and its size."""

    sha256_hex: str
    code_sha256: str
    code_size: int


def _check_members(archive: zipfile.ZipFile) -> None:
    """Refuse entries that would land outside the tree, or be both a file and a directory."""
    files: set[PurePosixPath] = set()
    directories: set[PurePosixPath] = set()
    for info in archive.infolist():
        path = PurePosixPath(info.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
            raise InvalidParameterValueException(
                f"{UNZIP_ERROR} The zip entry {info.filename!r} points outside the code directory."
            )
        directories.update(path.parents)
        if info.is_dir():
            directories.add(path)
        elif not stat.S_ISLNK(info.external_attr >> 16):  # links are not unpacked
            files.add(path)
    clash = files & directories
    if clash:
        raise InvalidParameterValueException(
            f"{UNZIP_ERROR} The zip entry {str(min(clash))!r} is both a file and a directory."
        )


class CodeStore:
    """Function code by content hash under ``root``."""

    def __init__(self, root: Path, *, max_unzipped_size: int = MAX_UNZIPPED_SIZE) -> None:
        self.root = root
        self.max_unzipped_size = max_unzipped_size
        (root / "zips").mkdir(parents=True, exist_ok=True)
        (root / "tasks").mkdir(parents=True, exist_ok=True)
        self.remove_partial()

    def remove_partial(self) -> int:
        """Remove half-written zips and half-unpacked trees a crashed server left behind."""
        removed = 0
        for entry in (*(self.root / "zips").iterdir(), *(self.root / "tasks").iterdir()):
            if entry.name.startswith(".") or entry.name.endswith(".part"):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed += 1
        return removed

    def zip_path(self, sha256_hex: str) -> Path:
        return self.root / "zips" / f"{sha256_hex}.zip"

    def put_zip(self, data: bytes) -> CodeInfo:
        """Validate and store a zip (once per content); return its digests."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                _check_members(archive)
                # Declared sizes bound what unpacking writes (a short member fails its CRC).
                unzipped = sum(info.file_size for info in archive.infolist())
                if unzipped > self.max_unzipped_size:
                    raise InvalidParameterValueException(
                        f"Unzipped size must be smaller than {self.max_unzipped_size} bytes"
                    )
                if archive.testzip() is not None:
                    raise zipfile.BadZipFile
        # RuntimeError: encrypted; NotImplementedError: an unknown compression method.
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            zlib.error,
            ValueError,
            OSError,
            EOFError,
            RuntimeError,
            NotImplementedError,
        ):
            raise InvalidParameterValueException(UNZIP_ERROR) from None
        digest = hashlib.sha256(data)
        info = CodeInfo(digest.hexdigest(), base64.b64encode(digest.digest()).decode(), len(data))
        target = self.zip_path(info.sha256_hex)
        if target.exists():
            os.utime(target)  # in use again: not garbage (``collect`` spares what is new)
        else:
            fd, temp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())  # a function row will name this file: keep it whole
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        return info

    def read_zip(self, sha256_hex: str) -> bytes:
        return self.zip_path(sha256_hex).read_bytes()

    def unpacked(self, sha256_hex: str) -> Path:
        """The unpacked tree of a stored zip, unpacking it the first time."""
        target = self.root / "tasks" / sha256_hex
        if target.is_dir():
            return target
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{sha256_hex[:12]}-"))
        try:
            with zipfile.ZipFile(self.zip_path(sha256_hex)) as archive:
                _check_members(archive)
                for info in archive.infolist():
                    mode = info.external_attr >> 16
                    destination = staging / info.filename
                    if info.is_dir():
                        destination.mkdir(parents=True, exist_ok=True)
                        continue
                    if stat.S_ISLNK(mode):
                        continue  # links could point anywhere on the host
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    destination.unlink(missing_ok=True)  # a repeated entry: the last one wins
                    with archive.open(info) as source, open(destination, "wb") as out:
                        shutil.copyfileobj(source, out)
                    # Permission bits only: a setuid file must not reach a sandbox.
                    permissions = (mode & 0o777) or 0o644
                    os.chmod(destination, permissions & ~0o022)
            for directory, _, _ in os.walk(staging):
                os.chmod(directory, 0o755)
            try:
                os.rename(staging, target)
            except OSError:
                if not target.is_dir():
                    raise
                shutil.rmtree(staging, ignore_errors=True)  # another caller won the race
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def collect(self, keep: Collection[str], *, older_than: float = 0.0) -> int:
        """Remove the code no function version names any more: each zip (and its
        unpacked tree) whose hash is not in ``keep`` and that was not stored or stored
        again within ``older_than`` seconds (an upload whose function row is still being
        written). Returns how many zips and trees went."""
        now = time.time()
        digests = {
            entry.name.removesuffix(".zip")
            for entry in (*(self.root / "zips").iterdir(), *(self.root / "tasks").iterdir())
            # half-written ones are ``remove_partial``'s, at start
            if not (entry.name.startswith(".") or entry.name.endswith(".part"))
        }
        removed = 0
        for digest in digests - set(keep):
            zip_file, tree = self.zip_path(digest), self.root / "tasks" / digest
            try:
                stored = zip_file.stat().st_mtime
            except FileNotFoundError:
                stored = tree.stat().st_mtime  # a tree whose zip has gone
            if now - stored < older_than:
                continue
            if zip_file.exists():
                zip_file.unlink(missing_ok=True)
                removed += 1
            if tree.is_dir():
                shutil.rmtree(tree, ignore_errors=True)
                removed += 1
        return removed
