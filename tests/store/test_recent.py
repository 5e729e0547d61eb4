"""What a node keeps of the store's rows for a moment: kept, dropped, read again."""

from __future__ import annotations

import asyncio

from gureum.store.recent import Recent


def test_values_are_kept_for_their_moment() -> None:
    async def scenario() -> None:
        reads: list[str] = []

        async def fetch(value: str | None) -> str | None:
            reads.append(str(value))
            return value

        recent: Recent[str, str | None] = Recent(60)
        assert await recent.read("a", lambda: fetch("one")) == "one"
        assert await recent.read("a", lambda: fetch("two")) == "one"  # kept
        recent.forget("a")
        assert await recent.read("a", lambda: fetch("three")) == "three"
        kept_not = lambda value: value is not None  # noqa: E731
        assert await recent.read("b", lambda: fetch(None), keep=kept_not) is None
        assert await recent.read("b", lambda: fetch("four"), keep=kept_not) == "four"
        stale: Recent[str, str | None] = Recent(0)
        await stale.read("c", lambda: fetch("five"))
        assert await stale.read("c", lambda: fetch("six")) == "six"  # its moment passed
        assert reads == ["one", "three", "None", "four", "five", "six"]

    asyncio.run(scenario())
