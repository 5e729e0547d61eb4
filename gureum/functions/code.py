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
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gureum.errors import InvalidParameterValueException

UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """A stored zip: its hex digest (file name), AWS's ``CodeSha256`` and its size."""

    sha256_hex: str
    code_sha256: str
    code_size: int


def _check_members(archive: zipfile.ZipFile) -> None:
    for info in archive.infolist():
        path = PurePosixPath(info.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in info.filename:
            raise InvalidParameterValueException(
                f"{UNZIP_ERROR} The zip entry {info.filename!r} points outside the code directory."
            )


class CodeStore:
    """Function code by content hash under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "zips").mkdir(parents=True, exist_ok=True)
        (root / "tasks").mkdir(parents=True, exist_ok=True)

    def zip_path(self, sha256_hex: str) -> Path:
        return self.root / "zips" / f"{sha256_hex}.zip"

    def put_zip(self, data: bytes) -> CodeInfo:
        """Validate and store a zip (once per content); return its digests."""
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if archive.testzip() is not None:
                    raise zipfile.BadZipFile
                _check_members(archive)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
            raise InvalidParameterValueException(UNZIP_ERROR) from None
        digest = hashlib.sha256(data)
        info = CodeInfo(digest.hexdigest(), base64.b64encode(digest.digest()).decode(), len(data))
        target = self.zip_path(info.sha256_hex)
        if not target.exists():
            fd, temp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(temp, target)
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
                    with archive.open(info) as source, open(destination, "wb") as out:
                        shutil.copyfileobj(source, out)
                    permissions = stat.S_IMODE(mode) or 0o644
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

    def delete(self, sha256_hex: str) -> None:
        """Remove a zip and its unpacked tree (best effort)."""
        self.zip_path(sha256_hex).unlink(missing_ok=True)
        shutil.rmtree(self.root / "tasks" / sha256_hex, ignore_errors=True)
