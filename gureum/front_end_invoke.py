"""Front End Invoke: the one call that invokes a function, whoever asks.

The edge's Invoke API, the async poller and every later caller (the API gateway, event
source mappings, the console) invoke through :meth:`FrontEndInvoke.invoke` and nothing
else. One call resolves the function (name or ARN, qualifier, alias routing), then:

- ``RequestResponse``: samples the trace, takes a slot from the Counting Service (429
  when over a limit), runs the invocation through the Worker Manager, records the
  trace's segments, and answers the outcome;
- ``Event``: writes the event to the durable queue (the async poller runs it later);
- ``DryRun``: only the resolution, which says the function exists.

A caller that reads a streamed response as it comes (InvokeWithResponseStream, a
``RESPONSE_STREAM`` function URL) resolves first, then :meth:`FrontEndInvoke.run`s with
a future the stream lands in once the runtime starts one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from gureum.counting import CountingService, Slot
from gureum.counting_store import SharedReservations
from gureum.errors import TooManyRequestsException
from gureum.events.async_events import AsyncEventQueue
from gureum.functions.config import FunctionVersion, function_arn
from gureum.functions.registry import FunctionRegistry
from gureum.observe.lambda_metrics import LambdaMetrics
from gureum.tracing.lambda_segments import InvocationTrace
from gureum.tracing.sampling import Sampler
from gureum.tracing.segments import from_document
from gureum.tracing.trace_store import TraceStore
from gureum.workers.manager import WorkerManager
from gureum.workers.runtime_api import Invocation, ResponseStream
from gureum.workers.sandbox import InvokeOutcome

InvocationType = Literal["RequestResponse", "Event", "DryRun"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who invokes and what they hand over besides the payload."""

    request_id: str
    #: The caller's ``X-Amzn-Trace-Id`` (its sampling decision is honoured).
    trace_header: str | None = None
    #: The decoded ``X-Amz-Client-Context`` (JSON), for the runtime.
    client_context: str | None = None
    #: Keep the end of the invocation's log (``LogType=Tail``).
    tail: bool = False


@dataclass(frozen=True, slots=True)
class Invoked:
    """What an invoke did: the version it resolved to, and how the invocation ended
    (None when it was accepted for later, or only a dry run)."""

    function: FunctionVersion
    outcome: InvokeOutcome | None


class FrontEndInvoke:
    """Resolve, trace, count and run invocations (the seed's Front End Invoke)."""

    def __init__(
        self,
        *,
        functions: FunctionRegistry,
        counting: CountingService,
        workers: WorkerManager,
        events: AsyncEventQueue,
        sampler: Sampler,
        traces: TraceStore,
        region: str,
        account_id: str,
        metrics: LambdaMetrics | None = None,
        shared: SharedReservations | None = None,
    ) -> None:
        self.functions = functions
        #: reserved concurrency counted with the other nodes on the store (None: this
        #: node is the store's only one)
        self.shared = shared
        #: Lambda's metrics (one append per invoke; turned into data points later)
        # (without one, nothing samples the recorder: it keeps nothing)
        self.metrics = metrics if metrics is not None else LambdaMetrics(max_recorded=0)
        self.counting = counting
        self.workers = workers
        self.events = events
        self.sampler = sampler
        self.traces = traces
        self.region = region
        self.account_id = account_id

    async def invoke(
        self,
        function_name: str,
        qualifier: str | None,
        payload: bytes,
        invocation_type: InvocationType,
        caller: Caller,
    ) -> Invoked:
        """Invoke ``function_name`` (a name or an ARN) at ``qualifier``.

        Raises the API's errors: ResourceNotFoundException for no such function,
        TooManyRequestsException (429) over a concurrency limit.
        """
        function = await self.functions.find(function_name, qualifier)
        if invocation_type == "DryRun":
            return Invoked(function, None)
        if invocation_type == "Event":
            await self.events.accept(
                function.name,
                qualifier,
                payload,
                caller.request_id,
                trace_id=caller.trace_header,
                client_context=caller.client_context,
            )
            self.metrics.put("AsyncEventsReceived", function.name, qualifier, 1, "Count")
            return Invoked(function, None)
        return await self.run(function, qualifier, payload, caller)

    async def _take_shared(self, shared: SharedReservations, slot: Slot) -> None:
        """The store's place for a reserved invocation too (this node's count allowed
        it): TooManyRequestsException when the other nodes' fill the reservation."""
        reserved = self.counting.reserved(slot.function)
        try:
            taken = await shared.take(slot.function, reserved or 0)
        except BaseException:
            self.counting.release(slot)
            raise
        if not taken:
            self.counting.release(slot)
            raise TooManyRequestsException(
                "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded"
            )

    async def run(
        self,
        function: FunctionVersion,
        qualifier: str | None,
        payload: bytes,
        caller: Caller,
        *,
        streamed: asyncio.Future[ResponseStream] | None = None,
    ) -> Invoked:
        """Run a synchronous invocation of the resolved ``function`` to its end.

        ``streamed``: where a response the runtime streams lands when it starts (read it
        from there while this runs); without it, a streamed response comes whole.
        Raises TooManyRequestsException (429) over a concurrency limit.
        """
        trace = InvocationTrace.begin(
            caller.trace_header,
            function.tracing_active,
            lambda: self.sampler.sample(function.name, "AWS::Lambda::Function"),
        )
        invocation = Invocation(
            caller.request_id,
            payload,
            int(time.time() * 1000) + function.timeout * 1000,
            function_arn(self.region, self.account_id, function.name, qualifier),
            trace_id=trace.header,
            client_context=caller.client_context,
            trace=trace,
            streamed=streamed,
        )
        try:
            slot = self.counting.acquire(function.name)
            shared = self.shared if slot.reserved else None
            if shared is not None:
                await self._take_shared(shared, slot)
        except TooManyRequestsException:
            self.metrics.throttled(function.name, qualifier)
            raise
        try:
            outcome = await self.workers.invoke(function, invocation, tail=caller.tail)
        finally:
            self.counting.release(slot)
            if shared is not None:
                # (submitted at once: it is given back even if this task is cancelled)
                await shared.give(function.name)
        self.metrics.invoked(
            function.name,
            qualifier,
            function.version,
            outcome.duration_ms,
            outcome.error_type is not None,
            not slot.reserved,
        )
        if trace.sampled:
            for document in trace.segments(
                function_name=function.name,
                function_arn=invocation.invoked_function_arn,
                account_id=self.account_id,
                request_id=invocation.request_id,
                region=self.region,
                duration_ms=outcome.duration_ms,
                init_ms=outcome.init_duration_ms,
                error_body=outcome.body if outcome.function_error else None,
            ):
                self.traces.add(from_document(document))
        return Invoked(function, outcome)
