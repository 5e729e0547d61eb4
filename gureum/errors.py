"""Errors that cross the API boundary, each with its AWS error type and HTTP status.

    GureumError
     └── ServiceError                       an AWS API error (type, status, message)
          ├── ValidationException            400  a member breaks its constraint
          ├── InvalidParameterValueException 400
          ├── InvalidRequestContentException 400  the payload is not JSON
          ├── InvalidParameterException      400  (CloudWatch Logs' name for it)
          ├── InvalidRequestException        400  (X-Ray's name for it)
          ├── RuleLimitExceededException     400  (X-Ray: too many sampling rules)
          ├── SnapStartException             400  the version's snapshot could not be made
          ├── SnapStartTimeoutException      408  a restore did not finish in 10 s
          ├── MissingAuthenticationTokenException  403  (SigV4: unsigned)
          ├── UnrecognizedClientException    403  (SigV4: unknown access key)
          ├── InvalidSignatureException      403  (SigV4: wrong signature or expired)
          ├── IncompleteSignatureException   403  (SigV4: malformed Authorization)
          ├── AccessDeniedException          403  another account's resource (a layer)
          ├── ResourceNotFoundException      404
          ├── ProvisionedConcurrencyConfigNotFoundException  404
          ├── ResourceConflictException      409
          ├── PreconditionFailedException    412  RevisionId does not match
          ├── RequestTooLargeException       413
          ├── UnsupportedMediaTypeException  415
          ├── TooManyRequestsException       429  carries ``Reason``
          ├── SerializationException         400  a body the protocol cannot decode
          ├── UnknownOperationException      400  an operation the service lacks
          ├── InvalidAction                  400  (the query protocol's name for it)
          ├── ServiceException               500
          ├── InvalidRuntimeException        502  the runtime cannot run on this host
          ├── NotImplementedException        501  a part of the API gureum lacks yet
          ├── NotFoundException              404  the gateway's (apigatewayv2's names), with
          ├── BadRequestException            400  ConflictException (409)
          ├── TableError                     400  the tables' errors (DynamoDB's names):
          │    ├── ResourceInUseException, ConditionalCheckFailedException,
          │    ├── TransactionCanceledException, TransactionConflictException,
          │    ├── IdempotentParameterMismatchException, LimitExceededException
          │    ├── ProvisionedThroughputExceededException
          │    └── ExpiredIteratorException, TrimmedDataAccessException (streams)
          │        (the Kinesis streams answer ResourceInUseException,
          │        LimitExceededException, ExpiredIteratorException and
          │        ProvisionedThroughputExceededException too)
          ├── InvalidArgumentException       400  Kinesis: a request its rules refuse
          ├── ExpiredNextTokenException      400  Kinesis: a ListShards token past 5 min
          ├── CloudWatchError                400  the metrics API's errors (CloudWatch's
          │    ├── CloudWatchInvalidParameterValue        shapes, with their query codes:
          │    ├── CloudWatchInvalidParameterCombination  InvalidParameterValue, ...)
          │    ├── CloudWatchMissingParameter
          │    └── CloudWatchInternalServiceFault    500
          └── SqsError                       400  the built-in queues' errors (SQS names),
               ├── QueueDoesNotExist                 each with the code of SQS's older
               ├── QueueNameExists                   query protocol that botocore maps
               ├── ReceiptHandleIsInvalid            them by (``x-amzn-query-error``)
               ├── MessageNotInflight
               ├── PurgeQueueInProgress              403
               ├── InvalidAttributeName, InvalidAttributeValue
               ├── EmptyBatchRequest, TooManyEntriesInBatchRequest,
               │   BatchEntryIdsNotDistinct, InvalidBatchEntryId, BatchRequestTooLong
               ├── InvalidParameterValue, MissingParameter, InvalidMessageContents
               └── UnsupportedOperation

JSON-protocol services (CloudWatch Logs) answer every client error with status 400 and
``{"__type": ..., "message": ...}``; ``frontend/json_rpc.py`` renders them so.

Function errors (a handler raising, a timeout, a crash) are not ServiceErrors: the
invoke succeeds at the HTTP level (200) and carries ``X-Amz-Function-Error``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GureumError(Exception):
    """Base of every error gureum raises on purpose."""


class ServiceError(GureumError):
    """An error answered to an AWS client with its error type and status."""

    status: ClassVar[int] = 400
    error_type: ClassVar[str] = "ServiceError"
    #: Lambda's shapes spell the member ``Message`` or ``message``; botocore reads either.
    message_key: ClassVar[str] = "message"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"Type": "User", self.message_key: self.message, **self.extra}


class ValidationException(ServiceError):
    error_type = "ValidationException"


class InvalidParameterValueException(ServiceError):
    error_type = "InvalidParameterValueException"


class InvalidParameterException(ServiceError):
    error_type = "InvalidParameterException"


class InvalidRequestContentException(ServiceError):
    error_type = "InvalidRequestContentException"


class MissingAuthenticationTokenException(ServiceError):
    status = 403
    error_type = "MissingAuthenticationTokenException"


class UnrecognizedClientException(ServiceError):
    status = 403
    error_type = "UnrecognizedClientException"


class InvalidSignatureException(ServiceError):
    status = 403
    error_type = "InvalidSignatureException"


class IncompleteSignatureException(ServiceError):
    status = 403
    error_type = "IncompleteSignatureException"


class SnapStartException(ServiceError):
    """The function's init failed while its snapshot was being made."""

    error_type = "SnapStartException"


