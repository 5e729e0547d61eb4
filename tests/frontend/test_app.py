"""The edge app in-process: what it checks before any API sees a request."""

from __future__ import annotations

from tests.frontend.conftest import InProcessEdge


def test_every_request_is_signed_for_this_region_and_the_service_it_calls(
    edge: InProcessEdge,
) -> None:
    unsigned = edge.request("GET", "/2015-03-31/functions/", signed=False)
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert edge.request("GET", "/2015-03-31/functions/").status_code == 200
    abroad = edge.request("GET", "/2015-03-31/functions/", region="eu-west-1")
    assert abroad.status_code == 403
    assert "not 'eu-west-1'" in abroad.json()["message"]
    as_xray = edge.request("GET", "/2015-03-31/functions/", service="xray")
    assert as_xray.status_code == 403
    assert "correct service: 'lambda'" in as_xray.json()["message"]
    # JSON-protocol services answer in their own shape, before routing too
    sqs = edge.target("AmazonSQS.ListQueues", b"{}", "logs")
    assert sqs.status_code == 403
    assert sqs.json()["__type"] == "com.amazonaws.sqs#InvalidSignatureException"
    assert edge.target("AmazonSQS.ListQueues", b"{}", "sqs").status_code == 200


def test_capability_urls_need_no_signature(edge: InProcessEdge) -> None:
    missing = edge.request("GET", "/_gureum/code/" + "0" * 64 + ".zip", signed=False)
    assert missing.status_code == 404
    assert missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_unknown_and_unimplemented_operations(edge: InProcessEdge) -> None:
    signing = edge.request("POST", "/2020-04-22/code-signing-configs/", b"{}")
    assert (signing.status_code, signing.headers["x-amzn-ErrorType"]) == (
        501,
        "NotImplementedException",
    )
    assert "CreateCodeSigningConfig" in signing.json()["message"]
    nothing = edge.request("GET", "/nothing/here")
    assert (nothing.status_code, nothing.headers["x-amzn-ErrorType"]) == (
        404,
        "UnknownOperationException",
    )
