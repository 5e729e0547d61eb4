"""A sandbox's log stream: the runtime's output, line by line, and the platform's lines.

The runtime writes to a pipe that is read as output comes (a reader on the event loop).
Output is cut into lines for the LogSink; a line still without its newline waits for
the rest, unless it grows past the per-invocation limit. Each invocation may log up to
``limit_bytes``: past that its lines are dropped and counted, and the REPORT says so.
The end of what an invocation logged is kept for ``LogType=Tail``.
"""

from __future__ import annotations

import asyncio
import math
import os

from gureum.observe.logs import LogSink

_READ_CHUNK = 65536


class SandboxLog:
    """The log of one sandbox: capture of the runtime's pipe, START/END/REPORT lines."""

    def __init__(
        self, sink: LogSink, group: str, stream: str, *, tail_bytes: int, limit_bytes: int
    ) -> None:
        self.sink = sink
        self.group = group
        self.stream = stream
        self.tail_bytes = tail_bytes
        self.limit_bytes = limit_bytes
        self._fd: int | None = None
        self._partial = b""
        # What the current invocation logged (its end, for the tail), and how much of its
        # output was emitted and dropped (against the limit).
        self._capture = bytearray()
        self._captured = 0
        self._truncated = 0

    # the runtime's pipe
    def open_pipe(self) -> int:
        """A pipe for the runtime's output, read from now on: its write end, for the process.

        Read before the process exists: a zygote may report the fork, the output and the
        end in the same breath.
        """
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._fd = read_fd
        asyncio.get_running_loop().add_reader(read_fd, self._read)
        return write_fd

    def adopt_pipe(self, read_fd: int) -> None:
        """Read the runtime's output from ``read_fd`` (the pipe of a runtime started
        ahead of the sandbox) instead of the pipe ``open_pipe`` made."""
        self.close_pipe()
        os.set_blocking(read_fd, False)
        self._fd = read_fd
        asyncio.get_running_loop().add_reader(read_fd, self._read)

    def close_pipe(self) -> None:
        """Stop reading the pipe (what is still in it is not read: ``drain`` first)."""
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    def _read(self) -> None:
        if self._fd is None:
            return
        try:
            data = os.read(self._fd, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.take(data)

    def drain(self) -> None:
        """Take everything the pipe holds now (before an outcome, or at the end)."""
        while self._fd is not None:
            try:
                data = os.read(self._fd, _READ_CHUNK)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self.take(data)

    # lines
    def take(self, data: bytes) -> None:
        """Output from the runtime: emit its complete lines, keep the partial one."""
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        if len(self._partial) > self.limit_bytes:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._output(line)

    def flush_partial(self) -> None:
        """Emit a last line that has no newline (the runtime answered, or ended)."""
        if self._partial:
            self._output(self._partial)
            self._partial = b""

    def _output(self, line: bytes) -> None:
        if self._captured + len(line) > self.limit_bytes:
            self._truncated += len(line) + 1
            return
        self._captured += len(line) + 1
        self.emit(line.decode("utf-8", "replace"))

    def emit(self, message: str) -> None:
        """One line of the log stream, also kept for the invocation's tail."""
        self.sink.emit(self.group, self.stream, message)
        self._capture += message.encode() + b"\n"
        limit = self.tail_bytes
        if len(self._capture) > 4 * limit:
            del self._capture[:-limit]

    # invocations
    def begin(self, carried: bytes = b"", *, after_init: bool = False) -> None:
        """A new invocation: its own limit and capture (``carried``: what it logged before
        it came to this sandbox; ``after_init``: it is the first of a sandbox whose init
        it reports, and its tail keeps what the init logged, as a cold start's does on
        Lambda, whether those lines came before it or after)."""
        init = self._capture if after_init else b""
        self._capture = bytearray(carried) + init
        self._captured = 0
        self._truncated = 0

    def captured(self) -> bytes:
        """What the current invocation has logged so far (its last ``4 × tail_bytes``)."""
        return bytes(self._capture)

    def tail(self) -> bytes:
        """The end of what the current invocation logged (``LogType=Tail``)."""
        return bytes(self._capture[-self.tail_bytes :])

    def start(self, request_id: str, version: str) -> None:
        self.emit(f"START RequestId: {request_id} Version: {version}")

    def report(
        self,
        request_id: str,
        *,
        duration_ms: float,
        init_ms: float | None,
        memory_size: int,
        max_memory_used_mb: int,
        restored: bool,
    ) -> None:
        """The invocation's END and REPORT (after a note of what was dropped, if any).

        ``restored``: the sandbox was restored from a snapshot, so ``init_ms`` is its
        restore, billed on its own line; an init is billed with the invocation.
        """
        if self._truncated:
            self.emit(
                f"[gureum] log truncated: {self._truncated} bytes of output dropped "
                f"(limit {self.limit_bytes} bytes per invocation)"
            )
        billed = math.ceil(duration_ms + (0.0 if restored else init_ms or 0.0))
        line = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(billed, 1)} ms\t"
            f"Memory Size: {memory_size} MB\t"
            f"Max Memory Used: {max_memory_used_mb} MB\t"
        )
        if init_ms is not None:
            if restored:
                line += (
                    f"Restore Duration: {init_ms:.2f} ms\t"
                    f"Billed Restore Duration: {math.ceil(init_ms)} ms\t"
                )
            else:
                line += f"Init Duration: {init_ms:.2f} ms\t"
        self.emit(f"END RequestId: {request_id}")
        self.emit(line)
