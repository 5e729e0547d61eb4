"""A CloudWatch Logs subset (``Logs_20140328``), so boto3's ``logs`` client reads
function logs: DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents,
DeleteLogGroup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gureum.errors import InvalidParameterException, ResourceNotFoundException
from gureum.frontend import json_rpc

if TYPE_CHECKING:
    from gureum.platform import Platform

GROUP_MISSING = "The specified log group does not exist."
T = TypeVar("T")


def _int(params: dict[str, Any], key: str, low: int, high: int, default: int) -> int:
    value = params.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidParameterException(
            f"1 validation error detected: Value '{value}' at '{key}' failed to satisfy "
            f"constraint: Member must have value between {low} and {high}"
        )
    return value


def _time(params: dict[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidParameterException(
            f"1 validation error detected: Value '{value}' at '{key}' failed to satisfy "
            "constraint: Member must have value greater than or equal to 0"
        )
    return value


def _group(params: dict[str, Any]) -> str:
    """``logGroupName`` or ``logGroupIdentifier`` (a name or an ARN), exactly one."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name and identifier:
        raise InvalidParameterException(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters."
        )
    value = name or identifier
    if not isinstance(value, str) or not value:
        raise InvalidParameterException("Either logGroupName or logGroupIdentifier is required.")
    if value.startswith("arn:"):
        _, found, rest = value.partition(":log-group:")
        if not found:
            raise InvalidParameterException(f"Invalid log group ARN: {value}")
        value = rest.removesuffix(":*")
    return value


def _token(params: dict[str, Any]) -> str | None:
    token = params.get("nextToken")
    if token is not None and (not isinstance(token, str) or not token):
        raise InvalidParameterException("The specified nextToken is invalid.")
    return token


async def _page(platform: Platform, query: Callable[[], T]) -> T:
    """Run a paged store query; a token the store cannot read is the caller's error."""
    try:
        return await platform.store.run(query)
    except ValueError:
        raise InvalidParameterException("The specified nextToken is invalid.") from None


async def _require_group(platform: Platform, group: str) -> None:
    if not await platform.store.run(platform.store.log_group_exists, group):
        raise ResourceNotFoundException(GROUP_MISSING)


def _group_arn(platform: Platform, group: str) -> str:
    settings = platform.settings
    return f"arn:aws:logs:{settings.region}:{settings.account_id}:log-group:{group}"


async def describe_log_groups(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    limit = _int(params, "limit", 1, 50, 50)
    prefix = params.get("logGroupNamePrefix")
    groups, token = await _page(
        platform, lambda: platform.store.describe_log_groups(prefix, limit, _token(params))
    )
    out = []
    for group in groups:
        arn = _group_arn(platform, group["logGroupName"])
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


async def describe_log_streams(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    group = _group(params)
    limit = _int(params, "limit", 1, 50, 50)
    order_by = params.get("orderBy", "LogStreamName")
    if order_by not in ("LogStreamName", "LastEventTime"):
        raise InvalidParameterException(
            f"1 validation error detected: Value '{order_by}' at 'orderBy' failed to satisfy "
            "constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
        )
    prefix = params.get("logStreamNamePrefix")
    if prefix and order_by == "LastEventTime":
        raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
    await _require_group(platform, group)
    streams, token = await _page(
        platform,
        lambda: platform.store.describe_log_streams(
            group,
            prefix=prefix,
            order_by=order_by,
            descending=bool(params.get("descending", False)),
            limit=limit,
            next_token=_token(params),
        ),
    )
    arn = _group_arn(platform, group)
    for stream in streams:
        stream["arn"] = f"{arn}:log-stream:{stream['logStreamName']}"
    return {"logStreams": streams, **({"nextToken": token} if token else {})}


async def get_log_events(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    group = _group(params)
    stream = params.get("logStreamName")
    if not isinstance(stream, str) or not stream:
        raise InvalidParameterException("logStreamName is required.")
    limit = _int(params, "limit", 1, 10000, 10000)
    start, end = _time(params, "startTime"), _time(params, "endTime")
    await _require_group(platform, group)
    events, forward, backward = await _page(
        platform,
        lambda: platform.store.get_log_events(
            group,
            stream,
            start_time=start,
            end_time=end,
            start_from_head=bool(params.get("startFromHead", False)),
            limit=limit,
            next_token=_token(params),
        ),
    )
    return {"events": events, "nextForwardToken": forward, "nextBackwardToken": backward}


async def filter_log_events(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    group = _group(params)
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise InvalidParameterException(
            "Cannot specify both logStreamNames and logStreamNamePrefix."
        )
    if names is not None and (not isinstance(names, list) or not 1 <= len(names) <= 100):
        raise InvalidParameterException("logStreamNames must name 1 to 100 log streams.")
    pattern = params.get("filterPattern")
    if pattern is not None and (not isinstance(pattern, str) or len(pattern) > 1024):
        raise InvalidParameterException("filterPattern must be a string of at most 1024 chars.")
    limit = _int(params, "limit", 1, 10000, 10000)
    start, end = _time(params, "startTime"), _time(params, "endTime")
    await _require_group(platform, group)
    events, token = await _page(
        platform,
        lambda: platform.store.filter_log_events(
            group,
            stream_names=names,
            stream_prefix=prefix,
            start_time=start,
            end_time=end,
            pattern=pattern,
            limit=limit,
            next_token=_token(params),
        ),
    )
    return {"events": events, "searchedLogStreams": [], **({"nextToken": token} if token else {})}


async def delete_log_group(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    group = params.get("logGroupName")
    if not isinstance(group, str) or not group:
        raise InvalidParameterException("logGroupName is required.")
    if not await platform.store.run(platform.store.delete_log_group, group):
        raise ResourceNotFoundException(GROUP_MISSING)
    return {}


json_rpc.register(
    "Logs_20140328",
    {
        "DescribeLogGroups": describe_log_groups,
        "DescribeLogStreams": describe_log_streams,
        "GetLogEvents": get_log_events,
        "FilterLogEvents": filter_log_events,
        "DeleteLogGroup": delete_log_group,
    },
)
