"""AWS Signature Version 4: verifying what a client signed (pure functions, no I/O).

The edge recomputes the signature of each request from the configured secret key, the
way botocore and the other SDKs compute it: the canonical request (method, the path
URI-encoded once more, the sorted query, the signed headers trimmed, the payload's
SHA-256), the string to sign, and the HMAC chain of date, region, service.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import posixpath
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from gureum.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
#: How far a request's X-Amz-Date may be from the server's clock, as AWS allows.
MAX_SKEW_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Caller:
    """Who signed a request, and for which region and service."""

    access_key_id: str
    region: str
    service: str


def _canonical_path(raw_path: bytes) -> str:
    path = raw_path.decode("latin-1") or "/"
    normalized = posixpath.normpath(path) if path not in ("", "/") else "/"
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return quote(normalized, safe="/~")


def _canonical_query(query: bytes) -> str:
    if not query:
        return ""
    pairs = [pair.partition("=") for pair in query.decode("latin-1").split("&")]
    return "&".join(f"{key}={value}" for key, _, value in sorted((k, s, v) for k, s, v in pairs))


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key of a day, region and service (the same all day: cached)."""
    key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


@functools.lru_cache(maxsize=64)
def _signer(secret: str, date: str, region: str, service: str) -> hmac.HMAC:
    """An HMAC keyed with the day's signing key, copied for each request: OpenSSL's
    set-up of a key costs about as much as the hash of a string to sign."""
    return hmac.new(_signing_key(secret, date, region, service), digestmod=hashlib.sha256)


@functools.lru_cache(maxsize=256)
def _timestamp(stamp: str) -> float:
    """``20261125T081500Z`` as epoch seconds (strptime is slow; requests share stamps)."""
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y%m%dT%H%M%SZ")


@functools.lru_cache(maxsize=1024)
def _canonical_path_cached(raw_path: bytes) -> str:
    return _canonical_path(raw_path)


def _unsigned(content_hash: str) -> bool:
    """A payload hash that vouches for no body (S3's unsigned and streaming payloads)."""
    return content_hash == "UNSIGNED-PAYLOAD" or content_hash.startswith("STREAMING-")


def parse_authorization(value: str) -> tuple[str, str, str, str, list[str], str]:
    """(access key, date, region, service, signed headers, signature) of the header."""
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported authorization type {algorithm!r}; use {ALGORITHM}."
        )
    fields = {}
    for part in rest.split(","):
        key, _, field = part.strip().partition("=")
        fields[key] = field
    try:
        credential = fields["Credential"].split("/")
        access_key, date, region, service, terminator = credential
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise IncompleteSignatureException(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            "parameters of the form AKID/date/region/service/aws4_request."
        ) from None
    if terminator != "aws4_request":
        raise IncompleteSignatureException("Credential should be scoped with aws4_request.")
    return access_key, date, region, service, signed, signature


@dataclass(frozen=True, slots=True)
class _Credential:
    """An Authorization header but for its signature: who signed, for which day, region
    and service, and which headers (the same in every request a client signs that day)."""

    caller: Caller
    date: str
    #: the signed headers' names, as text and as ASGI's (lower-case) bytes
    signed: tuple[tuple[str, bytes], ...]
    signed_line: str
    signed_names: frozenset[bytes]
    #: the headers a check reads: the signed ones, the date and the payload's hash
    wanted: frozenset[bytes]
    signs_host: bool

    @classmethod
    def of(
        cls, access_key: str, date: str, region: str, service: str, signed: list[str]
    ) -> _Credential:
        names = frozenset(name.encode("latin-1") for name in signed)
        return cls(
            Caller(access_key, region, service),
            date,
            tuple((name, name.encode("latin-1")) for name in signed),
            ";".join(signed),
            names,
            names | {b"x-amz-date", b"x-amz-content-sha256"},
            "host" in signed,
        )


@functools.lru_cache(maxsize=256)
def _credential(head: str) -> _Credential:
    """The credential of an Authorization header up to its ``Signature=`` (parsed once for
    the requests that share it; the signature itself is checked afresh every time)."""
    access_key, date, region, service, signed, _ = parse_authorization(head + "Signature=")
    return _Credential.of(access_key, date, region, service, signed)


def _credential_and_signature(authorization: str) -> tuple[_Credential, str]:
    cut = authorization.rfind("Signature=")
    head = authorization[:cut]
    signature = authorization[cut + len("Signature=") :]
    if cut > 0 and head.rstrip().endswith(",") and "," not in signature:
        # (as parse_authorization reads it: the last field, its value up to the end)
        return _credential(head), signature.rstrip()
    access_key, date, region, service, signed, signature = parse_authorization(authorization)
    return _Credential.of(access_key, date, region, service, signed), signature


