"""InvokeWithResponseStream, the edge's answer to
``POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations``.

The answer is an event stream (:mod:`~gureum.frontend.event_stream`): ``PayloadChunk``
events with the function's bytes as the runtime streams them, then one
``InvokeComplete`` with ``ErrorCode`` and ``ErrorDetails`` when the function failed
(the error type and message; its status stays 200, as on Lambda, since the stream has
begun) and ``LogResult`` with ``LogType=Tail``. A function that does not stream (any
Python function: Lambda streams from Node.js and custom runtimes only) answers in one
``PayloadChunk``. Errors before the function runs (no such function, 429, a bad
request) are answered as Invoke answers them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Send

from gureum import untrusted_json
from gureum.errors import RequestTooLargeException, ValidationException
from gureum.front_end_invoke import Caller, FrontEndInvoke
from gureum.frontend import event_stream
from gureum.frontend.lambda_api import MAX_SYNC_PAYLOAD, _client_context, _validate_payload
from gureum.frontend.responses import new_request_id
from gureum.functions.config import LATEST
from gureum.workers.runtime_api import ResponseStream

logger = logging.getLogger(__name__)

PREFIX = "/2021-11-15/functions/"
SUFFIX = "/response-streaming-invocations"


def function_named(method: str, path: str) -> str | None:
    """The FunctionName of a request for InvokeWithResponseStream (None: another one)."""
    if method != "POST" or not path.startswith(PREFIX) or not path.endswith(SUFFIX):
        return None
    name = path[len(PREFIX) : -len(SUFFIX)]
    return name if name and "/" not in name else None


def chunk_event(payload: bytes) -> bytes:
    return event_stream.event("PayloadChunk", payload, "application/octet-stream")


def complete_event(error_type: str | None, error_body: bytes, log: bytes | None) -> bytes:
    """``InvokeComplete``: the error (type and message) if the function failed, the log
    tail if it was asked for (``log`` not None)."""
    body: dict[str, str] = {}
    if error_type is not None:
        body["ErrorCode"] = error_type
        body["ErrorDetails"] = error_message(error_body)
    if log is not None:
        body["LogResult"] = base64.b64encode(log).decode()
    return event_stream.event("InvokeComplete", json.dumps(body).encode(), "application/json")


def error_message(body: bytes) -> str:
    """The ``errorMessage`` of an error report, else the report as text."""
    try:
        parsed = untrusted_json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return str(parsed["errorMessage"])
    return body.decode("utf-8", "replace")


class StreamInvoke:
    """The edge's InvokeWithResponseStream, over Front End Invoke."""

    def __init__(self, invoke: FrontEndInvoke) -> None:
        self.front_end = invoke

    async def serve(
        self, send: Send, name: str, query: bytes, headers: dict[bytes, bytes], body: bytes
    ) -> None:
        """Answer one call; raises the API's errors while nothing has been sent."""
        qualifier = None
        if query:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            qualifier = dict(pairs).get("Qualifier") or None
        raw_type = headers.get(b"x-amz-invocation-type")
        invocation_type = raw_type.decode("latin-1") if raw_type else "RequestResponse"
        if invocation_type not in ("RequestResponse", "DryRun"):
            raise ValidationException(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                "[RequestResponse, DryRun]"
            )
        raw_log = headers.get(b"x-amz-log-type")
        log_type = raw_log.decode("latin-1") if raw_log else "None"
        if log_type not in ("None", "Tail"):
            raise ValidationException(
                f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Tail, None]"
            )
        if len(body) > MAX_SYNC_PAYLOAD:
            raise RequestTooLargeException(
                f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the "
                "InvokeWithResponseStream operation"
            )
        payload = _validate_payload(body)
        raw_context = headers.get(b"x-amz-client-context")
        client_context = _client_context(raw_context.decode("latin-1") if raw_context else None)
        raw_trace = headers.get(b"x-amzn-trace-id")
        request_id = new_request_id()
        caller = Caller(
            request_id,
            raw_trace.decode("latin-1") if raw_trace else None,
            client_context,
            tail=log_type == "Tail",
        )
        function = self.front_end.functions.get(name, qualifier)
        answer = [
            (b"x-amzn-requestid", request_id.encode()),
            (b"x-amz-executed-version", (function.version or LATEST).encode()),
        ]
        if invocation_type == "DryRun":
            await send({"type": "http.response.start", "status": 204, "headers": answer})
            await send({"type": "http.response.body", "body": b""})
            return
        streamed: asyncio.Future[ResponseStream] = asyncio.get_running_loop().create_future()
        running = asyncio.ensure_future(
            self.front_end.run(function, qualifier, payload, caller, streamed=streamed)
        )
        try:
            either: set[asyncio.Future[Any]] = {streamed, running}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            running.cancel()
            raise
        if running.done() and not streamed.done():
            running.result()  # (an error before the function ran is the call's answer)
        answer.append((b"content-type", event_stream.CONTENT_TYPE.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": answer})
        if streamed.done():
            stream = streamed.result()
            try:
                while chunk := await stream.read():
                    event = chunk_event(chunk)
                    await send({"type": "http.response.body", "body": event, "more_body": True})
            except OSError:  # the client went away: the function runs on, unread
                stream.abandon()
        try:
            outcome = (await running).outcome
        except Exception:
            # The headers are out: the failure can only be told in the last event.
            logger.exception("an InvokeWithResponseStream call failed after it had begun")
            outcome = None
        if outcome is None:
            error_type: str | None = "ServiceException"
            error_body, log = b"An internal error occurred in gureum.", b""
        else:
            error_type, error_body, log = outcome.error_type, outcome.body, outcome.log_tail
            if not streamed.done() and error_type is None and outcome.body:
                await send(
                    {
                        "type": "http.response.body",
                        "body": chunk_event(outcome.body),
                        "more_body": True,
                    }
                )
        last = complete_event(error_type, error_body, log if caller.tail else None)
        with contextlib.suppress(OSError):
            await send({"type": "http.response.body", "body": last, "more_body": False})
