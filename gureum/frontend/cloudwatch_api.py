"""CloudWatch's metrics API (signing name ``monitoring``): PutMetricData,
GetMetricData, GetMetricStatistics and ListMetrics over :class:`Metrics`.

Served on AWS JSON 1.0 (what the installed botocore, 1.43, sends: its model lists
``smithy-rpc-v2-cbor``, ``json``, ``query`` and it picks the first it implements) and
on Smithy RPC v2 CBOR (the model's first protocol, for SDKs that speak it), both with
CloudWatch's query error codes in ``x-amzn-query-error``; and on AWS's query protocol
(form bodies, XML answers: the AWS CLI v1 and older SDKs, ``aws_query.py``). Validation follows
CloudWatch's documented limits and answers its error types (InvalidParameterValue,
InvalidParameterCombination, MissingParameter, status 400). Metric math
(``Expression`` in GetMetricData) is not evaluated: it is refused with a clear
InvalidParameterValue.
"""

from __future__ import annotations

import base64
import datetime
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from gureum.errors import (
    CloudWatchError,
    CloudWatchInternalServiceFault,
    CloudWatchInvalidParameterCombination,
    CloudWatchInvalidParameterValue,
    CloudWatchMissingParameter,
)
from gureum.frontend.aws_query import QueryService
from gureum.frontend.json_rpc import JsonRpcService, Operation
from gureum.frontend.rpc_v2_cbor import RpcV2Service
from gureum.observe.distribution import percentile_of
from gureum.observe.metric_store import MetricId
from gureum.observe.metrics import Metrics, as_dimensions, valid_period

SERVICE = "GraniteServiceVersion20100801"
#: CloudWatch's limits.
MAX_METRIC_DATA = 1000
MAX_DIMENSIONS = 30
MAX_VALUES = 150
MAX_QUERIES = 500
MAX_STATISTICS_DATAPOINTS = 1440
LIST_PAGE = 500
#: Values CloudWatch accepts: 0, or a magnitude in [2**-360, 2**360].
SMALLEST, LARGEST = 2.0**-360, 2.0**360
PAST_SECONDS = 14 * 86400
FUTURE_SECONDS = 2 * 3600
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
UNITS = frozenset(
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits "
    "Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second "
    "Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second "
    "Megabits/Second Gigabits/Second Terabits/Second Count/Second None".split()
)
_QUERY_ID = re.compile(r"[a-z][a-zA-Z0-9_]*")


def _missing(member: str) -> CloudWatchError:
    return CloudWatchMissingParameter(f"The parameter {member} is required.")


def _invalid(value: Any, member: str) -> CloudWatchError:
    return CloudWatchInvalidParameterValue(f"The value {value} for parameter {member} is invalid.")


