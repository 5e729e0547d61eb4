"""JSON from outside the server (request bodies, attributes, segments, log lines),
parsed so that no input can crash what parses it.

orjson refuses documents nested deeper than 1,024 levels. Python's parser decides
what orjson refuses but AWS's parsers take (lone surrogate escapes, integers past 64
bits); alone it would recurse until ``RecursionError``, a 500 from any API handed
``[`` × 100,000. ``NaN`` and ``Infinity`` are refused, as AWS refuses them. Every
failure is a ``ValueError`` (Python's :class:`json.JSONDecodeError` or
:class:`TooDeep`), so callers keep the ``except ValueError`` they have for bad JSON.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: orjson's own limit, the deepest a document may nest.
MAX_DEPTH = 1024


class TooDeep(ValueError):
    """A document nested deeper than :data:`MAX_DEPTH` levels."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_DEPTH} levels")


def _refuse(constant: str) -> Any:
    raise ValueError(f"Non-standard token '{constant}': NaN and Infinity are not JSON")


def loads(raw: bytes | str) -> Any:
    """The document ``raw`` holds; ``ValueError`` when it is not JSON or nests too deep."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            raise TooDeep() from None
    try:
        return json.loads(raw, parse_constant=_refuse)  # its error words what the client is told
    except RecursionError:
        raise TooDeep() from None
