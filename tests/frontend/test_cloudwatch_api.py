"""CloudWatch's metrics API with boto3's ``cloudwatch`` client against a real server, on
SQLite and PostgreSQL: Lambda's metrics from known invocations, errors, throttles and
durations; PutMetricData round trips; EMF log lines; ListMetrics; every validation
error with its AWS type; and Prometheus' ``/metrics``."""

from __future__ import annotations

import datetime
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import cbor2
import pytest
from botocore import parsers, serialize
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import (
    ROLE,
    RunningServer,
    client,
    server_on,
    signed_request,
    unique_name,
    zip_files,
)

HANDLER = """
import json, time

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("emf"):
        print(json.dumps({
            "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
                "Namespace": "shop", "Dimensions": [["Service"]],
                "Metrics": [{"Name": "CartSize", "Unit": "Count"}]}]},
            "Service": "cart", "CartSize": event["emf"]}))
    if event.get("fail"):
        raise ValueError("boom")
    return {"ok": True}
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with server_on(request.param, Path(tmp_path_factory.mktemp("cw"))) as running:
        yield running


@pytest.fixture
def cw(server: RunningServer) -> Any:
    return client("cloudwatch", server.endpoint)


@pytest.fixture
def lam(server: RunningServer) -> Any:
    return client("lambda", server.endpoint)


def window(minutes: int = 10) -> dict[str, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "StartTime": now - datetime.timedelta(minutes=minutes),
        "EndTime": now + datetime.timedelta(minutes=1),
    }


def statistics(cw: Any, name: str, dimensions: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    """One-hour period: every data point of the test in one datapoint (or none)."""
    answer = cw.get_metric_statistics(
        Namespace=kwargs.pop("namespace", "AWS/Lambda"),
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        Period=3600,
        **window(),
        **kwargs,
    )
    points = answer["Datapoints"]
    assert len(points) <= 2  # (a test that crosses the hour's boundary)
    if not points:
        return {}
    merged = dict(points[0])
    if len(points) == 2:
        for key in ("Sum", "SampleCount"):
            if key in merged:
                merged[key] += points[1][key]
        if "Maximum" in merged:
            merged["Maximum"] = max(merged["Maximum"], points[1]["Maximum"])
    return merged


def create(lam: Any, **config: Any) -> str:
    name = unique_name("cw")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_files({"app.py": HANDLER})},
        **config,
    )
    return name


def invoke(lam: Any, name: str, event: dict[str, Any], qualifier: str | None = None) -> Any:
    extra = {"Qualifier": qualifier} if qualifier else {}
    return lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)


def test_lambda_metrics_from_known_invocations(cw: Any, lam: Any) -> None:
    name = create(lam, Timeout=10)
    for _ in range(6):
        invoke(lam, name, {})
    for _ in range(2):
        invoke(lam, name, {"fail": True})
    invoke(lam, name, {"sleep": 0.3})
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    invoke(lam, name, {}, "live")
    fn = {"FunctionName": name}
    assert statistics(cw, "Invocations", fn, Statistics=["Sum"])["Sum"] == 10
    errors = statistics(cw, "Errors", fn, Statistics=["Sum", "SampleCount"])
    assert (errors["Sum"], errors["SampleCount"]) == (2, 10)
    duration = statistics(cw, "Duration", fn, Statistics=["Maximum", "SampleCount"])
    assert duration["SampleCount"] == 10 and duration["Maximum"] >= 300
    assert duration["Unit"] == "Milliseconds"
    percentiles = statistics(cw, "Duration", fn, ExtendedStatistics=["p50", "p99"])
    assert percentiles["ExtendedStatistics"]["p50"] < 100
    assert percentiles["ExtendedStatistics"]["p99"] >= 300
    # the alias's invoke, under Resource and ExecutedVersion as Lambda publishes it
    resource = {"FunctionName": name, "Resource": f"{name}:live"}
    assert statistics(cw, "Invocations", resource, Statistics=["Sum"])["Sum"] == 1
    executed = {**resource, "ExecutedVersion": version}
    assert statistics(cw, "Invocations", executed, Statistics=["Sum"])["Sum"] == 1
    concurrency = statistics(cw, "ConcurrentExecutions", fn, Statistics=["Maximum"])
    assert concurrency["Maximum"] >= 1
    # GetMetricData: one-second buckets and percentiles, newest first
    answer = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "p99",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Duration",
                        "Dimensions": [{"Name": "FunctionName", "Value": name}],
                    },
                    "Period": 1,
                    "Stat": "p99",
                },
            },
            {
                "Id": "invocations",
                "Label": "calls",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Invocations",
                        "Dimensions": [{"Name": "FunctionName", "Value": name}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            },
        ],
        **window(),
    )
    p99, calls = answer["MetricDataResults"]
    assert p99["Id"] == "p99" and p99["StatusCode"] == "Complete" and p99["Values"]
    assert p99["Timestamps"] == sorted(p99["Timestamps"], reverse=True)
    assert max(p99["Values"]) >= 300
    assert calls["Label"] == "calls" and sum(calls["Values"]) == 10


def test_throttles_with_reserved_concurrency_zero(cw: Any, lam: Any) -> None:
    name = create(lam)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    for _ in range(3):
        with pytest.raises(lam.exceptions.TooManyRequestsException):
            invoke(lam, name, {})
    fn = {"FunctionName": name}
    assert statistics(cw, "Throttles", fn, Statistics=["Sum"])["Sum"] == 3
    assert statistics(cw, "Invocations", fn, Statistics=["Sum"]) == {}
    claimed = statistics(cw, "ClaimedAccountConcurrency", {}, Statistics=["Maximum"])
    assert claimed  # (the account's figure, published without dimensions)


def test_async_events_received_and_age(cw: Any, lam: Any) -> None:
    name = create(lam)
    for _ in range(2):
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    fn = {"FunctionName": name}
    assert statistics(cw, "AsyncEventsReceived", fn, Statistics=["Sum"])["Sum"] == 2
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        age = statistics(cw, "AsyncEventAge", fn, Statistics=["SampleCount", "Maximum"])
        if age.get("SampleCount") == 2:
            break
        time.sleep(0.2)
    assert age["SampleCount"] == 2 and age["Unit"] == "Milliseconds"


def eventually(fetch: Any, done: Any, timeout: float = 30) -> Any:
    """``fetch()`` until ``done`` holds of what it returns (the async poller's figures
    come as it runs)."""
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_async_events_dropped_and_dead_letter_errors(
    cw: Any, lam: Any, server: RunningServer
) -> None:
    sqs = client("sqs", server.endpoint)
    url = sqs.create_queue(QueueName=unique_name("dlq"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    name = create(lam, DeadLetterConfig={"TargetArn": arn})
    sqs.delete_queue(QueueUrl=url)  # the dead-letter queue is gone: its send fails
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
    fn = {"FunctionName": name}
    dropped = eventually(lambda: statistics(cw, "AsyncEventsDropped", fn, Statistics=["Sum"]), bool)
    assert dropped["Sum"] == 1
    errors = eventually(lambda: statistics(cw, "DeadLetterErrors", fn, Statistics=["Sum"]), bool)
    assert errors["Sum"] == 1


def test_sqs_metrics(cw: Any, server: RunningServer) -> None:
    sqs = client("sqs", server.endpoint)
    queue = unique_name("q")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "abc"},
            {
                "Id": "b",
                "MessageBody": "x",
                "MessageAttributes": {"k": {"DataType": "String", "StringValue": "vv"}},
            },
        ],
    )
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    for message in received:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    empty = sqs.create_queue(QueueName=unique_name("empty"))["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=empty, WaitTimeSeconds=0)
    q = {"QueueName": queue}

    def total(name: str, dimensions: dict[str, str] = q) -> float:
        return float(
            statistics(cw, name, dimensions, namespace="AWS/SQS", Statistics=["Sum"])["Sum"]
        )

    assert total("NumberOfMessagesSent") == 3
    assert total("SentMessageSize") == len("hello") + len("abc") + len("x") + len("kStringvv")
    assert total("NumberOfMessagesReceived") == len(received) == 2
    assert total("NumberOfMessagesDeleted") == 2
    assert total("NumberOfEmptyReceives", {"QueueName": empty.rsplit("/", 1)[-1]}) == 1
    # the depths, as the once-a-minute sample takes them
    server.call(lambda: server.platform.queue_metrics.sample_depths(time.time()))
    visible = statistics(cw, "ApproximateNumberOfMessagesVisible", q, namespace="AWS/SQS",
                         Statistics=["Maximum"])  # fmt: skip
    assert visible["Maximum"] == 1
    age = statistics(cw, "ApproximateAgeOfOldestMessage", q, namespace="AWS/SQS",
                     Statistics=["Maximum"])  # fmt: skip
    assert age["Unit"] == "Seconds" and age["Maximum"] >= 0


def test_iterator_age_of_a_stream_mapping(cw: Any, lam: Any, server: RunningServer) -> None:
    kinesis = client("kinesis", server.endpoint)
    stream = unique_name("stream")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    kinesis.put_record(StreamName=stream, Data=b"{}", PartitionKey="k")
    name = create(lam)
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON"
    )
    fn = {"FunctionName": name}
    age = eventually(
        lambda: statistics(cw, "IteratorAge", fn, Statistics=["Maximum", "SampleCount"]), bool
    )
    assert age["Unit"] == "Milliseconds" and age["Maximum"] >= 0 and age["SampleCount"] >= 1


def test_put_metric_data_round_trip(cw: Any) -> None:
    namespace = unique_name("app")
    dims = [{"Name": "Service", "Value": "cart"}]
    now = datetime.datetime.now(datetime.UTC)
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "Latency", "Dimensions": dims, "Value": 10.0, "Unit": "Milliseconds"},
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "Values": [20.0, 30.0],
                "Counts": [1.0, 2.0],
                "Unit": "Milliseconds",
                "StorageResolution": 1,
                "Timestamp": now,
            },
            {
                "MetricName": "Latency",
                "Dimensions": dims,
                "StatisticValues": {"SampleCount": 4, "Sum": 400, "Minimum": 50, "Maximum": 150},
                "Unit": "Milliseconds",
            },
        ],
    )
    got = statistics(
        cw,
        "Latency",
        {"Service": "cart"},
        namespace=namespace,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
    )
    assert got["SampleCount"] == 8 and got["Sum"] == 10 + 20 + 60 + 400
    assert (got["Minimum"], got["Maximum"]) == (10, 150)
    assert got["Average"] == pytest.approx(490 / 8)
    # the high-resolution values have one-second buckets too
    answer = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": "Latency", "Dimensions": dims},
                    "Period": 1,
                    "Stat": "SampleCount",
                },
            }
        ],
        **window(),
    )
    assert sum(answer["MetricDataResults"][0]["Values"]) == 3
    listed = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert listed == [{"Namespace": namespace, "MetricName": "Latency", "Dimensions": dims}]
    assert cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Service"}])["Metrics"]
    assert not cw.list_metrics(Namespace=namespace, MetricName="Other")["Metrics"]


def test_embedded_metric_format_lines_become_metrics(cw: Any, lam: Any) -> None:
    name = create(lam)
    invoke(lam, name, {"emf": 3})
    invoke(lam, name, {"emf": 5})
    deadline = time.monotonic() + 20
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        got = statistics(cw, "CartSize", {"Service": "cart"}, namespace="shop",
                         Statistics=["Sum", "SampleCount"])  # fmt: skip
        if got.get("SampleCount", 0) >= 2:
            break
        time.sleep(0.2)
    assert got["Sum"] >= 8 and got["Unit"] == "Count"


def error_of(call: Any, **params: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return caught.value


def test_validation_errors_have_cloudwatch_types(server: RunningServer) -> None:
    cw = client("cloudwatch", server.endpoint, parameter_validation=False)
    invalid = cw.exceptions.InvalidParameterValueException
    combination = cw.exceptions.InvalidParameterCombinationException
    missing = cw.exceptions.MissingRequiredParameterException
    datum = {"MetricName": "m", "Value": 1.0}
    put = cw.put_metric_data
    cases: list[tuple[Any, Any, dict[str, Any]]] = [
        (put, invalid, {"Namespace": "AWS/Lambda", "MetricData": [datum]}),
        (put, missing, {"MetricData": [datum]}),
        (put, invalid, {"Namespace": "n", "MetricData": [datum] * 1001}),
        (
            put,
            invalid,
            {
                "Namespace": "n",
                "MetricData": [
                    {**datum, "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)]}
                ],
            },
        ),  # fmt: skip
        (put, invalid, {"Namespace": "n", "MetricData": [{**datum, "StorageResolution": 5}]}),
        (put, invalid, {"Namespace": "n", "MetricData": [{**datum, "Unit": "Furlongs"}]}),
        (
            put,
            invalid,
            {
                "Namespace": "n",
                "MetricData": [
                    {
                        **datum,
                        "Timestamp": datetime.datetime.now(datetime.UTC)
                        - datetime.timedelta(days=15),
                    }
                ],
            },
        ),  # fmt: skip
        (
            put,
            combination,
            {
                "Namespace": "n",
                "MetricData": [
                    {
                        **datum,
                        "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
                    }
                ],
            },
        ),  # fmt: skip
        (put, combination, {"Namespace": "n", "MetricData": [{"MetricName": "m"}]}),
        (
            put,
            invalid,
            {
                "Namespace": "n",
                "MetricData": [{"MetricName": "m", "Values": [1.0], "Counts": [1.0, 2.0]}],
            },
        ),  # fmt: skip
        (
            cw.get_metric_statistics,
            combination,
            {"Namespace": "n", "MetricName": "m", "Period": 60, **window()},
        ),  # fmt: skip
        (
            cw.get_metric_statistics,
            combination,
            {
                "Namespace": "n",
                "MetricName": "m",
                "Period": 60,
                "Statistics": ["Sum"],
                "ExtendedStatistics": ["p99"],
                **window(),
            },
        ),  # fmt: skip
        (
            cw.get_metric_statistics,
            invalid,
            {"Namespace": "n", "MetricName": "m", "Period": 7, "Statistics": ["Sum"], **window()},
        ),  # fmt: skip
        (
            cw.get_metric_statistics,
            invalid,
            {
                "Namespace": "n",
                "MetricName": "m",
                "Period": 60,
                "ExtendedStatistics": ["p1000"],
                **window(),
            },
        ),  # fmt: skip
        (
            cw.get_metric_statistics,
            combination,
            {"Namespace": "n", "MetricName": "m", "Period": 1, "Statistics": ["Sum"], **window(60)},
        ),  # fmt: skip
        (
            cw.get_metric_data,
            invalid,
            {"MetricDataQueries": [{"Id": "e1", "Expression": "SUM(METRICS())"}], **window()},
        ),  # fmt: skip
        (
            cw.get_metric_data,
            invalid,
            {
                "MetricDataQueries": [
                    {
                        "Id": "Upper",
                        "MetricStat": {
                            "Metric": {"Namespace": "n", "MetricName": "m"},
                            "Period": 60,
                            "Stat": "Sum",
                        },
                    }
                ],
                **window(),
            },
        ),  # fmt: skip
        (
            cw.get_metric_data,
            invalid,
            {
                "MetricDataQueries": [
                    {
                        "Id": "a",
                        "MetricStat": {
                            "Metric": {"Namespace": "n", "MetricName": "m"},
                            "Period": 60,
                            "Stat": "Median",
                        },
                    }
                ],
                **window(),
            },
        ),  # fmt: skip
        (
            cw.get_metric_data,
            invalid,
            {
                "MetricDataQueries": [
                    {
                        "Id": "a",
                        "MetricStat": {
                            "Metric": {"Namespace": "n", "MetricName": "m"},
                            "Period": 60,
                            "Stat": "Sum",
                        },
                    }
                ],
                "StartTime": window()["EndTime"],
                "EndTime": window()["StartTime"],
            },
        ),  # fmt: skip
    ]
    for call, expected, params in cases:
        error = error_of(call, **params)
        assert isinstance(error, expected), (params, error.response["Error"])
    message = error_of(cw.get_metric_data, **cases[15][2]).response["Error"]["Message"]
    assert "metric math" in message


def test_what_botocore_sends_and_rpc_v2_cbor(server: RunningServer) -> None:
    cw = client("cloudwatch", server.endpoint)
    sent: list[Any] = []
    cw.meta.events.register("before-send", lambda request, **_: sent.append(request))
    cw.list_metrics(Namespace="nothing-here")
    # botocore 1.43 picks AWS JSON 1.0 from the model's protocols, query-compatible
    assert sent[0].headers["X-Amz-Target"] == b"GraniteServiceVersion20100801.ListMetrics"
    assert sent[0].headers["Content-Type"] == b"application/x-amz-json-1.0"
    # a big PutMetricData comes gzipped (its requestcompression trait)
    many = [{"MetricName": f"m{i}", "Value": float(i)} for i in range(1000)]
    namespace = unique_name("gz")
    cw.put_metric_data(Namespace=namespace, MetricData=many)
    assert sent[-1].headers["Content-Encoding"] == b"gzip"
    assert len(cw.list_metrics(Namespace=namespace)["Metrics"]) == 500  # a page
    # Smithy RPC v2 CBOR, the model's first protocol, signed for "monitoring"
    path = "/service/GraniteServiceVersion20100801/operation/"
    now = datetime.datetime.now(datetime.UTC)
    body = cbor2.dumps(
        {"Namespace": namespace, "MetricData": [{"MetricName": "c", "Value": 2.5}]},
        datetime_as_timestamp=True,
    )
    headers = {"Smithy-Protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    request = signed_request(server.endpoint + path + "PutMetricData", method="POST",
                             data=body, headers=headers, service="monitoring")  # fmt: skip
    with urllib.request.urlopen(request) as answer:
        assert answer.headers["Smithy-Protocol"] == "rpc-v2-cbor"
        assert cbor2.loads(answer.read()) == {}
    query = {
        "Namespace": namespace,
        "MetricName": "c",
        "StartTime": now - datetime.timedelta(minutes=2),
        "EndTime": now + datetime.timedelta(minutes=2),
        "Period": 60,
        "Statistics": ["Sum"],
    }
    request = signed_request(server.endpoint + path + "GetMetricStatistics", method="POST",
                             data=cbor2.dumps(query, datetime_as_timestamp=True),
                             headers=headers, service="monitoring")  # fmt: skip
    with urllib.request.urlopen(request) as answer:
        points = cbor2.loads(answer.read())["Datapoints"]
    assert [p["Sum"] for p in points] == [2.5]
    assert isinstance(points[0]["Timestamp"], datetime.datetime)  # (tag 1)
    bad = signed_request(server.endpoint + path + "PutMetricData", method="POST",
                         data=cbor2.dumps({"Namespace": "AWS/Lambda", "MetricData": []}),
                         headers=headers, service="monitoring")  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(bad)
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    error = cbor2.loads(caught.value.read())
    assert error["__type"].endswith("#InvalidParameterValueException")


def query_call(server: RunningServer, operation: str, params: dict[str, Any]) -> Any:
    """A call on AWS's query protocol, encoded and decoded by botocore's own query
    serializer and parser (what the AWS CLI v1 and older SDKs send)."""
    model = botocore.session.get_session().get_service_model("cloudwatch")
    op = model.operation_model(operation)
    prepared = serialize.create_serializer("query").serialize_to_request(params, op)
    body = urllib.parse.urlencode(prepared["body"]).encode()  # (as botocore sends it)
    assert b"Action=" + operation.encode() in body
    request = signed_request(server.endpoint + "/", method="POST", data=body,
                             headers=dict(prepared["headers"]), service="monitoring")  # fmt: skip
    try:
        with urllib.request.urlopen(request) as answer:
            status, headers, content = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, headers, content = error.code, dict(error.headers), error.read()
    shape: Any = op.output_shape  # (None for an output-less operation: the parser takes it)
    parsed = parsers.create_parser("query").parse(
        {"status_code": status, "headers": headers, "body": content}, shape
    )
    return status, parsed


def test_the_query_protocol(server: RunningServer) -> None:
    namespace = unique_name("query")
    datum = {"MetricName": "m", "Value": 2.0, "Dimensions": [{"Name": "a", "Value": "b"}]}
    status, _ = query_call(server, "PutMetricData", {"Namespace": namespace,
                                                    "MetricData": [datum, datum]})  # fmt: skip
    assert status == 200
    status, got = query_call(
        server,
        "GetMetricStatistics",
        {
            "Namespace": namespace,
            "MetricName": "m",
            "Dimensions": [{"Name": "a", "Value": "b"}],
            "Period": 60,
            "Statistics": ["Sum", "SampleCount"],
            **window(),
        },
    )
    assert [(p["Sum"], p["SampleCount"]) for p in got["Datapoints"]] == [(4.0, 2.0)]
    status, got = query_call(server, "ListMetrics", {"Namespace": namespace})
    assert got["Metrics"] == [
        {"Namespace": namespace, "MetricName": "m", "Dimensions": [{"Name": "a", "Value": "b"}]}
    ]
    status, got = query_call(server, "PutMetricData", {"Namespace": "AWS/x",
                                                       "MetricData": [datum]})  # fmt: skip
    assert status == 400 and got["Error"]["Code"] == "InvalidParameterValue"
    status, got = query_call(server, "DescribeAlarms", {})
    assert status == 501 and got["Error"]["Code"] == "NotImplementedException"


def test_prometheus_exposition(server: RunningServer, lam: Any) -> None:
    name = create(lam)
    invoke(lam, name, {})
    invoke(lam, name, {"fail": True})
    sqs = client("sqs", server.endpoint)
    queue = unique_name("q")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    # unsigned, as a scraper asks
    with urllib.request.urlopen(server.endpoint + "/metrics") as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}

    def sample(family: str, sample_name: str, **labels: str) -> float:
        for s in families[family].samples:
            if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
        raise AssertionError(f"no {sample_name} {labels}")

    assert families["gureum_lambda_invocations"].type == "counter"
    assert sample("gureum_lambda_invocations", "gureum_lambda_invocations_total",
                  function=name) == 2  # fmt: skip
    assert sample("gureum_lambda_errors", "gureum_lambda_errors_total", function=name) == 1
    assert families["gureum_lambda_duration_seconds"].type == "histogram"
    assert sample("gureum_lambda_duration_seconds", "gureum_lambda_duration_seconds_bucket",
                  function=name, le="+Inf") == 2  # fmt: skip
    assert sample("gureum_sandboxes", "gureum_sandboxes", state="idle") >= 1
    assert sample("gureum_queue_messages", "gureum_queue_messages", queue=queue,
                  state="visible") == 1  # fmt: skip
    assert families["gureum_store_commit_seconds"].type == "summary"
    assert "gureum_zygotes" in families
