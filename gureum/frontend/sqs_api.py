"""SQS's API (``AmazonSQS``, AWS JSON 1.0) on the built-in queues, so boto3's ``sqs``
client works unchanged: queues, messages, batches, long polls, redrive, tags.

Validation follows SQS's rules and messages; the queue core (``gureum.queues``) keeps
the semantics. Queue URLs are ``<the URL the client called>/<account>/<name>``; only
the last two path segments are read, so a URL naming another host still works.
Standard queues only: FIFO queues, permissions and message move tasks answer
UnsupportedOperation.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from gureum.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidBatchEntryId,
    InvalidMessageContents,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    SqsError,
    TooManyEntriesInBatchRequest,
    UnsupportedOperation,
)
from gureum.frontend import json_rpc
from gureum.queues.queues import (
    Message,
    Outgoing,
    Queue,
    Sent,
    arn_queue_name,
    md5_of_attributes,
    parse_receipt,
)

if TYPE_CHECKING:
    from gureum.platform import Platform

QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
ATTRIBUTE_TYPE = re.compile(r"(String|Number|Binary)(\..+)?")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
#: What SQS refuses in a body (and a string attribute): anything outside XML's characters.
FORBIDDEN_CHARACTERS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
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
FIFO_ATTRIBUTES = {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope"}
FIFO_ATTRIBUTES |= {"FifoThroughputLimit"}
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


class InvalidParameterValueException(SqsError):
    """SQS's InvalidParameterValue, under the type name its JSON protocol answers."""

    error_type = "InvalidParameterValueException"
    query_code: ClassVar[str] = "InvalidParameterValue"


class MissingRequiredParameterException(SqsError):
    error_type = "MissingRequiredParameterException"
    query_code: ClassVar[str] = "MissingParameter"


class PurgeInProgress(SqsError):
    """PurgeQueueInProgress as SQS answers it: status 403."""

    status = 403
    error_type = "PurgeQueueInProgress"
    query_code: ClassVar[str] = "AWS.SimpleQueueService.PurgeQueueInProgress"


