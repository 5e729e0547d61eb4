"""Function logs in the store, on SQLite and PostgreSQL: streams, groups, events,
tokens, filters and what a batch keeps."""

from __future__ import annotations

from typing import Any

import pytest

from gureum.observe.log_store import LogEvent, LogStore
from gureum.store import Store


@pytest.fixture
def logs(store: Store) -> LogStore:
    return LogStore(store)


def events(group: str, stream: str, start: int, messages: list[str]) -> list[LogEvent]:
    return [LogEvent(group, stream, start + i, m) for i, m in enumerate(messages)]


def test_log_streams_and_groups(logs: LogStore) -> None:
    logs.put_log_events(events("/aws/lambda/a", "s1", 1000, ["x", "yy"]))
    logs.put_log_events(events("/aws/lambda/a", "s2", 500, ["z"]))
    logs.put_log_events(events("/aws/lambda/a", "s1", 2000, ["w"]))
    logs.put_log_events(events("/aws/lambda/b", "t", 100, ["q"]))
    groups, token = logs.describe_log_groups(None, 10, None)
    assert [g["logGroupName"] for g in groups] == ["/aws/lambda/a", "/aws/lambda/b"]
    assert groups[0]["storedBytes"] == 5 and token is None
    first, token = logs.describe_log_groups("/aws/lambda/", 1, None)
    assert [g["logGroupName"] for g in first] == ["/aws/lambda/a"] and token
    rest, token = logs.describe_log_groups("/aws/lambda/", 1, token)
    assert [g["logGroupName"] for g in rest] == ["/aws/lambda/b"] and token is None
    streams, _ = logs.describe_log_streams(
        "/aws/lambda/a",
        prefix=None,
        order_by="LogStreamName",
        descending=False,
        limit=10,
        next_token=None,
    )
    s1 = streams[0]
    assert (s1["logStreamName"], s1["firstEventTimestamp"], s1["lastEventTimestamp"]) == (
        "s1",
        1000,
        2000,
    )
    assert s1["storedBytes"] == 4
    by_time, _ = logs.describe_log_streams(
        "/aws/lambda/a",
        prefix=None,
        order_by="LastEventTime",
        descending=True,
        limit=10,
        next_token=None,
    )
    assert [s["logStreamName"] for s in by_time] == ["s1", "s2"]
    by_time, _ = logs.describe_log_streams(
        "/aws/lambda/a",
        prefix=None,
        order_by="LastEventTime",
        descending=False,
        limit=10,
        next_token=None,
    )
    assert [s["logStreamName"] for s in by_time] == ["s2", "s1"]
    assert by_time[0]["creationTime"] > 0 and by_time[0]["lastIngestionTime"] > 0
    page, token = logs.describe_log_streams(
        "/aws/lambda/a",
        prefix="s",
        order_by="LogStreamName",
        descending=False,
        limit=1,
        next_token=None,
    )
    assert [s["logStreamName"] for s in page] == ["s1"] and token
    page, token = logs.describe_log_streams(
        "/aws/lambda/a",
        prefix="s",
        order_by="LogStreamName",
        descending=False,
        limit=1,
        next_token=token,
    )
    assert [s["logStreamName"] for s in page] == ["s2"] and token is None
    assert logs.log_group_exists("/aws/lambda/a")
    assert logs.delete_log_group("/aws/lambda/a") is True
    assert not logs.log_group_exists("/aws/lambda/a")
    assert logs.delete_log_group("/aws/lambda/a") is False


