"""The segments the platform records for an invocation, as Lambda records them.

For a sampled invocation (an incoming ``X-Amzn-Trace-Id`` with ``Sampled=1``, or a
function with ``TracingConfig: Active`` whose request the sampling rules pick):

- an ``AWS::Lambda`` service segment, from the request's arrival to the answer, whose
  ``parent_id`` is the caller's ``Parent`` (its subsegment of the call);
- an ``AWS::Lambda::Function`` segment under it, with ``Initialization`` (cold starts),
  ``Invocation`` and ``Overhead`` subsegments, marked ``fault`` with the error's cause
  when the function failed.

The function is handed ``Root=<trace>;Parent=<function segment id>;Sampled=1``, so an
X-Ray SDK inside it adds its subsegments under the function segment. An invocation
that is not sampled still gets a trace id, with ``Sampled=0``, as on Lambda.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from gureum import untrusted_json
from gureum.tracing.segments import TraceHeader, new_segment_id, status_flags


@dataclass
class InvocationTrace:
    """The trace context of one invocation, from its arrival to its segments."""

    trace_id: str
    caller: str | None  # the caller's subsegment id (Parent of the incoming header)
    sampled: bool
    function_id: str
    service_id: str = field(default_factory=new_segment_id)
    started: float = field(default_factory=time.time)

    @classmethod
    def begin(cls, header: str | None, active: bool, sample: Any) -> InvocationTrace:
        """``sample()``: the sampling rules' decision, asked only when needed."""
        incoming = TraceHeader.parse(header)
        if incoming.sampled == "1":
            sampled = True
        elif incoming.sampled == "0":
            sampled = False
        else:
            sampled = active and bool(sample())
        # One read of the random source for the ids every invoke needs (each read is a
        # system call, and this is the invoke path); the service segment's id is made
        # only for sampled invokes.
        random = os.urandom(20).hex()
        trace_id = incoming.root or f"1-{int(time.time()):08x}-{random[:24]}"
        if sampled:
            return cls(trace_id, incoming.parent, sampled, random[24:])
        return cls(trace_id, incoming.parent, sampled, random[24:], service_id="")

    @property
    def header(self) -> str:
        """What the function gets as ``Lambda-Runtime-Trace-Id`` / ``_X_AMZN_TRACE_ID``."""
        return TraceHeader(self.trace_id, self.function_id, "1" if self.sampled else "0").format()

    def segments(
        self,
        *,
        function_name: str,
        function_arn: str,
        account_id: str,
        request_id: str,
        region: str,
        duration_ms: float,
        init_ms: float | None,
        error_body: bytes | None,
        status: int = 200,
        ended: float | None = None,
    ) -> list[dict[str, Any]]:
        """The service and function segments of a finished invocation."""
        end = ended if ended is not None else time.time()
        invocation_end = end - 0.0001
        invocation_start = max(self.started, invocation_end - duration_ms / 1000)
        subsegments = []
        function_start = invocation_start
        if init_ms is not None:
            init_start = max(self.started, invocation_start - init_ms / 1000)
            function_start = init_start
            subsegments.append(
                _subsegment("Initialization", init_start, invocation_start, self.trace_id)
            )
        invocation = _subsegment("Invocation", invocation_start, invocation_end, self.trace_id)
        subsegments.append(invocation)
        subsegments.append(_subsegment("Overhead", invocation_end, end, self.trace_id))
        function: dict[str, Any] = {
            "name": function_name,
            "id": self.function_id,
            "trace_id": self.trace_id,
            "parent_id": self.service_id,
            "start_time": function_start,
            "end_time": end,
            "origin": "AWS::Lambda::Function",
            "resource_arn": function_arn,
            "aws": {
                "function_arn": function_arn,
                "resource_names": [function_name],
                "account_id": account_id,
            },
            "subsegments": subsegments,
        }
        if error_body is not None:
            function["fault"] = True
            invocation["fault"] = True
            function["cause"] = _cause(error_body)
        service: dict[str, Any] = {
            "name": function_name,
            "id": self.service_id,
            "trace_id": self.trace_id,
            "start_time": self.started,
            "end_time": end,
            "origin": "AWS::Lambda",
            "resource_arn": function_arn,
            "aws": {"request_id": request_id, "region": region, "account_id": account_id},
            "http": {"response": {"status": status}},
        }
        service.update(status_flags(status))
        if self.caller:
            service["parent_id"] = self.caller
        return [service, function]


def _subsegment(name: str, start: float, end: float, trace_id: str) -> dict[str, Any]:
    return {"name": name, "id": new_segment_id(), "start_time": start, "end_time": max(start, end)}


def _cause(error_body: bytes) -> dict[str, Any]:
    try:
        error = untrusted_json.loads(error_body)
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    return {
        "working_directory": "/var/task",
        "exceptions": [
            {
                "id": new_segment_id(),
                "message": str(error.get("errorMessage", ""))[:1000],
                "type": str(error.get("errorType", "Unhandled")),
            }
        ],
    }
