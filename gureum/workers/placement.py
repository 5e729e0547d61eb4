"""The Placement Service: where a new sandbox goes, and whether there is room for it.

``Placement`` is the interface a cluster of worker hosts will implement. On one host:

- ``MeasuredPlacement`` (the default) admits a sandbox by what sandboxes really use:
  the host's available memory, less a reserve kept free, must hold what a new one may
  use while it starts. Lambda oversubscribes its hosts the same way: an idle sandbox
  uses a few MB of its ``MemorySize``, and its cgroup still caps it at ``MemorySize``.
- ``LocalPlacement`` (``--placement nominal``) counts the full ``MemorySize`` of every
  live sandbox against a budget.

When a new sandbox does not fit, the Worker Manager first evicts idle sandboxes, least
recently used first; if it still does not fit, the invoke is throttled (429), never
crashed, as the seed's Placement hands back capacity rather than overcommitting it.
Under memory pressure (the reserve eaten into) idle sandboxes are evicted too.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from gureum.errors import TooManyRequestsException


def host_memory_mb() -> int:
    """Physical memory of this host, in MB."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024))


class Placement(Protocol):
    """Decides whether (and later, on which host) a sandbox of ``memory_mb`` can start."""

    def fits(self, memory_mb: int) -> bool:
        """Whether a new sandbox of ``memory_mb`` has room now."""

    def place(self, memory_mb: int) -> None:
        """Account a new sandbox; TooManyRequestsException when there is no room."""

    def release(self, memory_mb: int, used_mb: int | None = None) -> None:
        """A sandbox of ``memory_mb`` has ended (``used_mb``: what it used at most)."""

    def shortage_mb(self) -> int:
        """MB the host lacks right now (0: none); idle sandboxes go until it has them."""


class LocalPlacement:
    """One host: live sandboxes' memory against a budget in MB."""

    def __init__(self, budget_mb: int) -> None:
        self.budget_mb = budget_mb
        self.used_mb = 0
        self.sandboxes = 0

    def fits(self, memory_mb: int) -> bool:
        return self.used_mb + memory_mb <= self.budget_mb

    def place(self, memory_mb: int) -> None:
        if not self.fits(memory_mb):
            raise TooManyRequestsException(
                f"Rate Exceeded. No worker has {memory_mb} MB free for a new execution "
                f"environment ({self.used_mb} of {self.budget_mb} MB in use).",
                "ConcurrentInvocationLimitExceeded",
            )
        self.used_mb += memory_mb
        self.sandboxes += 1

    def release(self, memory_mb: int, used_mb: int | None = None) -> None:
        self.used_mb -= memory_mb
        self.sandboxes -= 1

    def shortage_mb(self) -> int:
        return max(0, self.used_mb - self.budget_mb)


def available_memory_mb() -> int:
    """Memory this host can give without swapping (``MemAvailable``), in MB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return host_memory_mb() // 2


class MeasuredPlacement:
    """One host: a new sandbox fits while the memory available, less a reserve, holds
    what it may use as it starts (at most ``starting_mb``, at most its MemorySize).

    Memory a sandbox takes or frees shows in the host's figure only as it happens, so
    each placement and each release is counted for ``settle`` seconds besides it.
    """

    def __init__(
        self,
        *,
        reserve_mb: int | None = None,
        starting_mb: int = 64,
        settle: float = 5.0,
        available: Callable[[], int] = available_memory_mb,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reserve_mb = reserve_mb if reserve_mb is not None else max(512, host_memory_mb() // 20)
        self.starting_mb = starting_mb
        self.settle = settle
        self.available = available
        self.clock = clock
        self.sandboxes = 0
        self._recent: collections.deque[tuple[float, int]] = collections.deque()

    def _unsettled_mb(self) -> int:
        horizon = self.clock() - self.settle
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()
        return sum(change for _, change in self._recent)

    def _free_mb(self) -> int:
        return self.available() - self._unsettled_mb() - self.reserve_mb

    def fits(self, memory_mb: int) -> bool:
        return self._free_mb() >= min(memory_mb, self.starting_mb)

    def place(self, memory_mb: int) -> None:
        need = min(memory_mb, self.starting_mb)
        free = self._free_mb()
        if free < need:
            raise TooManyRequestsException(
                f"Rate Exceeded. This host has {max(free, 0)} MB of memory to spare "
                f"(keeping {self.reserve_mb} MB free) and a new execution environment may "
                f"need {need} MB as it starts.",
                "ConcurrentInvocationLimitExceeded",
            )
        self._recent.append((self.clock(), need))
        self.sandboxes += 1

    def release(self, memory_mb: int, used_mb: int | None = None) -> None:
        self.sandboxes -= 1
        if used_mb:
            self._recent.append((self.clock(), -used_mb))

    def shortage_mb(self) -> int:
        return max(0, -self._free_mb())
