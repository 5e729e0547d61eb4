"""The Counting Service's rules, without a server."""

from __future__ import annotations

import pytest

from gureum.counting import CountingService
from gureum.errors import InvalidParameterValueException, TooManyRequestsException


def reason(error: pytest.ExceptionInfo[TooManyRequestsException]) -> str:
    return str(error.value.extra["Reason"])


def test_reserved_functions_are_bounded_by_their_reservation() -> None:
    counting = CountingService(account_limit=10, unreserved_minimum=2)
    counting.reserve("r", 2)
    slots = [counting.acquire("r"), counting.acquire("r")]
    with pytest.raises(TooManyRequestsException) as error:
        counting.acquire("r")
    assert reason(error) == "ReservedFunctionConcurrentInvocationLimitExceeded"
    counting.release(slots.pop())
    counting.acquire("r")


def test_unreserved_functions_share_what_is_left() -> None:
    counting = CountingService(account_limit=10, unreserved_minimum=2)
    counting.reserve("r", 7)
    assert counting.unreserved_limit == 3
    slots = [counting.acquire(name) for name in ("a", "b", "a")]
    with pytest.raises(TooManyRequestsException) as error:
        counting.acquire("c")
    assert reason(error) == "ConcurrentInvocationLimitExceeded"
    for _ in range(7):
        counting.acquire("r")  # the reservation is untouched by the others
    counting.release(slots[0])
    counting.acquire("c")


def test_zero_reserved_stops_every_invoke() -> None:
    counting = CountingService()
    counting.reserve("off", 0)
    with pytest.raises(TooManyRequestsException):
        counting.acquire("off")


def test_reservations_keep_the_unreserved_minimum() -> None:
    counting = CountingService(account_limit=1000, unreserved_minimum=100)
    counting.reserve("a", 500)
    counting.check_reservation("b", 400)
    with pytest.raises(InvalidParameterValueException, match=r"minimum value of \[100\]"):
        counting.reserve("b", 401)
    counting.reserve("a", 900)  # re-reserving replaces, it does not add
    with pytest.raises(InvalidParameterValueException):
        counting.reserve("a", -1)
    counting.reserve("a", None)
    assert counting.unreserved_limit == 1000


def test_release_of_a_slot_taken_before_a_reservation() -> None:
    counting = CountingService(account_limit=10, unreserved_minimum=0)
    slot = counting.acquire("f")
    counting.reserve("f", 1)
    counting.release(slot)
    assert counting.unreserved_running == 0 and counting.running == {}
