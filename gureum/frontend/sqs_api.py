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
from typing import TYPE_CHECKING, Any

from gureum import untrusted_json
from gureum.errors import (
    BatchRequestTooLong,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    QueueDoesNotExist,
    SqsError,
    UnsupportedOperation,
)
from gureum.frontend import json_rpc
from gureum.frontend import sqs_rules as rules
from gureum.frontend.operations import not_implemented
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
    url = rules.required(params, "QueueUrl")
    parts = urllib.parse.urlsplit(url).path.strip("/").split("/")
    if (
        len(parts) != 2
        or parts[0] != platform.settings.account_id
        or not rules.QUEUE_NAME.fullmatch(parts[1])
    ):
        raise QueueDoesNotExist("The specified queue does not exist.")
    return parts[1]


async def _queue(platform: Platform, params: dict[str, Any]) -> Queue:
    return await platform.queues.get(_queue_name(platform, params))


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": name}).encode()).decode()


def _after(params: dict[str, Any]) -> str | None:
    """The queue name a NextToken resumes after."""
    token = rules.string(params, "NextToken")
    if token is None:
        return None
    try:
        after = untrusted_json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
        if not isinstance(after, str):
            raise ValueError
        return after
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise InvalidParameterValue("Invalid NextToken value.") from None


def _page(platform: Platform, names: list[str], params: dict[str, Any], key: str) -> dict[str, Any]:
    """A page of queue URLs, by name: all (up to 1,000) without MaxResults, as SQS."""
    limit = rules.max_results(params)
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