def test_get_log_events_forward_and_backward(logs: LogStore) -> None:
    logs.put_log_events(events("g", "s", 0, [f"m{i}" for i in range(10)]))
    page, forward, backward = logs.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=None
    )
    assert [e["message"] for e in page] == ["m0", "m1", "m2", "m3"]
    page, forward, _ = logs.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=forward
    )
    assert [e["message"] for e in page] == ["m4", "m5", "m6", "m7"]
    page, forward, _ = logs.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=forward
    )
    assert [e["message"] for e in page] == ["m8", "m9"]
    empty, same, _ = logs.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=forward
    )
    assert empty == [] and same == forward
    logs.put_log_events(events("g", "s", 10, ["m10"]))
    page, _, _ = logs.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=4, next_token=forward
    )
    assert [e["message"] for e in page] == ["m10"]
    # from the tail, then backwards
    page, _, backward = logs.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=False, limit=3, next_token=None
    )
    assert [e["message"] for e in page] == ["m8", "m9", "m10"]
    page, _, _ = logs.get_log_events(
        "g",
        "s",
        start_time=None,
        end_time=None,
        start_from_head=False,
        limit=3,
        next_token=backward,
    )
    assert [e["message"] for e in page] == ["m5", "m6", "m7"]
    window, _, _ = logs.get_log_events(
        "g", "s", start_time=3, end_time=5, start_from_head=True, limit=10, next_token=None
    )
    assert [e["message"] for e in window] == ["m3", "m4"]
    assert window[0]["ingestionTime"] > 0


def test_get_log_events_tokens_of_an_empty_stream_follow_new_events(logs: LogStore) -> None:
    empty, forward, _ = logs.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=False, limit=5, next_token=None
    )
    assert empty == []
    logs.put_log_events(events("g", "s", 100, ["first"]))
    page, _, _ = logs.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=False, limit=5, next_token=forward
    )
    assert [e["message"] for e in page] == ["first"]


def test_a_batch_is_stored_in_time_order(logs: LogStore) -> None:
    logs.put_log_events(
        [LogEvent("g", "s", 30, "c"), LogEvent("g", "s", 10, "a"), LogEvent("g", "s", 20, "b")]
    )
    page, _, _ = logs.get_log_events(
        "g", "s", start_time=None, end_time=None, start_from_head=True, limit=10, next_token=None
    )
    assert [(e["timestamp"], e["message"]) for e in page] == [(10, "a"), (20, "b"), (30, "c")]


def test_filter_log_events(logs: LogStore) -> None:
    logs.put_log_events(events("g", "a", 0, ["ERROR disk full", "INFO ok", "ERROR net down"]))
    logs.put_log_events(events("g", "b", 1, ["ERROR disk slow", "100% done"]))

    def messages(**kwargs: Any) -> list[str]:
        args: dict[str, Any] = {
            "stream_names": None,
            "stream_prefix": None,
            "start_time": None,
            "end_time": None,
            "pattern": None,
            "limit": 100,
            "next_token": None,
            **kwargs,
        }
        found, _ = logs.filter_log_events("g", **args)
        return [e["message"] for e in found]

    assert messages() == [
        "ERROR disk full",
        "INFO ok",
        "ERROR disk slow",
        "ERROR net down",
        "100% done",
    ]
    assert messages(pattern="ERROR disk") == ["ERROR disk full", "ERROR disk slow"]
    assert messages(pattern='"disk full"') == ["ERROR disk full"]
    assert messages(pattern="100%") == ["100% done"]
    assert messages(pattern="error") == []  # case-sensitive, on SQLite too
    assert messages(pattern="ERROR -") == []  # every term must appear
    assert messages(pattern="  ") == messages()
    assert messages(stream_names=["b"]) == ["ERROR disk slow", "100% done"]
    assert messages(stream_prefix="a", pattern="ERROR") == ["ERROR disk full", "ERROR net down"]
    assert messages(start_time=1, end_time=1) == ["INFO ok", "ERROR disk slow"]
    seen, token = [], None
    while True:
        page, token = logs.filter_log_events(
            "g",
            stream_names=None,
            stream_prefix=None,
            start_time=None,
            end_time=None,
            pattern=None,
            limit=2,
            next_token=token,
        )
        seen += [e["eventId"] for e in page]
        if token is None:
            break
    assert len(seen) == len(set(seen)) == 5


