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
from collections.abc import Callable
from typing import Any

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
    Queues,
    Sent,
    arn_queue_name,
    md5_of_attributes,
    parse_receipt,
)

# queues and their names


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


# queue attributes


# queue operations


# messages


def _sent(sent: Sent) -> dict[str, Any]:
    answer = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
    if sent.md5_of_message_attributes:
        answer["MD5OfMessageAttributes"] = sent.md5_of_message_attributes
    return answer


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


class SqsAPI:
    """SQS's operations over the built-in queues."""

    def __init__(self, queues: Queues, *, region: str, account_id: str) -> None:
        self.queues = queues
        self.region = region
        self.account_id = account_id

    def _arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"

    def _url(self, name: str) -> str:
        base = str(json_rpc.current_request.get().base_url).rstrip("/")
        return f"{base}/{self.account_id}/{name}"

    def _queue_name(self, params: dict[str, Any]) -> str:
        """The name in ``QueueUrl`` (``.../<account>/<name>``). A URL that cannot name one
        of this account's queues names no queue, as on SQS."""
        url = rules.required(params, "QueueUrl")
        parts = urllib.parse.urlsplit(url).path.strip("/").split("/")
        if (
            len(parts) != 2
            or parts[0] != self.account_id
            or not rules.QUEUE_NAME.fullmatch(parts[1])
        ):
            raise QueueDoesNotExist("The specified queue does not exist.")
        return parts[1]

    async def _queue(self, params: dict[str, Any]) -> Queue:
        return await self.queues.get(self._queue_name(params))

    def _page(self, names: list[str], params: dict[str, Any], key: str) -> dict[str, Any]:
        """A page of queue URLs, by name: all (up to 1,000) without MaxResults, as SQS."""
        limit = rules.max_results(params)
        after = _after(params)
        names = sorted(n for n in names if after is None or n > after)
        page = names[: limit or 1000]
        result: dict[str, Any] = {}
        if page or key == "queueUrls":
            result[key] = [self._url(name) for name in page]
        if limit is not None and len(names) > limit:
            result["NextToken"] = _token(page[-1])
        return result

    async def _redrive_policy(self, raw: str, source: str) -> str:
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
            if target != self._arn(dead_letter):
                raise ValueError
        except ValueError:
            raise rules.invalid_value(
                "RedrivePolicy", raw, "Invalid value for deadLetterTargetArn."
            ) from None
        try:
            queue = await self.queues.get(dead_letter)
        except QueueDoesNotExist:
            raise rules.invalid_value(
                "RedrivePolicy", raw, "Dead letter target does not exist."
            ) from None
        allow = rules.json_object(queue.attributes.get("RedriveAllowPolicy", "")) or {}
        permission = allow.get("redrivePermission", "allowAll")
        if permission == "denyAll" or (
            permission == "byQueue" and self._arn(source) not in allow.get("sourceQueueArns", [])
        ):
            raise rules.invalid_value(
                "RedrivePolicy",
                raw,
                f"Queue {self._arn(source)} is not allowed to use {target} as a dead-letter "
                "queue by its RedriveAllowPolicy.",
            )
        return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": count})

    async def _queue_attributes(
        self, name: str, given: dict[str, str], *, creating: bool
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
                        "gureum does not encrypt queues at rest: "
                        "SqsManagedSseEnabled must be false."
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
                checked[key] = await self._redrive_policy(value, name)
            else:
                checked[key] = rules.redrive_allow_policy(value)
        return checked

    async def _attribute_values(self, queue: Queue, names: list[str]) -> dict[str, str]:
        """GetQueueAttributes' answer for ``names`` (``All``: every attribute the queue has)."""
        for name in names:
            if name != "All" and name not in rules.QUEUE_ATTRIBUTE_NAMES:
                raise InvalidAttributeName(f"Unknown Attribute {name}.")
        wanted = rules.QUEUE_ATTRIBUTE_NAMES if "All" in names else set(names)
        values: dict[str, str] = {
            key: value for key, value in queue.attributes.items() if key in wanted and value != ""
        }
        values.setdefault("SqsManagedSseEnabled", "false")
        values["QueueArn"] = self._arn(queue.name)
        values["CreatedTimestamp"] = str(queue.created_ms // 1000)
        values["LastModifiedTimestamp"] = str(queue.modified_ms // 1000)
        if wanted & set(rules.COUNT_ATTRIBUTES):
            counts = await self.queues.counts(queue.name)
            values.update({key: str(count) for key, count in counts.items()})
        return {key: value for key, value in values.items() if key in wanted}

    async def create_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        name = rules.required(params, "QueueName")
        if name.endswith(".fifo"):
            raise UnsupportedOperation(rules.FIFO_UNSUPPORTED)
        if not rules.QUEUE_NAME.fullmatch(name):
            raise InvalidParameterValue(
                "Can only include alphanumeric characters, hyphens, or underscores. "
                "1 to 80 in length"
            )
        attributes = await self._queue_attributes(
            name, rules.string_map(params, "Attributes"), creating=True
        )
        tags = rules.tags(rules.string_map(params, "tags"))
        await self.queues.create(name, attributes, tags)
        return {"QueueUrl": self._url(name)}

    async def get_queue_url(self, params: dict[str, Any]) -> dict[str, Any]:
        name = rules.required(params, "QueueName")
        owner = rules.string(params, "QueueOwnerAWSAccountId")
        if not rules.QUEUE_NAME.fullmatch(name) or owner not in (None, self.account_id):
            raise QueueDoesNotExist("The specified queue does not exist.")
        await self.queues.get(name)
        return {"QueueUrl": self._url(name)}

    async def list_queues(self, params: dict[str, Any]) -> dict[str, Any]:
        prefix = rules.string(params, "QueueNamePrefix")
        queues = await self.queues.list_queues(prefix or None)
        return self._page([q.name for q in queues], params, "QueueUrls")

    async def delete_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.queues.delete(self._queue_name(params))
        return {}

    async def purge_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.queues.purge(self._queue_name(params))
        return {}

    async def get_queue_attributes(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self._queue(params)
        names = rules.strings(params, "AttributeNames")
        values = await self._attribute_values(queue, names)
        return {"Attributes": values} if values else {}

    async def set_queue_attributes(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._queue_name(params)
        if params.get("Attributes") is None:
            raise rules.missing("Attributes")
        await self.queues.get(name)
        attributes = await self._queue_attributes(
            name, rules.string_map(params, "Attributes"), creating=False
        )
        if attributes:
            await self.queues.set_attributes(name, attributes)
        return {}

    async def list_dead_letter_source_queues(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self._queue(params)
        sources = await self.queues.dead_letter_sources(self._arn(queue.name))
        return self._page(sources, params, "queueUrls")

    async def tag_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self._queue(params)
        if params.get("Tags") is None:
            raise rules.missing("Tags")
        tags = rules.tags(rules.string_map(params, "Tags"))
        rules.tags({**queue.tags, **tags})
        await self.queues.set_tags(queue.name, tags)
        return {}

    async def untag_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._queue_name(params)
        if params.get("TagKeys") is None:
            raise rules.missing("TagKeys")
        await self.queues.set_tags(name, {}, rules.strings(params, "TagKeys"))
        return {}

    async def list_queue_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self._queue(params)
        return {"Tags": queue.tags} if queue.tags else {}

    async def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self._queue(params)
        (sent,) = await self.queues.send(queue.name, [rules.outgoing(queue, params)])
        return _sent(sent)

    async def send_message_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self._queue(params)
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
        sent = await self.queues.send(queue.name, messages) if messages else []
        successful = [{"Id": i, **_sent(s)} for i, s in zip(ids, sent, strict=True)]
        return _batch_answer(successful, failed)

    def _received(
        self, message: Message, system: set[str], keep: Callable[[str], bool]
    ) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "MessageId": message.message_id,
            "ReceiptHandle": message.receipt_handle,
            "MD5OfBody": message.md5_of_body,
            "Body": message.body,
        }
        values = {
            "SenderId": self.account_id,
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

    async def receive_message(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._queue_name(params)
        limit = rules.integer(
            params, "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10, if provided."
        )
        wait = rules.integer(
            params, "WaitTimeSeconds", 0, 20, "Must be >= 0 and <= 20, if provided."
        )
        visibility = rules.integer(
            params,
            "VisibilityTimeout",
            0,
            rules.MAX_VISIBILITY_TIMEOUT,
            f"Must be >= 0 and <= {rules.MAX_VISIBILITY_TIMEOUT}, if provided.",
        )
        system = rules.system_names(params)
        keep = rules.attribute_filter(rules.strings(params, "MessageAttributeNames"))
        messages = await self.queues.receive(
            name, max_messages=limit or 1, visibility_timeout=visibility, wait_seconds=wait
        )
        # SQS's JSON answers leave out an empty Messages list.
        return {"Messages": [self._received(m, system, keep) for m in messages]} if messages else {}

    async def delete_message(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._queue_name(params)
        await self.queues.delete_message(name, rules.required(params, "ReceiptHandle"))
        return {}

    async def delete_message_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self._queue(params)
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
            await self.queues.delete_messages(queue.name, handles)
        return _batch_answer(successful, failed)

    async def change_message_visibility(self, params: dict[str, Any]) -> dict[str, Any]:
        name = self._queue_name(params)
        handle = rules.required(params, "ReceiptHandle")
        await self.queues.change_visibility(name, handle, rules.visibility_timeout(params))
        return {}

    async def change_message_visibility_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self._queue(params)
        entries = rules.entries(params, "ChangeMessageVisibilityBatchRequestEntry")
        successful, failed = [], []
        for entry in entries:
            try:
                handle = rules.required(entry, "ReceiptHandle")
                await self.queues.change_visibility(
                    queue.name, handle, rules.visibility_timeout(entry)
                )
            except SqsError as exc:
                failed.append(_failure(entry["Id"], exc))
                continue
            successful.append({"Id": entry["Id"]})
        return _batch_answer(successful, failed)

    def service(self) -> json_rpc.JsonRpcService:
        """SQS as the JSON-protocol endpoint serves it."""
        operations: dict[str, json_rpc.Operation] = {
            "CreateQueue": self.create_queue,
            "GetQueueUrl": self.get_queue_url,
            "ListQueues": self.list_queues,
            "DeleteQueue": self.delete_queue,
            "PurgeQueue": self.purge_queue,
            "GetQueueAttributes": self.get_queue_attributes,
            "SetQueueAttributes": self.set_queue_attributes,
            "ListDeadLetterSourceQueues": self.list_dead_letter_source_queues,
            "TagQueue": self.tag_queue,
            "UntagQueue": self.untag_queue,
            "ListQueueTags": self.list_queue_tags,
            "SendMessage": self.send_message,
            "SendMessageBatch": self.send_message_batch,
            "ReceiveMessage": self.receive_message,
            "DeleteMessage": self.delete_message,
            "DeleteMessageBatch": self.delete_message_batch,
            "ChangeMessageVisibility": self.change_message_visibility,
            "ChangeMessageVisibilityBatch": self.change_message_visibility_batch,
            "AddPermission": _unsupported("AddPermission", _NO_PERMISSIONS),
            "RemovePermission": _unsupported("RemovePermission", _NO_PERMISSIONS),
            "StartMessageMoveTask": _unsupported("StartMessageMoveTask", _NO_MOVE_TASKS),
            "CancelMessageMoveTask": _unsupported("CancelMessageMoveTask", _NO_MOVE_TASKS),
            "ListMessageMoveTasks": _unsupported("ListMessageMoveTasks", _NO_MOVE_TASKS),
        }
        return json_rpc.JsonRpcService(
            "AmazonSQS",
            operations,
            model="sqs",
            title="SQS",
            internal_error="InternalFailure",
            json_version="1.0",
            error_namespace="com.amazonaws.sqs#",
            query_compatible=True,
        )


def _unsupported(operation: str, why: str) -> json_rpc.Operation:
    async def refuse(params: dict[str, Any]) -> dict[str, Any]:
        raise not_implemented("SQS", operation, why)

    return refuse


_NO_PERMISSIONS = "gureum's queues have no per-queue permissions (its edge checks SigV4 keys)."
_NO_MOVE_TASKS = "gureum has no message move tasks; receive from the dead-letter queue instead."
