"""SQS's request rules as pure functions: its limits, its member checks, and the
errors and messages it answers for them (the API's operations are in ``sqs_api``)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from gureum import untrusted_json
from gureum.errors import (
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidBatchEntryId,
    InvalidMessageContents,
    InvalidParameterValue,
    MissingParameter,
    SqsError,
    TooManyEntriesInBatchRequest,
)
from gureum.queues.queues import Outgoing, Queue

QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
ATTRIBUTE_TYPE = re.compile(r"(String|Number|Binary)(\..+)?")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
#: What SQS refuses in a body (and a string attribute): anything outside XML's characters.
FORBIDDEN_CHARACTERS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
FORBIDDEN_MESSAGE = (
    "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
    "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
)
MAX_MESSAGE_BYTES = 1_048_576
MAX_BATCH_ENTRIES = 10
MAX_MESSAGE_ATTRIBUTES = 10
MAX_VISIBILITY_TIMEOUT = 43_200
MAX_TAGS = 50
#: Settable integer attributes: (lowest, highest).
INTEGER_ATTRIBUTES = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, MAX_VISIBILITY_TIMEOUT),
}
COUNT_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
READ_ONLY_ATTRIBUTES = {*COUNT_ATTRIBUTES, "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"}
FIFO_ATTRIBUTES = {
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
}
KMS_ATTRIBUTES = {"KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds"}
#: Every name GetQueueAttributes knows (SQS's QueueAttributeName).
QUEUE_ATTRIBUTE_NAMES = {
    *INTEGER_ATTRIBUTES,
    *READ_ONLY_ATTRIBUTES,
    *FIFO_ATTRIBUTES,
    *KMS_ATTRIBUTES,
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
}
#: The message system attributes gureum keeps; ReceiveMessage accepts SQS's other
#: names (and, as SQS does, queue attribute names) and leaves them out.
SYSTEM_ATTRIBUTES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
)
OTHER_SYSTEM_ATTRIBUTES = {
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
}
FIFO_UNSUPPORTED = (
    "gureum does not support FIFO queues yet: create a standard queue "
    "(a name without .fifo, no FifoQueue attribute)"
)


def invalid_value(key: str, value: Any, reason: str) -> SqsError:
    return InvalidParameterValue(f"Value {value} for parameter {key} is invalid. Reason: {reason}")


def missing(key: str) -> SqsError:
    """SQS's answer for an absent required member."""
    return MissingParameter(f"The request must contain the parameter {key}.")


# members (botocore checks them too; raw requests meet these)


