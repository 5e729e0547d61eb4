"""Saved test events: the Lambda console's named events per function, kept in the store
(table ``console_test_events``) so that every node of a cluster sees the same ones."""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa

from gureum.clock import now_ms
from gureum.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    ResourceNotFoundException,
)
from gureum.store import Store
from gureum.store.tables import console_test_events

#: The Lambda console's rules: 1-25 characters of letters, digits, ``-``, ``_`` and
#: ``.``; at most 10 saved events a function; an event is a payload (at most 256 KB here).
NAME = re.compile(r"[A-Za-z0-9_.\-]{1,25}")
MAX_EVENTS = 10
MAX_EVENT_BYTES = 256 * 1024


def checked_event(text: str) -> str:
    """``text`` if it is a JSON document of at most ``MAX_EVENT_BYTES``."""
    if len(text.encode()) > MAX_EVENT_BYTES:
        raise InvalidParameterValueException(f"A test event is at most {MAX_EVENT_BYTES} bytes")
    try:
        json.loads(text)
    except ValueError as exc:
        raise InvalidRequestContentException(f"The event is not JSON: {exc}") from None
    return text


class SavedTestEvents:
    """Named test events of each function, in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def of(self, function_name: str) -> list[dict[str, Any]]:
        return await self.store.run(self._list, function_name)

    def _list(self, function_name: str) -> list[dict[str, Any]]:
        c = console_test_events.c
        query = (
            sa.select(console_test_events).where(c.function_name == function_name).order_by(c.name)
        )
        with self.store.engine.connect() as connection:
            return [
                {"name": r.name, "event": r.event, "modified_ms": r.modified_ms}
                for r in connection.execute(query)
            ]

    async def save(self, function_name: str, name: str, event: str) -> None:
        """Create or replace event ``name`` of ``function_name``."""
        if not NAME.fullmatch(name):
            raise InvalidParameterValueException(
                "An event name is 1 to 25 letters, digits, '-', '_' or '.'"
            )
        await self.store.run(self._save, function_name, name, checked_event(event))

    def _save(self, function_name: str, name: str, event: str) -> None:
        c = console_test_events.c
        now = now_ms()
        with self.store.engine.begin() as connection:
            names = set(
                connection.execute(sa.select(c.name).where(c.function_name == function_name))
                .scalars()
                .all()
            )
            if name in names:
                connection.execute(
                    console_test_events.update()
                    .where(c.function_name == function_name, c.name == name)
                    .values(event=event, modified_ms=now)
                )
                return
            if len(names) >= MAX_EVENTS:
                raise InvalidParameterValueException(
                    f"A function keeps at most {MAX_EVENTS} saved test events"
                )
            connection.execute(
                console_test_events.insert().values(
                    function_name=function_name,
                    name=name,
                    event=event,
                    created_ms=now,
                    modified_ms=now,
                )
            )

    async def delete(self, function_name: str, name: str) -> None:
        if not await self.store.run(self._delete, function_name, name):
            raise ResourceNotFoundException(f"No saved test event {name!r} of {function_name}")

    def _delete(self, function_name: str, name: str) -> bool:
        c = console_test_events.c
        with self.store.engine.begin() as connection:
            done = connection.execute(
                console_test_events.delete().where(c.function_name == function_name, c.name == name)
            )
        return bool(done.rowcount)