def verify(
    *,
    method: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    secrets: dict[str, str],
    region: str | None = None,
    service: str | None = None,
    now: datetime | None = None,
) -> Caller:
    """Check a request's SigV4 signature against ``secrets`` (access key -> secret key),
    and that its credential is scoped to ``region`` and ``service`` where they are given."""
    return _verify(method, raw_path, query, headers, body, secrets, region, service, now)


def verify_request(
    scope: Any, body: bytes, *, secrets: dict[str, str], region: str, service: str
) -> Caller:
    """:func:`verify` of an ASGI request (its method, raw path, query and headers)."""
    return _verify(
        scope["method"],
        scope.get("raw_path") or scope["path"].encode(),
        scope.get("query_string", b""),
        scope["headers"],
        body,
        secrets,
        region,
        service,
        None,
    )


def _verify(
    method: str,
    raw_path: bytes,
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    secrets: dict[str, str],
    region: str | None,
    service: str | None,
    now: datetime | None,
) -> Caller:
    authorization = ""
    for name, value in headers:
        if name == b"authorization" or name.lower() == b"authorization":
            authorization = value.decode("latin-1")
            break
    if not authorization:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    credential, signature = _credential_and_signature(authorization)
    caller = credential.caller
    date = credential.date
    secret = secrets.get(caller.access_key_id)
    if secret is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    if region is not None and caller.region != region:
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid region, not '{caller.region}'. "
        )
    if service is not None and caller.service != service:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{service}'. "
        )
    # Only the headers the signature covers (and the two it depends on) are read: the
    # first value of each, and any repeated one after (rare) in ``more``.
    wanted = credential.wanted
    first: dict[bytes, bytes] = {}
    more: list[tuple[bytes, bytes]] = []
    for raw_name, raw_value in headers:
        if raw_name not in wanted:
            raw_name = raw_name.lower()  # (servers lower-case names; ASGI asks them to)
            if raw_name not in wanted:
                continue
        if raw_name in first:
            more.append((raw_name, raw_value))
        else:
            first[raw_name] = raw_value
    stamp = first.get(b"x-amz-date", b"").decode("latin-1")
    try:
        when = _timestamp(stamp)
    except ValueError:
        raise IncompleteSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        ) from None
    current = now.timestamp() if now is not None else time.time()
    if abs(current - when) > MAX_SKEW_SECONDS:
        clock = _stamp(current)
        if when > current:
            raise InvalidSignatureException(
                f"Signature not yet current: {stamp} is still later than "
                f"{_stamp(current + MAX_SKEW_SECONDS)} ({clock} + 5 min.)"
            )
        raise InvalidSignatureException(
            f"Signature expired: {stamp} is now earlier than "
            f"{_stamp(current - MAX_SKEW_SECONDS)} ({clock} - 5 min.)"
        )
    if date != stamp[:8]:
        raise InvalidSignatureException(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{date}' != '{stamp[:8]}', from '{stamp}'."
        )
    if not credential.signs_host or not first.keys() >= credential.signed_names:
        raise IncompleteSignatureException(
            "The request must sign the host header and every header it names as signed."
        )
    hashed = first.get(b"x-amz-content-sha256")
    content_hash = hashed.decode("latin-1") if hashed is not None else None
    if content_hash is not None and not _unsigned(content_hash):
        # The signature covers the header's hash, so the hash must be the body's: else
        # a signed request could be replayed with any other body.
        if not hmac.compare_digest(content_hash.lower(), hashlib.sha256(body).hexdigest()):
            raise InvalidSignatureException(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
    if more:
        lines = "".join(
            f"{name}:{','.join(_trimmed(v) for v in _values(raw, first, more))}\n"
            for name, raw in credential.signed
        )
    else:
        lines = "".join(
            [
                f"{name}:{' '.join(first[raw].decode('latin-1').split())}\n"
                for name, raw in credential.signed
            ]
        )
    canonical = (
        f"{method.upper()}\n{_canonical_path_cached(raw_path)}\n{_canonical_query(query)}\n"
        f"{lines}\n{credential.signed_line}\n{content_hash or hashlib.sha256(body).hexdigest()}"
    )
    scope = f"{date}/{caller.region}/{caller.service}/aws4_request"
    string_to_sign = (
        f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    mac = _signer(secret, date, caller.region, caller.service).copy()
    mac.update(string_to_sign.encode())
    if not hmac.compare_digest(mac.hexdigest(), signature):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details."
        )
    return caller


def _trimmed(value: bytes) -> str:
    """A header's value as SigV4 signs it: runs of white space one space, none at the ends."""
    return " ".join(value.decode("latin-1").split())


def _values(raw: bytes, first: dict[bytes, bytes], more: list[tuple[bytes, bytes]]) -> list[bytes]:
    """Every value of a repeated header, in order."""
    return [first[raw], *(value for name, value in more if name == raw)]
