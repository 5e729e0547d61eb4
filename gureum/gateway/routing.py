"""Which route of an HTTP API a request takes, as API Gateway chooses it. Pure (no I/O).

A route key is ``$default`` or ``METHOD /path``, where METHOD is ``ANY`` or a verb and
the path's segments are literals, ``{name}`` (one segment) or, last, ``{name+}`` (the
rest of the path, greedy). API Gateway's order (its developer guide, "Working with
routes for HTTP APIs"): a full match of path and method first, then a match with path
variables, then one with a greedy variable, the longest match winning within each; a
route of the request's own method before ``ANY``; and ``$default`` when nothing else
matches. Matching is case-sensitive, as API Gateway's is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from gureum.gateway.config import DEFAULT_ROUTE, parse_route_key

_VARIABLE = re.compile(r"\{([A-Za-z0-9._-]+)(\+?)\}")


@dataclass(frozen=True, slots=True)
class RouteKey:
    """A parsed route key: ``$default`` has neither method nor segments."""

    text: str
    method: str | None
    segments: tuple[str, ...]

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].endswith("+}")

    @property
    def variables(self) -> int:
        return sum(1 for segment in self.segments if segment.startswith("{"))


def route_key(text: str) -> RouteKey:
    """A route key for matching, checked as CreateRoute checks it
    (:func:`gureum.gateway.config.parse_route_key`: BadRequestException if it is not one)."""
    method, path = parse_route_key(text)
    if method == DEFAULT_ROUTE:
        return RouteKey(text, None, ())
    segments = tuple(path.strip("/").split("/")) if path.strip("/") else ()
    return RouteKey(text, method, segments)


@dataclass(frozen=True, slots=True)
class Match:
    """The route a request takes, its id, and the path variables it bound."""

    route_id: str
    key: RouteKey
    path_parameters: dict[str, str]


def _bind(key: RouteKey, parts: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for position, segment in enumerate(key.segments):
        variable = _VARIABLE.fullmatch(segment)
        if variable is not None and variable.group(2):
            rest = parts[position:]
            if not rest or not any(rest):
                return None  # a greedy variable takes at least one segment
            parameters[variable.group(1)] = "/".join(rest)
            return parameters
        if position >= len(parts):
            return None
        if variable is not None:
            if not parts[position]:
                return None
            parameters[variable.group(1)] = unquote(parts[position])
        elif segment != parts[position]:
            return None
    return parameters if len(parts) == len(key.segments) else None


def match(routes: Iterable[tuple[str, RouteKey]], method: str, path: str) -> Match | None:
    """The route of ``routes`` ((id, key) pairs) that ``method path`` takes, if any."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    best: tuple[tuple[int, ...], Match] | None = None
    default: Match | None = None
    for route_id, key in routes:
        if key.method is None:
            default = Match(route_id, key, {})
            continue
        if key.method not in ("ANY", method):
            continue
        parameters = _bind(key, parts)
        if parameters is None:
            continue
        # Fewer kinds of variable first (literal, then variables, then greedy), longer
        # literal paths first, the request's own method before ANY.
        rank = (
            2 if key.greedy else 1 if key.variables else 0,
            -len(key.segments),
            key.variables,
            0 if key.method == method else 1,
        )
        if best is None or rank < best[0]:
            best = (rank, Match(route_id, key, parameters))
    if best is not None:
        return best[1]
    return default
