"""Console sessions: a signed cookie after signing in with the server's access key.

Pure functions, no I/O. The cookie is ``<payload>.<mac>``: the payload (base64url JSON)
names the access key id, when the session ends and its CSRF token; the MAC is
HMAC-SHA256 under a key derived from the key's secret, so that every node with the same
settings accepts it, and changing the secret ends every session. POSTs must carry the
CSRF token in ``X-Gureum-Csrf`` (a cross-site form cannot set a header; a cross-site
``fetch`` that sets one needs a CORS preflight, which the console never grants).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets as random
import time
from dataclasses import dataclass

COOKIE = "gureum_console"
CSRF_HEADER = "x-gureum-csrf"
#: Seconds a session lasts (the AWS console's sign-in lasts 12 hours).
LIFETIME = 12 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    access_key_id: str
    expires: float
    csrf: str


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"gureum-console-session-v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def credentials_match(secrets: dict[str, str], access_key_id: str, secret: str) -> bool:
    """The sign-in check, in constant time for the secret."""
    expected = secrets.get(access_key_id)
    # (compared even for an unknown id, so that timing does not tell which ids exist)
    matched = hmac.compare_digest((expected or "\0").encode(), secret.encode())
    return expected is not None and matched


def issue(
    access_key_id: str, secret: str, *, now: float | None = None, lifetime: float = LIFETIME
) -> tuple[str, Session]:
    """A new session's cookie value, and the session."""
    session = Session(
        access_key_id, (time.time() if now is None else now) + lifetime, random.token_urlsafe(24)
    )
    payload = _b64(
        json.dumps(
            {"k": session.access_key_id, "e": session.expires, "c": session.csrf},
            separators=(",", ":"),
        ).encode()
    )
    mac = _b64(hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{mac}", session


def verify(
    cookie: str | None, secrets: dict[str, str], *, now: float | None = None
) -> Session | None:
    """The session a cookie carries, or None: malformed, forged, expired, or signed
    with a secret the server no longer has."""
    if not cookie or cookie.count(".") != 1:
        return None
    payload, mac = cookie.split(".")
    try:
        fields = json.loads(_unb64(payload))
        access_key_id, expires, csrf = str(fields["k"]), float(fields["e"]), str(fields["c"])
        given = _unb64(mac)
    except (ValueError, KeyError, TypeError):
        return None
    secret = secrets.get(access_key_id)
    if secret is None:
        return None
    wanted = hmac.new(_key(secret), payload.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(wanted, given):
        return None
    if expires <= (time.time() if now is None else now):
        return None
    return Session(access_key_id, expires, csrf)


def anonymous(secret: str) -> Session:
    """The one session of a server without authentication (``--auth none``): everyone
    is signed in; POSTs still need its CSRF token, which the console's pages carry."""
    csrf = _b64(hmac.new(_key(secret), b"anonymous-csrf", hashlib.sha256).digest()[:18])
    return Session("anonymous", float("inf"), csrf)


def csrf_ok(session: Session, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(session.csrf.encode(), header.encode())
