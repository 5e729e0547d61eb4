"""The Counting Service: how many invocations run at once, per account and per function.

Lambda's model: the account has a concurrency limit (1,000 by default). A function with
reserved concurrency R may run R invocations at once, no more, and those R are taken
out of the account's pool for everyone else; functions without a reservation share
what is left (the unreserved pool), which may not shrink below a minimum (100). Over a
limit, an invoke is throttled with 429 and the ``Reason`` that says which limit.

Counting is in memory and exact: the event loop runs ``acquire`` and ``release`` one at
a time, and the invoke path touches no database. (Where other nodes may share the
store, an invocation of a reserved function also takes a place there:
``counting_store.py``.) Reservations are the registry's (it
stores them and checks them with :func:`check_reservation`); the Counting Service
holds a copy, kept in line by the registry's change notifications.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gureum.errors import InvalidParameterValueException, TooManyRequestsException


@dataclass(frozen=True, slots=True)
class ConcurrencyLimits:
    """The account's concurrency limit and the part no reservation may take."""

    account: int = 1000
    unreserved_minimum: int = 100


def check_reservation(
    reservations: Mapping[str, int], function: str, concurrency: int, limits: ConcurrencyLimits
) -> None:
    """Refuse a reservation that leaves the unreserved pool below its minimum."""
    if concurrency < 0:
        raise InvalidParameterValueException(
            "ReservedConcurrentExecutions must be greater than or equal to 0."
        )
    others = sum(n for name, n in reservations.items() if name != function)
    if limits.account - others - concurrency < limits.unreserved_minimum:
        raise InvalidParameterValueException(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            "UnreservedConcurrentExecution below its minimum value of "
            f"[{limits.unreserved_minimum}]."
        )


@dataclass(frozen=True, slots=True)
class Slot:
    """One running invocation's place: its function, and whether it is reserved."""

    function: str
    reserved: bool


class CountingService:
    """Concurrency limits and the counts of invocations running now."""

    def __init__(self, account_limit: int = 1000, unreserved_minimum: int = 100) -> None:
        self.limits = ConcurrencyLimits(account_limit, unreserved_minimum)
        self.account_limit = account_limit
        self.unreserved_minimum = unreserved_minimum
        self.reservations: dict[str, int] = {}
        self.running: dict[str, int] = {}
        self.unreserved_running = 0

    @property
    def unreserved_limit(self) -> int:
        return self.account_limit - sum(self.reservations.values())

    def acquire(self, function: str) -> Slot:
        """A place for one invocation of ``function``, or TooManyRequestsException."""
        reserved = self.reservations.get(function)
        running = self.running.get(function, 0)
        if reserved is not None:
            if running >= reserved:
                raise TooManyRequestsException(
                    "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded"
                )
        elif self.unreserved_running >= self.unreserved_limit:
            raise TooManyRequestsException("Rate Exceeded.", "ConcurrentInvocationLimitExceeded")
        else:
            self.unreserved_running += 1
        self.running[function] = running + 1
        return Slot(function, reserved is not None)

    def release(self, slot: Slot) -> None:
        left = self.running.get(slot.function, 0) - 1
        if left > 0:
            self.running[slot.function] = left
        else:
            self.running.pop(slot.function, None)
        if not slot.reserved:
            self.unreserved_running -= 1

    def check_reservation(self, function: str, concurrency: int) -> None:
        """Refuse a reservation that leaves the unreserved pool below its minimum."""
        check_reservation(self.reservations, function, concurrency, self.limits)

    def reserved(self, function: str) -> int | None:
        """``function``'s reserved concurrency as counted now (None: it has none)."""
        return self.reservations.get(function)

    def load(self, reservations: Mapping[str, int]) -> None:
        """Take every function's reservation (at start-up)."""
        self.reservations = dict(reservations)

    def reserve(self, function: str, concurrency: int | None) -> None:
        """Set (or, with None, remove) a function's reserved concurrency.

        Invocations already running keep the pool they were counted in until they end.
        """
        if concurrency is None:
            self.reservations.pop(function, None)
        else:
            self.check_reservation(function, concurrency)
            self.reservations[function] = concurrency
