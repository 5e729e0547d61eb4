"""SigV4 verification against signatures botocore itself computes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gureum import errors
from gureum.frontend import sigv4

SECRETS = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    secret: str | None = None,
    key: str = "AKIDEXAMPLE",
    service: str = "lambda",
    region: str = "us-east-1",
) -> dict[str, Any]:
    request = AWSRequest(
        method=method, url=url, data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials(key, secret or SECRETS["AKIDEXAMPLE"]), service, region).add_auth(request)
    parts = urlsplit(url)
    headers = [
        (k.encode(), v.encode() if isinstance(v, str) else v) for k, v in request.headers.items()
    ]
    headers.append((b"host", parts.netloc.encode()))
    return {
        "method": method,
        "raw_path": parts.path.encode(),
        "query": parts.query.encode(),
        "headers": headers,
        "body": body,
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9070/2015-03-31/functions",
        "http://127.0.0.1:9070/2015-03-31/functions/",
        "http://127.0.0.1:9070/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000"
        "%3Afunction%3Af/invocations?Qualifier=%24LATEST",
        "http://127.0.0.1:9070/2015-03-31/functions/?MaxItems=3&Marker=b%20c",
        "http://localhost:9070/",
    ],
)
def test_botocore_signatures_verify(url: str) -> None:
    request = signed("POST", url, b'{"x": 1}')
    caller = sigv4.verify(**request, secrets=SECRETS)
    assert caller == sigv4.Caller("AKIDEXAMPLE", "us-east-1", "lambda")


def test_tampering_is_detected() -> None:
    request = signed("POST", "http://127.0.0.1:9070/2015-03-31/functions/f/invocations", b"{}")
    with pytest.raises(errors.InvalidSignatureException):
        sigv4.verify(**{**request, "body": b'{"evil": 1}'}, secrets=SECRETS)
    with pytest.raises(errors.InvalidSignatureException):
        sigv4.verify(
            **{**request, "raw_path": b"/2015-03-31/functions/g/invocations"}, secrets=SECRETS
        )


def test_wrong_secret_and_unknown_key() -> None:
    url = "http://127.0.0.1:9070/2015-03-31/functions"
    with pytest.raises(errors.InvalidSignatureException):
        sigv4.verify(**signed("GET", url, secret="wrong"), secrets=SECRETS)
    with pytest.raises(errors.UnrecognizedClientException):
        sigv4.verify(**signed("GET", url, key="AKIDOTHER"), secrets=SECRETS)


def test_missing_and_malformed_authorization() -> None:
    base: dict[str, Any] = {"method": "GET", "raw_path": b"/", "query": b"", "body": b""}
    with pytest.raises(errors.MissingAuthenticationTokenException):
        sigv4.verify(**base, headers=[(b"host", b"x")], secrets=SECRETS)
    with pytest.raises(errors.IncompleteSignatureException):
        sigv4.verify(
            **base, headers=[(b"authorization", b"AWS4-HMAC-SHA256 Nonsense")], secrets=SECRETS
        )
    with pytest.raises(errors.IncompleteSignatureException):
        sigv4.verify(**base, headers=[(b"authorization", b"Basic dXNlcjpwYXNz")], secrets=SECRETS)


def test_clock_skew() -> None:
    request = signed("GET", "http://127.0.0.1:9070/2015-03-31/functions")
    later = datetime.now(UTC) + timedelta(minutes=6)
    with pytest.raises(errors.InvalidSignatureException, match="Signature expired"):
        sigv4.verify(**request, secrets=SECRETS, now=later)
    earlier = datetime.now(UTC) - timedelta(minutes=6)
    with pytest.raises(errors.InvalidSignatureException, match="Signature not yet current: "):
        sigv4.verify(**request, secrets=SECRETS, now=earlier)


def test_the_credential_scope_must_name_the_region_and_service() -> None:
    url = "http://127.0.0.1:9070/2015-03-31/functions"
    scoped: dict[str, Any] = {"secrets": SECRETS, "region": "us-east-1", "service": "lambda"}
    assert sigv4.verify(**signed("GET", url), **scoped).region == "us-east-1"
    with pytest.raises(
        errors.InvalidSignatureException,
        match="Credential should be scoped to a valid region, not 'eu-west-1'",
    ):
        sigv4.verify(**signed("GET", url, region="eu-west-1"), **scoped)
    with pytest.raises(
        errors.InvalidSignatureException,
        match="Credential should be scoped to correct service: 'lambda'",
    ):
        sigv4.verify(**signed("GET", url, service="sqs"), **scoped)


def test_the_scope_date_must_be_the_request_date() -> None:
    request = signed("GET", "http://127.0.0.1:9070/2015-03-31/functions")
    authorization = next(v for k, v in request["headers"] if k == b"Authorization").decode()
    day = authorization.split("/")[1]
    other = authorization.replace(f"/{day}/", "/20200101/")
    headers = [(k, other.encode() if k == b"Authorization" else v) for k, v in request["headers"]]
    with pytest.raises(errors.InvalidSignatureException, match="Date in Credential scope"):
        sigv4.verify(**{**request, "headers": headers}, secrets=SECRETS)


def test_only_signed_headers_count_and_each_must_be_there() -> None:
    request = signed("POST", "http://127.0.0.1:9070/2015-03-31/functions/f/invocations", b"{}")
    headers: list[tuple[bytes, bytes]] = request["headers"]
    extra = [*headers, (b"x-amz-invocation-type", b"Event"), (b"user-agent", b"any")]
    sigv4.verify(**{**request, "headers": extra}, secrets=SECRETS)
    retyped = [(k, b"text/plain" if k.lower() == b"content-type" else v) for k, v in headers]
    with pytest.raises(errors.InvalidSignatureException):
        sigv4.verify(**{**request, "headers": retyped}, secrets=SECRETS)
    hostless = [(k, v) for k, v in headers if k.lower() != b"host"]
    with pytest.raises(errors.IncompleteSignatureException):
        sigv4.verify(**{**request, "headers": hostless}, secrets=SECRETS)


def test_a_content_hash_must_be_the_bodys() -> None:
    """botocore signs x-amz-content-sha256 when it sends it: a request replayed with
    another body under the same header is refused; an unsigned payload is taken."""
    import hashlib

    body = b'{"x": 1}'
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9070/2015-03-31/functions",
        data=body,
        headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()},
    )
    SigV4Auth(Credentials("AKIDEXAMPLE", SECRETS["AKIDEXAMPLE"]), "lambda", "us-east-1").add_auth(
        request
    )
    headers = [(k.lower().encode(), str(v).encode()) for k, v in request.headers.items()]
    headers.append((b"host", b"127.0.0.1:9070"))
    common: dict[str, Any] = {"method": "POST", "raw_path": b"/2015-03-31/functions", "query": b""}
    sigv4.verify(**common, headers=headers, body=body, secrets=SECRETS)
    with pytest.raises(errors.InvalidSignatureException) as refused:
        sigv4.verify(**common, headers=headers, body=b'{"x": 2}', secrets=SECRETS)
    assert "x-amz-content-sha256" in refused.value.message
    unsigned = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9070/2015-03-31/functions",
        data=body,
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    SigV4Auth(Credentials("AKIDEXAMPLE", SECRETS["AKIDEXAMPLE"]), "lambda", "us-east-1").add_auth(
        unsigned
    )
    headers = [(k.lower().encode(), str(v).encode()) for k, v in unsigned.headers.items()]
    headers.append((b"host", b"127.0.0.1:9070"))
    sigv4.verify(**common, headers=headers, body=b"anything", secrets=SECRETS)


def test_repeated_and_spaced_headers_are_signed_as_botocore_signs_them() -> None:
    """A header sent twice is signed as its values joined by commas; runs of white space
    in a value as one space."""
    request = AWSRequest(
        method="GET",
        url="http://127.0.0.1:9070/2015-03-31/functions",
        headers={"X-Amz-Meta-Tag": "  first   value "},
    )
    request.headers["X-Amz-Meta-Tag"] = "second"  # (HTTPHeaders adds a second value)
    SigV4Auth(Credentials("AKIDEXAMPLE", SECRETS["AKIDEXAMPLE"]), "lambda", "us-east-1").add_auth(
        request
    )
    headers = [(k.lower().encode(), str(v).encode()) for k, v in request.headers.items()]
    headers.append((b"host", b"127.0.0.1:9070"))
    common: dict[str, Any] = {"method": "GET", "raw_path": b"/2015-03-31/functions", "query": b""}
    sigv4.verify(**common, headers=headers, body=b"", secrets=SECRETS)
    swapped = [h for h in headers if h[0] != b"x-amz-meta-tag"]
    swapped += [(b"x-amz-meta-tag", b"second"), (b"x-amz-meta-tag", b"first value")]
    with pytest.raises(errors.InvalidSignatureException):  # (the values' order is signed)
        sigv4.verify(**common, headers=swapped, body=b"", secrets=SECRETS)


def test_the_authorization_fields_may_come_in_any_order() -> None:
    """The signature need not be the last field (botocore puts it there; the check reads
    each request's own signature either way)."""
    request = signed("GET", "http://127.0.0.1:9070/2015-03-31/functions")
    authorization = next(v for k, v in request["headers"] if k == b"Authorization").decode()
    algorithm, _, rest = authorization.partition(" ")
    credential, signed_headers, signature = (part.strip() for part in rest.split(","))
    for reordered in (
        f"{algorithm} {signature}, {credential}, {signed_headers}",
        f"{algorithm} {signed_headers},{signature} ,{credential}",
        f"{algorithm} {credential},{signed_headers},{signature}",
    ):
        headers = [
            (k, reordered.encode() if k == b"Authorization" else v) for k, v in request["headers"]
        ]
        assert sigv4.verify(**{**request, "headers": headers}, secrets=SECRETS).service == "lambda"
        wrong = reordered.replace(signature, "Signature=" + "0" * 64)
        headers = [
            (k, wrong.encode() if k == b"Authorization" else v) for k, v in request["headers"]
        ]
        with pytest.raises(errors.InvalidSignatureException):
            sigv4.verify(**{**request, "headers": headers}, secrets=SECRETS)