def string(params: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A string member (None if absent and not ``required``)."""
    value = params.get(key)
    if value is None:
        if required:
            raise missing(key)
        return None
    if not isinstance(value, str):
        raise invalid_value(key, value, "Must be a string.")
    return value


def required(params: dict[str, Any], key: str) -> str:
    value = string(params, key, required=True)
    assert value is not None
    return value


def integer(params: dict[str, Any], key: str, low: int, high: int, reason: str) -> int | None:
    """An integer member in ``low..high`` (None if absent); ``reason`` says the range."""
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise invalid_value(key, value, reason)
    return value


def strings(params: dict[str, Any], key: str) -> list[str]:
    """A list-of-strings member (empty if absent)."""
    value = params.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_value(key, value, "Must be a list of strings.")
    return value


def string_map(params: dict[str, Any], key: str) -> dict[str, str]:
    """A map-of-strings member (empty if absent)."""
    value = params.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid_value(key, value, "Must be a map of strings.")
    return value


def max_results(params: dict[str, Any]) -> int | None:
    """ListQueues' and ListDeadLetterSourceQueues' ``MaxResults`` (1-1,000)."""
    return integer(
        params, "MaxResults", 1, 1000, "MaxResults must be an integer between 1 and 1000."
    )


# queue attributes


def json_object(raw: str) -> dict[str, Any] | None:
    """``raw`` as a JSON object, or None if it is not one."""
    try:
        value = untrusted_json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def redrive_allow_policy(raw: str) -> str:
    """RedriveAllowPolicy checked: allowAll, denyAll, or byQueue with 1 to 10 source ARNs."""
    policy = json_object(raw)
    invalid = InvalidAttributeValue(
        "Invalid value for the parameter RedriveAllowPolicy. Reason: Amazon SQS can't "
        "create the redrive allow policy, as it's in an unsupported format."
    )
    if policy is None:
        raise invalid
    permission = policy.get("redrivePermission")
    arns = policy.get("sourceQueueArns")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise invalid
    if permission == "byQueue":
        if not isinstance(arns, list) or not 1 <= len(arns) <= 10:
            raise invalid
    elif arns is not None:
        raise invalid
    return json.dumps(policy)


def tags(given: dict[str, str]) -> dict[str, str]:
    """Tags checked: at most 50, keys 1-128 characters, values up to 256."""
    if len(given) > MAX_TAGS:
        raise InvalidParameterValue(
            f"Too many tags: a queue can have at most {MAX_TAGS}, and {len(given)} were given."
        )
    for key, value in given.items():
        if not 1 <= len(key) <= 128:
            raise invalid_value("Tags", key, "A tag key must be 1 to 128 characters long.")
        if len(value) > 256:
            raise invalid_value("Tags", value, "A tag value can be at most 256 characters long.")
    return given


# messages and batches


def message_attributes(raw: Any) -> tuple[dict[str, dict[str, str]] | None, int]:
    """SendMessage's ``MessageAttributes`` checked, in stored form, and their size (name,
    type and value of each count toward the message's size, as on SQS)."""
    if not raw:
        return None, 0
    if not isinstance(raw, dict):
        raise invalid_value("MessageAttributes", raw, "Must be a map.")
    if len(raw) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(raw)}] exceeds the allowed maximum "
            f"[{MAX_MESSAGE_ATTRIBUTES}]."
        )
    stored: dict[str, dict[str, str]] = {}
    size = 0
    for name, value in raw.items():
        if (
            not ATTRIBUTE_NAME.fullmatch(name)
            or name.startswith(".")
            or name.endswith(".")
            or ".." in name
            or name.lower().startswith(("aws.", "amazon."))
        ):
            raise InvalidParameterValue(
                f"Message (user) attribute name '{name}' is invalid. A name can contain "
                "alphanumeric characters, '_', '-' and '.' (not at its start or end, nor "
                "twice in a row), must not start with 'AWS.' or 'Amazon.', and can be up to "
                "256 characters long."
            )
        value = value if isinstance(value, dict) else {}
        data_type = value.get("DataType")
        if (
            not isinstance(data_type, str)
            or len(data_type) > 256
            or not ATTRIBUTE_TYPE.fullmatch(data_type)
        ):
            raise InvalidParameterValue(
                f"The type of message (user) attribute '{name}' is invalid. You must use only "
                "the following supported type prefixes: Binary, Number, String."
            )
        kind = data_type.split(".", 1)[0]
        member = "BinaryValue" if kind == "Binary" else "StringValue"
        content = value.get(member)
        if not isinstance(content, str) or not content:
            raise InvalidParameterValue(
                f"Message (user) attribute '{name}' must contain a non-empty value of type "
                f"'{kind}'."
            )
        if kind == "Binary":
            try:
                length = len(base64.b64decode(content, validate=True))
            except binascii.Error:
                raise invalid_value(
                    f"MessageAttributes.{name}.BinaryValue", content, "Must be base64."
                ) from None
        else:
            if FORBIDDEN_CHARACTERS.search(content):
                raise InvalidMessageContents(
                    f"Message (user) attribute '{name}' has invalid characters. "
                    + FORBIDDEN_MESSAGE
                )
            if kind == "Number" and not NUMBER.fullmatch(content):
                raise InvalidParameterValue(
                    f"Can't cast the value of message (user) attribute '{name}' to a number."
                )
            length = len(content.encode())
        stored[name] = {"DataType": data_type, member: content}
        size += len(name.encode()) + len(data_type.encode()) + length
    return stored, size


