"""A CloudWatch Logs subset (``Logs_20140328``), so boto3's ``logs`` client reads
function logs: DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents,
DeleteLogGroup.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

from gureum.errors import InvalidParameterException, ResourceNotFoundException
from gureum.frontend import json_rpc
from gureum.observe import filter_pattern
from gureum.observe.log_store import LogStore

GROUP_MISSING = "The specified log group does not exist."
STREAM_MISSING = "The specified log stream does not exist."
GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]+")
GROUP_IDENTIFIER = re.compile(r"[\w#+=/:,.@-]*")
GROUP_NAME_PATTERN = re.compile(r"[\.\-_/#A-Za-z0-9]*")
STREAM_NAME = re.compile(r"[^:*]*")
#: Messages FilterLogEvents checks in Python per call (patterns SQL cannot test); past
#: this it answers what it found and a nextToken, as CloudWatch does on a long search.
FILTER_SCAN_BUDGET = 20_000
FILTER_SCAN_CHUNK = 1_000
T = TypeVar("T")


def _invalid(key: str, value: Any, constraint: str) -> InvalidParameterException:
    shown = "null" if value is None else f"'{value}'"
    return InvalidParameterException(
        f"1 validation error detected: Value {shown} at '{key}' failed to satisfy "
        f"constraint: Member must {constraint}"
    )


def _string(
    params: dict[str, Any],
    key: str,
    *,
    required: bool = False,
    low: int = 1,
    high: int = 512,
    pattern: re.Pattern[str] | None = None,
) -> str | None:
    """A string member checked as the service model constrains it."""
    value = params.get(key)
    if value is None:
        if required:
            raise _invalid(key, None, "not be null")
        return None
    if not isinstance(value, str):
        raise _invalid(key, value, "be a string")
    if len(value) < low:
        raise _invalid(key, value, f"have length greater than or equal to {low}")
    if len(value) > high:
        raise _invalid(key, value, f"have length less than or equal to {high}")
    if pattern is not None and not pattern.fullmatch(value):
        raise _invalid(key, value, f"satisfy regular expression pattern: {pattern.pattern}")
    return value


def _int(params: dict[str, Any], key: str, low: int, high: int, default: int) -> int:
    value = params.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(key, value, "be an integer")
    if value < low:
        raise _invalid(key, value, f"have value greater than or equal to {low}")
    if value > high:
        raise _invalid(key, value, f"have value less than or equal to {high}")
    return value


def _time(params: dict[str, Any], key: str) -> int | None:
    if params.get(key) is None:
        return None
    return _int(params, key, 0, 2**63 - 1, 0)


def _bool(params: dict[str, Any], key: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, bool):
        raise _invalid(key, value, "be a boolean")
    return value


def _group(params: dict[str, Any]) -> str:
    """``logGroupName`` or ``logGroupIdentifier`` (a name or an ARN), exactly one."""
    name = _string(params, "logGroupName", pattern=GROUP_NAME)
    identifier = _string(params, "logGroupIdentifier", high=2048, pattern=GROUP_IDENTIFIER)
    if name and identifier:
        raise InvalidParameterException(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters."
        )
    value = name or identifier
    if not value:
        raise InvalidParameterException("Either logGroupName or logGroupIdentifier is required.")
    return _group_name(value)


def _group_name(identifier: str) -> str:
    """A log group's name from its name or ARN (``...:log-group:NAME[:*]``)."""
    if not identifier.startswith("arn:"):
        return identifier
    _, found, rest = identifier.partition(":log-group:")
    name = rest.removesuffix(":*")
    if not found or not name:
        raise InvalidParameterException(f"Invalid log group ARN: {identifier}")
    return name


def _token(params: dict[str, Any]) -> str | None:
    return _string(params, "nextToken", high=2**16)


def _group_filter(params: dict[str, Any], prefix: str | None) -> Callable[[str], bool] | None:
    """DescribeLogGroups' ``logGroupNamePattern`` or ``logGroupIdentifiers`` as a test."""
    pattern = _string(params, "logGroupNamePattern", low=0, pattern=GROUP_NAME_PATTERN)
    identifiers = params.get("logGroupIdentifiers")
    if sum(given is not None for given in (prefix, pattern, identifiers)) > 1:
        raise InvalidParameterException(
            "logGroupNamePrefix, logGroupNamePattern and logGroupIdentifiers are mutually "
            "exclusive parameters."
        )
    if pattern:
        lowered = pattern.lower()
        return lambda name: lowered in name.lower()
    if identifiers is None:
        return None
    if not isinstance(identifiers, list) or not 1 <= len(identifiers) <= 50:
        raise _invalid("logGroupIdentifiers", identifiers, "have length between 1 and 50")
    wanted = set()
    for index, identifier in enumerate(identifiers):
        key = f"logGroupIdentifiers.{index + 1}"
        checked = _string({key: identifier}, key, required=True, high=2048)
        assert checked is not None
        wanted.add(_group_name(checked))
    return wanted.__contains__


