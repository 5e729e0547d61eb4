"""The asynchronous invoke poller: every accepted event ends in success, a destination or
a dead-letter queue.

``InvocationType=Event`` writes the event into the platform's own durable queue
(``async_events``) and answers 202 once the write has committed. The poller claims
events, invokes the function synchronously through Front End Invoke and then:

- success: the OnSuccess destination, if there is one, gets a record; the event is done;
- a function error (an error response, a crash, a timeout): the event waits
  ``retry_delays[n]`` and runs again, up to MaximumRetryAttempts; after the last
  attempt, or once it is older than MaximumEventAgeInSeconds, the OnFailure destination
  and the dead-letter queue get it;
- a throttle (429) or a platform error: the event waits with backoff (1 s doubling to
  5 min) and is tried again without using up an attempt, until its maximum age;
- reserved concurrency 0: straight to OnFailure and the dead-letter queue, no attempt.

Delivery is at least once: a claimed event stays invisible while it runs; if the node
dies, it shows again (at once when a single node restarts on SQLite, else after the
claim's visibility timeout), and runs again with the same request id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gureum import untrusted_json
from gureum.counting import CountingService
from gureum.errors import MessageNotInflight, ReceiptHandleIsInvalid, ServiceError
from gureum.events.async_events import ASYNC_QUEUE, AsyncEventQueue, Event
from gureum.events.invoke_config import EventInvokeConfig, Target
from gureum.events.pacing import ConcurrencyLimit, Pacer
from gureum.front_end_invoke import Caller, FrontEndInvoke
from gureum.functions.config import LATEST, FunctionVersion, function_arn
from gureum.functions.registry import FunctionRegistry
from gureum.ids import new_uuid
from gureum.observe.logs import LogSink
from gureum.queues.queues import Message, Outgoing, Queues

__all__ = ["ASYNC_QUEUE", "AsyncInvoker", "Event"]

logger = logging.getLogger(__name__)

#: How long a claimed event stays hidden; a heartbeat renews the claims of events still
#: running every ``HEARTBEAT`` seconds, so a crashed node's events show again within a
#: minute (a single SQLite node gives them back at once when it restarts).
CLAIM_VISIBILITY = 60
HEARTBEAT = 20.0
#: Backoff of throttled events and platform errors: first wait and cap, in seconds.
THROTTLE_BACKOFF = (1.0, 300.0)
#: The log stream, in the function's log group, that says when a destination failed.
DELIVERY_LOG_STREAM = "gureum/async-delivery"
#: Longest ``ErrorMessage`` attribute of a dead-letter message (Lambda: 1 KB).
DLQ_ERROR_MESSAGE_BYTES = 1024
#: While most of the poller's slots are busy, how long it lets more events end before
#: claiming, so that one transaction claims for several.
CLAIM_GATHER = 0.01


def _json_or_text(raw: str | bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return untrusted_json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def _iso_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class AsyncInvoker:
    """Accepts asynchronous events and runs them to an end (the seed's async Poller)."""

    def __init__(
        self,
        *,
        events: AsyncEventQueue,
        queues: Queues,
        functions: FunctionRegistry,
        counting: CountingService,
        invoke: FrontEndInvoke,
        logs: LogSink,
        front_end_requests: Callable[[], int],
        region: str,
        account_id: str,
        retry_delays: list[float],
        concurrency: int,
        release_on_start: bool,
    ) -> None:
        self.events = events
        self.queues = queues
        self.functions = functions
        self.counting = counting
        self.front_end = invoke
        self.logs = logs
        self.region = region
        self.account_id = account_id
        self.retry_delays = retry_delays or [60.0, 120.0]
        self.release_on_start = release_on_start
        self._tasks: set[asyncio.Task[None]] = set()
        #: receipt handle of each event whose invocation has not ended yet (what the
        #: concurrency counts: an ended one only waits for its outcome's write)
        self._running: dict[asyncio.Task[None], str] = {}
        self._heartbeat: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        #: how many events may run at once at most, and how many do now (it grows while
        #: the rate of ended events still grows)
        self.concurrency = concurrency
        self.limit = ConcurrencyLimit(maximum=concurrency)
        #: how many may start per second while the front end needs the loop (``pacing``)
        self.pacer = Pacer(front_end=front_end_requests)
        self._pacing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.events.start()
        if self.release_on_start:
            released = await self.queues.release_in_flight(ASYNC_QUEUE)
            if released:
                logger.info("%d asynchronous events were running at the last stop: again", released)
        self._loop_task = asyncio.create_task(self._run(), name="gureum-async-poller")
        self._heartbeat = asyncio.create_task(self._renew(), name="gureum-async-heartbeat")
        self._pacing = asyncio.create_task(self.pacer.run(), name="gureum-async-pacing")

    async def stop(self, grace: float) -> None:
        """Stop claiming; let running events finish for up to ``grace`` seconds (the
        rest show again after a restart and run again)."""
        for task in (self._loop_task, self._heartbeat, self._pacing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    # polling
    async def _run(self) -> None:
        pacer = self.pacer
        limit = self.limit
        while True:
            # While the front end holds the poller's starts back, its rate of ended
            # events says nothing of how many it could run at once.
            limit.update(learn=not pacer.limited)
            running = len(self._running)
            room = limit.limit - running
            if room <= 0:
                limit.reached()
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._room.wait(), limit.window)
                continue
            if running and room < limit.limit // 2:
                # A claim is a write transaction on the store the front end's group
                # commits share: let a few more events end, to claim for them at once.
                await asyncio.sleep(CLAIM_GATHER)
                room = limit.limit - len(self._running)
                if room <= 0:
                    continue
            allowed = pacer.allowance()
            wanted = pacer.batch(room)
            if allowed < wanted:  # the front end needs the loop: start fewer per second
                await asyncio.sleep(pacer.wait_for(wanted))
                continue
            try:
                messages = await self.queues.receive(
                    ASYNC_QUEUE,
                    max_messages=min(room, allowed, 100),
                    visibility_timeout=CLAIM_VISIBILITY,
                    wait_seconds=20,
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("claiming asynchronous events failed; trying again in 1 s")
                await asyncio.sleep(1)
                continue
            pacer.started(len(messages))
            if len(messages) == room:
                limit.reached()  # there may be more than the limit let it take
            for message in messages:
                task = asyncio.create_task(self._settle(message))
                self._tasks.add(task)
                self._running[task] = message.receipt_handle
                task.add_done_callback(self._done)

    async def _renew(self) -> None:
        """Keep the claims of long-running events (a function may run 900 s)."""
        while True:
            await asyncio.sleep(HEARTBEAT)
            for task, receipt in list(self._running.items()):
                if self._running.get(task) != receipt:
                    continue  # it is ending: its own last write must be the last one
                try:
                    await self.queues.change_visibility(ASYNC_QUEUE, receipt, CLAIM_VISIBILITY)
                except ServiceError:
                    pass  # it finished (or was retried) meanwhile
                except Exception:
                    logger.exception("renewing the claim of an asynchronous event failed")

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._running.pop(task, None) is not None:
            self.limit.ended()
        self._room.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("an asynchronous event failed to process", exc_info=task.exception())

    async def _settle(self, message: Message) -> None:
        """Run an event to its end; a claim that ran out meanwhile is not an error."""
        try:
            await self._process(message)
        except (MessageNotInflight, ReceiptHandleIsInvalid) as exc:
            # Its claim expired (the loop was held up past CLAIM_VISIBILITY): the event
            # showed again and another claim runs it, so this one lets it go.
            logger.info("an asynchronous event's claim had expired (%s); it runs again", exc)

    async def _process(self, message: Message) -> None:
        try:
            event = Event.decode(message.body)
        except (ValueError, TypeError):
            logger.error("dropping an unreadable asynchronous event: %.200r", message.body)
            await self.queues.delete_message(ASYNC_QUEUE, message.receipt_handle)
            return
        try:
            function = self.functions.get(event.function, event.qualifier)
            stored = self.functions.event_invoke_configs(event.function)
        except ServiceError:
            logger.warning(
                "asynchronous event %s: function %s:%s no longer exists; dropped",
                event.request_id,
                event.function,
                event.qualifier or LATEST,
            )
            await self.queues.delete_message(ASYNC_QUEUE, message.receipt_handle)
            return
        config = EventInvokeConfig.from_stored(stored.get(event.qualifier or LATEST))
        age_ms = int(time.time() * 1000) - event.accepted_ms
        if age_ms > config.maximum_event_age * 1000:
            await self._fail(event, function, config, "EventAgeExceeded", message)
            return
        if self.counting.reserved(function.name) == 0:
            event.last = {
                "status": 429,
                "error": "TooManyRequestsException",
                "body": json.dumps(
                    {
                        "errorType": "TooManyRequestsException",
                        "errorMessage": "The function's reserved concurrency is 0.",
                    }
                ),
            }
            await self._fail(event, function, config, "RetriesExhausted", message)
            return
        caller = Caller(event.request_id, event.trace_id, event.client_context)
        self.front_end.metrics.put(
            "AsyncEventAge", function.name, event.qualifier, age_ms, "Milliseconds"
        )
        try:
            invoked = await self.front_end.invoke(
                event.function, event.qualifier, event.payload.encode(), "RequestResponse", caller
            )
        except ServiceError as exc:
            self._ending()
            # Throttled (TooManyRequestsException), or the platform could not run it:
            # wait and try again, without using up an attempt.
            if event.attempts == 0:
                event.last = {
                    "status": exc.status,
                    "error": exc.error_type,
                    "body": json.dumps({"errorType": exc.error_type, "errorMessage": exc.message}),
                }
            await self._back_off(event, message, str(exc))
            return
        self._ending()
        function, outcome = invoked.function, invoked.outcome
        assert outcome is not None
        if outcome.platform_fault:
            # The host could not run it (its init starved for CPU): again later, as a
            # throttle is, without using up an attempt.
            await self._back_off(event, message, "the host was saturated during its init")
            return
        event.attempts += 1
        event.last = {
            "status": 200,
            "error": outcome.function_error,
            "body": outcome.body.decode(errors="replace"),
            "version": function.version,
        }
        if outcome.function_error is None:
            if config.on_success is not None:
                await self._deliver(
                    config.on_success, self._record(event, function, "Success"), function
                )
            await self.queues.delete_message(ASYNC_QUEUE, message.receipt_handle)
            return
        if event.attempts > config.maximum_retry_attempts:
            await self._fail(event, function, config, "RetriesExhausted", message)
            return
        delay = self.retry_delays[min(event.attempts, len(self.retry_delays)) - 1]
        await self.queues.change_visibility(
            ASYNC_QUEUE, message.receipt_handle, delay, body=event.encode()
        )

    async def _back_off(self, event: Event, message: Message, why: str) -> None:
        """Run the event again after a backoff that uses up no attempt (1 s doubling to
        5 min), until its maximum age."""
        delay = min(THROTTLE_BACKOFF[0] * 2**event.throttles, THROTTLE_BACKOFF[1])
        event.throttles += 1
        logger.debug("asynchronous event %s: %s; again in %.1f s", event.request_id, why, delay)
        await self.queues.change_visibility(
            ASYNC_QUEUE, message.receipt_handle, delay, body=event.encode()
        )

    def _ending(self) -> None:
        """The running event is about to be ended or retried: no more claim renewals."""
        task = asyncio.current_task()
        if task is not None and self._running.pop(task, None) is not None:
            self.limit.ended()
            self._room.set()

    # endings
    def _record(self, event: Event, function: FunctionVersion, condition: str) -> dict[str, Any]:
        """A destination record in Lambda's shape."""
        last = event.last or {}
        response: dict[str, Any] = {
            "statusCode": last.get("status", 200),
            "executedVersion": last.get("version", function.version),
        }
        if last.get("error"):
            response["functionError"] = last["error"]
        return {
            "version": "1.0",
            "timestamp": _iso_now(),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": function_arn(
                    self.region, self.account_id, event.function, event.qualifier or LATEST
                ),
                "condition": condition,
                "approximateInvokeCount": event.attempts,
            },
            "requestPayload": _json_or_text(event.payload),
            "responseContext": response,
            "responsePayload": _json_or_text(last.get("body")),
        }

    async def _fail(
        self,
        event: Event,
        function: FunctionVersion,
        config: EventInvokeConfig,
        condition: str,
        message: Message,
    ) -> None:
        """Give a failed event to the OnFailure destination and the dead-letter queue."""
        self.front_end.metrics.put("AsyncEventsDropped", function.name, event.qualifier, 1, "Count")
        if config.on_failure is not None:
            await self._deliver(
                config.on_failure, self._record(event, function, condition), function
            )
        dead_letter = function.dead_letter_queue
        if dead_letter is not None:
            await self._deliver(dead_letter, None, function, event)
        if config.on_failure is None and dead_letter is None:
            logger.info(
                "asynchronous event %s of %s failed (%s) and has nowhere to go",
                event.request_id,
                function.name,
                condition,
            )
        await self.queues.delete_message(ASYNC_QUEUE, message.receipt_handle)

    async def _deliver(
        self,
        target: Target,
        record: dict[str, Any] | None,
        source: FunctionVersion,
        dead: Event | None = None,
    ) -> None:
        """Send a destination record (or, for a dead-letter queue, the event itself)."""
        try:
            if target.kind == "lambda":
                name, _, qualifier = target.name.partition(":")
                function = self.functions.get(name, qualifier or None)
                await self.events.accept(
                    function.name,
                    qualifier or None,
                    json.dumps(record).encode(),
                    new_uuid(),
                )
                self.front_end.metrics.put(
                    "AsyncEventsReceived", function.name, qualifier or None, 1, "Count"
                )
            elif dead is not None:
                await self.queues.send(target.name, [self._dead_letter(dead)])
            else:
                await self.queues.send(target.name, [Outgoing(json.dumps(record))])
        except ServiceError as exc:
            # Said where the function's owner looks (its log group) and in the server's
            # log; the event is not retried for it.
            request_id = dead.request_id if dead else (record or {})["requestContext"]["requestId"]
            message = (
                f"[gureum] RequestId: {request_id} could not be delivered to "
                f"{'the dead-letter queue' if dead else 'its destination'} "
                f"{target.arn}: {exc.error_type}: {exc.message}"
            )
            self.logs.emit(source.log_group, DELIVERY_LOG_STREAM, message)
            failure = "DeadLetterErrors" if dead else "DestinationDeliveryFailures"
            self.front_end.metrics.put(
                failure, source.name, dead.qualifier if dead else None, 1, "Count"
            )
            logger.warning("%s", message)

    @staticmethod
    def _dead_letter(event: Event) -> Outgoing:
        """The original event, with the RequestID, ErrorCode and ErrorMessage attributes."""
        last = event.last or {}
        body = _json_or_text(last.get("body"))
        error = body.get("errorMessage") if isinstance(body, dict) else None
        if error is None:
            error = "Event age exceeded" if not last else str(last.get("error") or "")
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": event.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": str(last.get("status", 200))},
            "ErrorMessage": {
                "DataType": "String",
                "StringValue": str(error).encode()[:DLQ_ERROR_MESSAGE_BYTES].decode(errors="ignore")
                or "unknown",
            },
        }
        return Outgoing(event.payload, attributes)
