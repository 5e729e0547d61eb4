"""The edge ASGI app: every AWS-compatible API on one port."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gureum.errors import ServiceError, ServiceException
from gureum.frontend import lambda_api
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


def create_app(settings: Settings) -> Starlette:
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
        routes=lambda_api.routes(),
        lifespan=lifespan,
        exception_handlers={
            ServiceError: _service_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.platform = platform
    return app
