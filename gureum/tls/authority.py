"""gureum's local certificate authority and the server certificates it issues (no I/O).

A function's SDK builds ``https://`` URLs from API Gateway's ``domainName`` (AWS's
WebSocket chat example does), so the edge answers HTTPS too, with a certificate that
clients trust once they trust this authority. EC P-256 keys: generated in a millisecond,
and every TLS stack in use (OpenSSL, Node's, browsers') takes them.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "gureum local CA"
CA_LIFETIME = datetime.timedelta(days=3650)
#: A node issues a new server certificate at every start: short-lived is free.
SERVER_LIFETIME = datetime.timedelta(days=365)
#: How far back a certificate's validity starts, for clocks a little behind this one.
CLOCK_SKEW = datetime.timedelta(hours=1)
#: The names every server certificate covers, besides the server's own host: loopback
#: (RFC 6761's ``*.localhost``) and the names of API Gateway's and function URLs' hosts.
SERVER_NAMES = (
    "localhost",
    "*.localhost",
    "*.execute-api.localhost",
    "*.lambda-url.localhost",
    "127.0.0.1",
    "::1",
)
#: Addresses that listen everywhere, which no certificate can name.
_ANY_ADDRESS = ("", "0.0.0.0", "::")


@dataclass(frozen=True, slots=True)
class Authority:
    """A certificate authority: its certificate and private key, PEM."""

    certificate_pem: str
    private_key_pem: str

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("gureum's certificate authority has an EC key")
        return key


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """What a TLS server presents: its certificate followed by the authority's (PEM), and
    its private key (PEM)."""

    chain_pem: str
    private_key_pem: str


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def new_authority(now: datetime.datetime) -> Authority:
    """A new authority, valid for ``CA_LIFETIME`` from ``now``, that may sign only server
    certificates (a path length of 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(_pem(certificate), _key_pem(key))


def server_names(host: str) -> list[str]:
    """The names a node's certificate covers: ``SERVER_NAMES`` and the host it listens
    on (unless that is every address), without repeats."""
    names = list(SERVER_NAMES)
    if host not in _ANY_ADDRESS and host not in names:
        names.append(host)
    return names


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def issue_server_certificate(
    authority: Authority, names: Iterable[str], now: datetime.datetime
) -> ServerCertificate:
    """A server certificate for ``names`` (DNS names or IP addresses), signed by
    ``authority``, valid for ``SERVER_LIFETIME`` (never past the authority's end)."""
    issuer = authority.certificate()
    issuer_key = authority.private_key()
    key = ec.generate_private_key(ec.SECP256R1())
    alternative = [_general_name(name) for name in names]
    common_name = next((n for n in names if not n.startswith("*")), "localhost")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + SERVER_LIFETIME, issuer.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )
    return ServerCertificate(_pem(certificate) + authority.certificate_pem, _key_pem(key))
