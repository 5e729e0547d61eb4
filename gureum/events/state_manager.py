"""The State Manager: how many batches of a queue mapping run at once, as the queue
fills and empties (the seed: "State Manager / Stream Tracker manage scaling of pollers").

Lambda starts a queue mapping with five concurrent batches; while messages wait it
adds up to 300 a minute, up to 1,000, ``ScalingConfig.MaximumConcurrency`` or the
function's reserved concurrency, whichever is least; when the queue is empty it
scales back down. :func:`next_concurrency` is that rule (pure); each node's pollers
apply it to the mappings they hold once a second
(:meth:`~gureum.events.queue_pollers.QueuePollers.tick`).
"""

from __future__ import annotations

#: Lambda's first concurrent batches of a queue, its most, and what it adds each
#: second while messages wait (300 a minute).
FIRST = 5
MOST = 1000
UP_PER_SECOND = 5


def limit_of(maximum_concurrency: int | None, reserved_concurrency: int | None) -> int:
    """The most batches at once: Lambda's 1,000, under the mapping's MaximumConcurrency
    and the function's reserved concurrency (a function reserved at 0 runs none)."""
    limit = MOST
    if maximum_concurrency is not None:
        limit = min(limit, maximum_concurrency)
    if reserved_concurrency is not None:
        limit = min(limit, reserved_concurrency)
    return limit


def next_concurrency(current: int, waiting: int, batch_size: int, limit: int) -> int:
    """The concurrency for the next second: up while more messages wait than the
    current batches take, down toward the first five once none wait."""
    if waiting > current * batch_size:
        wanted = current + UP_PER_SECOND
    elif waiting == 0:
        wanted = max(FIRST, current - UP_PER_SECOND)
    else:
        wanted = current
    return max(0, min(limit, wanted))
