"""Load control: a burst of asynchronous events for a function with a slow init, with and
without a SIGKILL of the server part-way, beside the floor of the same run.

Run: ``python benchmarks/load_control.py [--events 2000] [--kill]``.

The function does what the seed recommends ("slow work goes in the global scope"): it
creates a boto3 client at init (~150 ms of CPU), at 128 MB. The events are sent as fast
as 32 client threads can send them. The platform must not fail an event because it
overloaded itself: every event runs successfully at least once, none ends
``RetriesExhausted`` (its OnFailure destination, a queue, stays empty) and no init times
out. Printed: the accept rate, the drain rate, the peak number of concurrent cold starts
(from the sandboxes' INIT_START and Init Duration), and those three counts. The floor:
the same function's warm invoke rate, measured sequentially in the same run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
from tests.conftest import free_port  # noqa: E402
from tests.events.test_load_control import (  # noqa: E402  (the scenario the test runs)
    FUNCTION,
    Outcome,
    client,
    deploy,
    scenario,
    server,
)


def warm_floor(seconds: float = 3.0) -> float:
    """The same function's warm invokes per second, sequential, on a fresh server."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        with server(Path(tmp, "data"), port):
            deploy(port)
            lam = client("lambda", port)
            lam.invoke(FunctionName=FUNCTION, Payload=b'{"i": -1}')
            count, ends = 0, time.perf_counter() + seconds
            while time.perf_counter() < ends:
                lam.invoke(FunctionName=FUNCTION, Payload=b'{"i": -1}')
                count += 1
            return count / seconds


def report(name: str, outcome: Outcome, events: int) -> None:
    lost = events - len(outcome.ran)
    print(f"{name}:")
    print(f"  accepted {outcome.accepted_per_s:8.0f} events/s (32 client threads)")
    print(
        f"  drained  {outcome.drain_per_s:8.0f} events/s ({len(outcome.ran)} of {events} "
        f"in {outcome.seconds:.1f} s; {outcome.runs} runs)"
    )
    print(f"  cold starts {outcome.cold_starts}, at most {outcome.peak_cold_starts} at once")
    print(
        f"  lost {lost}, RetriesExhausted {outcome.retries_exhausted}, "
        f"init timeouts {outcome.init_timeouts}   (budget: 0, 0, 0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--kill", action="store_true", help="only the run with a SIGKILL")
    args = parser.parse_args()
    print(f"floor: warm invokes of the same function, sequential: {warm_floor():.0f}/s")
    if not args.kill:
        report("no restart", scenario(args.events, kill=False), args.events)
    report("SIGKILL half-way, then a restart", scenario(args.events, kill=True), args.events)


if __name__ == "__main__":
    main()
