"""MD5OfMessageAttributes against digests SQS itself answered.

The vectors are SendMessage / ReceiveMessage answers of real SQS recorded in
LocalStack's SQS snapshot tests (tests/aws/services/sqs/test_sqs.snapshot.json,
``test_receive_message_message_attribute_names_filters``,
``test_receive_message_attribute_names_filters`` and
``test_send_message_with_binary_attributes``), and one from sqslite's test of the
algorithm the AWS SDKs check (name, type and value, each length-prefixed, sorted by
name, a transport byte before the value). The SDKs reject a send or receive whose
digest differs, so a wrong digest breaks every client that checks it.
"""

from __future__ import annotations

import base64

import pytest

from gureum.queues.queues import md5_of_attributes


def string(value: str, data_type: str = "String") -> dict[str, str]:
    return {"DataType": data_type, "StringValue": value}


VECTORS = [
    (
        {"General": string("Kenobi"), "Hello": string("There"), "Help.Me": string("Me")},
        "4c360f3fdafd970e05fae2f149d997f5",
    ),
    ({"General": string("Kenobi"), "Hello": string("There")}, "fca026605781cb4126a1e9044df24232"),
    ({"Hello": string("There")}, "a311262e065454b75da111d535b8dacd"),
    ({"Hello": string("There"), "Help.Me": string("Me")}, "83fee93c1bcd8b9a5a923ffacdc636c7"),
    ({"Foo": string("Bar")}, "ae7155c6026991b6d54b11589678bf9c"),
    (
        {
            "attr1": {
                "DataType": "Binary",
                "BinaryValue": base64.b64encode(
                    b"traceparent\x1e00-774062d6c37081a5a0b9b5b88e30627c-2d2482211f6489da-01"
                ).decode(),
            }
        },
        "8cbe4db156db8a94db8b801b7addb984",
    ),
    (
        {"ordinal": string("1", "Number"), "category": string("test")},
        "d21ae90c49061e927f57df5f5d72be1f",
    ),
]


@pytest.mark.parametrize(("attributes", "digest"), VECTORS)
def test_md5_of_message_attributes_matches_sqs(
    attributes: dict[str, dict[str, str]], digest: str
) -> None:
    assert md5_of_attributes(attributes) == digest
    assert md5_of_attributes(dict(reversed(attributes.items()))) == digest
