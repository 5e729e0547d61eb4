"""Placement: sandboxes' memory against the host's budget; LRU eviction; clean refusal."""

from __future__ import annotations

import concurrent.futures
import json
import time
from typing import Any

import pytest

from gureum.errors import TooManyRequestsException
from gureum.workers.placement import LocalPlacement, MeasuredPlacement, host_memory_mb
from tests.conftest import ROLE, RunningServer, client, zip_files

CODE = """
import time, uuid
SANDBOX = uuid.uuid4().hex
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return SANDBOX
"""


def test_local_placement_counts_memory() -> None:
    placement = LocalPlacement(512)
    placement.place(256)
    placement.place(256)
    assert not placement.fits(128)
    with pytest.raises(TooManyRequestsException, match="512 of 512 MB"):
        placement.place(128)
    placement.release(256)
    assert placement.fits(256) and placement.sandboxes == 1
    assert host_memory_mb() > 0


def deploy_all(server: RunningServer, names: list[str], memory: int = 256) -> Any:
    lam = client("lambda", server.endpoint)
    for name in names:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            MemorySize=memory,
            Timeout=10,
            Code={"ZipFile": zip_files({"app.py": CODE})},
        )
    return lam


def call(lam: Any, name: str, sleep: float = 0) -> str:
    response = lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}))
    return str(json.loads(response["Payload"].read()))


def test_the_least_recently_used_idle_sandbox_makes_room(start_server: Any) -> None:
    server = start_server(placement="nominal", sandbox_memory_budget=512)
    lam = deploy_all(server, ["a", "b", "c"])
    first_a = call(lam, "a")
    time.sleep(0.01)
    first_b = call(lam, "b")
    call(lam, "c")  # the budget holds two: a, the least recently used, is evicted
    assert call(lam, "b") == first_b  # b stayed warm
    assert call(lam, "a") != first_a  # a starts cold again
    assert server.platform.workers.placement.used_mb <= 512


def test_a_full_host_throttles_instead_of_overcommitting(start_server: Any) -> None:
    server = start_server(placement="nominal", sandbox_memory_budget=512)
    lam = deploy_all(server, ["busy1", "busy2", "late"])
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        running = [pool.submit(call, lam, name, 1.5) for name in ("busy1", "busy2")]
        time.sleep(0.7)  # both are running: 512 MB in use, nothing idle to evict
        with pytest.raises(lam.exceptions.TooManyRequestsException) as error:
            call(lam, "late")
        assert "No worker has 256 MB free" in str(error.value)
        assert all(future.result() for future in running)
    assert call(lam, "late")  # room again once they are idle (and evictable)


class Meminfo:
    """What ``available`` reports, and a clock, both moved by the test."""

    def __init__(self, available_mb: int) -> None:
        self.available_mb = available_mb
        self.now = 0.0

    def available(self) -> int:
        return self.available_mb

    def clock(self) -> float:
        return self.now


def test_measured_placement_admits_by_the_memory_the_host_has() -> None:
    host = Meminfo(available_mb=1000)
    placement = MeasuredPlacement(
        reserve_mb=500, starting_mb=64, settle=5.0, available=host.available, clock=host.clock
    )
    # 500 MB to spare: seven sandboxes of 1 GB fit as they start (64 MB each, not 1 GB)
    for _ in range(7):
        placement.place(1024)
    assert not placement.fits(1024)
    with pytest.raises(TooManyRequestsException, match="52 MB of memory to spare"):
        placement.place(1024)
    assert placement.fits(32)  # a small one still does: it can use no more than 32 MB
    host.now = 6.0  # they have started, and use what the host's figure says they use
    host.available_mb = 1000 - 7 * 5
    assert placement.fits(1024) and placement.shortage_mb() == 0
    host.available_mb = 400  # something else took memory: 100 MB short of the reserve
    assert placement.shortage_mb() == 100
    placement.release(1024, used_mb=60)  # an idle one stopped: it gives back what it used
    assert placement.shortage_mb() == 40
    assert placement.sandboxes == 6


def test_a_burst_of_200_on_a_default_server(start_server: Any) -> None:
    # Nominal placement would refuse the 151st 128 MB sandbox on a 24 GB host; the
    # measured one admits them by what they use (a few MB each).
    server = start_server()
    lam = deploy_all(server, ["burst"], memory=128)
    with concurrent.futures.ThreadPoolExecutor(200) as pool:
        answers = list(pool.map(lambda _: call(lam, "burst", 1.0), range(200)))
    assert len(answers) == 200 and all(answers)  # none refused (429) for want of memory
    # (cold starts wait for admission by CPU, so some of the 200 reuse a sandbox that
    # finished its second rather than start one each)
    assert isinstance(server.platform.workers.placement, MeasuredPlacement)
