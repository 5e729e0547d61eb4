"""The Placement Service: where a new sandbox goes, and whether there is room for it.

``Placement`` is the interface a cluster of worker hosts will implement; ``LocalPlacement``
is the one-host case: the ``MemorySize`` of every live sandbox counted against a memory
budget. When a new sandbox does not fit, the Worker Manager first evicts idle sandboxes,
least recently used first; if it still does not fit, the invoke is throttled (429), never
crashed, as the seed's Placement hands back capacity rather than overcommitting it.
"""

from __future__ import annotations

import os
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

    def release(self, memory_mb: int) -> None:
        """A sandbox of ``memory_mb`` has ended."""


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

    def release(self, memory_mb: int) -> None:
        self.used_mb -= memory_mb
        self.sandboxes -= 1