class SnapStartTimeoutException(ServiceError):
    status = 408
    error_type = "SnapStartTimeoutException"


class AccessDeniedException(ServiceError):
    """The caller may not use another account's resource (a layer version it names)."""

    status = 403
    error_type = "AccessDeniedException"
    message_key = "Message"


class ResourceNotFoundException(ServiceError):
    status = 404
    error_type = "ResourceNotFoundException"
    message_key = "Message"


class ProvisionedConcurrencyConfigNotFoundException(ServiceError):
    status = 404
    error_type = "ProvisionedConcurrencyConfigNotFoundException"


class ResourceConflictException(ServiceError):
    status = 409
    error_type = "ResourceConflictException"


class PreconditionFailedException(ServiceError):
    status = 412
    error_type = "PreconditionFailedException"


class RequestTooLargeException(ServiceError):
    status = 413
    error_type = "RequestTooLargeException"


class UnsupportedMediaTypeException(ServiceError):
    status = 415
    error_type = "UnsupportedMediaTypeException"


class TooManyRequestsException(ServiceError):
    status = 429
    error_type = "TooManyRequestsException"

    def __init__(self, message: str, reason: str, retry_after: int = 1) -> None:
        super().__init__(message, Reason=reason)
        self.retry_after = retry_after


class SerializationException(ServiceError):
    """A request body the protocol cannot decode (RPC v2 CBOR: not a CBOR map)."""

    error_type = "SerializationException"


class UnknownOperationException(ServiceError):
    """A protocol-level call of an operation the service does not have."""

    error_type = "UnknownOperationException"


class InvalidAction(ServiceError):
    """The query protocol's error for an ``Action`` the service does not have."""

    error_type = "InvalidAction"


class ServiceException(ServiceError):
    status = 500
    error_type = "ServiceException"

    def body(self) -> dict[str, Any]:
        return {"Type": "Service", self.message_key: self.message, **self.extra}


class InvalidRuntimeException(ServiceError):
    """The function's runtime cannot run on this host (Lambda answers 502)."""

    status = 502
    error_type = "InvalidRuntimeException"


class NotImplementedException(ServiceError):
    status = 501
    error_type = "NotImplementedException"

    def body(self) -> dict[str, Any]:
        return {"Type": "Service", self.message_key: self.message, **self.extra}


class SqsError(ServiceError):
    """An error of the built-in queues' SQS API (AWS JSON 1.0, status 400).

    ``query_code`` is the error code of SQS's query protocol: the JSON protocol sends it
    in ``x-amzn-query-error`` and botocore reports it as the error's ``Code``.
    """

    error_type = "SqsError"
    query_code: ClassVar[str] = ""


def _sqs_error(
    name: str, query_code: str | None = None, *, error_type: str | None = None, status: int = 400
) -> type[SqsError]:
    attributes = {"error_type": error_type or name, "query_code": query_code or name}
    return type(name, (SqsError,), {**attributes, "status": status})