def outgoing(queue: Queue, entry: dict[str, Any]) -> Outgoing:
    """One message of SendMessage or SendMessageBatch, checked."""
    body = entry.get("MessageBody")
    if body is None or body == "":
        raise missing("MessageBody")
    if not isinstance(body, str):
        raise invalid_value("MessageBody", body, "Must be a string.")
    if FORBIDDEN_CHARACTERS.search(body):
        raise InvalidMessageContents(FORBIDDEN_MESSAGE)
    delay = integer(entry, "DelaySeconds", 0, 900, "DelaySeconds must be >= 0 and <= 900.")
    attributes, attributes_size = message_attributes(entry.get("MessageAttributes"))
    limit = queue.int_attribute("MaximumMessageSize")
    if len(body.encode()) + attributes_size > limit:
        raise InvalidParameterValue(
            f"One or more parameters are invalid. Reason: Message must be shorter than "
            f"{limit} bytes."
        )
    deduplication = entry.get("MessageDeduplicationId")
    if deduplication is not None:
        raise invalid_value(
            "MessageDeduplicationId",
            deduplication,
            "The request includes a parameter that is not valid for this queue type.",
        )
    system = entry.get("MessageSystemAttributes") or {}
    if not isinstance(system, dict) or any(key != "AWSTraceHeader" for key in system):
        raise InvalidParameterValue("Message system attribute names can only be AWSTraceHeader.")
    return Outgoing(body, attributes, delay)


def entries(params: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """A batch's entries with SQS's batch rules checked: 1 to 10, ids valid and distinct."""
    entries = params.get("Entries")
    if entries is None:
        raise missing("Entries")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise invalid_value("Entries", entries, "Must be a list of entries.")
    if not entries:
        raise EmptyBatchRequest(f"There should be at least one {kind} in the request.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. "
            f"You have sent {len(entries)}."
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = entry.get("Id")
        if not isinstance(entry_id, str) or not BATCH_ENTRY_ID.fullmatch(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return entries


def entry_size(entry: dict[str, Any]) -> int:
    """What a SendMessageBatch entry counts toward the batch's 1 MiB (body and attributes)."""
    body = entry.get("MessageBody")
    size = len(body.encode(errors="replace")) if isinstance(body, str) else 0
    for name, value in (entry.get("MessageAttributes") or {}).items():
        size += len(str(name).encode(errors="replace"))
        if isinstance(value, dict):
            for member in ("DataType", "StringValue"):
                if isinstance(value.get(member), str):
                    size += len(value[member].encode(errors="replace"))
            if isinstance(value.get("BinaryValue"), str):
                size += len(value["BinaryValue"]) * 3 // 4
    return size


def system_names(params: dict[str, Any]) -> set[str]:
    """The message system attributes ReceiveMessage is asked for."""
    names = set(strings(params, "AttributeNames")) | set(
        strings(params, "MessageSystemAttributeNames")
    )
    known = {"All", *SYSTEM_ATTRIBUTES, *OTHER_SYSTEM_ATTRIBUTES, *QUEUE_ATTRIBUTE_NAMES}
    for name in names:
        if name not in known:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    return set(SYSTEM_ATTRIBUTES) if "All" in names else names & set(SYSTEM_ATTRIBUTES)


def attribute_filter(names: list[str]) -> Callable[[str], bool]:
    """MessageAttributeNames as a test: ``All``, ``.*``, ``prefix.*`` or exact names."""
    if "All" in names or ".*" in names:
        return lambda name: True
    prefixes = tuple(n[:-1] for n in names if n.endswith(".*"))
    exact = {n for n in names if not n.endswith(".*")}
    return lambda name: name in exact or name.startswith(prefixes)


def visibility_timeout(entry: dict[str, Any]) -> int:
    """ChangeMessageVisibility's required ``VisibilityTimeout`` (0-43,200)."""
    if entry.get("VisibilityTimeout") is None:
        raise missing("VisibilityTimeout")
    timeout = integer(
        entry,
        "VisibilityTimeout",
        0,
        MAX_VISIBILITY_TIMEOUT,
        f"Total VisibilityTimeout for the message is beyond the limit "
        f"[{MAX_VISIBILITY_TIMEOUT} seconds]",
    )
    assert timeout is not None
    return timeout
