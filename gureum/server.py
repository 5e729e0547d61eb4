"""Running the edge: uvicorn (uvloop, httptools) serving the app of one platform."""

from __future__ import annotations

import logging

import uvicorn

from gureum.frontend.app import create_app
from gureum.settings import Settings


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.shutdown_timeout) or None,
    )


def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; then drain in-flight invokes and stop every sandbox."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.Server(uvicorn_config(settings)).run()