QueueDoesNotExist = _sqs_error("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue")
QueueNameExists = _sqs_error("QueueNameExists", "QueueAlreadyExists")
ReceiptHandleIsInvalid = _sqs_error("ReceiptHandleIsInvalid")
MessageNotInflight = _sqs_error("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight")
PurgeQueueInProgress = _sqs_error(  # status 403, as SQS answers it
    "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", status=403
)
InvalidAttributeName = _sqs_error("InvalidAttributeName")
InvalidAttributeValue = _sqs_error("InvalidAttributeValue")
EmptyBatchRequest = _sqs_error("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest")
TooManyEntriesInBatchRequest = _sqs_error(
    "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
)
BatchEntryIdsNotDistinct = _sqs_error(
    "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
)
InvalidBatchEntryId = _sqs_error(
    "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId"
)
BatchRequestTooLong = _sqs_error(
    "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong"
)
# Under the type names SQS's JSON protocol answers (and the query codes botocore reports).
InvalidParameterValue = _sqs_error(
    "InvalidParameterValue", error_type="InvalidParameterValueException"
)
MissingParameter = _sqs_error("MissingParameter", error_type="MissingRequiredParameterException")
InvalidMessageContents = _sqs_error("InvalidMessageContents")
UnsupportedOperation = _sqs_error(
    "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation"
)


class InvalidRequestException(ServiceError):
    """X-Ray's error for a request it cannot take (a malformed filter expression, ...)."""

    error_type = "InvalidRequestException"
    message_key = "Message"


class RuleLimitExceededException(ServiceError):
    error_type = "RuleLimitExceededException"
    message_key = "Message"


class TableError(ServiceError):
    """An error of the tables' DynamoDB API (AWS JSON 1.0, status 400)."""

    error_type = "TableError"


def _table_error(name: str) -> type[TableError]:
    return type(name, (TableError,), {"error_type": name})


ResourceInUseException = _table_error("ResourceInUseException")
ConditionalCheckFailedException = _table_error("ConditionalCheckFailedException")
TransactionCanceledException = _table_error("TransactionCanceledException")
TransactionConflictException = _table_error("TransactionConflictException")
IdempotentParameterMismatchException = _table_error("IdempotentParameterMismatchException")
LimitExceededException = _table_error("LimitExceededException")
ProvisionedThroughputExceededException = _table_error("ProvisionedThroughputExceededException")
ExpiredIteratorException = _table_error("ExpiredIteratorException")
TrimmedDataAccessException = _table_error("TrimmedDataAccessException")


class InvalidArgumentException(ServiceError):
    """Kinesis's error for a request its semantics refuse (a bad shard, hash key, ...)."""

    error_type = "InvalidArgumentException"


class ExpiredNextTokenException(ServiceError):
    error_type = "ExpiredNextTokenException"


class NotFoundException(ServiceError):
    """The API gateway's error for an API or a part of one that is not there."""

    status = 404
    error_type = "NotFoundException"


class BadRequestException(ServiceError):
    """The API gateway's error for a request it cannot take."""

    error_type = "BadRequestException"


class ConflictException(ServiceError):
    """The API gateway's error for a part that exists already."""

    status = 409
    error_type = "ConflictException"


class GoneException(ServiceError):
    """``@connections``: the connection is not there (closed, or never was)."""

    status = 410
    error_type = "GoneException"


class ForbiddenException(ServiceError):
    """``@connections``: the request may not reach that connection."""

    status = 403
    error_type = "ForbiddenException"


class PayloadTooLargeException(ServiceError):
    """``@connections``: a message over API Gateway's 128 KB."""

    status = 413
    error_type = "PayloadTooLargeException"


class CloudWatchError(ServiceError):
    """An error of the CloudWatch metrics API (status 400 unless said).

    ``query_code`` is the code of CloudWatch's query protocol, which its newer protocols
    (Smithy RPC v2 CBOR, JSON) send in ``x-amzn-query-error`` and botocore reports as
    the error's ``Code`` (``InvalidParameterValue`` for the shape
    ``InvalidParameterValueException``).
    """

    error_type = "CloudWatchError"
    query_code: ClassVar[str] = ""


def _cloudwatch_error(name: str, query_code: str, *, status: int = 400) -> type[CloudWatchError]:
    attributes = {"error_type": name, "query_code": query_code, "status": status}
    return type(f"CloudWatch{name}", (CloudWatchError,), attributes)


CloudWatchInvalidParameterValue = _cloudwatch_error(
    "InvalidParameterValueException", "InvalidParameterValue"
)
CloudWatchInvalidParameterCombination = _cloudwatch_error(
    "InvalidParameterCombinationException", "InvalidParameterCombination"
)
CloudWatchMissingParameter = _cloudwatch_error(
    "MissingRequiredParameterException", "MissingParameter"
)
CloudWatchInternalServiceFault = _cloudwatch_error(
    "InternalServiceFault", "InternalServiceError", status=500
)
