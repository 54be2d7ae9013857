"""A small test PKI: keys, a root CA, intermediates and signing certificates, written as PEM.

Tests use this to sign bundles with real certificate chains (RSA and ECDSA) without shelling
out to openssl. Everything is generated in memory with ``cryptography`` and written to a
directory the caller owns (usually ``tmp_path``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyKind = Literal["rsa", "ec"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def make_key(kind: KeyKind = "rsa") -> PrivateKey:
    """A fresh private key: RSA-2048 (fast enough for tests) or ECDSA P-256."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class Identity:
    """A certificate with its private key, in memory and as PEM files."""

    name: str
    cert: x509.Certificate
    key: PrivateKey
    cert_path: Path
    key_path: Path

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mcpb test PKI"),
        ]
    )


def issue(
    directory: Path,
    name: str,
    *,
    issuer: Identity | None = None,
    kind: KeyKind = "rsa",
    ca: bool = False,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    code_signing: bool = True,
) -> Identity:
    """Create a certificate named ``name`` signed by ``issuer`` (self-signed when None).

    CA certificates get basicConstraints CA=true and keyCertSign; end-entity certificates get
    digitalSignature and, when ``code_signing``, the codeSigning extended key usage.
    """
    key = make_key(kind)
    subject = _name(name)
    issuer_name = issuer.cert.subject if issuer else subject
    signing_key = issuer.key if issuer else key
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - dt.timedelta(days=1))
        .not_valid_after(not_after or NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    aki_source = issuer.key.public_key() if issuer else key.public_key()
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_source), critical=False
    )
    if not ca and code_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    cert = builder.sign(signing_key, hashes.SHA256())
    cert_path = directory / f"{name}.pem"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Identity(name, cert, key, cert_path, key_path)


@dataclass(frozen=True)
class Chain:
    """root CA → intermediate CA → signer, plus the root alone as a CA bundle file."""

    root: Identity
    intermediate: Identity
    signer: Identity
    ca_bundle: Path


def build_chain(directory: Path, kind: KeyKind = "rsa", *, prefix: str = "") -> Chain:
    """A three-level chain in ``directory``; every key of type ``kind``."""
    directory.mkdir(parents=True, exist_ok=True)
    root = issue(directory, f"{prefix}root-ca", kind=kind, ca=True)
    intermediate = issue(directory, f"{prefix}intermediate-ca", issuer=root, kind=kind, ca=True)
    signer = issue(directory, f"{prefix}signer", issuer=intermediate, kind=kind)
    return Chain(root, intermediate, signer, root.cert_path)
