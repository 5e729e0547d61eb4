"""What one node read from the store a moment ago, kept for that moment.

Requests check themselves against rows that rarely change (a table's schema, an API's
routing, a function URL) and read them far more often than anyone writes them. Each
node keeps what it read for ``seconds``: another node's change reaches this one within
that time, and this node's own changes drop their entry at once (:meth:`Recent.forget`).
The store stays the one place of truth; nothing here is shared between nodes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Values by key, each kept ``seconds`` after it was read (at most ``size`` of them:
    past that, all are dropped and read again)."""

    def __init__(self, seconds: float, *, size: int = 1000) -> None:
        self.seconds = seconds
        self.size = size
        self._kept: dict[K, tuple[V, float]] = {}

    async def read(
        self,
        key: K,
        fetch: Callable[[], Awaitable[V]],
        *,
        keep: Callable[[V], bool] = lambda _: True,
    ) -> V:
        """The value under ``key``: kept, if read less than ``seconds`` ago, else
        ``fetch()``'s (an error it raises keeps nothing), kept when ``keep`` says so."""
        kept = self._kept.get(key)
        now = time.monotonic()
        if kept is not None and now - kept[1] < self.seconds:
            return kept[0]
        value = await fetch()
        if not keep(value):
            self._kept.pop(key, None)
            return value
        if len(self._kept) > self.size:
            self._kept.clear()
        self._kept[key] = (value, now)
        return value

    def forget(self, key: K) -> None:
        self._kept.pop(key, None)

    def clear(self) -> None:
        self._kept.clear()
