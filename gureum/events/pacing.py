"""Pacing the asynchronous poller by the event loop's lag: the front end first.

One event loop serves the edge (every API call, synchronous invokes, the acceptance of
asynchronous events) and the poller that runs accepted events. asyncio runs ready
callbacks in turn, so every event the poller has in flight takes a share of the loop as
an HTTP connection does: with 100 events in flight, a flood of asynchronous invokes got
about a third of the loop, and the front end accepted 2,000 events/s where it alone
accepts over 6,000. Lambda runs its front end and its pollers on separate fleets, and a
backlog of events never slows the front end down.

So the poller's concurrency follows the loop's lag, measured by a timer every
``interval``: while timers run more than ``high`` late, the limit halves (at most once per
``cooldown``, and never below ``floor``, so that events always make progress); while they
run less than ``low`` late, it grows by one per probe back to the maximum. The backlog
waits in the durable queue, which is what the queue is for. Where the loop lags because
of the poller alone, fewer events in flight do not slow the poller down: the CPU is the
limit then, not the concurrency, and events that wait on slow functions cost the loop
nothing and do not make it lag.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Pacer:
    """An adaptive concurrency limit, between ``floor`` and ``maximum``."""

    def __init__(
        self,
        maximum: int,
        *,
        on_raise: Callable[[], None],
        floor: int = 4,
        interval: float = 0.01,
        high: float = 0.01,
        low: float = 0.002,
        cooldown: float = 0.1,
    ) -> None:
        self.maximum = maximum
        self.floor = min(floor, maximum)
        self.limit = maximum
        self.interval = interval
        self.high = high
        self.low = low
        self.cooldown = cooldown
        self._on_raise = on_raise
        self._last_cut = float("-inf")

    def observe(self, lag: float, now: float) -> None:
        """Take one probe: ``lag`` seconds late, at loop time ``now``."""
        if lag > self.high:
            if now - self._last_cut >= self.cooldown and self.limit > self.floor:
                self.limit = max(self.floor, self.limit // 2)
                self._last_cut = now
        elif lag < self.low and self.limit < self.maximum:
            self.limit += 1
            self._on_raise()

    async def run(self) -> None:
        """Probe the loop until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            now = loop.time()
            self.observe(now - start - self.interval, now)
