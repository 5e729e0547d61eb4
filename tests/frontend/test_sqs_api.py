"""The built-in queues through boto3's ``sqs`` client (AWS JSON 1.0), on SQLite and
PostgreSQL: each engine gets one server for the module, and tests use their own queues."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gureum.queues.queues import md5_of_attributes
from tests.conftest import (
    RunningServer,
    client,
    server_on,
    signed_request,
    unique_name,
)

ACCOUNT = "000000000000"
ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def sqs_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with server_on(request.param, Path(tmp_path_factory.mktemp("sqs"))) as server:
        yield server


@pytest.fixture
def sqs(sqs_server: RunningServer) -> Any:
    return client("sqs", sqs_server.endpoint)


def new_queue(sqs: Any, attributes: dict[str, str] | None = None, **kwargs: Any) -> str:
    name = unique_name("q")
    return str(sqs.create_queue(QueueName=name, Attributes=attributes or {}, **kwargs)["QueueUrl"])


def error_of(call: Any, **params: Any) -> dict[str, Any]:
    """The ``Error`` of a call that must fail, with its HTTP status."""
    with pytest.raises(ClientError) as raised:
        call(**params)
    error = dict(raised.value.response["Error"])
    error["Status"] = raised.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error


def assert_error(call: Any, code: str, message: str | None = None, **params: Any) -> None:
    error = error_of(call, **params)
    assert error["Code"] == code, error
    if message is not None:
        assert error["Message"] == message, error


@dataclass
class Answer:
    status: int
    headers: Any
    body: dict[str, Any]


def post(server: RunningServer, operation: str, body: Any) -> Answer:
    """A signed raw JSON 1.0 request, for what boto3 would refuse to send."""
    data = json.dumps(body).encode()
    request = signed_request(
        server.endpoint + "/",
        data=data,
        method="POST",
        headers={
            "X-Amz-Target": f"AmazonSQS.{operation}",
            "Content-Type": "application/x-amz-json-1.0",
        },
        service="sqs",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return Answer(response.status, response.headers, json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, json.loads(error.read()))


# queues


def test_queue_lifecycle_and_listing(sqs: Any, sqs_server: RunningServer) -> None:
    prefix = unique_name("life")
    urls = [
        sqs.create_queue(QueueName=f"{prefix}-{i}", Attributes={"VisibilityTimeout": "10"})[
            "QueueUrl"
        ]
        for i in range(3)
    ]
    assert urls[0] == f"{sqs_server.endpoint}/{ACCOUNT}/{prefix}-0"
    # Creating again with the same attributes answers the same queue; others conflict.
    again = sqs.create_queue(QueueName=f"{prefix}-0", Attributes={"VisibilityTimeout": "10"})
    assert again["QueueUrl"] == urls[0]
    with pytest.raises(sqs.exceptions.QueueNameExists) as raised:
        sqs.create_queue(QueueName=f"{prefix}-0", Attributes={"VisibilityTimeout": "11"})
    assert raised.value.response["Error"]["Code"] == "QueueAlreadyExists"
    assert sqs.get_queue_url(QueueName=f"{prefix}-1")["QueueUrl"] == urls[1]

    assert sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"] == urls
    first = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert first["QueueUrls"] == urls[:2]
    second = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=first["NextToken"])
    assert second["QueueUrls"] == urls[2:] and "NextToken" not in second
    paginated = sqs.get_paginator("list_queues").paginate(
        QueueNamePrefix=prefix, PaginationConfig={"PageSize": 1}
    )
    assert [url for page in paginated for url in page["QueueUrls"]] == urls
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=unique_name("none"))
    for bad in (0, 1001):
        assert_error(
            sqs.list_queues,
            "InvalidParameterValue",
            f"Value {bad} for parameter MaxResults is invalid. Reason: MaxResults must be an "
            "integer between 1 and 1000.",
            MaxResults=bad,
        )
    assert_error(
        sqs.list_queues, "InvalidParameterValue", "Invalid NextToken value.", NextToken="junk"
    )

    sqs.delete_queue(QueueUrl=urls[1])
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as missing:
        sqs.get_queue_url(QueueName=f"{prefix}-1")
    assert missing.value.response["Error"] == {
        "Code": "AWS.SimpleQueueService.NonExistentQueue",
        "Message": "The specified queue does not exist.",
        "QueryErrorCode": "QueueDoesNotExist",
        "Type": "Sender",
    }
    for call in (sqs.delete_queue, sqs.purge_queue, sqs.list_queue_tags):
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            call(QueueUrl=urls[1])
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=f"{prefix}-0", QueueOwnerAWSAccountId="111111111111")


def test_errors_have_sqs_json_shape(sqs_server: RunningServer) -> None:
    answer = post(sqs_server, "GetQueueUrl", {"QueueName": unique_name("nope")})
    assert answer.status == 400
    assert answer.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert answer.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert answer.body == {
        "__type": "com.amazonaws.sqs#QueueDoesNotExist",
        "message": "The specified queue does not exist.",
    }
    missing = post(sqs_server, "DeleteQueue", {})
    assert missing.status == 400
    assert missing.headers["x-amzn-query-error"] == "MissingParameter;Sender"
    assert missing.body == {
        "__type": "com.amazonaws.sqs#MissingRequiredParameterException",
        "message": "The request must contain the parameter QueueUrl.",
    }
    not_json = signed_request(
        sqs_server.endpoint + "/",
        data=b"{",
        method="POST",
        headers={"X-Amz-Target": "AmazonSQS.ListQueues"},
        service="sqs",
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(not_json)
    assert raised.value.code == 400
    assert json.loads(raised.value.read())["__type"] == "com.amazonaws.sqs#SerializationException"


def test_queue_urls_that_name_no_queue(sqs: Any, sqs_server: RunningServer) -> None:
    url = new_queue(sqs)
    name = url.rsplit("/", 1)[1]
    sqs_server.call(lambda: sqs_server.platform.queues.create("gureum:internal", {}))
    for bad in (
        f"{sqs_server.endpoint}/111111111111/{name}",
        f"{sqs_server.endpoint}/{name}",
        f"{sqs_server.endpoint}/{ACCOUNT}/gureum:internal",
        "not a url",
    ):
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            sqs.get_queue_attributes(QueueUrl=bad)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="gureum:internal")
    # Another host's URL for this account's queue names it: only the path is read.
    other = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{name}"
    assert sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])["Attributes"] == {
        "QueueArn": ARN + name
    }
    assert all("gureum:" not in u for u in sqs.list_queues().get("QueueUrls", []))


def test_wrong_member_types_and_missing_members(sqs: Any, sqs_server: RunningServer) -> None:
    url = new_queue(sqs)
    cases = [
        (
            "CreateQueue",
            {},
            "MissingParameter",
            "The request must contain the parameter QueueName.",
        ),
        ("SetQueueAttributes", {"QueueUrl": url}, "MissingParameter", None),
        ("TagQueue", {"QueueUrl": url}, "MissingParameter", None),
        ("UntagQueue", {"QueueUrl": url}, "MissingParameter", None),
        ("SendMessageBatch", {"QueueUrl": url}, "MissingParameter", None),
        ("DeleteMessage", {"QueueUrl": url}, "MissingParameter", None),
        (
            "ChangeMessageVisibility",
            {"QueueUrl": url, "ReceiptHandle": "x"},
            "MissingParameter",
            "The request must contain the parameter VisibilityTimeout.",
        ),
        ("GetQueueUrl", {"QueueName": 7}, "InvalidParameterValue", None),
        (
            "ReceiveMessage",
            {"QueueUrl": url, "MaxNumberOfMessages": "2"},
            "InvalidParameterValue",
            None,
        ),
        (
            "GetQueueAttributes",
            {"QueueUrl": url, "AttributeNames": "All"},
            "InvalidParameterValue",
            None,
        ),
        (
            "CreateQueue",
            {"QueueName": "x", "Attributes": {"DelaySeconds": 1}},
            "InvalidParameterValue",
            None,
        ),
        ("SendMessage", {"QueueUrl": url, "MessageBody": 5}, "InvalidParameterValue", None),
        (
            "SendMessage",
            {"QueueUrl": url, "MessageBody": "x", "MessageAttributes": ["x"]},
            "InvalidParameterValue",
            None,
        ),
        ("SendMessageBatch", {"QueueUrl": url, "Entries": {}}, "InvalidParameterValue", None),
        (
            "SendMessage",
            {
                "QueueUrl": url,
                "MessageBody": "x",
                "MessageAttributes": {"b": {"DataType": "Binary", "BinaryValue": "!!"}},
            },
            "InvalidParameterValue",
            None,
        ),
    ]
    for operation, body, code, message in cases:
        answer = post(sqs_server, operation, body)
        assert answer.status == 400, (operation, answer.body)
        assert answer.headers["x-amzn-query-error"] == f"{code};Sender", (operation, answer.body)
        if message:
            assert answer.body["message"] == message


def test_internal_errors_answer_500(
    sqs_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(params: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("a bug")

    operations = sqs_server.platform.json_rpc.services["AmazonSQS"].operations
    monkeypatch.setitem(operations, "ListQueues", broken)
    answer = post(sqs_server, "ListQueues", {})
    assert answer.status == 500
    assert answer.headers["x-amzn-query-error"] == "InternalFailure;Receiver"
    assert answer.body == {
        "__type": "com.amazonaws.sqs#InternalFailure",
        "message": "An internal error occurred in gureum.",
    }


def test_unsupported_operations_say_so(sqs: Any) -> None:
    url = new_queue(sqs)
    calls: list[tuple[Any, dict[str, Any]]] = [
        (
            sqs.add_permission,
            {"QueueUrl": url, "Label": "l", "AWSAccountIds": ["1"], "Actions": ["*"]},
        ),
        (sqs.remove_permission, {"QueueUrl": url, "Label": "l"}),
        (sqs.start_message_move_task, {"SourceArn": ARN + "x"}),
        (sqs.cancel_message_move_task, {"TaskHandle": "t"}),
        (sqs.list_message_move_tasks, {"SourceArn": ARN + "x"}),
    ]
    for call, params in calls:
        with pytest.raises(ClientError) as raised:
            call(**params)
        error = raised.value.response["Error"]
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert error["Code"] == "NotImplementedException"
        assert error["Message"].startswith("gureum does not implement SQS's ")


def test_fifo_queues_are_refused(sqs: Any) -> None:
    for params in (
        {"QueueName": unique_name("f") + ".fifo"},
        {"QueueName": unique_name("f"), "Attributes": {"FifoQueue": "true"}},
    ):
        with pytest.raises(sqs.exceptions.UnsupportedOperation) as raised:
            sqs.create_queue(**params)
        assert (
            "gureum does not support FIFO queues yet" in raised.value.response["Error"]["Message"]
        )
    # FifoQueue=false is a standard queue; FIFO-only attributes are unknown to one.
    url = new_queue(sqs, {"FifoQueue": "false"})
    assert (
        "FifoQueue"
        not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    )
    assert_error(
        sqs.create_queue,
        "InvalidAttributeName",
        "Unknown Attribute ContentBasedDeduplication.",
        QueueName=unique_name("f"),
        Attributes={"ContentBasedDeduplication": "true"},
    )
    assert_error(
        sqs.set_queue_attributes,
        "InvalidAttributeName",
        "Unknown Attribute FifoQueue.",
        QueueUrl=url,
        Attributes={"FifoQueue": "true"},
    )


def test_queue_names(sqs: Any) -> None:
    message = "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    for bad in ("", "a" * 81, "has space", "colon:name", "dot.name"):
        assert_error(sqs.create_queue, "InvalidParameterValue", message, QueueName=bad)
    name = "A-z_0" + "9" * 75
    assert sqs.create_queue(QueueName=name)["QueueUrl"].endswith("/" + name)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])


def test_queue_attributes(sqs: Any) -> None:
    before = int(time.time())
    url = new_queue(
        sqs,
        {
            "DelaySeconds": "0",
            "MaximumMessageSize": "2048",
            "MessageRetentionPeriod": "600",
            "ReceiveMessageWaitTimeSeconds": "1",
            "VisibilityTimeout": "45",
        },
    )
    name = url.rsplit("/", 1)[1]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="two")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    created = int(attributes.pop("CreatedTimestamp"))
    modified = int(attributes.pop("LastModifiedTimestamp"))
    assert before <= created <= modified <= time.time() + 1
    assert attributes == {
        "QueueArn": ARN + name,
        "ApproximateNumberOfMessages": "1",
        "ApproximateNumberOfMessagesNotVisible": "1",
        "ApproximateNumberOfMessagesDelayed": "1",
        "DelaySeconds": "0",
        "MaximumMessageSize": "2048",
        "MessageRetentionPeriod": "600",
        "ReceiveMessageWaitTimeSeconds": "1",
        "VisibilityTimeout": "45",
        "SqsManagedSseEnabled": "false",
    }
    named = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout", "QueueArn", "RedrivePolicy"]
    )
    assert named["Attributes"] == {"VisibilityTimeout": "45", "QueueArn": ARN + name}
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    assert_error(
        sqs.get_queue_attributes,
        "InvalidAttributeName",
        "Unknown Attribute Nonsense.",
        QueueUrl=url,
        AttributeNames=["QueueArn", "Nonsense"],
    )

    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"VisibilityTimeout": "5", "Policy": policy, "DelaySeconds": "3"}
    )
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (got["VisibilityTimeout"], got["Policy"], got["DelaySeconds"]) == ("5", policy, "3")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert (
        "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    )
    # An empty Policy or RedrivePolicy at creation is no policy.
    empty = new_queue(sqs, {"Policy": "", "RedrivePolicy": ""})
    got = sqs.get_queue_attributes(QueueUrl=empty, AttributeNames=["Policy", "RedrivePolicy"])
    assert "Attributes" not in got


def test_queue_attribute_validation(sqs: Any) -> None:
    url = new_queue(sqs)
    bad_values = {
        "DelaySeconds": ["-1", "901", "x", ""],
        "MaximumMessageSize": ["1023", "1048577"],
        "MessageRetentionPeriod": ["59", "1209601"],
        "ReceiveMessageWaitTimeSeconds": ["21"],
        "VisibilityTimeout": ["43201", "1.5"],
        "SqsManagedSseEnabled": ["maybe"],
        "Policy": ["{not json", "[1]"],
    }
    for key, values in bad_values.items():
        for value in values:
            message = f"Invalid value for the parameter {key}."
            for call, params in (
                (sqs.create_queue, {"QueueName": unique_name("a")}),
                (sqs.set_queue_attributes, {"QueueUrl": url}),
            ):
                assert_error(
                    call, "InvalidAttributeValue", message, Attributes={key: value}, **params
                )
    # The highest values are allowed.
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"MaximumMessageSize": "1048576", "VisibilityTimeout": "43200"},
    )
    for key in ("QueueArn", "ApproximateNumberOfMessages", "CreatedTimestamp", "Bogus"):
        assert_error(
            sqs.set_queue_attributes,
            "InvalidAttributeName",
            f"Unknown Attribute {key}.",
            QueueUrl=url,
            Attributes={key: "1"},
        )
    error = error_of(
        sqs.create_queue, QueueName=unique_name("k"), Attributes={"KmsMasterKeyId": "alias/x"}
    )
    assert (
        error["Code"] == "InvalidAttributeValue" and "gureum does not support" in error["Message"]
    )
    error = error_of(
        sqs.set_queue_attributes, QueueUrl=url, Attributes={"SqsManagedSseEnabled": "true"}
    )
    assert error["Code"] == "InvalidAttributeValue" and "does not encrypt" in error["Message"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"SqsManagedSseEnabled": "false"})


def test_tags(sqs: Any) -> None:
    url = new_queue(sqs, tags={"team": "core", "env": "dev"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "dev"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "prod", "empty": ""})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team", "absent"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "prod", "empty": ""}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env", "empty"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)
    too_many = {f"k{i}": "v" for i in range(51)}
    cases: tuple[tuple[Any, dict[str, Any]], ...] = (
        (sqs.tag_queue, {"QueueUrl": url, "Tags": too_many}),
        (sqs.create_queue, {"QueueName": unique_name("t"), "tags": too_many}),
        (sqs.tag_queue, {"QueueUrl": url, "Tags": {"k" * 129: "v"}}),
        (sqs.tag_queue, {"QueueUrl": url, "Tags": {"k": "v" * 257}}),
    )
    for call, params in cases:
        assert_error(call, "InvalidParameterValue", **params)
    # The limit counts the tags the queue already has.
    sqs.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(50)})
    assert_error(sqs.tag_queue, "InvalidParameterValue", QueueUrl=url, Tags={"one-more": "v"})


# messages


def test_send_receive_delete_with_attributes(sqs: Any) -> None:
    url = new_queue(sqs)
    attributes: dict[str, dict[str, Any]] = {
        "City": {"DataType": "String", "StringValue": "Any City"},
        "Population": {"DataType": "Number", "StringValue": "1250800"},
        "trace.id": {"DataType": "String.custom", "StringValue": "t-1"},
        "trace.flag": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    started_ms = int(time.time() * 1000)
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo 🌍", MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5("héllo 🌍".encode()).hexdigest()
    wire = {
        k: {**v, "BinaryValue": base64.b64encode(v["BinaryValue"]).decode()}
        if "BinaryValue" in v
        else v
        for k, v in attributes.items()
    }
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(wire)
    plain = sqs.send_message(QueueUrl=url, MessageBody="plain")
    assert "MD5OfMessageAttributes" not in plain

    got = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
        VisibilityTimeout=0,
    )["Messages"]
    first = next(m for m in got if m["MessageId"] == sent["MessageId"])
    assert first["Body"] == "héllo 🌍" and first["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert first["MessageAttributes"] == attributes
    assert first["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    system = first["Attributes"]
    assert set(system) == {
        "SenderId",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateFirstReceiveTimestamp",
    }
    assert system["ApproximateReceiveCount"] == "1" and system["SenderId"] == ACCOUNT
    assert started_ms - 1000 <= int(system["SentTimestamp"]) <= time.time() * 1000 + 1000
    assert int(system["SentTimestamp"]) <= int(system["ApproximateFirstReceiveTimestamp"])
    second = next(m for m in got if m["MessageId"] == plain["MessageId"])
    assert "MessageAttributes" not in second and "MD5OfMessageAttributes" not in second

    def receive(**params: Any) -> dict[str, Any]:
        (message,) = [
            m
            for m in sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, **params
            )["Messages"]
            if m["MessageId"] == sent["MessageId"]
        ]
        return dict(message)

    filters = {
        ".*": set(attributes),
        "trace.*": {"trace.id", "trace.flag"},
        "City": {"City"},
        "Missing": set(),
    }
    for name, expected in filters.items():
        message = receive(MessageAttributeNames=[name])
        assert set(message.get("MessageAttributes", {})) == expected
        if expected:
            kept = {k: wire[k] for k in expected}
            assert message["MD5OfMessageAttributes"] == md5_of_attributes(kept)
    legacy = receive(AttributeNames=["ApproximateReceiveCount", "SentTimestamp", "QueueArn"])
    assert set(legacy["Attributes"]) == {"ApproximateReceiveCount", "SentTimestamp"}
    assert "Attributes" not in receive()

    last = receive()
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # stale: no-op
    assert last["ReceiptHandle"] != first["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=last["ReceiptHandle"])
    remaining = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["MessageId"] for m in remaining] == [plain["MessageId"]]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as raised:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert raised.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"


def test_empty_receive_leaves_out_messages(sqs: Any) -> None:
    url = new_queue(sqs)
    answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert "Messages" not in answer


def test_send_validation(sqs: Any) -> None:
    url = new_queue(sqs)
    assert_error(
        sqs.send_message,
        "MissingParameter",
        "The request must contain the parameter MessageBody.",
        QueueUrl=url,
        MessageBody="",
    )
    for bad in ("nul \x00", "bell \x07", "not a character \ufffe"):
        assert_error(
            sqs.send_message,
            "InvalidMessageContents",
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
            "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
            QueueUrl=url,
            MessageBody=bad,
        )
    sqs.send_message(QueueUrl=url, MessageBody="tab\tnewline\nreturn\r\U0010ffff")
    too_long = (
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    )
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_576)
    assert_error(
        sqs.send_message,
        "InvalidParameterValue",
        too_long,
        QueueUrl=url,
        MessageBody="x" * 1_048_577,
    )
    # Attributes count: name, type and value.
    attribute = {"ab": {"DataType": "String", "StringValue": "cd"}}
    sqs.send_message(QueueUrl=url, MessageBody="x" * (1_048_576 - 10), MessageAttributes=attribute)
    assert_error(
        sqs.send_message,
        "InvalidParameterValue",
        too_long,
        QueueUrl=url,
        MessageBody="x" * (1_048_576 - 9),
        MessageAttributes=attribute,
    )
    small = new_queue(sqs, {"MaximumMessageSize": "1024"})
    assert_error(
        sqs.send_message,
        "InvalidParameterValue",
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.",
        QueueUrl=small,
        MessageBody="é" * 513,
    )
    assert_error(
        sqs.send_message,
        "InvalidParameterValue",
        "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and "
        "<= 900.",
        QueueUrl=url,
        MessageBody="x",
        DelaySeconds=901,
    )
    assert_error(
        sqs.send_message,
        "InvalidParameterValue",
        QueueUrl=url,
        MessageBody="x",
        MessageDeduplicationId="d",
    )
    assert_error(
        sqs.send_message,
        "InvalidParameterValue",
        QueueUrl=url,
        MessageBody="x",
        MessageSystemAttributes={"Other": {"DataType": "String", "StringValue": "v"}},
    )
    sqs.send_message(
        QueueUrl=url,
        MessageBody="x",
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"}},
    )


def test_message_attribute_validation(sqs: Any) -> None:
    url = new_queue(sqs)
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        (
            {"Empty": {"DataType": "String", "StringValue": ""}},
            "InvalidParameterValue",
            "Message (user) attribute 'Empty' must contain a non-empty value of type 'String'.",
        ),
        (
            {"Bin": {"DataType": "Binary", "StringValue": "x"}},
            "InvalidParameterValue",
            "Message (user) attribute 'Bin' must contain a non-empty value of type 'Binary'.",
        ),
        (
            {"T": {"DataType": "Text", "StringValue": "x"}},
            "InvalidParameterValue",
            "The type of message (user) attribute 'T' is invalid. You must use only the "
            "following supported type prefixes: Binary, Number, String.",
        ),
        (
            {"N": {"DataType": "Number", "StringValue": "twelve"}},
            "InvalidParameterValue",
            "Can't cast the value of message (user) attribute 'N' to a number.",
        ),
        (
            {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)},
            "InvalidParameterValue",
            "Number of message attributes [11] exceeds the allowed maximum [10].",
        ),
        ({"S": {"DataType": "String", "StringValue": "\x01"}}, "InvalidMessageContents", None),
    ]
    for name in ("AWS.x", "amazon.y", ".lead", "trail.", "two..dots", "sp ace", "n" * 257):
        cases.append(
            ({name: {"DataType": "String", "StringValue": "v"}}, "InvalidParameterValue", None)
        )
    for attributes, code, message in cases:
        assert_error(
            sqs.send_message,
            code,
            message,
            QueueUrl=url,
            MessageBody="x",
            MessageAttributes=attributes,
        )
    sqs.send_message(
        QueueUrl=url,
        MessageBody="x",
        MessageAttributes={
            "n1": {"DataType": "Number.float", "StringValue": "-1.5e3"},
            "A_b-c.d": {"DataType": "String", "StringValue": "ok"},
        },
    )


def test_receive_validation(sqs: Any) -> None:
    url = new_queue(sqs)
    for value in (0, 11):
        assert_error(
            sqs.receive_message,
            "InvalidParameterValue",
            f"Value {value} for parameter MaxNumberOfMessages is invalid. Reason: Must be "
            "between 1 and 10, if provided.",
            QueueUrl=url,
            MaxNumberOfMessages=value,
        )
    assert_error(
        sqs.receive_message,
        "InvalidParameterValue",
        "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, "
        "if provided.",
        QueueUrl=url,
        WaitTimeSeconds=21,
    )
    for value in (-1, 43201):
        assert_error(
            sqs.receive_message,
            "InvalidParameterValue",
            f"Value {value} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 "
            "and <= 43200, if provided.",
            QueueUrl=url,
            VisibilityTimeout=value,
        )
    for key in ("AttributeNames", "MessageSystemAttributeNames"):
        assert_error(
            sqs.receive_message,
            "InvalidAttributeName",
            "Unknown Attribute Bogus.",
            QueueUrl=url,
            **{key: ["SenderId", "Bogus"]},
        )


def test_change_visibility(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    (message,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    (again,) = sqs.receive_message(
        QueueUrl=url, VisibilityTimeout=60, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    for value in (-1, 43201):
        assert_error(
            sqs.change_message_visibility,
            "InvalidParameterValue",
            f"Value {value} for parameter VisibilityTimeout is invalid. Reason: Total "
            "VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            QueueUrl=url,
            ReceiptHandle=again["ReceiptHandle"],
            VisibilityTimeout=value,
        )
    with pytest.raises(sqs.exceptions.MessageNotInflight) as raised:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=5
        )
    assert raised.value.response["Error"]["Code"] == "AWS.SimpleQueueService.MessageNotInflight"
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="bad", VisibilityTimeout=5)


def test_batches(sqs: Any) -> None:
    url = new_queue(sqs)
    answer = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "one"},
            {"Id": "b-2", "MessageBody": "", "DelaySeconds": 0},
            {
                "Id": "c_3",
                "MessageBody": "three",
                "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
            },
            {"Id": "d", "MessageBody": "bad \x00"},
        ],
    )
    assert [s["Id"] for s in answer["Successful"]] == ["a", "c_3"]
    assert answer["Successful"][0]["MD5OfMessageBody"] == hashlib.md5(b"one").hexdigest()
    assert "MD5OfMessageAttributes" in answer["Successful"][1]
    assert answer["Failed"] == [
        {
            "Id": "b-2",
            "SenderFault": True,
            "Code": "MissingParameter",
            "Message": "The request must contain the parameter MessageBody.",
        },
        {
            "Id": "d",
            "SenderFault": True,
            "Code": "InvalidMessageContents",
            "Message": "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD "
            "| #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        },
    ]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)[
        "Messages"
    ]
    assert sorted(m["Body"] for m in received) == ["one", "three"]
    handles = [m["ReceiptHandle"] for m in received]

    changed = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "x", "ReceiptHandle": handles[0], "VisibilityTimeout": 0},
            {"Id": "y", "ReceiptHandle": "bad", "VisibilityTimeout": 0},
            {"Id": "z", "ReceiptHandle": handles[1]},
        ],
    )
    assert changed["Successful"] == [{"Id": "x"}]
    assert [(f["Id"], f["Code"]) for f in changed["Failed"]] == [
        ("y", "ReceiptHandleIsInvalid"),
        ("z", "MissingParameter"),
    ]
    (shown,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    stale = sqs.change_message_visibility_batch(
        QueueUrl=url, Entries=[{"Id": "s", "ReceiptHandle": handles[0], "VisibilityTimeout": 5}]
    )
    assert stale["Successful"] == []
    assert stale["Failed"][0]["Code"] == "AWS.SimpleQueueService.MessageNotInflight"

    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "1", "ReceiptHandle": shown["ReceiptHandle"]},
            {"Id": "2", "ReceiptHandle": handles[1]},
            {"Id": "3", "ReceiptHandle": "not-a-handle"},
        ],
    )
    assert deleted["Successful"] == [{"Id": "1"}, {"Id": "2"}] and "Failed" in deleted
    assert deleted["Failed"][0]["Id"] == "3"
    assert deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    counts = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert counts == {
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }


def test_batch_rules(sqs: Any) -> None:
    url = new_queue(sqs)
    calls: tuple[tuple[Any, Callable[[str], dict[str, Any]], str], ...] = (
        (sqs.send_message_batch, lambda i: {"Id": i, "MessageBody": "m"}, "SendMessageBatch"),
        (sqs.delete_message_batch, lambda i: {"Id": i, "ReceiptHandle": "h"}, "DeleteMessageBatch"),
        (
            sqs.change_message_visibility_batch,
            lambda i: {"Id": i, "ReceiptHandle": "h", "VisibilityTimeout": 1},
            "ChangeMessageVisibilityBatch",
        ),
    )
    for call, entry, name in calls:
        with pytest.raises(sqs.exceptions.EmptyBatchRequest) as empty:
            call(QueueUrl=url, Entries=[])
        assert empty.value.response["Error"] == {
            "Code": "AWS.SimpleQueueService.EmptyBatchRequest",
            "Message": f"There should be at least one {name}RequestEntry in the request.",
            "QueryErrorCode": "EmptyBatchRequest",
            "Type": "Sender",
        }
        with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as many:
            call(QueueUrl=url, Entries=[entry(str(i)) for i in range(11)])
        assert many.value.response["Error"]["Message"] == (
            "Maximum number of entries per request are 10. You have sent 11."
        )
        with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct) as twice:
            call(QueueUrl=url, Entries=[entry("a"), entry("b"), entry("a")])
        assert twice.value.response["Error"]["Code"] == (
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
        )
        for bad in ("", "has space", "colon:id", "i" * 81):
            with pytest.raises(sqs.exceptions.InvalidBatchEntryId) as invalid:
                call(QueueUrl=url, Entries=[entry(bad)])
            assert invalid.value.response["Error"]["Message"] == (
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
    with pytest.raises(sqs.exceptions.BatchRequestTooLong) as too_long:
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "a", "MessageBody": "x" * 600_000},
                {"Id": "b", "MessageBody": "x" * 448_577},
            ],
        )
    assert too_long.value.response["Error"]["Message"] == (
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes."
    )
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "x" * 600_000},
            {"Id": "b", "MessageBody": "x" * 448_576},
        ],
    )


def test_long_poll_returns_when_another_thread_sends(sqs: Any, sqs_server: RunningServer) -> None:
    url = new_queue(sqs)
    sender = client("sqs", sqs_server.endpoint)

    def send_later() -> None:
        time.sleep(0.5)
        sender.send_message(QueueUrl=url, MessageBody="wake up")

    thread = threading.Thread(target=send_later)
    started = time.monotonic()
    thread.start()
    answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)
    waited = time.monotonic() - started
    thread.join()
    assert [m["Body"] for m in answer["Messages"]] == ["wake up"]
    assert 0.4 < waited < 2.0
    # The queue's ReceiveMessageWaitTimeSeconds is the default wait; 0 overrides it.
    slow = new_queue(sqs, {"ReceiveMessageWaitTimeSeconds": "1"})
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=slow)
    assert 0.9 < time.monotonic() - started < 3
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=slow, WaitTimeSeconds=0)
    assert time.monotonic() - started < 0.9


def test_redrive_moves_poison_messages(sqs: Any) -> None:
    dead = new_queue(sqs)
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"deadLetterTargetArn": dead_arn, "maxReceiveCount": "2"}
    source = new_queue(sqs, {"RedrivePolicy": json.dumps(policy)})
    stored = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])
    assert json.loads(stored["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_arn,
        "maxReceiveCount": 2,
    }
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison")
    for _ in range(2):
        (message,) = sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)["Messages"]
        assert message["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=source)
    (moved,) = sqs.receive_message(
        QueueUrl=dead, WaitTimeSeconds=1, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert moved["MessageId"] == sent["MessageId"] and moved["Body"] == "poison"
    assert moved["Attributes"]["ApproximateReceiveCount"] == "1"
    assert sqs.list_dead_letter_source_queues(QueueUrl=dead)["queueUrls"] == [source]
    assert sqs.list_dead_letter_source_queues(QueueUrl=source)["queueUrls"] == []
    page = sqs.list_dead_letter_source_queues(QueueUrl=dead, MaxResults=1)
    assert page["queueUrls"] == [source] and "NextToken" not in page
    # An empty RedrivePolicy removes it.
    sqs.set_queue_attributes(QueueUrl=source, Attributes={"RedrivePolicy": ""})
    assert "Attributes" not in sqs.get_queue_attributes(
        QueueUrl=source, AttributeNames=["RedrivePolicy"]
    )
    assert sqs.list_dead_letter_source_queues(QueueUrl=dead)["queueUrls"] == []


def test_redrive_policy_validation(sqs: Any) -> None:
    dead = new_queue(sqs)
    dead_arn = ARN + dead.rsplit("/", 1)[1]
    url = new_queue(sqs)

    def refused(raw: str, code: str, reason: str | None) -> None:
        error = error_of(sqs.set_queue_attributes, QueueUrl=url, Attributes={"RedrivePolicy": raw})
        assert error["Code"] == code, error
        if reason is not None:
            assert error["Message"] == (
                f"Value {raw} for parameter RedrivePolicy is invalid. Reason: {reason}"
            )

    refused("{nope", "InvalidAttributeValue", None)
    refused(
        json.dumps({"maxReceiveCount": 3}),
        "InvalidParameterValue",
        "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
    )
    refused(
        json.dumps({"deadLetterTargetArn": dead_arn}),
        "InvalidParameterValue",
        "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
    )
    for count in (0, 1001, "x"):
        raw = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": count})
        refused(
            raw,
            "InvalidParameterValue",
            f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both "
            "inclusive.",
        )
    for arn in ("dummy", "arn:aws:sqs:us-east-1:111111111111:" + dead.rsplit("/", 1)[1]):
        raw = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})
        refused(raw, "InvalidParameterValue", "Invalid value for deadLetterTargetArn.")
    raw = json.dumps({"deadLetterTargetArn": ARN + unique_name("gone"), "maxReceiveCount": 3})
    refused(raw, "InvalidParameterValue", "Dead letter target does not exist.")
    assert_error(
        sqs.create_queue,
        "InvalidParameterValue",
        QueueName=unique_name("r"),
        Attributes={"RedrivePolicy": raw},
    )

    # A dead-letter queue's RedriveAllowPolicy says who may use it.
    good = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 1000})
    sqs.set_queue_attributes(
        QueueUrl=dead,
        Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})},
    )
    refused(good, "InvalidParameterValue", None)
    by_queue = {"redrivePermission": "byQueue", "sourceQueueArns": [ARN + url.rsplit("/", 1)[1]]}
    sqs.set_queue_attributes(QueueUrl=dead, Attributes={"RedriveAllowPolicy": json.dumps(by_queue)})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": good})
    other = new_queue(sqs)
    assert_error(
        sqs.set_queue_attributes,
        "InvalidParameterValue",
        QueueUrl=other,
        Attributes={"RedrivePolicy": good},
    )
    for bad in (
        "[]",
        json.dumps({"redrivePermission": "sometimes"}),
        json.dumps({"redrivePermission": "byQueue"}),
        json.dumps({"redrivePermission": "allowAll", "sourceQueueArns": [dead_arn]}),
    ):
        assert_error(
            sqs.set_queue_attributes,
            "InvalidAttributeValue",
            QueueUrl=dead,
            Attributes={"RedriveAllowPolicy": bad},
        )


def test_purge(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)]
    )
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as raised:
        sqs.purge_queue(QueueUrl=url)
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert error["Error"]["Message"].startswith("Only one PurgeQueue operation on ")
