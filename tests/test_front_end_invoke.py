"""Front End Invoke on its own: the one call every caller invokes through, on a platform
started in-process (no HTTP)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from gureum.errors import ResourceNotFoundException, TooManyRequestsException
from gureum.events.async_events import ASYNC_QUEUE, Event
from gureum.front_end_invoke import Caller
from gureum.platform import Platform
from tests.conftest import ROLE, make_settings, zip_files

CODE = (
    "def handler(event, context):\n"
    "    return {'event': event, 'arn': context.invoked_function_arn}\n"
)


def on_platform(tmp_path: Path, scenario: Callable[[Platform], Awaitable[None]]) -> None:
    async def main() -> None:
        platform = Platform(make_settings(tmp_path))
        await platform.start()
        try:
            await scenario(platform)
        finally:
            await platform.stop()

    asyncio.run(main())


async def create(platform: Platform, name: str) -> None:
    code = base64.b64encode(zip_files({"app.py": CODE})).decode()
    await platform.functions.create(
        {
            "FunctionName": name,
            "Runtime": "python3.11",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": code},
        }
    )


def test_request_response_event_and_dry_run(tmp_path: Path) -> None:
    async def scenario(platform: Platform) -> None:
        await create(platform, "fei")
        arn = "arn:aws:lambda:us-east-1:000000000000:function:fei"
        invoked = await platform.invoke.invoke(
            arn, None, b'{"n": 1}', "RequestResponse", Caller("r-1", tail=True)
        )
        assert invoked.function.name == "fei" and invoked.outcome is not None
        assert json.loads(invoked.outcome.body) == {"event": {"n": 1}, "arn": arn}
        assert b"START RequestId: r-1" in invoked.outcome.log_tail
        dry = await platform.invoke.invoke("fei", "$LATEST", b"{}", "DryRun", Caller("r-2"))
        assert dry.outcome is None and dry.function.version == "$LATEST"
        await platform.async_invoker.stop(0)  # so that the event stays in the queue
        accepted = await platform.invoke.invoke("fei", None, b'{"n": 2}', "Event", Caller("r-3"))
        assert accepted.outcome is None
        (message,) = await platform.queues.receive(ASYNC_QUEUE, max_messages=10)
        event = Event.decode(message.body)
        assert (event.request_id, event.function, json.loads(event.payload)) == (
            "r-3",
            "fei",
            {"n": 2},
        )

    on_platform(tmp_path, scenario)


def test_errors_are_the_apis(tmp_path: Path) -> None:
    async def scenario(platform: Platform) -> None:
        with pytest.raises(ResourceNotFoundException, match="Function not found"):
            await platform.invoke.invoke("nope", None, b"{}", "RequestResponse", Caller("r"))
        await create(platform, "reserved")
        await platform.functions.set_reserved_concurrency("reserved", 0)
        with pytest.raises(TooManyRequestsException) as throttled:
            await platform.invoke.invoke("reserved", None, b"{}", "RequestResponse", Caller("r"))
        assert (
            throttled.value.extra["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        )
        assert platform.counting.running == {}  # the slot was never taken, or given back

    on_platform(tmp_path, scenario)
