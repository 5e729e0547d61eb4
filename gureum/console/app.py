"""The console's ASGI app: sign-in, the pages and their JSON, under ``/_console/``.

The edge hands it every request under ``/_console`` before SigV4 (a browser cannot
sign); it checks its own session cookie instead (``sessions.py``). Without a session,
a page redirects to the sign-in form and a JSON endpoint answers 401. On a server
without authentication (``--auth none``) everyone is signed in, as every API there is
open too. Every request that changes something (POST, DELETE) must carry the session's
CSRF token in a header and, when the browser sends one, a same-origin ``Origin``.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from gureum.console import event_templates, metrics, sessions
from gureum.console.functions import STARTER_CODE, FunctionViews
from gureum.console.logs import LogViews
from gureum.console.resources import ResourceViews
from gureum.console.saved_events import SavedTestEvents
from gureum.console.traces import TraceViews
from gureum.errors import (
    InvalidParameterValueException,
    RequestTooLargeException,
    ResourceNotFoundException,
    ServiceError,
)
from gureum.runtimes import NODEJS_RUNTIMES, PYTHON_RUNTIMES

logger = logging.getLogger(__name__)

PREFIX = "/_console"
#: The pages (each a path of its own, served the same shell; the page's module draws it).
PAGES = (
    "functions",
    "logs",
    "metrics",
    "service-map",
    "traces",
    "queues",
    "streams",
    "tables",
    "mappings",
    "apis",
)
#: The largest request body the console takes (pasted code, a test event).
MAX_BODY = 6 * 1024 * 1024
_STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: The window a traces list or service map shows unless asked (the X-Ray console: 5 min).
DEFAULT_MINUTES = 15
MAX_MINUTES = 30 * 24 * 60

Handler = Callable[[Request], Awaitable[Any]]


def _static(name: str) -> bytes | None:
    if "/" in name.strip("/").replace("pages/", "", 1) or ".." in name:
        return None
    path = resources.files("gureum.console").joinpath("static", *name.split("/"))
    return path.read_bytes() if path.is_file() else None


@functools.cache
def _static_file(name: str) -> tuple[bytes, str] | None:
    """A static file and its ETag (read once: the package's files do not change)."""
    data = _static(name)
    if data is None:
        return None
    return data, '"' + hashlib.sha256(data).hexdigest()[:20] + '"'


@functools.cache
def _template(name: str) -> str:
    data = _static(name)
    assert data is not None, name
    return data.decode()


def _window(request: Request) -> tuple[float, float]:
    """[start, end] of a request's ``minutes`` back from now (or ``start``/``end``)."""
    query = request.query_params
    try:
        if query.get("start") and query.get("end"):
            return float(query["start"]), float(query["end"])
        minutes = float(query.get("minutes") or DEFAULT_MINUTES)
    except ValueError:
        raise InvalidParameterValueException("start, end and minutes are numbers") from None
    if not 0 < minutes <= MAX_MINUTES:
        raise InvalidParameterValueException(f"minutes is 1 to {MAX_MINUTES}")
    end = time.time() + 1
    return end - minutes * 60, end


async def _json_body(request: Request) -> dict[str, Any]:
    raw = b""
    async for chunk in request.stream():  # (a chunked body has no Content-Length)
        raw += chunk
        if len(raw) > MAX_BODY:
            raise RequestTooLargeException(f"Request must be smaller than {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise InvalidParameterValueException("The request body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidParameterValueException("The request body is a JSON object")
    return body


def _json(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A JSON endpoint: its result as JSON; the platform's errors with their status."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(request)
        except ServiceError as exc:
            return JSONResponse(
                {"error": exc.error_type, "message": str(exc)}, status_code=exc.status
            )
        return result if isinstance(result, Response) else JSONResponse(result)

    return endpoint


class Console:
    """The console's sign-in, pages and JSON endpoints."""

    def __init__(
        self,
        platform: Any,
        *,
        secrets: dict[str, str] | None,
        secure_cookies: bool = False,
    ) -> None:
        #: the platform (its components are read; ``metrics`` once it has them)
        self.platform = platform
        self.secrets = secrets  # None: no authentication (every visitor is signed in)
        self.secure_cookies = secure_cookies
        account = platform.settings.account_id
        self.functions = FunctionViews(
            platform.functions, platform.invoke, platform.workers, account_id=account
        )
        self.saved_events = SavedTestEvents(platform.store)
        self.traces = TraceViews(platform.traces, account_id=account)
        self.logs = LogViews(platform.log_store)
        self.resources = ResourceViews(
            queues=platform.queues,
            kinesis=platform.kinesis,
            tables=platform.tables,
            mappings=platform.mappings,
            gateway=platform.gateway,
        )
        self._anonymous = sessions.anonymous(platform.settings.secret_access_key)
        self.router = Router(routes=self._routes())

    # sessions
    def session(self, request: Request) -> sessions.Session | None:
        if self.secrets is None:
            return self._anonymous
        return sessions.verify(request.cookies.get(sessions.COOKIE), self.secrets)

    @staticmethod
    def _same_origin(request: Request) -> bool:
        """A browser's ``Origin`` (when it sends one) names this host."""
        origin = request.headers.get("origin")
        if origin is None:
            return True
        host = request.headers.get("host", "")
        return origin in (f"http://{host}", f"https://{host}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path = scope["path"]
        response: Response | None = None
        if path == PREFIX:
            response = RedirectResponse(f"{PREFIX}/", 307)
        elif path.startswith(f"{PREFIX}/static/"):
            response = self._serve_static(
                path.removeprefix(f"{PREFIX}/static/"), request.headers.get("if-none-match")
            )
        elif path == f"{PREFIX}/signin":
            response = await self._signin(request)
        elif path == f"{PREFIX}/signout" and scope["method"] == "POST":
            response = self._signout(request)
        if response is not None:
            await response(scope, receive, send)
            return
        session = self.session(request)
        api = path.startswith(f"{PREFIX}/api/")
        if session is None:
            if api:
                response = JSONResponse(
                    {"error": "Unauthorized", "message": "Sign in to the console first"}, 401
                )
            else:
                query = scope.get("query_string", b"").decode("latin-1")
                target = quote(path + (f"?{query}" if query else ""), safe="/")
                response = RedirectResponse(f"{PREFIX}/signin?next={target}", 303)
        elif scope["method"] not in ("GET", "HEAD") and not (
            sessions.csrf_ok(session, request.headers.get(sessions.CSRF_HEADER))
            and self._same_origin(request)
        ):
            response = JSONResponse(
                {"error": "Forbidden", "message": "Missing or wrong CSRF token"}, 403
            )
        elif int(request.headers.get("content-length") or 0) > MAX_BODY:
            response = JSONResponse(
                {"error": "RequestTooLargeException", "message": "Request too large"}, 413
            )
        if response is not None:
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["session"] = session
        await self.router(scope, receive, send)

    def _serve_static(self, name: str, if_none_match: str | None) -> Response:
        found = _static_file(name)
        kind = _STATIC_TYPES.get(name[name.rfind(".") :]) if "." in name else None
        if found is None or kind is None:
            return Response("Not found", 404, media_type="text/plain")
        data, etag = found
        # (no data in them: served without a session, so the sign-in page has its style;
        # revalidated each time, answered 304 while unchanged)
        headers = {"cache-control": "no-cache", "etag": etag}
        if if_none_match == etag:
            return Response(None, 304, headers=headers)
        return Response(data, headers=headers, media_type=kind)

    def _signin_page(self, next_path: str, problem: str | None = None) -> Response:
        page = (
            _template("signin.html")
            .replace("{{next}}", html.escape(next_path, quote=True))
            .replace(
                "{{problem}}",
                f'<p class="problem" role="alert">{html.escape(problem)}</p>' if problem else "",
            )
        )
        return HTMLResponse(page, 401 if problem else 200, headers=_PAGE_HEADERS)

    async def _signin(self, request: Request) -> Response:
        next_path = request.query_params.get("next") or f"{PREFIX}/"
        if self.secrets is None:
            return RedirectResponse(f"{PREFIX}/", 303)
        if request.method == "GET":
            return self._signin_page(next_path)
        if request.method != "POST":
            return Response("Method not allowed", 405)
        if not self._same_origin(request):
            return self._signin_page(next_path, "The sign-in form came from another site.")
        body = await request.body()
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        next_path = form.get("next") or next_path
        if not next_path.startswith(f"{PREFIX}/") or next_path.startswith("//"):
            next_path = f"{PREFIX}/"
        key, secret = form.get("access_key_id", ""), form.get("secret_access_key", "")
        if not sessions.credentials_match(self.secrets, key, secret):
            logger.info("console sign-in refused for access key id %r", key[:32])
            return self._signin_page(next_path, "Wrong access key id or secret access key.")
        cookie, _ = sessions.issue(key, self.secrets[key])
        response = RedirectResponse(next_path, 303)
        response.set_cookie(
            sessions.COOKIE,
            cookie,
            max_age=sessions.LIFETIME,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies or request.url.scheme == "https",
        )
        return response

    def _signout(self, request: Request) -> Response:
        session = self.session(request)
        if session is not None and not sessions.csrf_ok(
            session, request.headers.get(sessions.CSRF_HEADER)
        ):
            return JSONResponse({"error": "Forbidden", "message": "Missing CSRF token"}, 403)
        response = JSONResponse({"signedOut": True})
        response.delete_cookie(sessions.COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    # pages
    async def page(self, request: Request) -> Response:
        name = request.path_params.get("page") or "functions"
        if name.split("/")[0] not in PAGES:
            return HTMLResponse("<h1>Not found</h1>", 404)
        session: sessions.Session = request.state.session
        shell = (
            _template("index.html")
            .replace("{{csrf}}", html.escape(session.csrf, quote=True))
            .replace("{{user}}", html.escape(session.access_key_id))
            .replace("{{auth}}", "on" if self.secrets is not None else "off")
        )
        return HTMLResponse(shell, headers=_PAGE_HEADERS)

    def _routes(self) -> list[Route]:
        api = f"{PREFIX}/api"
        return [
            *(
                Route(f"{api}{path}", _json(handler), methods=methods)
                for path, handler, methods in self._endpoints()
            ),
            Route(f"{PREFIX}/", self.page),
            Route(f"{PREFIX}/{{page:path}}", self._page_or_api),
        ]

    async def _page_or_api(self, request: Request) -> Response:
        if request.url.path.startswith(f"{PREFIX}/api/"):
            return JSONResponse({"error": "NotFound", "message": "No such endpoint"}, 404)
        return await self.page(request)

    def _endpoints(self) -> list[tuple[str, Handler, list[str]]]:
        return [
            ("/session", self.get_session, ["GET"]),
            ("/functions", self.list_functions, ["GET"]),
            ("/functions", self.deploy, ["POST"]),
            ("/functions/{name}", self.get_function, ["GET"]),
            ("/functions/{name}/invoke", self.test_invoke, ["POST"]),
            ("/functions/{name}/events", self.list_events, ["GET"]),
            ("/functions/{name}/events", self.save_event, ["POST"]),
            ("/functions/{name}/events/{event}", self.delete_event, ["DELETE"]),
            ("/functions/{name}/metrics", self.function_metrics, ["GET"]),
            ("/templates/{template}", self.get_template, ["GET"]),
            ("/logs/groups", self.log_groups, ["GET"]),
            ("/logs/tail", self.log_tail, ["GET"]),
            ("/traces", self.list_traces, ["GET"]),
            ("/traces/{trace_id}", self.get_trace, ["GET"]),
            ("/service-map", self.service_map, ["GET"]),
            ("/queues", self.list_queues, ["GET"]),
            ("/queues/{name}", self.peek_queue, ["GET"]),
            ("/streams", self.list_streams, ["GET"]),
            ("/streams/{name}", self.peek_stream, ["GET"]),
            ("/tables", self.list_tables, ["GET"]),
            ("/tables/{name}", self.peek_table, ["GET"]),
            ("/mappings", self.list_mappings, ["GET"]),
            ("/apis", self.list_apis, ["GET"]),
        ]

    # JSON endpoints
    async def get_session(self, request: Request) -> Any:
        session: sessions.Session = request.state.session
        return {
            "AccessKeyId": session.access_key_id,
            "Authentication": self.secrets is not None,
            "Region": self.platform.settings.region,
            "AccountId": self.platform.settings.account_id,
            "MetricsAvailable": getattr(self.platform, "metrics", None) is not None,
        }

    async def list_functions(self, request: Request) -> Any:
        return {
            "Functions": self.functions.listing(),
            "Runtimes": {"python": list(PYTHON_RUNTIMES), "nodejs": list(NODEJS_RUNTIMES)},
            "StarterCode": STARTER_CODE,
        }

    async def get_function(self, request: Request) -> Any:
        return self.functions.detail(request.path_params["name"])

    async def deploy(self, request: Request) -> Any:
        return await self.functions.deploy(await _json_body(request))

    async def test_invoke(self, request: Request) -> Any:
        body = await _json_body(request)
        event = body.get("Event", "{}")
        if not isinstance(event, str):
            event = json.dumps(event)
        qualifier = body.get("Qualifier") or None
        return await self.functions.test_invoke(request.path_params["name"], qualifier, event)

    async def list_events(self, request: Request) -> Any:
        name = request.path_params["name"]
        self.platform.functions.get(name)  # (404 for no such function)
        return {
            "Saved": await self.saved_events.of(name),
            "Templates": event_templates.listing(),
        }

    async def save_event(self, request: Request) -> Any:
        name = request.path_params["name"]
        self.platform.functions.get(name)
        body = await _json_body(request)
        event = body.get("Event")
        if not isinstance(event, str):
            event = json.dumps(event)
        await self.saved_events.save(name, str(body.get("Name") or ""), event)
        return {"Saved": await self.saved_events.of(name)}

    async def delete_event(self, request: Request) -> Any:
        name = request.path_params["name"]
        await self.saved_events.delete(name, request.path_params["event"])
        return {"Saved": await self.saved_events.of(name)}

    async def get_template(self, request: Request) -> Any:
        key = request.path_params["template"]
        if key not in event_templates.TEMPLATES:
            raise ResourceNotFoundException(f"No test event template {key!r}")
        return {"Id": key, "Event": event_templates.template(key)}

    async def function_metrics(self, request: Request) -> Any:
        name = request.path_params["name"]
        self.platform.functions.get(name)
        window = request.query_params.get("window") or "1h"
        if window not in metrics.WINDOWS:
            raise InvalidParameterValueException(f"window is one of {', '.join(metrics.WINDOWS)}")
        seconds, period = metrics.WINDOWS[window]
        end = time.time()
        charts = []
        for metric, stat in metrics.CHARTS:
            try:
                series = await metrics.metric_series(
                    self.platform, name, metric, stat, end - seconds, end, period
                )
            except metrics.MetricsNotAvailable as exc:
                return {"Available": False, "Reason": str(exc), "Window": window}
            charts.append({"Metric": metric, "Stat": stat, "Points": series})
        return {
            "Available": True,
            "Window": window,
            "Start": end - seconds,
            "End": end,
            "Period": period,
            "Charts": charts,
        }

    async def log_groups(self, request: Request) -> Any:
        return {"Groups": await self.logs.groups()}

    async def log_tail(self, request: Request) -> Any:
        query = request.query_params
        group = query.get("group") or ""
        after = query.get("after")
        if after is not None and not after.isdigit():
            raise InvalidParameterValueException("after is an event id")
        return await self.logs.tail(group, query.get("pattern"), int(after) if after else None)

    async def list_traces(self, request: Request) -> Any:
        start, end = _window(request)
        return await self.traces.listing(start, end, request.query_params.get("filter"))

    async def get_trace(self, request: Request) -> Any:
        trace_id = request.path_params["trace_id"]
        found = await self.traces.timeline(trace_id)
        if found is None:
            raise ResourceNotFoundException(f"No trace {trace_id}")
        return found

    async def service_map(self, request: Request) -> Any:
        start, end = _window(request)
        return await self.traces.service_map(start, end)

    async def list_queues(self, request: Request) -> Any:
        return {"Queues": await self.resources.queue_list()}

    async def peek_queue(self, request: Request) -> Any:
        return await self.resources.queue_peek(request.path_params["name"])

    async def list_streams(self, request: Request) -> Any:
        return {"Streams": await self.resources.stream_list()}

    async def peek_stream(self, request: Request) -> Any:
        return await self.resources.stream_peek(request.path_params["name"])

    async def list_tables(self, request: Request) -> Any:
        return {"Tables": await self.resources.table_list()}

    async def peek_table(self, request: Request) -> Any:
        return await self.resources.table_peek(request.path_params["name"])

    async def list_mappings(self, request: Request) -> Any:
        return {"Mappings": await self.resources.mapping_list()}

    async def list_apis(self, request: Request) -> Any:
        return {"Apis": await self.resources.api_list(str(request.base_url).rstrip("/"))}


#: Pages are never cached (they carry the session's CSRF token) nor framed.
_PAGE_HEADERS = {
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'",
    "referrer-policy": "same-origin",
}