def _seconds(value: Any, member: str) -> float:
    """A timestamp as either protocol carries it (a datetime; epoch seconds; ISO 8601)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return float(value.timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise _invalid(value, member)


def _name(value: Any, member: str, longest: int = 255) -> str:
    if value is None:
        raise _missing(member)
    if not isinstance(value, str) or not 1 <= len(value) <= longest:
        raise _invalid(value, member)
    return value


def _dimensions(value: Any, member: str, *, values_required: bool = True) -> list[tuple[str, Any]]:
    dimensions = value or []
    if not isinstance(dimensions, list):
        raise _invalid(value, member)
    if len(dimensions) > MAX_DIMENSIONS:
        raise CloudWatchInvalidParameterValue(
            f"The collection {member} must not have a size greater than {MAX_DIMENSIONS}."
        )
    pairs: list[tuple[str, Any]] = []
    for i, dimension in enumerate(dimensions, 1):
        where = f"{member}.member.{i}"
        if not isinstance(dimension, dict):
            raise _invalid(dimension, where)
        name = _name(dimension.get("Name"), f"{where}.Name")
        raw = dimension.get("Value")
        value_of = (
            None if raw is None and not values_required else _name(raw, f"{where}.Value", 1024)
        )
        if any(name == seen for seen, _ in pairs):
            raise CloudWatchInvalidParameterValue(
                f"No metric may have more than one dimension named {name} ({where}.Name)."
            )
        pairs.append((name, value_of))
    return pairs


def _value(value: Any, member: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(value, member)
    figure = float(value)
    if math.isnan(figure) or math.isinf(figure):
        raise _invalid(value, member)
    if figure != 0 and not SMALLEST <= abs(figure) <= LARGEST:
        raise CloudWatchInvalidParameterValue(
            f"The value {value} for parameter {member} is invalid: it must be 0 or have a "
            f"magnitude between 2^-360 and 2^360."
        )
    return figure


def _unit(value: Any, member: str) -> str:
    if value is None:
        return "None"
    if value not in UNITS:
        raise _invalid(value, member)
    return str(value)


def _period(value: Any, member: str) -> int:
    if value is None:
        raise _missing(member)
    if isinstance(value, bool) or not isinstance(value, int) or not valid_period(value):
        raise CloudWatchInvalidParameterValue(
            f"The parameter {member} must be 1, 5, 10, 20, 30, or a multiple of 60."
        )
    return value


def _window(params: Mapping[str, Any]) -> tuple[float, float]:
    if params.get("StartTime") is None:
        raise _missing("StartTime")
    if params.get("EndTime") is None:
        raise _missing("EndTime")
    start = _seconds(params["StartTime"], "StartTime")
    end = _seconds(params["EndTime"], "EndTime")
    if start >= end:
        raise CloudWatchInvalidParameterValue(
            "The parameter StartTime must be less than the parameter EndTime."
        )
    return start, end


def _as_epoch(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _as_epoch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_epoch(v) for v in value]
    return value


def _epoch_timestamps(operation: Operation) -> Operation:
    """``operation`` answering its timestamps as the JSON protocol carries them."""

    async def answer(params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = _as_epoch(await operation(params))
        return result

    return answer


class CloudWatchAPI:
    """The metrics operations, for both protocols."""

    def __init__(self, metrics: Metrics, *, clock: Any = time.time) -> None:
        self.metrics = metrics
        self.clock = clock
        self.operations = {
            "PutMetricData": self.put_metric_data,
            "GetMetricData": self.get_metric_data,
            "GetMetricStatistics": self.get_metric_statistics,
            "ListMetrics": self.list_metrics,
        }

    def rpc_v2_service(self) -> RpcV2Service:
        return RpcV2Service(
            SERVICE,
            dict(self.operations),
            model="cloudwatch",
            title="CloudWatch",
            error_namespace="com.amazonaws.cloudwatch#",
            internal_error=CloudWatchInternalServiceFault,
        )

    def query_service(self) -> QueryService:
        """AWS's query protocol (the AWS CLI v1, older SDKs)."""
        return QueryService(
            dict(self.operations),
            model="cloudwatch",
            title="CloudWatch",
            internal_error=CloudWatchInternalServiceFault,
        )

    def json_service(self) -> JsonRpcService:
        """AWS JSON 1.0, which botocore 1.43 sends (``x-amzn-query-mode``), timestamps as
        epoch seconds."""
        return JsonRpcService(
            SERVICE,
            {name: _epoch_timestamps(operation) for name, operation in self.operations.items()},
            model="cloudwatch",
            title="CloudWatch",
            internal_error="InternalServiceFault",
            json_version="1.0",
            error_namespace="com.amazonaws.cloudwatch#",
            query_compatible=True,
        )

    # PutMetricData
    async def put_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        namespace = _name(params.get("Namespace"), "Namespace")
        if namespace.startswith("AWS/"):
            raise CloudWatchInvalidParameterValue(
                f"The value {namespace} for parameter Namespace is invalid: the AWS/ "
                "namespaces are AWS's own."
            )
        data = params.get("MetricData")
        if data is None:
            raise _missing("MetricData")
        if not isinstance(data, list):
            raise _invalid(data, "MetricData")
        if len(data) > MAX_METRIC_DATA:
            raise CloudWatchInvalidParameterValue(
                f"The collection MetricData must not have a size greater than {MAX_METRIC_DATA}."
            )
        now = self.clock()
        puts = [
            self._metric_datum(namespace, d, f"MetricData.member.{i}", now)
            for i, d in enumerate(data, 1)
        ]
        # All checked before any is recorded: a refused call records nothing.
        for put in puts:
            put()
        return {}

    def _metric_datum(self, namespace: str, datum: Any, where: str, now: float) -> Any:
        if not isinstance(datum, dict):
            raise _invalid(datum, where)
        name = _name(datum.get("MetricName"), f"{where}.MetricName")
        dimensions = _dimensions(datum.get("Dimensions"), f"{where}.Dimensions")
        metric = MetricId(namespace, name, as_dimensions(dimensions))
        unit = _unit(datum.get("Unit"), f"{where}.Unit")
        resolution = datum.get("StorageResolution", 60)
        if resolution not in (1, 60) or isinstance(resolution, bool):
            raise CloudWatchInvalidParameterValue(
                f"The parameter {where}.StorageResolution must be 1 or 60."
            )
        at = now
        if datum.get("Timestamp") is not None:
            at = _seconds(datum["Timestamp"], f"{where}.Timestamp")
            if at < now - PAST_SECONDS:
                raise CloudWatchInvalidParameterValue(
                    f"The parameter {where}.Timestamp must specify a time no more than two "
                    "weeks in the past."
                )
            if at > now + FUTURE_SECONDS:
                raise CloudWatchInvalidParameterValue(
                    f"The parameter {where}.Timestamp must specify a time no more than two "
                    "hours in the future."
                )
        given = [k for k in ("Value", "Values", "StatisticValues") if datum.get(k) is not None]
        if len(given) > 1:
            raise CloudWatchInvalidParameterCombination(
                f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually "
                "exclusive and you have specified both."
            )
        if not given:
            raise CloudWatchInvalidParameterCombination(
                f"At least one of the parameters {where}.Value, {where}.StatisticValues or "
                f"{where}.Values must be specified."
            )
        if datum.get("Counts") is not None and given[0] != "Values":
            raise CloudWatchInvalidParameterCombination(
                f"The parameter {where}.Counts may only be given with {where}.Values."
            )
        high = resolution == 1
        put = self.metrics.put
        if given[0] == "Value":
            value = _value(datum["Value"], f"{where}.Value")
            return lambda: put(metric, value, unit=unit, timestamp=at, high_resolution=high)
        if given[0] == "Values":
            values = datum["Values"]
            if not isinstance(values, list) or len(values) > MAX_VALUES:
                raise CloudWatchInvalidParameterValue(
                    f"The collection {where}.Values must not have a size greater than {MAX_VALUES}."
                )
            figures = [_value(v, f"{where}.Values.member.{i}") for i, v in enumerate(values, 1)]
            counts_given = datum.get("Counts")
            counts = [1.0] * len(figures)
            if counts_given is not None:
                if not isinstance(counts_given, list) or len(counts_given) != len(figures):
                    raise CloudWatchInvalidParameterValue(
                        f"The parameters {where}.Values and {where}.Counts must be of the same "
                        "size."
                    )
                counts = [
                    _value(c, f"{where}.Counts.member.{i}") for i, c in enumerate(counts_given, 1)
                ]
                if any(c < 0 for c in counts):
                    raise _invalid(min(counts), f"{where}.Counts")

            def put_values() -> None:
                for figure, count in zip(figures, counts, strict=True):
                    if count > 0:
                        put(
                            metric,
                            figure,
                            unit=unit,
                            timestamp=at,
                            count=count,
                            high_resolution=high,
                        )

            return put_values
        stats = datum["StatisticValues"]
        member = f"{where}.StatisticValues"
        if not isinstance(stats, dict):
            raise _invalid(stats, member)
        for key in ("SampleCount", "Sum", "Minimum", "Maximum"):
            if stats.get(key) is None:
                raise _missing(f"{member}.{key}")
        count = _value(stats["SampleCount"], f"{member}.SampleCount")
        total = _value(stats["Sum"], f"{member}.Sum")
        low = _value(stats["Minimum"], f"{member}.Minimum")
        high_value = _value(stats["Maximum"], f"{member}.Maximum")
        if count <= 0:
            raise CloudWatchInvalidParameterValue(
                f"The parameter {member}.SampleCount must be greater than 0."
            )
        if low > high_value:
            raise CloudWatchInvalidParameterValue(
                f"The parameter {member}.Minimum must not be greater than {member}.Maximum."
            )
        return lambda: self.metrics.put_statistics(
            metric, count, total, low, high_value, unit=unit, timestamp=at, high_resolution=high
        )

    # GetMetricStatistics
    async def get_metric_statistics(self, params: dict[str, Any]) -> dict[str, Any]:
        namespace = _name(params.get("Namespace"), "Namespace")
        name = _name(params.get("MetricName"), "MetricName")
        dimensions = _dimensions(params.get("Dimensions"), "Dimensions")
        start, end = _window(params)
        period = _period(params.get("Period"), "Period")
        statistics = params.get("Statistics") or []
        extended = params.get("ExtendedStatistics") or []
        if not statistics and not extended:
            raise CloudWatchInvalidParameterCombination(
                "Must specify either Statistics or ExtendedStatistics."
            )
        if statistics and extended:
            raise CloudWatchInvalidParameterCombination(
                "The parameters Statistics and ExtendedStatistics are mutually exclusive and "
                "you have specified both."
            )
        for i, statistic in enumerate(statistics, 1):
            if statistic not in STATISTICS:
                raise _invalid(statistic, f"Statistics.member.{i}")
        for i, statistic in enumerate(extended, 1):
            if not isinstance(statistic, str) or percentile_of(statistic) is None:
                raise _invalid(statistic, f"ExtendedStatistics.member.{i}")
        if len(statistics) > 5 or len(extended) > 10:
            raise CloudWatchInvalidParameterValue(
                "The collection Statistics must not have a size greater than 5, nor "
                "ExtendedStatistics greater than 10."
            )
        wanted = math.ceil((end - start) / period)
        if wanted > MAX_STATISTICS_DATAPOINTS:
            raise CloudWatchInvalidParameterCombination(
                f"You have requested up to {wanted} datapoints, which exceeds the limit of "
                f"{MAX_STATISTICS_DATAPOINTS}. You may reduce the datapoints requested by "
                "increasing Period, or decreasing the time range."
            )
        unit = _unit(params["Unit"], "Unit") if params.get("Unit") else None
        points = await self.metrics.query(
            namespace, name, dimensions, start, end, period, [*statistics, *extended], unit=unit
        )
        datapoints = []
        for point in points:
            datapoint: dict[str, Any] = {"Timestamp": point.timestamp, "Unit": point.unit}
            for statistic in statistics:
                if statistic in point.values:
                    datapoint[statistic] = point.values[statistic]
            if extended:
                datapoint["ExtendedStatistics"] = {
                    s: point.values[s] for s in extended if s in point.values
                }
            datapoints.append(datapoint)
        return {"Label": name, "Datapoints": datapoints}

    # GetMetricData
    async def get_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        queries = params.get("MetricDataQueries")
        if queries is None:
            raise _missing("MetricDataQueries")
        if not isinstance(queries, list) or not 1 <= len(queries) <= MAX_QUERIES:
            raise CloudWatchInvalidParameterValue(
                f"The collection MetricDataQueries must have between 1 and {MAX_QUERIES} members."
            )
        start, end = _window(params)
        scan = params.get("ScanBy") or "TimestampDescending"
        if scan not in ("TimestampDescending", "TimestampAscending"):
            raise _invalid(scan, "ScanBy")
        checked = []
        ids: set[str] = set()
        for i, query in enumerate(queries, 1):
            where = f"MetricDataQueries.member.{i}"
            if not isinstance(query, dict):
                raise _invalid(query, where)
            query_id = _name(query.get("Id"), f"{where}.Id")
            if not _QUERY_ID.fullmatch(query_id):
                raise CloudWatchInvalidParameterValue(
                    f"The value {query_id} for parameter {where}.Id is invalid: an Id starts "
                    "with a lowercase letter and holds only letters, digits and underscores."
                )
            if query_id in ids:
                raise CloudWatchInvalidParameterValue(
                    f"The value {query_id} for parameter {where}.Id is not unique."
                )
            ids.add(query_id)
            stat, expression = query.get("MetricStat"), query.get("Expression")
            if stat is not None and expression is not None:
                raise CloudWatchInvalidParameterCombination(
                    f"The parameters {where}.MetricStat and {where}.Expression are mutually "
                    "exclusive and you have specified both."
                )
            if expression is not None:
                raise CloudWatchInvalidParameterValue(
                    f"The parameter {where}.Expression is not supported: gureum does not "
                    "evaluate metric math; ask for each metric with MetricStat."
                )
            if stat is None:
                raise CloudWatchMissingParameter(
                    f"The parameter {where}.MetricStat or {where}.Expression is required."
                )
            checked.append((query_id, query, self._metric_stat(stat, f"{where}.MetricStat")))
        results = []
        for query_id, query, (metric, period, statistic, unit) in checked:
            points = await self.metrics.query(
                metric.namespace,
                metric.name,
                metric.dimensions,
                start,
                end,
                period,
                [statistic],
                unit=unit,
            )
            pairs = [(p.timestamp, p.values[statistic]) for p in points if statistic in p.values]
            if scan == "TimestampDescending":
                pairs.reverse()
            if query.get("ReturnData", True) is False:
                continue
            results.append(
                {
                    "Id": query_id,
                    "Label": query.get("Label") or metric.name,
                    "Timestamps": [t for t, _ in pairs],
                    "Values": [v for _, v in pairs],
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results, "Messages": []}

    def _metric_stat(self, stat: Any, where: str) -> tuple[MetricId, int, str, str | None]:
        if not isinstance(stat, dict):
            raise _invalid(stat, where)
        metric = stat.get("Metric")
        if not isinstance(metric, dict):
            raise _missing(f"{where}.Metric")
        namespace = _name(metric.get("Namespace"), f"{where}.Metric.Namespace")
        name = _name(metric.get("MetricName"), f"{where}.Metric.MetricName")
        dimensions = _dimensions(metric.get("Dimensions"), f"{where}.Metric.Dimensions")
        period = _period(stat.get("Period"), f"{where}.Period")
        statistic = stat.get("Stat")
        if statistic is None:
            raise _missing(f"{where}.Stat")
        if statistic not in STATISTICS and (
            not isinstance(statistic, str) or percentile_of(statistic) is None
        ):
            raise _invalid(statistic, f"{where}.Stat")
        unit = _unit(stat["Unit"], f"{where}.Unit") if stat.get("Unit") else None
        return MetricId(namespace, name, as_dimensions(dimensions)), period, statistic, unit

    # ListMetrics
    async def list_metrics(self, params: dict[str, Any]) -> dict[str, Any]:
        namespace = params.get("Namespace")
        if namespace is not None:
            _name(namespace, "Namespace")
        name = params.get("MetricName")
        if name is not None:
            _name(name, "MetricName")
        filters = _dimensions(params.get("Dimensions"), "Dimensions", values_required=False)
        if len(filters) > 10:
            raise CloudWatchInvalidParameterValue(
                "The collection Dimensions must not have a size greater than 10."
            )
        recently = params.get("RecentlyActive")
        if recently is not None and recently != "PT3H":
            raise _invalid(recently, "RecentlyActive")
        offset = 0
        token = params.get("NextToken")
        if token:
            try:
                offset = int(base64.urlsafe_b64decode(str(token).encode()).decode())
            except (ValueError, UnicodeDecodeError) as exc:
                raise _invalid(token, "NextToken") from exc
        metrics = await self.metrics.list_metrics(
            namespace,
            name,
            dict(filters),
            recently_active_seconds=3 * 3600 if recently else None,
        )
        page = metrics[offset : offset + LIST_PAGE]
        answer: dict[str, Any] = {
            "Metrics": [
                {
                    "Namespace": m.namespace,
                    "MetricName": m.name,
                    "Dimensions": [{"Name": n, "Value": v} for n, v in m.dimensions],
                }
                for m in page
            ]
        }
        if offset + LIST_PAGE < len(metrics):
            answer["NextToken"] = base64.urlsafe_b64encode(
                str(offset + LIST_PAGE).encode()
            ).decode()
        return answer