def test_bad_tokens_are_value_errors(logs: LogStore) -> None:
    with pytest.raises(ValueError):
        logs.filter_log_events(
            "g",
            stream_names=None,
            stream_prefix=None,
            start_time=None,
            end_time=None,
            pattern=None,
            limit=1,
            next_token="garbage",
        )
    with pytest.raises(ValueError):
        logs.get_log_events(
            "g",
            "s",
            start_time=None,
            end_time=None,
            start_from_head=True,
            limit=1,
            next_token="f/x",
        )
    with pytest.raises(ValueError):
        logs.get_log_events(
            "g",
            "s",
            start_time=None,
            end_time=None,
            start_from_head=True,
            limit=1,
            next_token="garbage",
        )
    with pytest.raises(ValueError):
        logs.describe_log_streams(
            "g",
            prefix=None,
            order_by="LogStreamName",
            descending=False,
            limit=1,
            next_token="x",
        )


def test_describe_log_streams_pages_do_not_shift(logs: LogStore) -> None:
    for name in ("2026/11/25/[$LATEST]b", "2026/11/25/[$LATEST]d"):
        logs.put_log_events(events("g", name, 10, ["x"]))

    def page(token: str | None, **kwargs: Any) -> tuple[list[str], str | None]:
        args: dict[str, Any] = {
            "prefix": None,
            "order_by": "LogStreamName",
            "descending": False,
            "limit": 1,
            "next_token": token,
            **kwargs,
        }
        found, next_token = logs.describe_log_streams("g", **args)
        return [s["logStreamName"] for s in found], next_token

    first, token = page(None)
    assert first == ["2026/11/25/[$LATEST]b"]
    logs.put_log_events(events("g", "2026/11/25/[$LATEST]a", 20, ["y"]))  # sorts first
    second, token = page(token)
    assert second == ["2026/11/25/[$LATEST]d"] and token is None
    newest, token = page(None, order_by="LastEventTime", descending=True)
    assert newest == ["2026/11/25/[$LATEST]a"]
    older, _ = page(token, order_by="LastEventTime", descending=True)
    assert older == ["2026/11/25/[$LATEST]d"]
    with pytest.raises(ValueError):
        page("t/notanumber/x", order_by="LastEventTime")
    with pytest.raises(ValueError):
        page("n/x", order_by="LastEventTime")


def test_log_batches_keep_every_character_and_their_order(logs: LogStore) -> None:
    # SQLite takes a batch as one JSON parameter (gureum.logs.bulk); nothing changes on
    # the way but NUL, which PostgreSQL cannot keep and both engines store as U+FFFD.
    odd = ['quote " back \\ slash', "tab\tand\nnewline", "한글 ✓ 🚀", "nul\x00inside", '{"a": 1}']
    messages = [f"m{i}" for i in range(1500)] + odd
    logs.put_log_events(events("g", "s", 0, messages))
    logs.put_log_events(events("g", "s", 10_000, odd[:3]))
    got, token = [], None
    while True:
        page, forward, _ = logs.get_log_events(
            "g",
            "s",
            start_time=None,
            end_time=None,
            start_from_head=True,
            limit=10_000,
            next_token=token,
        )
        if not page:
            break
        got += [e["message"] for e in page]
        token = forward
    kept = [m.replace("\x00", "\ufffd") for m in messages]
    assert got == kept + odd[:3]


def test_events_after_tails_a_group_in_the_order_events_were_stored(logs: LogStore) -> None:
    # Nothing yet: the tail goes on after whatever the group will hold.
    assert logs.events_after("/g", None, since_ms=None, limit=10) == ([], 0)
    logs.put_log_events(events("/g", "s1", 5000, ["a", "b"]))
    logs.put_log_events(events("/other", "s", 5000, ["x"]))
    logs.put_log_events(events("/g", "s2", 1000, ["late"]))  # stored later, older stamp
    first, cursor = logs.events_after("/g", None, since_ms=None, limit=2)
    assert [e["message"] for e in first] == ["b", "late"]  # the newest two, in order
    assert logs.events_after("/g", None, since_ms=2000, limit=10)[0][0]["message"] == "a"
    assert cursor is not None
    assert logs.events_after("/g", cursor, since_ms=None, limit=10) == ([], cursor)
    logs.put_log_events(events("/g", "s1", 900, ["newer"]))
    more, after = logs.events_after("/g", cursor, since_ms=None, limit=10)
    assert [e["message"] for e in more] == ["newer"] and after is not None and after > cursor
