"""The async poller's pacing: its concurrency gives way while the event loop lags."""

from __future__ import annotations

import asyncio
import time

from gureum.events.pacing import Pacer


def test_the_limit_halves_on_lag_down_to_the_floor_and_grows_back_by_one() -> None:
    raised = []
    pacer = Pacer(100, on_raise=lambda: raised.append(True), floor=4, cooldown=0.1)
    assert pacer.limit == 100
    pacer.observe(0.05, now=1.0)
    assert pacer.limit == 50
    pacer.observe(0.05, now=1.05)  # within the cooldown: the last cut has not acted yet
    assert pacer.limit == 50
    for step in range(10):
        pacer.observe(0.05, now=2.0 + step)
    assert pacer.limit == 4  # never below the floor: events keep moving
    pacer.observe(0.005, now=20.0)  # between low and high: hold
    assert pacer.limit == 4 and not raised
    for step in range(200):
        pacer.observe(0.0, now=30.0 + step)
    assert pacer.limit == 100 and len(raised) == 96  # each raise wakes the poller


def test_a_small_maximum_is_its_own_floor() -> None:
    pacer = Pacer(2, on_raise=lambda: None)
    pacer.observe(1.0, now=0.0)
    assert pacer.limit == 2


def test_a_busy_loop_lowers_the_limit_and_an_idle_one_restores_it() -> None:
    async def scenario() -> None:
        restored = asyncio.Event()
        pacer = Pacer(64, on_raise=lambda: pacer.limit == 64 and restored.set(), floor=4)
        probe = asyncio.create_task(pacer.run())
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # callbacks that hold the loop 30 ms each
            time.sleep(0.03)  # noqa: ASYNC251 (holding the loop is the point)
            await asyncio.sleep(0)
        assert pacer.limit == 4
        # Idle: one step per 10 ms probe, about 0.6 s back to the maximum.
        await asyncio.wait_for(restored.wait(), 10)
        probe.cancel()

    asyncio.run(scenario())
