"""Asynchronous invocation settings: a function's EventInvokeConfig and its destinations.

``PutFunctionEventInvokeConfig`` replaces the whole configuration of a qualifier;
``UpdateFunctionEventInvokeConfig`` merges into it. Destinations and dead-letter queues
may be gureum's built-in queues (``arn:aws:sqs:...``) or functions
(``arn:aws:lambda:...``); SNS topics and EventBridge buses are not part of gureum and are
refused when configured, rather than accepted and never delivered to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gureum.errors import InvalidParameterValueException, ValidationException

DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE = 21600
DESTINATION_ARN = re.compile(
    r"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?:"
    r"(\d{12})?:(.*)"
)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a record goes: a built-in queue or a function (invoked asynchronously)."""

    kind: str  # "sqs" or "lambda"
    arn: str
    name: str  # queue name, or function name (with ``:qualifier`` if the ARN has one)


def parse_target(arn: str, member: str) -> Target:
    """A destination or dead-letter ARN gureum can deliver to; an error if it cannot."""
    if not isinstance(arn, str) or len(arn) > 350 or not DESTINATION_ARN.fullmatch(arn):
        raise ValidationException(
            f"1 validation error detected: Value '{arn}' at '{member}' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}((-gov)|(-iso([a-z]?)))?-"
            "[a-z]+-\\d{1})?:(\\d{12})?:(.*)"
        )
    parts = arn.split(":")
    service = parts[2]
    if service == "sqs" and len(parts) == 6 and parts[5]:
        return Target("sqs", arn, parts[5])
    if service == "lambda" and len(parts) in (7, 8) and parts[5] == "function" and parts[6]:
        return Target("lambda", arn, ":".join(parts[6:]))
    raise InvalidParameterValueException(
        f"The destination ARN {arn} is not supported by gureum: destinations and dead-letter "
        "queues must be gureum queues (arn:aws:sqs:...) or functions (arn:aws:lambda:...)."
    )


def _int_member(params: dict[str, Any], key: str, member: str, low: int, high: int) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            "constraint: Member must be an integer"
        )
    if value < low:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must have value greater than or equal to {low}"
        )
    if value > high:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must have value less than or equal to {high}"
        )
    return value


def validate(params: dict[str, Any]) -> dict[str, Any]:
    """The members of a Put/Update request that are present, checked."""
    out: dict[str, Any] = {}
    retries = _int_member(params, "MaximumRetryAttempts", "maximumRetryAttempts", 0, 2)
    if retries is not None:
        out["MaximumRetryAttempts"] = retries
    age = _int_member(params, "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", 60, 21600)
    if age is not None:
        out["MaximumEventAgeInSeconds"] = age
    destinations = params.get("DestinationConfig")
    if destinations is not None:
        if not isinstance(destinations, dict):
            raise InvalidParameterValueException("DestinationConfig must be an object.")
        config: dict[str, Any] = {}
        for key, member in (
            ("OnSuccess", "destinationConfig.onSuccess.destination"),
            ("OnFailure", "destinationConfig.onFailure.destination"),
        ):
            if key not in destinations:
                continue
            arn = (destinations.get(key) or {}).get("Destination")
            if arn:
                parse_target(arn, member)
                config[key] = {"Destination": arn}
            else:
                config[key] = {}  # (on update: removes that destination)
        out["DestinationConfig"] = config
    return out


def merged(current: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """UpdateFunctionEventInvokeConfig: ``changes`` over ``current``; destinations merge
    per condition (an empty one removes that destination)."""
    config = dict(current or {})
    for key, value in changes.items():
        if key != "DestinationConfig":
            config[key] = value
            continue
        old = dict(config.get("DestinationConfig") or {})
        for condition in ("OnSuccess", "OnFailure"):
            if condition in (value or {}):
                old[condition] = value[condition]
        config["DestinationConfig"] = old
    return config


@dataclass(frozen=True, slots=True)
class EventInvokeConfig:
    """The settings an asynchronous event of one qualifier is processed with."""

    maximum_retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    maximum_event_age: int = DEFAULT_MAXIMUM_EVENT_AGE
    on_success: Target | None = None
    on_failure: Target | None = None

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None) -> EventInvokeConfig:
        if not stored:
            return cls()
        destinations = stored.get("DestinationConfig") or {}

        def target(condition: str) -> Target | None:
            arn = (destinations.get(condition) or {}).get("Destination")
            return parse_target(arn, condition) if arn else None

        return cls(
            stored.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS),
            stored.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE),
            target("OnSuccess"),
            target("OnFailure"),
        )


def shape(stored: dict[str, Any], function_arn: str) -> dict[str, Any]:
    """A FunctionEventInvokeConfig as the API answers it (LastModified in epoch seconds)."""
    destinations = stored.get("DestinationConfig") or {}
    return {
        "LastModified": stored["LastModified"],
        "FunctionArn": function_arn,
        "MaximumRetryAttempts": stored.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS),
        "MaximumEventAgeInSeconds": stored.get(
            "MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE
        ),
        "DestinationConfig": {
            "OnSuccess": destinations.get("OnSuccess") or {},
            "OnFailure": destinations.get("OnFailure") or {},
        },
    }
