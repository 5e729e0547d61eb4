"""The console's session cookies and CSRF tokens, without a server."""

from __future__ import annotations

from gureum.console import sessions

SECRETS = {"AKID": "s3cret"}


def test_a_signed_session_verifies_until_it_expires() -> None:
    cookie, session = sessions.issue("AKID", "s3cret", now=1000.0, lifetime=60)
    assert sessions.verify(cookie, SECRETS, now=1059.0) == session
    assert sessions.verify(cookie, SECRETS, now=1060.0) is None
    assert session.access_key_id == "AKID" and len(session.csrf) >= 24


def test_forged_or_foreign_cookies_are_refused() -> None:
    cookie, _ = sessions.issue("AKID", "s3cret", now=1000.0)
    payload, mac = cookie.split(".")
    assert sessions.verify(f"{payload}x.{mac}", SECRETS, now=1000.0) is None
    assert sessions.verify(f"{payload}.{mac[:-2]}AA", SECRETS, now=1000.0) is None
    # A new secret ends every session signed with the old one.
    assert sessions.verify(cookie, {"AKID": "rotated"}, now=1000.0) is None
    assert sessions.verify(cookie, {"OTHER": "s3cret"}, now=1000.0) is None
    other, _ = sessions.issue("AKID", "wrong", now=1000.0)
    assert sessions.verify(other, SECRETS, now=1000.0) is None
    for junk in (None, "", "abc", "a.b.c", "!!!.???"):
        assert sessions.verify(junk, SECRETS) is None


def test_credentials_and_csrf_tokens_are_compared_exactly() -> None:
    assert sessions.credentials_match(SECRETS, "AKID", "s3cret")
    assert not sessions.credentials_match(SECRETS, "AKID", "s3cre")
    assert not sessions.credentials_match(SECRETS, "NOPE", "s3cret")
    _, session = sessions.issue("AKID", "s3cret")
    assert sessions.csrf_ok(session, session.csrf)
    assert not sessions.csrf_ok(session, None)
    assert not sessions.csrf_ok(session, session.csrf[:-1])
    anonymous = sessions.anonymous("s3cret")
    assert anonymous == sessions.anonymous("s3cret") and anonymous.csrf != session.csrf
