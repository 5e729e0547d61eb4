"""CORS as API Gateway answers it for an HTTP API (and Lambda for a function URL): both
configure it with the same members (``AllowOrigins``, ``AllowMethods``,
``AllowHeaders``, ``ExposeHeaders``, ``MaxAge``, ``AllowCredentials``). Pure (no I/O).

A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is
answered by the gateway itself, without a route or the function: 204 (a function URL:
200) with the allowed origin, methods, headers and max age when the origin and the
method asked for are allowed, and without them otherwise. Any other response to an
allowed origin carries ``Access-Control-Allow-Origin`` (and the exposed headers and
credentials flag), replacing whatever CORS headers the function set, as API Gateway
does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gureum.gateway.http_events import HttpResponse

_CORS_HEADERS = (
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
    "access-control-allow-credentials",
)


def _listed(config: Mapping[str, Any], member: str) -> list[str]:
    value = config.get(member) or []
    return [str(item) for item in value] if isinstance(value, list) else []


def _allowed_origin(config: Mapping[str, Any], origin: str | None) -> str | None:
    """What Access-Control-Allow-Origin says to ``origin`` (None: it is not allowed)."""
    if origin is None:
        return None
    origins = _listed(config, "AllowOrigins")
    if "*" in origins:
        # A credentialed request may not be answered with the wildcard.
        return origin if config.get("AllowCredentials") else "*"
    lowered = origin.lower()
    return origin if any(allowed.lower() == lowered for allowed in origins) else None


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def preflight(
    config: Mapping[str, Any] | None,
    method: str,
    headers: Sequence[tuple[str, str]],
    *,
    status: int = 204,
) -> HttpResponse | None:
    """The answer to a CORS preflight, or None when the request is not one (or no CORS
    is configured: the request then goes to its route like any other). ``status``: API
    Gateway answers 204, a function URL 200."""
    if not config or method != "OPTIONS":
        return None
    origin = _header(headers, "origin")
    wanted = _header(headers, "access-control-request-method")
    if origin is None or wanted is None:
        return None
    allowed = _allowed_origin(config, origin)
    methods = [m.upper() for m in _listed(config, "AllowMethods")]
    answer: list[tuple[str, str]] = [("vary", "Origin")]
    if allowed is not None and ("*" in methods or wanted.upper() in methods):
        answer.append(("access-control-allow-origin", allowed))
        answer.append(("access-control-allow-methods", ",".join(methods)))
        allow_headers = _listed(config, "AllowHeaders")
        if allow_headers:
            answer.append(("access-control-allow-headers", ",".join(allow_headers)))
        if config.get("MaxAge") is not None:
            answer.append(("access-control-max-age", str(config["MaxAge"])))
        if config.get("AllowCredentials"):
            answer.append(("access-control-allow-credentials", "true"))
    return HttpResponse(status, answer, b"")


def decorate(
    config: Mapping[str, Any] | None, headers: Sequence[tuple[str, str]], response: HttpResponse
) -> HttpResponse:
    """``response`` with the CORS headers an allowed ``Origin`` gets (the function's own
    CORS headers replaced); unchanged without CORS or without an allowed origin."""
    if not config:
        return response
    allowed = _allowed_origin(config, _header(headers, "origin"))
    if allowed is None:
        return response
    kept = [(n, v) for n, v in response.headers if n.lower() not in _CORS_HEADERS]
    kept.append(("access-control-allow-origin", allowed))
    exposed = _listed(config, "ExposeHeaders")
    if exposed:
        kept.append(("access-control-expose-headers", ",".join(exposed)))
    if config.get("AllowCredentials"):
        kept.append(("access-control-allow-credentials", "true"))
    if allowed != "*":
        kept.append(("vary", "Origin"))
    return HttpResponse(response.status, kept, response.body)
