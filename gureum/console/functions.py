"""The console's functions: the list with live state, one function's page, test invoke
and deploy from pasted code, all through the platform's registry, Front End Invoke and
Worker Manager (in process, as every other caller of Front End Invoke)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from typing import Any

from gureum.errors import InvalidParameterValueException
from gureum.front_end_invoke import Caller, FrontEndInvoke
from gureum.frontend.responses import new_request_id
from gureum.functions.registry import FunctionRegistry, public_config
from gureum.runtimes import NODEJS_RUNTIMES, PYTHON_RUNTIMES
from gureum.workers.manager import WorkerManager

#: What the Lambda console's inline editor writes for a new function of each runtime
#: family: the file and the handler that names it.
INLINE_FILES = {
    "python": ("lambda_function.py", "lambda_function.lambda_handler"),
    "nodejs": ("index.mjs", "index.handler"),
}
#: The code a new function starts with in the editor (the Lambda console's).
STARTER_CODE = {
    "python": (
        "import json\n\n\ndef lambda_handler(event, context):\n"
        "    print('event:', json.dumps(event))\n"
        "    return {'statusCode': 200, 'body': json.dumps('Hello from Lambda!')}\n"
    ),
    "nodejs": (
        "export const handler = async (event) => {\n"
        "  console.log('event:', JSON.stringify(event));\n"
        "  return { statusCode: 200, body: JSON.stringify('Hello from Lambda!') };\n"
        "};\n"
    ),
}


def family(runtime: str) -> str:
    """``python`` or ``nodejs``: which inline editor a runtime gets."""
    if runtime in PYTHON_RUNTIMES:
        return "python"
    if runtime in NODEJS_RUNTIMES:
        return "nodejs"
    raise InvalidParameterValueException(
        f"The console deploys inline code for Python and Node.js runtimes, not {runtime}"
    )


def inline_zip(file: str, code: str) -> bytes:
    """A deployment package of one source file, readable by the sandbox user."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(file, date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, code)
    return buffer.getvalue()


def report_line(log_tail: str) -> str | None:
    """The invocation's ``REPORT RequestId: ...`` line in its log tail, if it is there."""
    for line in reversed(log_tail.splitlines()):
        if line.startswith("REPORT "):
            return line
    return None


class FunctionViews:
    """What the console's function pages read and do."""

    def __init__(
        self,
        functions: FunctionRegistry,
        invoke: FrontEndInvoke,
        workers: WorkerManager,
        *,
        account_id: str,
    ) -> None:
        self.functions = functions
        self.invoke = invoke
        self.workers = workers
        self.role = f"arn:aws:iam::{account_id}:role/gureum-console"

    def _sandboxes(self, name: str) -> dict[str, int]:
        """Warm (idle) and busy sandboxes of every version of ``name`` on this node."""
        idle = busy = 0
        for (owner, _), pool in self.workers.pools.items():
            if owner == name and not pool.retired:
                idle += len(pool.idle)
                busy += len(pool.busy)
        return {"idle": idle, "busy": busy}

    def listing(self) -> list[dict[str, Any]]:
        configs, _ = self.functions.list_page(None, 1_000_000)
        return [
            {
                "FunctionName": c["FunctionName"],
                "Runtime": c.get("Runtime"),
                "State": c.get("State"),
                "LastUpdateStatus": c.get("LastUpdateStatus"),
                "CodeSize": c.get("CodeSize"),
                "MemorySize": c.get("MemorySize"),
                "LastModified": c.get("LastModified"),
                "Sandboxes": self._sandboxes(c["FunctionName"]),
            }
            for c in configs
        ]

    def detail(self, name: str) -> dict[str, Any]:
        function = self.functions.get(name)
        metadata = function.metadata
        return {
            "Configuration": public_config(function.config),
            "Versions": [public_config(v) for v in self.functions.versions(name)],
            "Aliases": self.functions.list_aliases(name, None),
            "Tags": metadata.tags or {},
            "ReservedConcurrency": metadata.reserved_concurrency,
            "Sandboxes": self._sandboxes(function.name),
            "Editable": function.runtime in PYTHON_RUNTIMES + NODEJS_RUNTIMES,
        }

    async def test_invoke(self, name: str, qualifier: str | None, event: str) -> dict[str, Any]:
        """Invoke synchronously with the log's tail, as the console's Test button does."""
        try:
            json.loads(event)
        except ValueError as exc:
            raise InvalidParameterValueException(f"The event is not JSON: {exc}") from None
        request_id = new_request_id()
        invoked = await self.invoke.invoke(
            name, qualifier, event.encode(), "RequestResponse", Caller(request_id, tail=True)
        )
        outcome = invoked.outcome
        assert outcome is not None  # (a RequestResponse invoke runs to its end)
        log = outcome.log_tail.decode(errors="replace")
        return {
            "RequestId": request_id,
            "ExecutedVersion": invoked.function.version,
            "StatusCode": 200,
            "FunctionError": outcome.function_error,
            "Payload": outcome.body.decode(errors="replace"),
            "LogTail": log,
            "Report": report_line(log),
            "DurationMs": round(outcome.duration_ms, 2),
            "InitDurationMs": outcome.init_duration_ms,
        }

    async def deploy(self, params: dict[str, Any]) -> dict[str, Any]:
        """Create a function from pasted code (``FunctionName``, ``Runtime``, ``Code``;
        optional ``MemorySize``, ``Timeout``, ``Tracing``), or, with ``Update``, replace
        an existing function's code with it."""
        name = str(params.get("FunctionName") or "")
        code = params.get("Code")
        if not isinstance(code, str) or not code.strip():
            raise InvalidParameterValueException("Code is required")
        if params.get("Update"):
            current = self.functions.get(name)
            file = (current.config.get("Handler") or "").rpartition(".")[0]
            kind = family(current.runtime)
            extension = ".py" if kind == "python" else ".mjs"
            package = inline_zip(f"{file or INLINE_FILES[kind][0][:-3]}{extension}", code)
            config = await self.functions.update_code(
                name, {"ZipFile": base64.b64encode(package).decode()}
            )
            return public_config(config)
        runtime = str(params.get("Runtime") or "python3.12")
        file, handler = INLINE_FILES[family(runtime)]
        request: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": runtime,
            "Role": self.role,
            "Handler": handler,
            "Code": {"ZipFile": base64.b64encode(inline_zip(file, code)).decode()},
            "Description": "created in the gureum console",
        }
        for key in ("MemorySize", "Timeout"):
            if params.get(key) not in (None, ""):
                request[key] = int(params[key])
        if params.get("Tracing"):
            request["TracingConfig"] = {"Mode": "Active"}
        config = await self.functions.create(request)
        return public_config(config)
