"""The code store: function and layer zips kept by content hash, each unpacked once.

``zips/<sha256>.zip`` holds the upload; ``tasks/<sha256>/`` its unpacked tree (the
``LAMBDA_TASK_ROOT`` of every sandbox of every version with that code, or a layer's
content), read-only. ``opt/<key>/`` is the ``/opt`` of a combination of layers: their
trees merged in order (a later layer's file wins), as hard links into ``tasks/``, built
once per combination and shared by every sandbox of every function that uses it.
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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gureum.errors import InvalidParameterValueException

UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."
#: Lambda's limit on a function's unpacked code (250 MB).
MAX_UNZIPPED_SIZE = 262_144_000


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """A stored zip: its hex digest (file name), AWS's ``CodeSha256``, its size and the
    size of what it unpacks to."""

    sha256_hex: str
    code_sha256: str
    code_size: int
    unzipped_size: int = 0


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


def _merge_tree(source: Path, target: Path) -> None:
    """Lay ``source``'s tree over ``target``'s: what it has replaces what is there."""
    for directory, _, files in os.walk(source):
        relative = Path(directory).relative_to(source)
        into = target / relative
        if into.is_symlink() or (into.exists() and not into.is_dir()):
            into.unlink()
        into.mkdir(exist_ok=True)
        for name in files:
            destination = into / name
            if destination.is_dir() and not destination.is_symlink():
                shutil.rmtree(destination)
            else:
                destination.unlink(missing_ok=True)
            try:
                os.link(Path(directory, name), destination)
            except OSError:  # another file system, or a link count at its limit
                shutil.copy2(Path(directory, name), destination)


class CodeStore:
    """Function and layer code by content hash under ``root``."""

    def __init__(self, root: Path, *, max_unzipped_size: int = MAX_UNZIPPED_SIZE) -> None:
        self.root = root
        self.max_unzipped_size = max_unzipped_size
        (root / "zips").mkdir(parents=True, exist_ok=True)
        (root / "tasks").mkdir(parents=True, exist_ok=True)
        (root / "opt").mkdir(parents=True, exist_ok=True)
        self.remove_partial()

    def remove_partial(self) -> int:
        """Remove half-written zips and half-unpacked trees a crashed server left behind."""
        removed = 0
        for entry in (
            *(self.root / "zips").iterdir(),
            *(self.root / "tasks").iterdir(),
            *(self.root / "opt").iterdir(),
        ):
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
        info = CodeInfo(
            digest.hexdigest(), base64.b64encode(digest.digest()).decode(), len(data), unzipped
        )
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

    def unzipped_size(self, sha256_hex: str) -> int:
        """What a stored zip unpacks to (its members' declared sizes, as ``put_zip``
        counted them)."""
        with zipfile.ZipFile(self.zip_path(sha256_hex)) as archive:
            return sum(info.file_size for info in archive.infolist())

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

    @staticmethod
    def opt_key(digests: Sequence[str]) -> str:
        """The name of the merged ``/opt`` of layers ``digests`` (in their order)."""
        return hashlib.sha256("\n".join(digests).encode()).hexdigest()

    def merged_opt(self, digests: Sequence[str]) -> Path:
        """The ``/opt`` of layers ``digests``: their unpacked trees merged in order, a
        later layer's file (or directory) replacing an earlier one's, built the first
        time as hard links (copies where the file system cannot link)."""
        key = self.opt_key(digests)
        target = self.root / "opt" / key
        if target.is_dir():
            return target
        trees = [self.unpacked(digest) for digest in digests]
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{key[:12]}-"))
        try:
            for tree in trees:
                _merge_tree(tree, staging)
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

    def collect(
        self, keep: Collection[str], *, older_than: float = 0.0, keep_opt: Collection[str] = ()
    ) -> int:
        """Remove the code no function version or layer version names any more: each
        zip (and its unpacked tree) whose hash is not in ``keep`` and that was not
        stored or stored again within ``older_than`` seconds (an upload whose function
        row is still being written), and each merged ``/opt`` whose key (``opt_key``) is
        not in ``keep_opt``. Returns how many zips and trees went."""
        now = time.time()
        removed = 0
        for tree in (self.root / "opt").iterdir():
            if tree.name.startswith(".") or tree.name in keep_opt:
                continue
            if now - tree.stat().st_mtime >= older_than:
                shutil.rmtree(tree, ignore_errors=True)
                removed += 1
        digests = {
            entry.name.removesuffix(".zip")
            for entry in (*(self.root / "zips").iterdir(), *(self.root / "tasks").iterdir())
            # half-written ones are ``remove_partial``'s, at start
            if not (entry.name.startswith(".") or entry.name.endswith(".part"))
        }
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