def _invalid_value(key: str, value: Any, reason: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(
        f"Value {value} for parameter {key} is invalid. Reason: {reason}"
    )


def _missing(key: str) -> MissingRequiredParameterException:
    return MissingRequiredParameterException(f"The request must contain the parameter {key}.")


# members


def _string(params: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise _missing(key)
        return None
    if not isinstance(value, str):
        raise _invalid_value(key, value, "Must be a string.")
    return value


def _required(params: dict[str, Any], key: str) -> str:
    value = _string(params, key, required=True)
    assert value is not None
    return value


def _integer(params: dict[str, Any], key: str, low: int, high: int, reason: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _invalid_value(key, value, reason)
    return value


def _strings(params: dict[str, Any], key: str) -> list[str]:
    value = params.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid_value(key, value, "Must be a list of strings.")
    return value


def _string_map(params: dict[str, Any], key: str) -> dict[str, str]:
    value = params.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _invalid_value(key, value, "Must be a map of strings.")
    return value


def _max_results(params: dict[str, Any]) -> int | None:
    return _integer(
        params, "MaxResults", 1, 1000, "MaxResults must be an integer between 1 and 1000."
    )


# queues and their names


def _arn(platform: Platform, name: str) -> str:
    settings = platform.settings
    return f"arn:aws:sqs:{settings.region}:{settings.account_id}:{name}"


def _url(platform: Platform, name: str) -> str:
    base = str(json_rpc.current_request.get().base_url).rstrip("/")
    return f"{base}/{platform.settings.account_id}/{name}"


def _queue_name(platform: Platform, params: dict[str, Any]) -> str:
    """The name in ``QueueUrl`` (``.../<account>/<name>``). A URL that cannot name one
    of this account's queues names no queue, as on SQS."""
    url = _required(params, "QueueUrl")
    parts = urllib.parse.urlsplit(url).path.strip("/").split("/")
    if (
        len(parts) != 2
        or parts[0] != platform.settings.account_id
        or not QUEUE_NAME.fullmatch(parts[1])
    ):
        raise QueueDoesNotExist("The specified queue does not exist.")
    return parts[1]


async def _queue(platform: Platform, params: dict[str, Any]) -> Queue:
    return await platform.queues.get(_queue_name(platform, params))


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": name}).encode()).decode()


def _after(params: dict[str, Any]) -> str | None:
    """The queue name a NextToken resumes after."""
    token = _string(params, "NextToken")
    if token is None:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
        if not isinstance(after, str):
            raise ValueError
        return after
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise InvalidParameterValueException("Invalid NextToken value.") from None


def _page(platform: Platform, names: list[str], params: dict[str, Any], key: str) -> dict[str, Any]:
    """A page of queue URLs, by name: all (up to 1,000) without MaxResults, as SQS."""
    limit = _max_results(params)
    after = _after(params)
    names = sorted(n for n in names if after is None or n > after)
    page = names[: limit or 1000]
    result: dict[str, Any] = {}
    if page or key == "queueUrls":
        result[key] = [_url(platform, name) for name in page]
    if limit is not None and len(names) > limit:
        result["NextToken"] = _token(page[-1])
    return result


# queue attributes


def _json_object(raw: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _redrive_policy(platform: Platform, raw: str, source: str) -> str:
    """RedrivePolicy checked (an existing dead-letter queue that allows ``source``),
    in the form GetQueueAttributes answers."""
    policy = _json_object(raw)
    if policy is None:
        raise InvalidAttributeValue(
            "Invalid value for the parameter RedrivePolicy. Reason: "
            "Redrive policy is not a valid JSON map."
        )
    for member in ("deadLetterTargetArn", "maxReceiveCount"):
        if member not in policy:
            raise _invalid_value(
                "RedrivePolicy",
                raw,
                f"Redrive policy does not contain mandatory attribute: {member}.",
            )
    count = policy["maxReceiveCount"]
    if isinstance(count, str) and count.lstrip("-").isdigit():
        count = int(count)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
        raise _invalid_value(
            "RedrivePolicy",
            raw,
            f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 "
            "both inclusive.",
        )
    target = policy["deadLetterTargetArn"]
    try:
        if not isinstance(target, str):
            raise ValueError
        dead_letter = arn_queue_name(target)
        if target != _arn(platform, dead_letter):
            raise ValueError
    except ValueError:
        raise _invalid_value(
            "RedrivePolicy", raw, "Invalid value for deadLetterTargetArn."
        ) from None
    try:
        queue = await platform.queues.get(dead_letter)
    except QueueDoesNotExist:
        raise _invalid_value("RedrivePolicy", raw, "Dead letter target does not exist.") from None
    allow = _json_object(queue.attributes.get("RedriveAllowPolicy", "")) or {}
    permission = allow.get("redrivePermission", "allowAll")
    if permission == "denyAll" or (
        permission == "byQueue" and _arn(platform, source) not in allow.get("sourceQueueArns", [])
    ):
        raise _invalid_value(
            "RedrivePolicy",
            raw,
            f"Queue {_arn(platform, source)} is not allowed to use {target} as a dead-letter "
            "queue by its RedriveAllowPolicy.",
        )
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": count})


def _redrive_allow_policy(raw: str) -> str:
    policy = _json_object(raw)
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


async def _queue_attributes(
    platform: Platform, name: str, given: dict[str, str], *, creating: bool
) -> dict[str, str]:
    """CreateQueue's or SetQueueAttributes' ``Attributes`` checked, in stored form."""
    checked: dict[str, str] = {}
    for key, value in given.items():
        if key == "FifoQueue" and creating:
            if value.lower() == "true":
                raise UnsupportedOperation(FIFO_UNSUPPORTED)
            continue  # "false": a standard queue, which is what gureum makes
        if (
            key in READ_ONLY_ATTRIBUTES
            or key in FIFO_ATTRIBUTES
            or key not in QUEUE_ATTRIBUTE_NAMES
        ):
            raise InvalidAttributeName(f"Unknown Attribute {key}.")
        if key in KMS_ATTRIBUTES:
            raise InvalidAttributeValue(
                f"gureum does not support server-side encryption with AWS KMS ({key})."
            )
        if key in INTEGER_ATTRIBUTES:
            low, high = INTEGER_ATTRIBUTES[key]
            if not re.fullmatch(r"-?\d{1,10}", value) or not low <= int(value) <= high:
                raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
            checked[key] = str(int(value))
        elif key == "SqsManagedSseEnabled":
            if value.lower() not in ("true", "false"):
                raise InvalidAttributeValue(f"Invalid value for the parameter {key}.")
            if value.lower() == "true":
                raise InvalidAttributeValue(
                    "gureum does not encrypt queues at rest: SqsManagedSseEnabled must be false."
                )
            checked[key] = "false"
        elif value == "" and key in ("Policy", "RedrivePolicy", "RedriveAllowPolicy"):
            if not creating:
                checked[key] = ""  # SetQueueAttributes: remove it
        elif key == "Policy":
            if _json_object(value) is None:
                raise InvalidAttributeValue("Invalid value for the parameter Policy.")
            checked[key] = value
        elif key == "RedrivePolicy":
            checked[key] = await _redrive_policy(platform, value, name)
        else:
            checked[key] = _redrive_allow_policy(value)
    return checked


async def _attribute_values(platform: Platform, queue: Queue, names: list[str]) -> dict[str, str]:
    """GetQueueAttributes' answer for ``names`` (``All``: every attribute the queue has)."""
    for name in names:
        if name != "All" and name not in QUEUE_ATTRIBUTE_NAMES:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    wanted = QUEUE_ATTRIBUTE_NAMES if "All" in names else set(names)
    values: dict[str, str] = {
        key: value for key, value in queue.attributes.items() if key in wanted and value != ""
    }
    values.setdefault("SqsManagedSseEnabled", "false")
    values["QueueArn"] = _arn(platform, queue.name)
    values["CreatedTimestamp"] = str(queue.created_ms // 1000)
    values["LastModifiedTimestamp"] = str(queue.modified_ms // 1000)
    if wanted & set(COUNT_ATTRIBUTES):
        counts = await platform.queues.counts(queue.name)
        values.update({key: str(count) for key, count in counts.items()})
    return {key: value for key, value in values.items() if key in wanted}


# queue operations


async def create_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _required(params, "QueueName")
    if name.endswith(".fifo"):
        raise UnsupportedOperation(FIFO_UNSUPPORTED)
    if not QUEUE_NAME.fullmatch(name):
        raise InvalidParameterValueException(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    attributes = await _queue_attributes(
        platform, name, _string_map(params, "Attributes"), creating=True
    )
    tags = _tags(_string_map(params, "tags"))
    await platform.queues.create(name, attributes, tags)
    return {"QueueUrl": _url(platform, name)}


async def get_queue_url(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _required(params, "QueueName")
    owner = _string(params, "QueueOwnerAWSAccountId")
    if not QUEUE_NAME.fullmatch(name) or owner not in (None, platform.settings.account_id):
        raise QueueDoesNotExist("The specified queue does not exist.")
    await platform.queues.get(name)
    return {"QueueUrl": _url(platform, name)}


async def list_queues(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    prefix = _string(params, "QueueNamePrefix")
    queues = await platform.queues.list_queues(prefix or None)
    return _page(platform, [q.name for q in queues], params, "QueueUrls")


async def delete_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    await platform.queues.delete(_queue_name(platform, params))
    return {}


async def purge_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    try:
        await platform.queues.purge(_queue_name(platform, params))
    except PurgeQueueInProgress as exc:
        raise PurgeInProgress(exc.message) from None
    return {}


async def get_queue_attributes(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    names = _strings(params, "AttributeNames")
    values = await _attribute_values(platform, queue, names)
    return {"Attributes": values} if values else {}


async def set_queue_attributes(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    if params.get("Attributes") is None:
        raise _missing("Attributes")
    await platform.queues.get(name)
    attributes = await _queue_attributes(
        platform, name, _string_map(params, "Attributes"), creating=False
    )
    if attributes:
        await platform.queues.set_attributes(name, attributes)
    return {}


async def list_dead_letter_source_queues(
    platform: Platform, params: dict[str, Any]
) -> dict[str, Any]:
    queue = await _queue(platform, params)
    sources = await platform.queues.dead_letter_sources(_arn(platform, queue.name))
    return _page(platform, sources, params, "queueUrls")


def _tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValueException(
            f"Too many tags: a queue can have at most {MAX_TAGS}, and {len(tags)} were given."
        )
    for key, value in tags.items():
        if not 1 <= len(key) <= 128:
            raise _invalid_value("Tags", key, "A tag key must be 1 to 128 characters long.")
        if len(value) > 256:
            raise _invalid_value("Tags", value, "A tag value can be at most 256 characters long.")
    return tags


async def tag_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    if params.get("Tags") is None:
        raise _missing("Tags")
    tags = _tags(_string_map(params, "Tags"))
    _tags({**queue.tags, **tags})
    await platform.queues.set_tags(queue.name, tags)
    return {}


async def untag_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    if params.get("TagKeys") is None:
        raise _missing("TagKeys")
    await platform.queues.set_tags(name, {}, _strings(params, "TagKeys"))
    return {}


async def list_queue_tags(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    return {"Tags": queue.tags} if queue.tags else {}


# messages


def _message_attributes(raw: Any) -> tuple[dict[str, dict[str, str]] | None, int]:
    """SendMessage's ``MessageAttributes`` checked, in stored form, and their size (name,
    type and value of each count toward the message's size, as on SQS)."""
    if not raw:
        return None, 0
    if not isinstance(raw, dict):
        raise _invalid_value("MessageAttributes", raw, "Must be a map.")
    if len(raw) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameterValueException(
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
            raise InvalidParameterValueException(
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
            raise InvalidParameterValueException(
                f"The type of message (user) attribute '{name}' is invalid. You must use only "
                "the following supported type prefixes: Binary, Number, String."
            )
        kind = data_type.split(".", 1)[0]
        member = "BinaryValue" if kind == "Binary" else "StringValue"
        content = value.get(member)
        if not isinstance(content, str) or not content:
            raise InvalidParameterValueException(
                f"Message (user) attribute '{name}' must contain a non-empty value of type "
                f"'{kind}'."
            )
        if kind == "Binary":
            try:
                length = len(base64.b64decode(content, validate=True))
            except binascii.Error:
                raise _invalid_value(
                    f"MessageAttributes.{name}.BinaryValue", content, "Must be base64."
                ) from None
        else:
            if FORBIDDEN_CHARACTERS.search(content):
                raise InvalidMessageContents(
                    f"Message (user) attribute '{name}' has invalid characters. "
                    + FORBIDDEN_MESSAGE
                )
            if kind == "Number" and not NUMBER.fullmatch(content):
                raise InvalidParameterValueException(
                    f"Can't cast the value of message (user) attribute '{name}' to a number."
                )
            length = len(content.encode())
        stored[name] = {"DataType": data_type, member: content}
        size += len(name.encode()) + len(data_type.encode()) + length
    return stored, size


FORBIDDEN_MESSAGE = (
    "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
    "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
)


def _outgoing(queue: Queue, entry: dict[str, Any]) -> Outgoing:
    """One message of SendMessage or SendMessageBatch, checked."""
    body = entry.get("MessageBody")
    if body is None or body == "":
        raise _missing("MessageBody")
    if not isinstance(body, str):
        raise _invalid_value("MessageBody", body, "Must be a string.")
    if FORBIDDEN_CHARACTERS.search(body):
        raise InvalidMessageContents(FORBIDDEN_MESSAGE)
    delay = _integer(entry, "DelaySeconds", 0, 900, "DelaySeconds must be >= 0 and <= 900.")
    attributes, attributes_size = _message_attributes(entry.get("MessageAttributes"))
    limit = queue.int_attribute("MaximumMessageSize")
    if len(body.encode()) + attributes_size > limit:
        raise InvalidParameterValueException(
            f"One or more parameters are invalid. Reason: Message must be shorter than "
            f"{limit} bytes."
        )
    deduplication = entry.get("MessageDeduplicationId")
    if deduplication is not None:
        raise _invalid_value(
            "MessageDeduplicationId",
            deduplication,
            "The request includes a parameter that is not valid for this queue type.",
        )
    system = entry.get("MessageSystemAttributes") or {}
    if not isinstance(system, dict) or any(key != "AWSTraceHeader" for key in system):
        raise InvalidParameterValueException(
            "Message system attribute names can only be AWSTraceHeader."
        )
    return Outgoing(body, attributes, delay)


def _sent(sent: Sent) -> dict[str, Any]:
    answer = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
    if sent.md5_of_message_attributes:
        answer["MD5OfMessageAttributes"] = sent.md5_of_message_attributes
    return answer


async def send_message(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    (sent,) = await platform.queues.send(queue.name, [_outgoing(queue, params)])
    return _sent(sent)


def _entries(params: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """A batch's entries with SQS's batch rules checked: 1 to 10, ids valid and distinct."""
    entries = params.get("Entries")
    if entries is None:
        raise _missing("Entries")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _invalid_value("Entries", entries, "Must be a list of entries.")
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


def _failure(entry_id: str, error: SqsError) -> dict[str, Any]:
    return {
        "Id": entry_id,
        "SenderFault": error.status < 500,
        "Code": error.query_code or error.error_type,
        "Message": error.message,
    }


def _batch_answer(successful: list[dict[str, Any]], failed: list[dict[str, Any]]) -> dict[str, Any]:
    # SQS's JSON answers leave out an empty Failed list.
    return {"Successful": successful, **({"Failed": failed} if failed else {})}


def _entry_size(entry: dict[str, Any]) -> int:
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


async def send_message_batch(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    entries = _entries(params, "SendMessageBatchRequestEntry")
    total = sum(_entry_size(entry) for entry in entries)
    if total > MAX_MESSAGE_BYTES:
        raise BatchRequestTooLong(
            f"Batch requests cannot be longer than {MAX_MESSAGE_BYTES} bytes. "
            f"You have sent {total} bytes."
        )
    ids: list[str] = []
    messages: list[Outgoing] = []
    failed = []
    for entry in entries:
        try:
            messages.append(_outgoing(queue, entry))
            ids.append(entry["Id"])
        except SqsError as exc:
            failed.append(_failure(entry["Id"], exc))
    sent = await platform.queues.send(queue.name, messages) if messages else []
    successful = [{"Id": i, **_sent(s)} for i, s in zip(ids, sent, strict=True)]
    return _batch_answer(successful, failed)


def _system_names(params: dict[str, Any]) -> set[str]:
    """The message system attributes ReceiveMessage is asked for."""
    names = set(_strings(params, "AttributeNames")) | set(
        _strings(params, "MessageSystemAttributeNames")
    )
    known = {"All", *SYSTEM_ATTRIBUTES, *OTHER_SYSTEM_ATTRIBUTES, *QUEUE_ATTRIBUTE_NAMES}
    for name in names:
        if name not in known:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    return set(SYSTEM_ATTRIBUTES) if "All" in names else names & set(SYSTEM_ATTRIBUTES)


def _attribute_filter(names: list[str]) -> Callable[[str], bool]:
    """MessageAttributeNames as a test: ``All``, ``.*``, ``prefix.*`` or exact names."""
    if "All" in names or ".*" in names:
        return lambda name: True
    prefixes = tuple(n[:-1] for n in names if n.endswith(".*"))
    exact = {n for n in names if not n.endswith(".*")}
    return lambda name: name in exact or name.startswith(prefixes)


def _received(
    platform: Platform, message: Message, system: set[str], keep: Callable[[str], bool]
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.md5_of_body,
        "Body": message.body,
    }
    values = {
        "SenderId": platform.settings.account_id,
        "SentTimestamp": str(message.sent_ms),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.first_receive_ms),
    }
    if system:
        answer["Attributes"] = {key: values[key] for key in SYSTEM_ATTRIBUTES if key in system}
    attributes = {k: v for k, v in (message.message_attributes or {}).items() if keep(k)}
    if attributes:
        answer["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
        answer["MessageAttributes"] = attributes
    return answer


async def receive_message(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    limit = _integer(params, "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10, if provided.")
    wait = _integer(params, "WaitTimeSeconds", 0, 20, "Must be >= 0 and <= 20, if provided.")
    visibility = _integer(
        params,
        "VisibilityTimeout",
        0,
        MAX_VISIBILITY_TIMEOUT,
        f"Must be >= 0 and <= {MAX_VISIBILITY_TIMEOUT}, if provided.",
    )
    system = _system_names(params)
    keep = _attribute_filter(_strings(params, "MessageAttributeNames"))
    messages = await platform.queues.receive(
        name, max_messages=limit or 1, visibility_timeout=visibility, wait_seconds=wait
    )
    # SQS's JSON answers leave out an empty Messages list.
    return (
        {"Messages": [_received(platform, m, system, keep) for m in messages]} if messages else {}
    )


async def delete_message(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    await platform.queues.delete_message(name, _required(params, "ReceiptHandle"))
    return {}


async def delete_message_batch(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    entries = _entries(params, "DeleteMessageBatchRequestEntry")
    handles: list[str] = []
    successful, failed = [], []
    for entry in entries:
        try:
            handle = _required(entry, "ReceiptHandle")
            parse_receipt(handle)
        except SqsError as exc:
            failed.append(_failure(entry["Id"], exc))
            continue
        handles.append(handle)
        successful.append({"Id": entry["Id"]})
    if handles:
        await platform.queues.delete_messages(queue.name, handles)
    return _batch_answer(successful, failed)


def _visibility(entry: dict[str, Any]) -> int:
    if entry.get("VisibilityTimeout") is None:
        raise _missing("VisibilityTimeout")
    timeout = _integer(
        entry,
        "VisibilityTimeout",
        0,
        MAX_VISIBILITY_TIMEOUT,
        f"Total VisibilityTimeout for the message is beyond the limit "
        f"[{MAX_VISIBILITY_TIMEOUT} seconds]",
    )
    assert timeout is not None
    return timeout


async def change_message_visibility(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    handle = _required(params, "ReceiptHandle")
    await platform.queues.change_visibility(name, handle, _visibility(params))
    return {}


async def change_message_visibility_batch(
    platform: Platform, params: dict[str, Any]
) -> dict[str, Any]:
    queue = await _queue(platform, params)
    entries = _entries(params, "ChangeMessageVisibilityBatchRequestEntry")
    successful, failed = [], []
    for entry in entries:
        try:
            handle = _required(entry, "ReceiptHandle")
            await platform.queues.change_visibility(queue.name, handle, _visibility(entry))
        except SqsError as exc:
            failed.append(_failure(entry["Id"], exc))
            continue
        successful.append({"Id": entry["Id"]})
    return _batch_answer(successful, failed)


def _unsupported(operation: str, why: str) -> json_rpc.Operation:
    async def refuse(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
        raise UnsupportedOperation(f"gureum does not support {operation}: {why}")

    return refuse


_NO_PERMISSIONS = "gureum's queues have no per-queue permissions (its edge checks SigV4 keys)."
_NO_MOVE_TASKS = "gureum has no message move tasks; receive from the dead-letter queue instead."

OPERATIONS: dict[str, Callable[[Platform, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "ListQueues": list_queues,
    "DeleteQueue": delete_queue,
    "PurgeQueue": purge_queue,
    "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
    "ListQueueTags": list_queue_tags,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
    "AddPermission": _unsupported("AddPermission", _NO_PERMISSIONS),
    "RemovePermission": _unsupported("RemovePermission", _NO_PERMISSIONS),
    "StartMessageMoveTask": _unsupported("StartMessageMoveTask", _NO_MOVE_TASKS),
    "CancelMessageMoveTask": _unsupported("CancelMessageMoveTask", _NO_MOVE_TASKS),
    "ListMessageMoveTasks": _unsupported("ListMessageMoveTasks", _NO_MOVE_TASKS),
}

json_rpc.register(
    "AmazonSQS",
    OPERATIONS,
    internal_error="InternalFailure",
    json_version="1.0",
    error_namespace="com.amazonaws.sqs#",
    query_compatible=True,
)
