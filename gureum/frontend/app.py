"""The edge ASGI app: every AWS-compatible API on one port."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gureum.errors import ServiceError, ServiceException
from gureum.frontend import json_rpc, lambda_api, logs_api  # noqa: F401  (logs_api registers)
from gureum.frontend.responses import aws_error, aws_json
from gureum.platform import Platform
from gureum.settings import Settings

logger = logging.getLogger(__name__)


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return aws_error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return aws_json(
        {"Type": "User", "message": f"No operation at {request.method} {request.url.path}"},
        exc.status_code,
        headers={"x-amzn-ErrorType": "UnknownOperationException"},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception(
        "unexpected error serving %s %s", request.method, request.url.path, exc_info=exc
    )
    return aws_error(ServiceException("An internal error occurred in gureum."))


_INVOKE_PREFIX = "/2015-03-31/functions/"
_INVOKE_SUFFIX = "/invocations"


class Edge:
    """The ASGI entry point: Invoke straight to its handler, everything else to Starlette.

    Invoke is the hot path; Starlette's router and middleware layers cost more per
    request than the rest of the Front End's work, so its one route is matched here.
    """

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(_INVOKE_PREFIX) and path.endswith(_INVOKE_SUFFIX):
                name = path[len(_INVOKE_PREFIX) : -len(_INVOKE_SUFFIX)]
                if name and "/" not in name:
                    scope["app"] = self.app
                    scope["path_params"] = {"name": name}
                    request = Request(scope, receive)
                    try:
                        response = await lambda_api.invoke(request)
                    except ServiceError as exc:
                        response = aws_error(exc)
                    except Exception as exc:
                        response = await _unexpected(request, exc)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(settings: Settings) -> Edge:
    """The edge app of a platform built from ``settings`` (started by the app's lifespan)."""
    platform = Platform(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await platform.start()
        try:
            yield
        finally:
            await platform.stop()

    app = Starlette(
        routes=[*lambda_api.routes(), *json_rpc.routes()],
        lifespan=lifespan,
        exception_handlers={
            ServiceError: _service_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.platform = platform
    return Edge(app)
