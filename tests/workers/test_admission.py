"""Cold-start admission on its own: places by the CPU's pressure, in order of arrival."""

from __future__ import annotations

import asyncio

from gureum.workers.admission import ColdStartAdmission, CpuPressure


class Pressure:
    """The CPU's pressure as the test sets it (None: not measured anew yet)."""

    def __init__(self) -> None:
        self.share: float | None = None

    def __call__(self) -> float | None:
        return self.share


def test_places_follow_the_cpu() -> None:
    async def scenario() -> None:
        pressure = Pressure()
        admission = ColdStartAdmission(minimum=2, maximum=6, pressure=pressure)
        assert admission.limit == 4  # twice the minimum to begin with
        assert all(admission.try_admit() for _ in range(4))
        assert not admission.try_admit()
        waiters = [admission.wait() for _ in range(3)]
        pressure.share = 0.1  # the CPU is free and cold starts wait: one more place
        admission.leave()
        assert admission.limit == 5
        assert [w.done() for w in waiters] == [True, True, False]  # in order of arrival
        pressure.share = 0.95  # saturated: a quarter fewer, never below the minimum
        for _ in range(5):
            admission.leave()
        assert admission.limit == 2 and admission.running == 1
        assert waiters[2].done()
        assert admission.peak == 5

    asyncio.run(scenario())


def test_a_waiter_that_gave_up_is_passed_over() -> None:
    async def scenario() -> None:
        admission = ColdStartAdmission(minimum=1, maximum=1, pressure=lambda: None)
        assert admission.try_admit()
        gone, next_one = admission.wait(), admission.wait()
        gone.cancel()  # it took a warm sandbox instead
        assert admission.waiting == 1
        admission.leave()
        assert next_one.done() and admission.running == 1
        assert not admission.try_admit()

    asyncio.run(scenario())


def test_cpu_pressure_is_a_share_of_wall_time() -> None:
    now = [0.0]
    pressure = CpuPressure(clock=lambda: now[0])
    assert pressure.since_last() is None  # too soon to tell
    now[0] = 0.5
    share = pressure.since_last()
    assert share is not None and 0.0 <= share <= 1.0
