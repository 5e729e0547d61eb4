"""The local certificate authority and its server certificates, verified by OpenSSL."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from gureum.tls.authority import (
    CA_NAME,
    Authority,
    issue_server_certificate,
    new_authority,
    server_names,
)

NOW = datetime.datetime(2026, 12, 3, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def authority() -> Authority:
    return new_authority(datetime.datetime.now(datetime.UTC))


def test_authority_is_a_ten_year_ca() -> None:
    certificate = new_authority(NOW).certificate()
    assert certificate.subject.rfc4514_string() == f"CN={CA_NAME}"
    assert certificate.not_valid_after_utc - NOW >= datetime.timedelta(days=3650)
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca


def test_server_names_add_the_host_unless_it_is_every_address() -> None:
    assert server_names("0.0.0.0") == server_names("127.0.0.1")
    assert "*.execute-api.localhost" in server_names("::")
    assert server_names("gureum.internal")[-1] == "gureum.internal"


def test_server_certificate_names_and_lifetime(authority: Authority) -> None:
    issued = issue_server_certificate(authority, server_names("10.1.2.3"), NOW)
    leaf = x509.load_pem_x509_certificates(issued.chain_pem.encode())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "*.lambda-url.localhost" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("10.1.2.3") in names.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("::1") in names.get_values_for_type(x509.IPAddress)
    assert leaf.not_valid_after_utc - NOW == datetime.timedelta(days=365)
    assert leaf.issuer == authority.certificate().subject


def _handshake(tmp_path: Path, authority: Authority, server_name: str) -> None:
    """A TLS handshake over a socket pair: the server with a certificate of the
    authority's, the client trusting only the authority and checking ``server_name``."""
    issued = issue_server_certificate(
        authority, server_names("127.0.0.1"), datetime.datetime.now(datetime.UTC)
    )
    (tmp_path / "chain.pem").write_text(issued.chain_pem)
    (tmp_path / "key.pem").write_text(issued.private_key_pem)
    (tmp_path / "ca.pem").write_text(authority.certificate_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    client_context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    server_end, client_end = socket.socketpair()
    problems: list[BaseException] = []

    def serve() -> None:
        try:
            with server_context.wrap_socket(server_end, server_side=True) as tls:
                tls.sendall(b"ok")
        except (OSError, ssl.SSLError) as exc:
            problems.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client_context.wrap_socket(client_end, server_hostname=server_name) as tls:
            assert tls.recv(2) == b"ok"
    finally:
        thread.join(timeout=10)


@pytest.mark.parametrize(
    "name",
    ["localhost", "127.0.0.1", "::1", "abc123.execute-api.localhost", "x.lambda-url.localhost"],
)
def test_openssl_verifies_the_names(tmp_path: Path, authority: Authority, name: str) -> None:
    _handshake(tmp_path, authority, name)


def test_other_names_are_refused(tmp_path: Path, authority: Authority) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tmp_path, authority, "example.com")