async def _redrive_policy(platform: Platform, raw: str, source: str) -> str:
    """RedrivePolicy checked (an existing dead-letter queue that allows ``source``),
    in the form GetQueueAttributes answers."""
    policy = rules.json_object(raw)
    if policy is None:
        raise InvalidAttributeValue(
            "Invalid value for the parameter RedrivePolicy. Reason: "
            "Redrive policy is not a valid JSON map."
        )
    for member in ("deadLetterTargetArn", "maxReceiveCount"):
        if member not in policy:
            raise rules.invalid_value(
                "RedrivePolicy",
                raw,
                f"Redrive policy does not contain mandatory attribute: {member}.",
            )
    count = policy["maxReceiveCount"]
    if isinstance(count, str) and count.lstrip("-").isdigit():
        count = int(count)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
        raise rules.invalid_value(
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
        raise rules.invalid_value(
            "RedrivePolicy", raw, "Invalid value for deadLetterTargetArn."
        ) from None
    try:
        queue = await platform.queues.get(dead_letter)
    except QueueDoesNotExist:
        raise rules.invalid_value(
            "RedrivePolicy", raw, "Dead letter target does not exist."
        ) from None
    allow = rules.json_object(queue.attributes.get("RedriveAllowPolicy", "")) or {}
    permission = allow.get("redrivePermission", "allowAll")
    if permission == "denyAll" or (
        permission == "byQueue" and _arn(platform, source) not in allow.get("sourceQueueArns", [])
    ):
        raise rules.invalid_value(
            "RedrivePolicy",
            raw,
            f"Queue {_arn(platform, source)} is not allowed to use {target} as a dead-letter "
            "queue by its RedriveAllowPolicy.",
        )
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": count})


async def _queue_attributes(
    platform: Platform, name: str, given: dict[str, str], *, creating: bool
) -> dict[str, str]:
    """CreateQueue's or SetQueueAttributes' ``Attributes`` checked, in stored form."""
    checked: dict[str, str] = {}
    for key, value in given.items():
        if key == "FifoQueue" and creating:
            if value.lower() == "true":
                raise UnsupportedOperation(rules.FIFO_UNSUPPORTED)
            continue  # "false": a standard queue, which is what gureum makes
        if (
            key in rules.READ_ONLY_ATTRIBUTES
            or key in rules.FIFO_ATTRIBUTES
            or key not in rules.QUEUE_ATTRIBUTE_NAMES
        ):
            raise InvalidAttributeName(f"Unknown Attribute {key}.")
        if key in rules.KMS_ATTRIBUTES:
            raise InvalidAttributeValue(
                f"gureum does not support server-side encryption with AWS KMS ({key})."
            )
        if key in rules.INTEGER_ATTRIBUTES:
            low, high = rules.INTEGER_ATTRIBUTES[key]
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
            if rules.json_object(value) is None:
                raise InvalidAttributeValue("Invalid value for the parameter Policy.")
            checked[key] = value
        elif key == "RedrivePolicy":
            checked[key] = await _redrive_policy(platform, value, name)
        else:
            checked[key] = rules.redrive_allow_policy(value)
    return checked


async def _attribute_values(platform: Platform, queue: Queue, names: list[str]) -> dict[str, str]:
    """GetQueueAttributes' answer for ``names`` (``All``: every attribute the queue has)."""
    for name in names:
        if name != "All" and name not in rules.QUEUE_ATTRIBUTE_NAMES:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    wanted = rules.QUEUE_ATTRIBUTE_NAMES if "All" in names else set(names)
    values: dict[str, str] = {
        key: value for key, value in queue.attributes.items() if key in wanted and value != ""
    }
    values.setdefault("SqsManagedSseEnabled", "false")
    values["QueueArn"] = _arn(platform, queue.name)
    values["CreatedTimestamp"] = str(queue.created_ms // 1000)
    values["LastModifiedTimestamp"] = str(queue.modified_ms // 1000)
    if wanted & set(rules.COUNT_ATTRIBUTES):
        counts = await platform.queues.counts(queue.name)
        values.update({key: str(count) for key, count in counts.items()})
    return {key: value for key, value in values.items() if key in wanted}


# queue operations


async def create_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = rules.required(params, "QueueName")
    if name.endswith(".fifo"):
        raise UnsupportedOperation(rules.FIFO_UNSUPPORTED)
    if not rules.QUEUE_NAME.fullmatch(name):
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    attributes = await _queue_attributes(
        platform, name, rules.string_map(params, "Attributes"), creating=True
    )
    tags = rules.tags(rules.string_map(params, "tags"))
    await platform.queues.create(name, attributes, tags)
    return {"QueueUrl": _url(platform, name)}


async def get_queue_url(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = rules.required(params, "QueueName")
    owner = rules.string(params, "QueueOwnerAWSAccountId")
    if not rules.QUEUE_NAME.fullmatch(name) or owner not in (None, platform.settings.account_id):
        raise QueueDoesNotExist("The specified queue does not exist.")
    await platform.queues.get(name)
    return {"QueueUrl": _url(platform, name)}


async def list_queues(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    prefix = rules.string(params, "QueueNamePrefix")
    queues = await platform.queues.list_queues(prefix or None)
    return _page(platform, [q.name for q in queues], params, "QueueUrls")


async def delete_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    await platform.queues.delete(_queue_name(platform, params))
    return {}


async def purge_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    await platform.queues.purge(_queue_name(platform, params))
    return {}


async def get_queue_attributes(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    names = rules.strings(params, "AttributeNames")
    values = await _attribute_values(platform, queue, names)
    return {"Attributes": values} if values else {}


async def set_queue_attributes(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    if params.get("Attributes") is None:
        raise rules.missing("Attributes")
    await platform.queues.get(name)
    attributes = await _queue_attributes(
        platform, name, rules.string_map(params, "Attributes"), creating=False
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


async def tag_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    if params.get("Tags") is None:
        raise rules.missing("Tags")
    tags = rules.tags(rules.string_map(params, "Tags"))
    rules.tags({**queue.tags, **tags})
    await platform.queues.set_tags(queue.name, tags)
    return {}


async def untag_queue(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    if params.get("TagKeys") is None:
        raise rules.missing("TagKeys")
    await platform.queues.set_tags(name, {}, rules.strings(params, "TagKeys"))
    return {}


async def list_queue_tags(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    return {"Tags": queue.tags} if queue.tags else {}


# messages


def _sent(sent: Sent) -> dict[str, Any]:
    answer = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
    if sent.md5_of_message_attributes:
        answer["MD5OfMessageAttributes"] = sent.md5_of_message_attributes
    return answer


async def send_message(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    (sent,) = await platform.queues.send(queue.name, [rules.outgoing(queue, params)])
    return _sent(sent)


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


async def send_message_batch(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    entries = rules.entries(params, "SendMessageBatchRequestEntry")
    total = sum(rules.entry_size(entry) for entry in entries)
    if total > rules.MAX_MESSAGE_BYTES:
        raise BatchRequestTooLong(
            f"Batch requests cannot be longer than {rules.MAX_MESSAGE_BYTES} bytes. "
            f"You have sent {total} bytes."
        )
    ids: list[str] = []
    messages: list[Outgoing] = []
    failed = []
    for entry in entries:
        try:
            messages.append(rules.outgoing(queue, entry))
            ids.append(entry["Id"])
        except SqsError as exc:
            failed.append(_failure(entry["Id"], exc))
    sent = await platform.queues.send(queue.name, messages) if messages else []
    successful = [{"Id": i, **_sent(s)} for i, s in zip(ids, sent, strict=True)]
    return _batch_answer(successful, failed)


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
        answer["Attributes"] = {
            key: values[key] for key in rules.SYSTEM_ATTRIBUTES if key in system
        }
    attributes = {k: v for k, v in (message.message_attributes or {}).items() if keep(k)}
    if attributes:
        answer["MD5OfMessageAttributes"] = md5_of_attributes(attributes)
        answer["MessageAttributes"] = attributes
    return answer


async def receive_message(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    limit = rules.integer(
        params, "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10, if provided."
    )
    wait = rules.integer(params, "WaitTimeSeconds", 0, 20, "Must be >= 0 and <= 20, if provided.")
    visibility = rules.integer(
        params,
        "VisibilityTimeout",
        0,
        rules.MAX_VISIBILITY_TIMEOUT,
        f"Must be >= 0 and <= {rules.MAX_VISIBILITY_TIMEOUT}, if provided.",
    )
    system = rules.system_names(params)
    keep = rules.attribute_filter(rules.strings(params, "MessageAttributeNames"))
    messages = await platform.queues.receive(
        name, max_messages=limit or 1, visibility_timeout=visibility, wait_seconds=wait
    )
    # SQS's JSON answers leave out an empty Messages list.
    return (
        {"Messages": [_received(platform, m, system, keep) for m in messages]} if messages else {}
    )


async def delete_message(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    await platform.queues.delete_message(name, rules.required(params, "ReceiptHandle"))
    return {}


async def delete_message_batch(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    queue = await _queue(platform, params)
    entries = rules.entries(params, "DeleteMessageBatchRequestEntry")
    handles: list[str] = []
    successful, failed = [], []
    for entry in entries:
        try:
            handle = rules.required(entry, "ReceiptHandle")
            parse_receipt(handle)
        except SqsError as exc:
            failed.append(_failure(entry["Id"], exc))
            continue
        handles.append(handle)
        successful.append({"Id": entry["Id"]})
    if handles:
        await platform.queues.delete_messages(queue.name, handles)
    return _batch_answer(successful, failed)


async def change_message_visibility(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
    name = _queue_name(platform, params)
    handle = rules.required(params, "ReceiptHandle")
    await platform.queues.change_visibility(name, handle, rules.visibility_timeout(params))
    return {}


async def change_message_visibility_batch(
    platform: Platform, params: dict[str, Any]
) -> dict[str, Any]:
    queue = await _queue(platform, params)
    entries = rules.entries(params, "ChangeMessageVisibilityBatchRequestEntry")
    successful, failed = [], []
    for entry in entries:
        try:
            handle = rules.required(entry, "ReceiptHandle")
            await platform.queues.change_visibility(
                queue.name, handle, rules.visibility_timeout(entry)
            )
        except SqsError as exc:
            failed.append(_failure(entry["Id"], exc))
            continue
        successful.append({"Id": entry["Id"]})
    return _batch_answer(successful, failed)


def _unsupported(operation: str, why: str) -> json_rpc.Operation:
    async def refuse(platform: Platform, params: dict[str, Any]) -> dict[str, Any]:
        raise not_implemented("SQS", operation, why)

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
    model="sqs",
    title="SQS",
    internal_error="InternalFailure",
    json_version="1.0",
    error_namespace="com.amazonaws.sqs#",
    query_compatible=True,
)
