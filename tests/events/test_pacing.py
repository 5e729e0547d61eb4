"""The async poller's pacing: its rate of starts gives way while the front end needs the
event loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from gureum.events.pacing import UNLIMITED, ConcurrencyLimit, Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def pacer(clock: FakeClock | None = None, **options: float) -> Pacer:
    return Pacer(front_end=lambda: 0, clock=clock or FakeClock(), **options)  # type: ignore[arg-type]


def started_at(p: Pacer, per_second: float) -> None:
    """Make the pacer's recent start rate ``per_second`` (as several probes would)."""
    for _ in range(40):
        p.started(int(per_second * 0.01))
        p._count(0.01)


def test_no_limit_until_the_front_end_and_a_saturated_loop_meet() -> None:
    p = pacer()
    assert not p.limited and p.allowance() >= 1_000_000
    p.observe(busy=0.95, lag=0.0, front_end_active=False, now=1.0)  # the poller alone
    assert not p.limited
    p.observe(busy=0.1, lag=0.0, front_end_active=True, now=1.0)  # the front end, room left
    assert not p.limited


def test_a_saturated_loop_halves_what_the_poller_started_down_to_the_floor() -> None:
    p = pacer(floor=100, cooldown=0.1)
    started_at(p, 2000)
    p.observe(busy=0.8, lag=0.0, front_end_active=True, now=1.0)
    assert p.rate == pytest.approx(1000, rel=1e-3)
    p.observe(busy=0.8, lag=0.0, front_end_active=True, now=1.05)  # within the cooldown
    assert p.rate == pytest.approx(1000, rel=1e-3)
    p.observe(busy=0.1, lag=0.05, front_end_active=True, now=1.2)  # late timers count too
    assert p.rate == pytest.approx(500, rel=1e-3)
    for step in range(10):
        p.observe(busy=0.9, lag=0.0, front_end_active=True, now=2.0 + step)
    assert p.rate == 100  # never below the floor: events keep moving
    p.observe(busy=0.5, lag=0.0, front_end_active=True, now=20.0)  # between idle and busy
    assert p.rate == pytest.approx(100, rel=1e-3)


def test_the_rate_grows_back_while_the_loop_has_room_then_the_limit_goes() -> None:
    p = pacer(floor=100, growth=1.25)
    started_at(p, 400)
    p.observe(busy=0.9, lag=0.0, front_end_active=True, now=1.0)
    assert p.rate == pytest.approx(200, rel=1e-3)
    p.observe(busy=0.3, lag=0.0, front_end_active=True, now=1.01)
    assert p.rate == pytest.approx(250, rel=1e-3)
    p.observe(busy=0.3, lag=0.005, front_end_active=True, now=1.02)  # timers late: hold
    assert p.rate == pytest.approx(250, rel=1e-3)
    for step in range(20):
        p.observe(busy=0.3, lag=0.0, front_end_active=True, now=2.0 + step)
    assert not p.limited  # far above what the poller starts: no limit at all
    started_at(p, 400)
    p.observe(busy=0.9, lag=0.0, front_end_active=False, now=30.0)  # the front end is quiet
    assert not p.limited


def test_a_quiet_front_end_lifts_the_limit_even_on_a_saturated_loop() -> None:
    p = pacer(floor=100, growth=2)
    started_at(p, 100)
    p.observe(busy=0.9, lag=0.0, front_end_active=True, now=1.0)
    assert p.rate == pytest.approx(100, rel=1e-3)
    for step in range(4):
        p.observe(busy=0.95, lag=0.0, front_end_active=False, now=2.0 + step)
    assert p.rate == UNLIMITED


def test_the_allowance_is_a_token_bucket_at_the_rate() -> None:
    clock = FakeClock()
    p = pacer(clock, floor=100, batch_window=0.05)
    started_at(p, 100)
    p.observe(busy=0.9, lag=0.0, front_end_active=True, now=1.0)
    assert p.rate == pytest.approx(100, rel=1e-3)
    p.allowance()
    p.started(p.allowance())
    assert p.allowance() == 0
    assert p.batch(room=100) == 5  # a claim per 50 ms at 100/s
    assert p.batch(room=2) == 2
    assert abs(p.wait_for(5) - 0.05) < 1e-9
    clock.now += 0.02
    assert p.allowance() == 2
    clock.now += 10  # idle for long: the bucket holds one batch, not ten seconds' worth
    assert p.allowance() == 5
    p.started(5)
    assert p.allowance() == 0


def test_on_a_real_loop_a_busy_front_end_gets_the_limit_and_a_quiet_one_lifts_it() -> None:
    async def scenario() -> None:
        served = 0
        p = Pacer(front_end=lambda: served, floor=50)
        probe = asyncio.create_task(p.run())
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # the front end holds the loop, 30 ms a time
            served += 1
            p.started(5)  # and the poller keeps starting events
            time.sleep(0.03)  # noqa: ASYNC251 (holding the loop is the point)
            await asyncio.sleep(0)
        assert p.limited and p.rate < 500
        # Quiet: the limit grows back and goes within a few probes.
        for _ in range(1000):
            if p.rate == UNLIMITED:
                break
            await asyncio.sleep(0.01)
        assert p.rate == UNLIMITED
        probe.cancel()

    asyncio.run(scenario())


class Window:
    """Runs a ConcurrencyLimit through windows whose end rate the test chooses."""

    def __init__(self, limit: ConcurrencyLimit, clock: FakeClock) -> None:
        self.limit, self.clock = limit, clock

    def run(self, ended_per_second: float, *, demand: bool = True) -> int:
        for _ in range(int(ended_per_second * self.limit.window)):
            self.limit.ended()
        if demand:
            self.limit.reached()
        self.clock.now += self.limit.window
        self.limit.update()
        return self.limit.limit


def test_the_concurrency_grows_while_throughput_grows_and_backs_off_past_the_knee() -> None:
    clock = FakeClock()
    limit = ConcurrencyLimit(maximum=100, minimum=4, window=1.0, clock=clock)
    windows = Window(limit, clock)
    assert limit.limit == 16
    assert windows.run(100) == 20  # nothing to compare with yet: try more
    assert windows.run(200) == 25  # more ended: more again
    assert windows.run(196) == 31  # as many, within the noise of a window: more again
    assert windows.run(184) == 31  # fewer, but not by a tenth: hold
    assert windows.run(100) == 24  # a tenth fewer: past the turning point, back off
    assert windows.run(100, demand=False) == 24  # no demand: nothing learnt
    assert windows.run(100) == 30  # a fresh start: try more
    for rate in (95, 91, 87, 83):  # a little fewer each time: hold, and every fourth
        windows.run(rate)  # window probe one step up
    assert limit.limit == 37
    limit.reached()
    clock.now += limit.window
    limit.update(learn=False)  # something else held the starts back: nothing learnt
    assert limit.limit == 37


def test_the_concurrency_stays_within_its_bounds() -> None:
    clock = FakeClock()
    limit = ConcurrencyLimit(maximum=10, minimum=2, window=1.0, clock=clock)
    windows = Window(limit, clock)
    rate = 10.0
    for _ in range(20):
        rate *= 2
        windows.run(rate)
    assert limit.limit == 10
    for _ in range(20):
        rate /= 2
        windows.run(rate)
    assert limit.limit == 2
