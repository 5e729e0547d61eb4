"""A sandbox's log on its own: lines, partial lines, the per-invocation limit, the tail."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gureum.observe.log_store import LogStore
from gureum.observe.logs import LogSink
from gureum.store import open_store
from gureum.workers.sandbox_log import SandboxLog

Lines = Callable[[], list[str]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LogStore]:
    store = open_store(f"sqlite:///{tmp_path / 'logs.db'}")
    yield LogStore(store)
    store.close()


@pytest.fixture
def sink(store: LogStore) -> LogSink:
    return LogSink(store)


@pytest.fixture
def lines(sink: LogSink, store: LogStore) -> Lines:
    """What the log stream holds in the store so far (the sink flushed first)."""

    def read() -> list[str]:
        asyncio.run(sink.flush())
        events, _, _ = store.get_log_events(
            "g",
            "s",
            start_time=None,
            end_time=None,
            start_from_head=True,
            limit=10_000,
            next_token=None,
        )
        return [str(event["message"]) for event in events]

    return read


def make(sink: LogSink, *, tail_bytes: int = 4096, limit_bytes: int = 1024) -> SandboxLog:
    log = SandboxLog(sink, "g", "s", tail_bytes=tail_bytes, limit_bytes=limit_bytes)
    log.begin()
    return log


def test_output_is_emitted_line_by_line(sink: LogSink, lines: Lines) -> None:
    log = make(sink)
    log.take(b"one\ntwo\nthr")
    assert lines() == ["one", "two"]  # "thr" waits for the rest of its line
    log.take(b"ee\n\nfour")
    assert lines() == ["one", "two", "three", ""]
    log.flush_partial()  # the runtime answered: its last line ends there
    log.flush_partial()  # nothing left to flush
    assert lines() == ["one", "two", "three", "", "four"]


def test_invalid_utf8_is_replaced_not_fatal(sink: LogSink, lines: Lines) -> None:
    log = make(sink)
    log.take(b"caf\xc3\xa9 \xff\n")
    assert lines() == ["café \ufffd"]


def test_output_past_the_limit_is_dropped_and_the_report_says_how_much(
    sink: LogSink, lines: Lines
) -> None:
    log = make(sink, limit_bytes=10)
    log.take(b"12345\n67890\nab\n")  # 6 bytes fit, 6 more do not, then 3 fit again
    log.report(
        "r1",
        duration_ms=1.5,
        init_ms=None,
        memory_size=128,
        max_memory_used_mb=20,
        restored=False,
    )
    logged = lines()
    assert logged[:2] == ["12345", "ab"]
    assert logged[2] == (
        "[gureum] log truncated: 6 bytes of output dropped (limit 10 bytes per invocation)"
    )
    assert logged[3] == "END RequestId: r1"
    # The next invocation has a limit of its own, and nothing to report as dropped.
    log.begin()
    log.take(b"67890\n")
    log.report(
        "r2", duration_ms=1, init_ms=None, memory_size=128, max_memory_used_mb=20, restored=False
    )
    assert lines()[5:7] == ["67890", "END RequestId: r2"]


def test_a_line_that_never_ends_does_not_grow_without_bound(sink: LogSink, lines: Lines) -> None:
    log = make(sink, limit_bytes=10)
    log.take(b"x" * 8)
    log.take(b"x" * 8)  # 16 bytes and no newline: past the limit, it is not kept
    log.take(b"tail\n")
    log.report(
        "r", duration_ms=1, init_ms=None, memory_size=128, max_memory_used_mb=1, restored=False
    )
    assert lines()[:2] == [
        "tail",
        "[gureum] log truncated: 17 bytes of output dropped (limit 10 bytes per invocation)",
    ]


def test_the_tail_is_the_end_of_what_the_invocation_logged(sink: LogSink) -> None:
    log = make(sink, tail_bytes=16)
    log.emit("from before")
    log.begin(b"carried\n")  # what a suppressed init's first sandbox logged
    assert log.captured() == b"carried\n"
    log.take(b"abc\n")
    log.start("r", "$LATEST")
    assert log.captured() == b"carried\nabc\nSTART RequestId: r Version: $LATEST\n"
    assert log.tail() == b"ersion: $LATEST\n"  # cut by bytes, as Lambda's 4 KB tail is
    for n in range(20):
        log.emit(f"line {n:02d}")
    # Kept short: never more than four tails' worth, and the tail is always whole.
    assert len(log.captured()) <= 4 * 16
    assert log.tail() == b"line 18\nline 19\n"


@pytest.mark.parametrize(
    ("init_ms", "restored", "expected"),
    [
        (None, False, "Billed Duration: 3 ms\tMemory Size: 256 MB\tMax Memory Used: 42 MB\t"),
        (
            10.25,
            False,
            "Billed Duration: 13 ms\tMemory Size: 256 MB\tMax Memory Used: 42 MB\t"
            "Init Duration: 10.25 ms\t",
        ),
        (
            10.25,
            True,
            "Billed Duration: 3 ms\tMemory Size: 256 MB\tMax Memory Used: 42 MB\t"
            "Restore Duration: 10.25 ms\tBilled Restore Duration: 11 ms\t",
        ),
    ],
)
def test_report_lines(
    sink: LogSink, lines: Lines, init_ms: float | None, restored: bool, expected: str
) -> None:
    log = make(sink)
    log.report(
        "r",
        duration_ms=2.5,
        init_ms=init_ms,
        memory_size=256,
        max_memory_used_mb=42,
        restored=restored,
    )
    assert lines() == ["END RequestId: r", "REPORT RequestId: r\tDuration: 2.50 ms\t" + expected]


def test_a_report_bills_at_least_one_millisecond(sink: LogSink, lines: Lines) -> None:
    log = make(sink)
    log.report(
        "r", duration_ms=0.0, init_ms=None, memory_size=128, max_memory_used_mb=0, restored=False
    )
    assert "\tBilled Duration: 1 ms\t" in lines()[-1]


def test_the_pipe_is_read_as_output_comes_and_drained_at_the_end(
    sink: LogSink, lines: Lines
) -> None:
    async def scenario() -> None:
        log = make(sink)
        write_fd = log.open_pipe()
        os.write(write_fd, b"first\n")
        for _ in range(100):  # the loop's reader takes it on a later turn
            if log.captured():
                break
            await asyncio.sleep(0)
        assert log.captured() == b"first\n"
        os.write(write_fd, b"second\nno newline")
        os.close(write_fd)
        log.drain()  # everything the pipe holds, now
        log.close_pipe()
        log.flush_partial()
        log.drain()  # closed: nothing to read, no error
        assert log.captured() == b"first\nsecond\nno newline\n"

    asyncio.run(scenario())
    assert lines() == ["first", "second", "no newline"]


def test_the_first_invocation_after_an_init_keeps_its_lines(sink: LogSink) -> None:
    """A sandbox that finished its init before its first invocation came (a spare its
    pool started ahead): that invocation's tail still shows what the init logged; the
    next one's does not."""
    log = SandboxLog(sink, "g", "s", tail_bytes=4096, limit_bytes=1024)
    log.take(b"loaded with plain\n")
    log.begin(b"carried\n", after_init=True)
    log.start("r1", "$LATEST")
    log.take(b"said plain\n")
    assert log.tail().decode().splitlines() == [
        "carried",
        "loaded with plain",
        "START RequestId: r1 Version: $LATEST",
        "said plain",
    ]
    log.begin()
    log.start("r2", "$LATEST")
    assert log.tail().decode().splitlines() == ["START RequestId: r2 Version: $LATEST"]