def _stream_names(params: dict[str, Any]) -> list[str] | None:
    names = params.get("logStreamNames")
    if names is None:
        return None
    if not isinstance(names, list) or not 1 <= len(names) <= 100:
        raise _invalid("logStreamNames", names, "have length between 1 and 100")
    for index, name in enumerate(names):
        key = f"logStreamNames.{index + 1}"
        _string({key: name}, key, required=True, pattern=STREAM_NAME)
    return names


def _parse_pattern(params: dict[str, Any]) -> filter_pattern.FilterPattern:
    source = _string(params, "filterPattern", low=0, high=1024)
    try:
        return filter_pattern.parse(source)
    except filter_pattern.FilterPatternError as exc:
        raise InvalidParameterException(str(exc)) from None


class LogsAPI:
    """CloudWatch Logs' operations over the log store."""

    def __init__(self, logs: LogStore, *, region: str, account_id: str) -> None:
        self.logs = logs
        self.region = region
        self.account_id = account_id

    async def _page(self, query: Callable[[], T]) -> T:
        """Run a paged store query; a token the store cannot read is the caller's error."""
        try:
            return await self.logs.run(query)
        except ValueError:
            raise InvalidParameterException("The specified nextToken is invalid.") from None

    async def _require_group(self, group: str) -> None:
        if not await self.logs.run(self.logs.log_group_exists, group):
            raise ResourceNotFoundException(GROUP_MISSING)

    async def _stream_exists(self, group: str, stream: str) -> bool:
        # A name sorts before every longer name it is a prefix of, so one row answers.
        streams, _ = await self.logs.run(
            lambda: self.logs.describe_log_streams(
                group,
                prefix=stream,
                order_by="LogStreamName",
                descending=False,
                limit=1,
                next_token=None,
            )
        )
        return bool(streams) and streams[0]["logStreamName"] == stream

    def _group_arn(self, group: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{group}"

    async def _groups_where(
        self, keep: Callable[[str], bool], limit: int, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Log groups whose names ``keep`` accepts, a page of at most ``limit``."""
        found: list[dict[str, Any]] = []
        while True:
            query = functools.partial(self.logs.describe_log_groups, None, 50, token)
            page, token = await self._page(query)
            for index, group in enumerate(page):
                if not keep(group["logGroupName"]):
                    continue
                found.append(group)
                if len(found) == limit:
                    if index < len(page) - 1:
                        # The store's DescribeLogGroups token is the last name it returned.
                        token = group["logGroupName"]
                    return found, token
            if token is None:
                return found, None

    async def describe_log_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = _int(params, "limit", 1, 50, 50)
        prefix = _string(params, "logGroupNamePrefix", pattern=GROUP_NAME)
        keep = _group_filter(params, prefix)
        group_class = params.get("logGroupClass")
        if group_class not in (None, "STANDARD", "INFREQUENT_ACCESS", "DELIVERY"):
            raise _invalid(
                "logGroupClass",
                group_class,
                "satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]",
            )
        token = _token(params)
        if group_class not in (None, "STANDARD"):
            return {"logGroups": []}  # every group gureum keeps is STANDARD
        if keep is None:
            query = functools.partial(self.logs.describe_log_groups, prefix, limit, token)
            groups, token = await self._page(query)
        else:
            groups, token = await self._groups_where(keep, limit, token)
        out = []
        for group in groups:
            arn = self._group_arn(group["logGroupName"])
            out.append(
                {
                    **group,
                    "metricFilterCount": 0,
                    "arn": f"{arn}:*",
                    "logGroupArn": arn,
                    "logGroupClass": "STANDARD",
                }
            )
        return {"logGroups": out, **({"nextToken": token} if token else {})}

    async def describe_log_streams(self, params: dict[str, Any]) -> dict[str, Any]:
        group = _group(params)
        limit = _int(params, "limit", 1, 50, 50)
        order_by = params.get("orderBy", "LogStreamName")
        if order_by not in ("LogStreamName", "LastEventTime"):
            raise _invalid(
                "orderBy", order_by, "satisfy enum value set: [LogStreamName, LastEventTime]"
            )
        prefix = _string(params, "logStreamNamePrefix", pattern=STREAM_NAME)
        if prefix and order_by == "LastEventTime":
            raise InvalidParameterException(
                "Cannot order by LastEventTime with a logStreamNamePrefix."
            )
        descending = _bool(params, "descending")
        token = _token(params)
        await self._require_group(group)
        streams, token = await self._page(
            lambda: self.logs.describe_log_streams(
                group,
                prefix=prefix,
                order_by=order_by,
                descending=descending,
                limit=limit,
                next_token=token,
            ),
        )
        arn = self._group_arn(group)
        for stream in streams:
            stream["arn"] = f"{arn}:log-stream:{stream['logStreamName']}"
        return {"logStreams": streams, **({"nextToken": token} if token else {})}

    async def get_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = _group(params)
        stream = _string(params, "logStreamName", required=True, pattern=STREAM_NAME)
        assert stream is not None
        limit = _int(params, "limit", 1, 10000, 10000)
        start, end = _time(params, "startTime"), _time(params, "endTime")
        from_head = _bool(params, "startFromHead")
        token = _token(params)
        await self._require_group(group)
        events, forward, backward = await self._page(
            lambda: self.logs.get_log_events(
                group,
                stream,
                start_time=start,
                end_time=end,
                start_from_head=from_head,
                limit=limit,
                next_token=token,
            ),
        )
        if not events and not await self._stream_exists(group, stream):
            raise ResourceNotFoundException(STREAM_MISSING)
        return {"events": events, "nextForwardToken": forward, "nextBackwardToken": backward}

    async def filter_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = _group(params)
        names = _stream_names(params)
        prefix = _string(params, "logStreamNamePrefix", pattern=STREAM_NAME)
        if names and prefix:
            raise InvalidParameterException(
                "Cannot specify both logStreamNames and logStreamNamePrefix."
            )
        pattern = _parse_pattern(params)
        limit = _int(params, "limit", 1, 10000, 10000)
        start, end = _time(params, "startTime"), _time(params, "endTime")
        token = _token(params)
        await self._require_group(group)
        # The store tests plain terms in SQL; what it cannot test is checked here.
        pushed = [term for term in pattern.required_terms if '"' not in term]
        store_pattern = " ".join(f'"{term}"' for term in pushed) or None
        exact = pattern.terms_only and len(pushed) == len(pattern.required_terms)

        def query(size: int, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            return self.logs.filter_log_events(
                group,
                stream_names=names,
                stream_prefix=prefix,
                start_time=start,
                end_time=end,
                pattern=store_pattern,
                limit=size,
                next_token=after,
            )

        if exact:
            events, token = await self._page(lambda: query(limit, token))
        else:
            events, token = await self._filter_in_python(pattern, query, limit, token)
        return {
            "events": events,
            "searchedLogStreams": [],
            **({"nextToken": token} if token else {}),
        }

    async def _filter_in_python(
        self,
        pattern: filter_pattern.FilterPattern,
        query: Callable[[int, str | None], tuple[list[dict[str, Any]], str | None]],
        limit: int,
        token: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Scan the store in chunks, keeping events ``pattern`` matches, up to ``limit``."""
        found: list[dict[str, Any]] = []
        scanned = 0
        while True:
            size = max(FILTER_SCAN_CHUNK, limit - len(found))
            chunk, token = await self._page(functools.partial(query, size, token))
            scanned += len(chunk)
            for index, event in enumerate(chunk):
                if not pattern.matches(event["message"]):
                    continue
                found.append(event)
                if len(found) == limit:
                    if index < len(chunk) - 1:
                        # Resume right after this event: the store's FilterLogEvents token
                        # is "<timestamp>/<eventId>" of the last event it returned.
                        token = f"{event['timestamp']}/{event['eventId']}"
                    return found, token
            if token is None or scanned >= FILTER_SCAN_BUDGET:
                return found, token

    async def delete_log_group(self, params: dict[str, Any]) -> dict[str, Any]:
        group = _string(params, "logGroupName", required=True, pattern=GROUP_NAME)
        assert group is not None
        if not await self.logs.run(self.logs.delete_log_group, group):
            raise ResourceNotFoundException(GROUP_MISSING)
        return {}

    def service(self) -> json_rpc.JsonRpcService:
        """CloudWatch Logs as the JSON-protocol endpoint serves it."""
        return json_rpc.JsonRpcService(
            "Logs_20140328",
            {
                "DescribeLogGroups": self.describe_log_groups,
                "DescribeLogStreams": self.describe_log_streams,
                "GetLogEvents": self.get_log_events,
                "FilterLogEvents": self.filter_log_events,
                "DeleteLogGroup": self.delete_log_group,
            },
            model="logs",
            title="CloudWatch Logs",
        )
