"""Pacing the asynchronous poller by the event loop's load: the front end first.

One event loop serves the edge (every API call, synchronous invokes, the acceptance of
asynchronous events) and the poller that runs accepted events. asyncio runs ready
callbacks in turn, so every event the poller starts takes a share of the loop as an
HTTP request does: during a flood of asynchronous invokes the poller, running no-op
events as fast as it could claim them, took a third of the loop, and the front end
accepted under 6,000 events/s where it alone accepts over 8,000. Lambda runs its front
end and its pollers on separate fleets, and a backlog of events never slows the front
end down.

So the poller's *rate of starts* follows the loop's load, probed every ``interval``:

- the loop is **saturated** while the process is on the CPU for more than ``busy`` of the
  time (every thread of it: the store's thread holds the GIL for part of its work, and
  the loop cannot run meanwhile; the loop's thread alone read 0.5-0.7 on a saturated
  loop beside PostgreSQL's driver) or while timers run more than ``high_lag`` late;
- while it is saturated *and the front end served requests during the probe*, the rate
  halves (at most once per ``cooldown``) from what the poller actually started lately,
  never below ``floor`` events/s, so that events always move;
- while the loop has room (under ``idle`` and timers on time), or the front end is
  quiet, the rate grows by ``growth`` per probe; once it is far above what the poller
  starts, there is no limit.

A rate, not a concurrency: an event that waits on a slow function costs the loop
nothing while it waits, so events of slow functions keep the whole
``--async-concurrency`` even at the floor rate; events of quick functions are what
cost the loop, in proportion to how many start each second. The backlog waits in the
durable queue, which is what the queue is for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Above this many starts per second the rate is no limit at all.
UNLIMITED = 1_000_000.0


class FrontEndActivity:
    """How many requests the edge has taken so far: the edge counts, the pacer reads."""

    __slots__ = ("requests",)

    def __init__(self) -> None:
        self.requests = 0

    def __call__(self) -> int:
        return self.requests


class Pacer:
    """A limit on how many events the poller may start per second (a token bucket
    whose rate adapts to the loop's load)."""

    def __init__(
        self,
        *,
        front_end: Callable[[], int],
        floor: float = 100.0,
        interval: float = 0.01,
        busy: float = 0.6,
        idle: float = 0.4,
        high_lag: float = 0.01,
        low_lag: float = 0.002,
        cooldown: float = 0.1,
        growth: float = 1.25,
        batch_window: float = 0.05,
        cpu_clock: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: requests the front end has served so far (a counter that only grows)
        self.front_end = front_end
        self.floor = floor
        self.interval = interval
        self.busy = busy
        self.idle = idle
        self.high_lag = high_lag
        self.low_lag = low_lag
        self.cooldown = cooldown
        self.growth = growth
        self.batch_window = batch_window
        self.cpu_clock = cpu_clock
        self.clock = clock
        #: starts allowed per second (``UNLIMITED``: no limit)
        self.rate = UNLIMITED
        self._tokens = 0.0
        self._filled = clock()
        self._last_cut = float("-inf")
        #: starts since the last probe, and their rate over recent probes
        self._starts = 0
        self._started_rate = 0.0

    @property
    def limited(self) -> bool:
        return self.rate < UNLIMITED

    def observe(self, *, busy: float, lag: float, front_end_active: bool, now: float) -> None:
        """Take one probe: the process's share of the time on the CPU (``busy``), how
        late the probe's timer ran (``lag``), whether the front end served requests."""
        saturated = busy > self.busy or lag > self.high_lag
        if saturated and front_end_active:
            if now - self._last_cut >= self.cooldown:
                self.rate = max(self.floor, min(self.rate, self._started_rate) / 2)
                self._last_cut = now
        elif self.limited and (not front_end_active or (busy < self.idle and lag < self.low_lag)):
            self.rate *= self.growth
            if self.rate > 4 * max(self._started_rate, self.floor):
                self.rate = UNLIMITED

    def _count(self, elapsed: float) -> None:
        """Fold the starts since the last probe into the recent start rate."""
        if elapsed > 0:
            current = self._starts / elapsed
            self._started_rate = 0.5 * self._started_rate + 0.5 * current
        self._starts = 0

    def allowance(self) -> int:
        """How many events may start now (a large number while there is no limit)."""
        if not self.limited:
            return 1_000_000
        now = self.clock()
        burst = max(1.0, self.rate * self.batch_window)
        self._tokens = min(burst, self._tokens + (now - self._filled) * self.rate)
        self._filled = now
        return int(self._tokens)

    def batch(self, room: int) -> int:
        """How many starts to gather before claiming, with ``room`` free slots: under a
        limit, one claim per ``batch_window`` (claims are write transactions too)."""
        if not self.limited:
            return 1
        return max(1, min(room, int(self.rate * self.batch_window)))

    def wait_for(self, wanted: int) -> float:
        """Seconds until ``wanted`` starts are allowed."""
        if not self.limited:
            return 0.0
        return max(0.0, (wanted - self._tokens) / self.rate)

    def started(self, count: int) -> None:
        """``count`` events have started (they spend the allowance)."""
        self._starts += count
        if self.limited:
            self._tokens -= count

    async def run(self) -> None:
        """Probe the loop until cancelled."""
        loop = asyncio.get_running_loop()
        cpu, served, then = self.cpu_clock(), self.front_end(), loop.time()
        while True:
            await asyncio.sleep(self.interval)
            now = loop.time()
            now_cpu, now_served = self.cpu_clock(), self.front_end()
            elapsed = now - then
            self._count(elapsed)
            self.observe(
                busy=(now_cpu - cpu) / elapsed if elapsed > 0 else 0.0,
                lag=elapsed - self.interval,
                front_end_active=now_served != served,
                now=now,
            )
            cpu, served, then = now_cpu, now_served, now


class ConcurrencyLimit:
    """How many events a poller runs at once: grown while the rate at which they end
    still grows, and cut when it falls (the seed's turning point, found by climbing).

    Each ``window`` in which the limit was reached (the poller had more to run), the
    rate of ended events is compared with the previous window's. Not lower (within
    ``tolerance``: a window's rate varies by a few percent with the size of the claims
    that fed it, which hides the small gains of claiming more at once), the limit grows
    by a quarter; lower by a tenth (``drop``), it shrinks by a quarter; in between it
    holds, and probes one step up every ``probe_every`` windows. Without demand, or
    while something else sets the pace (``learn=False``: the poller's rate of starts is
    held back for the front end), it does not move, and the next comparison starts
    afresh.
    """

    def __init__(
        self,
        *,
        maximum: int,
        minimum: int = 4,
        initial: int | None = None,
        window: float = 0.5,
        probe_every: int = 4,
        tolerance: float = 0.03,
        drop: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = max(1, maximum)
        self.minimum = min(minimum, self.maximum)
        self.limit = min(self.maximum, initial or 4 * self.minimum)
        self.window = window
        self.probe_every = probe_every
        self.tolerance = tolerance
        self.drop = drop
        self.clock = clock
        self._started = clock()
        self._ended = 0
        self._reached = False
        self._last_rate: float | None = None
        self._holds = 0

    def _step(self) -> int:
        return max(1, self.limit // 4)

    def ended(self) -> None:
        """One event's invocation has ended."""
        self._ended += 1

    def reached(self) -> None:
        """The poller wanted to start more than the limit allows."""
        self._reached = True

    def update(self, *, learn: bool = True) -> None:
        """Close the window if it is over, and move the limit by what it showed."""
        now = self.clock()
        elapsed = now - self._started
        if elapsed < self.window:
            return
        rate = self._ended / elapsed
        if not self._reached or not learn:
            self._reached = False  # nothing to learn from this window
        elif self._last_rate is None or rate >= self._last_rate * (1 - self.tolerance):
            self.limit = min(self.maximum, self.limit + self._step())
            self._holds = 0
        elif rate < self._last_rate * (1 - self.drop):
            self.limit = max(self.minimum, self.limit - self._step())
            self._holds = 0
        else:
            self._holds += 1
            if self._holds >= self.probe_every:
                self.limit = min(self.maximum, self.limit + self._step())
                self._holds = 0
        self._last_rate = rate if self._reached else None
        self._started, self._ended, self._reached = now, 0, False
