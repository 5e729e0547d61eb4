"""What the console's metrics page reads: one series of one function's metric.

``metric_series`` is the one place the console meets the metrics backend
(``gureum.observe.metrics``): it reads the ``AWS/Lambda`` namespace's series of one
function (dimension ``FunctionName``), as GetMetricStatistics would. A platform without
``metrics`` raises :class:`MetricsNotAvailable`, and the page says so instead of
drawing charts.
"""

from __future__ import annotations

from typing import Any

#: The charts of a function's page: (metric, statistic), as CloudWatch's AWS/Lambda
#: namespace names them.
CHARTS: tuple[tuple[str, str], ...] = (
    ("Invocations", "Sum"),
    ("Errors", "Sum"),
    ("Throttles", "Sum"),
    ("Duration", "p50"),
    ("Duration", "p99"),
    ("ConcurrentExecutions", "Maximum"),
)
#: Windows the page offers: label -> (seconds, period in seconds)
WINDOWS: dict[str, tuple[int, int]] = {
    "1h": (3600, 60),
    "3h": (3 * 3600, 300),
    "12h": (12 * 3600, 900),
    "1d": (86400, 3600),
    "1w": (7 * 86400, 6 * 3600),
}


class MetricsNotAvailable(Exception):
    """This platform keeps no metrics the console can read."""


async def metric_series(
    platform: Any,
    function: str,
    metric: str,
    stat: str,
    start: float,
    end: float,
    period: int,
) -> list[tuple[float, float]]:
    """(epoch seconds, value) of ``metric`` of ``function`` at ``stat`` for each
    ``period`` of [start, end] that has data; MetricsNotAvailable when the platform
    has no metrics."""
    metrics = getattr(platform, "metrics", None)
    if metrics is None:
        raise MetricsNotAvailable("this server keeps no metrics")
    points = await metrics.query(
        "AWS/Lambda", metric, {"FunctionName": function}, start, end, period, [stat]
    )
    return [(point.timestamp.timestamp(), point.values[stat]) for point in points]
