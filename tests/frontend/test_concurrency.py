"""Reserved concurrency and throttling through boto3, counted exactly."""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any

import pytest

from tests.conftest import ROLE, RunningServer, client, zip_files

SLEEPER = """
import time
def handler(event, context):
    start = time.time()
    time.sleep(event.get("sleep", 0.4))
    return [start, time.time()]
"""


def max_overlap(intervals: list[list[float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def burst(lam: Any, name: str, n: int) -> tuple[list[list[float]], list[str]]:
    def one(_: int) -> tuple[str, Any]:
        try:
            response = lam.invoke(FunctionName=name, Payload=b'{"sleep": 0.4}')
            return "ok", json.loads(response["Payload"].read())
        except lam.exceptions.TooManyRequestsException as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            return "throttled", exc.response["Reason"]

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        outcomes = list(pool.map(one, range(n)))
    return (
        [value for kind, value in outcomes if kind == "ok"],
        [value for kind, value in outcomes if kind == "throttled"],
    )


def test_put_get_delete_function_concurrency(lambda_client: Any, deploy: Any) -> None:
    name = deploy(SLEEPER)
    assert "ReservedConcurrentExecutions" not in lambda_client.get_function_concurrency(
        FunctionName=name
    )
    put = lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert (
        lambda_client.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"]
        == 5
    )
    assert lambda_client.get_function(FunctionName=name)["Concurrency"] == {
        "ReservedConcurrentExecutions": 5
    }
    settings = lambda_client.get_account_settings()["AccountLimit"]
    assert settings["UnreservedConcurrentExecutions"] <= settings["ConcurrentExecutions"] - 5
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert "Concurrency" not in lambda_client.get_function(FunctionName=name)
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.put_function_concurrency(
            FunctionName="absent-fn", ReservedConcurrentExecutions=1
        )
    with pytest.raises(
        lambda_client.exceptions.InvalidParameterValueException, match="minimum value of"
    ):
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=950)


def test_reserved_zero_throttles_every_invoke(lambda_client: Any, deploy: Any) -> None:
    name = deploy(SLEEPER)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as error:
        lambda_client.invoke(FunctionName=name)
    assert error.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert error.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"]
    lambda_client.delete_function_concurrency(FunctionName=name)
    assert lambda_client.invoke(FunctionName=name, Payload=b'{"sleep": 0}')["StatusCode"] == 200


def test_never_more_than_the_reservation_runs_at_once(lambda_client: Any, deploy: Any) -> None:
    name = deploy(SLEEPER, Timeout=10)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    ran, throttled = burst(lambda_client, name, 10)
    assert len(ran) >= 3 and len(ran) + len(throttled) == 10
    assert max_overlap(ran) <= 3  # from the functions' own clocks
    assert set(throttled) <= {"ReservedFunctionConcurrentInvocationLimitExceeded"}
    assert throttled, "10 at once against a reservation of 3 must throttle some"


def test_the_account_limit_throttles_unreserved_functions(start_server: Any) -> None:
    server: RunningServer = start_server(account_concurrency=2, unreserved_concurrency_minimum=0)
    lam = client("lambda", server.endpoint)
    for name in ("one", "two"):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Timeout=10,
            Code={"ZipFile": zip_files({"app.py": SLEEPER})},
        )
    ran, throttled = burst(lam, "one", 6)
    assert max_overlap(ran) <= 2
    assert throttled and set(throttled) == {"ConcurrentInvocationLimitExceeded"}


def test_reservations_survive_a_restart_and_deletion_clears_them(start_server: Any) -> None:
    server: RunningServer = start_server()
    lam = client("lambda", server.endpoint)
    lam.create_function(
        FunctionName="kept",
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": SLEEPER})},
    )
    lam.put_function_concurrency(FunctionName="kept", ReservedConcurrentExecutions=7)
    server.stop()
    restarted = RunningServer(server.settings)  # the same data directory
    restarted.start()
    try:
        assert restarted.platform.counting.reservations == {"kept": 7}
        lam = client("lambda", restarted.endpoint)
        lam.delete_function(FunctionName="kept")
        assert restarted.platform.counting.reservations == {}
    finally:
        restarted.stop()
