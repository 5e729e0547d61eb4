"""Cold-start admission: how many sandboxes may be in their init at once on this host.

The seed: "control load so that it never passes the point where throughput starts to
fall". An init is mostly CPU (an interpreter starting, the function's imports, the
clients it makes at global scope, as the seed recommends). Started all at once, a
hundred of them share two cores and each takes a hundred times longer: past the 10 s
init limit, every one of them fails together. So a new sandbox waits for admission,
and the number admitted follows what the CPU can run:

- the limit starts at twice the cores and never falls below the cores;
- while a cold start is waiting and the CPU is not saturated (Linux's pressure stall
  information: the share of time runnable tasks waited for a CPU), it grows by one;
- while the CPU is saturated, it shrinks by a quarter.

Inits that sleep (a connection being set up) leave the CPU free, so their limit grows;
inits that compute keep it near the number of cores, which is where their throughput
is highest. A waiting invoke takes a warm sandbox instead, if one frees up first (the
Worker Manager hands it over): waiting is what lets a burst reuse sandboxes rather than
start one each.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from collections.abc import Callable
from pathlib import Path

#: Where Linux reports CPU pressure (``some avg10=.. total=<microseconds>``).
PSI_CPU = Path("/proc/pressure/cpu")
#: Above this share of stalled time the CPU counts as saturated; below LOW, as free.
SATURATED = 0.7
FREE = 0.3
#: The shortest interval over which the pressure is measured anew.
SAMPLE_INTERVAL = 0.05


def cpu_stall_seconds() -> float:
    """Seconds some runnable task has waited for a CPU since boot (PSI; 0 without it)."""
    try:
        line = PSI_CPU.read_text().split("\n", 1)[0]
        return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, ValueError, IndexError):
        return 0.0


class CpuPressure:
    """The share of wall time in which some runnable task waited for a CPU, since the
    last reading (PSI; without it, the share of time every CPU was busy)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._psi = PSI_CPU.exists()
        self._last_time = clock()
        self._last_total = self.total()

    def total(self) -> float:
        """Seconds of stall (PSI) or of busy CPU per CPU (/proc/stat) so far."""
        if self._psi:
            return cpu_stall_seconds()
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            ticks = [int(f) for f in fields]
            idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
            return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK") / (os.cpu_count() or 1)
        except (OSError, ValueError, IndexError):
            return 0.0

    def since_last(self) -> float | None:
        """The share since the last reading, or None if too little time has passed."""
        now = self.clock()
        elapsed = now - self._last_time
        if elapsed < SAMPLE_INTERVAL:
            return None
        total = self.total()
        share = (total - self._last_total) / elapsed
        self._last_time, self._last_total = now, total
        return min(max(share, 0.0), 1.0)


class ColdStartAdmission:
    """Admits sandboxes into their init, as many at once as the CPU can run."""

    def __init__(
        self,
        *,
        minimum: int | None = None,
        maximum: int = 64,
        pressure: Callable[[], float | None] | None = None,
    ) -> None:
        cores = os.cpu_count() or 1
        self.minimum = minimum or cores
        self.maximum = max(maximum, self.minimum)
        self.limit = min(2 * self.minimum, self.maximum)
        self.pressure = pressure or CpuPressure().since_last
        self.running = 0
        #: the most inits that have run at once (reported by benchmarks)
        self.peak = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self._waiting if not waiter.done())

    def _adapt(self) -> None:
        share = self.pressure()
        if share is None:
            return
        if share >= SATURATED:
            self.limit = max(self.minimum, int(self.limit * 0.75))
        elif share <= FREE and self.waiting:
            self.limit = min(self.maximum, self.limit + 1)

    def _enter(self) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)

    def try_admit(self) -> bool:
        """Take a place at once if there is one (and nobody waits before us)."""
        self._adapt()
        if self.running < self.limit and not self.waiting:
            self._enter()
            return True
        return False

    def wait(self) -> asyncio.Future[None]:
        """A future that resolves when a place is ours. A caller that no longer wants
        it cancels the future (a warm sandbox came first); a place granted to it must
        then be given back with :meth:`leave`."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self._admit_waiting()
        return waiter

    def leave(self) -> None:
        """An init ended (done, failed, or never started): its place is free."""
        self.running -= 1
        self._admit_waiting()

    def _admit_waiting(self) -> None:
        self._adapt()
        while self._waiting and self.running < self.limit:
            waiter = self._waiting.popleft()
            if waiter.done():
                continue  # it took a warm sandbox instead, or gave up
            self._enter()
            waiter.set_result(None)
