"""PKCS#7 (CMS) SignedData, detached, SHA-256: built from a digest, parsed and checked.

The reference CLI signs with node-forge: one signer, the signing certificate (plus
intermediates) embedded, authenticated attributes contentType, messageDigest and signingTime.
We build the same shape from a digest computed by streaming the file, so a large bundle is
never held in memory, and we verify what ``cryptography`` has no API for: the signer's
signature over the authenticated attributes. Comparing ``message_digest`` with the content is
the caller's job, because only the caller knows which bytes were signed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mcpb.bundle import der
from mcpb.bundle.der import DerError, Tlv
from mcpb.bundle.errors import SignatureError

OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_RSA = "1.2.840.113549.1.1.1"
OID_SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _algorithm(oid: str, *, null_params: bool) -> bytes:
    return der.sequence(der.oid(oid), der.encode(der.NULL, b"") if null_params else b"")


def _attribute(oid: str, value: bytes) -> bytes:
    return der.sequence(der.oid(oid), der.set_of(value))


def build_signed_data(
    digest: bytes,
    *,
    signer: x509.Certificate,
    key: SigningKey,
    extra_certs: Sequence[x509.Certificate] = (),
    signing_time: dt.datetime,
) -> bytes:
    """DER ContentInfo(SignedData) over content whose SHA-256 is ``digest`` (detached).

    The signer certificate comes first among the embedded certificates, as the reference
    expects when it displays the publisher.
    """
    if len(digest) != 32:
        raise ValueError("digest must be a SHA-256 digest (32 bytes)")
    attrs = [
        _attribute(OID_CONTENT_TYPE, der.oid(OID_DATA)),
        _attribute(OID_SIGNING_TIME, der.time(signing_time)),
        _attribute(OID_MESSAGE_DIGEST, der.octet_string(digest)),
    ]
    signed_attrs = der.set_of(*attrs)  # what is signed: the SET OF, with its universal tag
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        sig_alg = _algorithm(OID_RSA, null_params=True)
    else:
        signature = key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        sig_alg = _algorithm(OID_ECDSA_WITH_SHA256, null_params=False)
    sha256 = _algorithm(OID_SHA256, null_params=False)
    signer_info = der.sequence(
        der.integer(1),
        der.sequence(signer.issuer.public_bytes(), der.integer(signer.serial_number)),
        sha256,
        der.encode(der.context(0), signed_attrs[_header_length(signed_attrs) :]),
        sig_alg,
        der.octet_string(signature),
    )
    certs = b"".join(c.public_bytes(serialization.Encoding.DER) for c in (signer, *extra_certs))
    signed_data = der.sequence(
        der.integer(1),
        der.set_of(sha256),
        der.sequence(der.oid(OID_DATA)),
        der.encode(der.context(0), certs),
        der.set_of(signer_info),
    )
    return der.sequence(der.oid(OID_SIGNED_DATA), der.encode(der.context(0), signed_data))


def _header_length(encoded: bytes) -> int:
    return len(encoded) - len(der.decode_exact(encoded).content)


@dataclass(frozen=True)
class SignedData:
    """What a verified SignedData says: who signed, over which digest, when, with which chain."""

    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    message_digest: bytes
    signing_time: dt.datetime | None


@dataclass(frozen=True)
class _SignerInfo:
    serial: int | None
    issuer_der: bytes | None
    key_id: bytes | None
    signed_attrs: Tlv
    signature_algorithm: str
    signature: bytes


def _algorithm_oid(item: Tlv, what: str, *, null_ok: bool = True) -> str:
    """The OID of an AlgorithmIdentifier whose parameters are absent (or NULL if allowed)."""
    children = der.expect(item, der.SEQUENCE, what).children()
    if not children or len(children) > 2:
        raise DerError(f"{what}: malformed AlgorithmIdentifier")
    if len(children) == 2 and not (null_ok and children[1].raw == b"\x05\x00"):
        raise DerError(f"{what}: unexpected algorithm parameters")
    return der.decode_oid(children[0], what)


def _version(item: Tlv, allowed: int, what: str) -> None:
    if der.decode_integer(item, what) != allowed:
        raise SignatureError(f"{what} is not {allowed}")


def _parse_signer_info(item: Tlv) -> _SignerInfo:
    fields = der.expect(item, der.SEQUENCE, "SignerInfo").children()
    if len(fields) not in (6, 7) or (len(fields) == 7 and fields[6].tag != der.context(1)):
        raise DerError("SignerInfo: unexpected fields")
    sid = fields[1]
    serial = issuer_der = key_id = None
    if sid.tag == der.SEQUENCE:
        parts = sid.children()
        if len(parts) != 2:
            raise DerError("SignerInfo: issuerAndSerialNumber must have two fields")
        issuer_der = parts[0].raw
        serial = der.decode_integer(parts[1], "SignerInfo serialNumber")
    elif sid.tag == der.context(0, constructed=False):
        key_id = sid.content
    else:
        raise DerError("SignerInfo: unknown signer identifier")
    _version(fields[0], 1 if key_id is None else 3, "SignerInfo version")
    digest_alg = _algorithm_oid(fields[2], "SignerInfo digestAlgorithm")
    if digest_alg != OID_SHA256:
        raise SignatureError(f"digest algorithm {digest_alg} is not SHA-256")
    sig_alg = _algorithm_oid(fields[4], "SignerInfo signatureAlgorithm")
    if sig_alg in (OID_ECDSA_WITH_SHA256, OID_EC_PUBLIC_KEY):
        _algorithm_oid(fields[4], "SignerInfo signatureAlgorithm", null_ok=False)
    if fields[3].tag != der.context(0):
        raise SignatureError("signature has no authenticated attributes")
    signature = der.expect(fields[5], der.OCTET_STRING, "SignerInfo signature")
    return _SignerInfo(
        serial=serial,
        issuer_der=issuer_der,
        key_id=key_id,
        signed_attrs=fields[3],
        signature_algorithm=sig_alg,
        signature=signature.content,
    )


def _attributes(signed_attrs: Tlv) -> dict[str, Tlv]:
    """Authenticated attributes by OID, each with exactly one value; duplicates refused."""
    found: dict[str, Tlv] = {}
    for attr in signed_attrs.children():
        parts = der.expect(attr, der.SEQUENCE, "Attribute").children()
        if len(parts) != 2:
            raise DerError("Attribute: expected type and values")
        oid = der.decode_oid(parts[0], "Attribute type")
        values = der.expect(parts[1], der.SET, f"Attribute {oid} values").children()
        if oid in found or len(values) != 1:
            raise SignatureError(f"authenticated attribute {oid} must appear once with one value")
        found[oid] = values[0]
    return found


def _load_certificate(raw: bytes) -> x509.Certificate:
    """Parse a certificate now: cryptography decodes fields lazily, and later errors would
    surface far from here."""
    cert = x509.load_der_x509_certificate(raw)
    _ = (cert.subject, cert.issuer, cert.serial_number, cert.extensions, cert.public_key())
    _ = (cert.not_valid_before_utc, cert.not_valid_after_utc, cert.signature_hash_algorithm)
    return cert


def _find_signer(info: _SignerInfo, certs: Sequence[x509.Certificate]) -> x509.Certificate:
    if info.key_id is not None:
        for cert in certs:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == info.key_id:
                return cert
        raise SignatureError("no embedded certificate matches the signer's key identifier")
    chosen = [
        c
        for c in certs
        if c.serial_number == info.serial and c.issuer.public_bytes() == info.issuer_der
    ]
    if len(chosen) != 1:
        raise SignatureError("no single embedded certificate matches the signer")
    return chosen[0]


def _check_signature(cert: x509.Certificate, info: _SignerInfo) -> None:
    signed = bytes([der.SET]) + info.signed_attrs.raw[1:]
    public_key = cert.public_key()
    alg = info.signature_algorithm
    try:
        if isinstance(public_key, rsa.RSAPublicKey) and alg in (OID_RSA, OID_SHA256_WITH_RSA):
            public_key.verify(info.signature, signed, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey) and alg in (
            OID_ECDSA_WITH_SHA256,
            OID_EC_PUBLIC_KEY,
        ):
            public_key.verify(info.signature, signed, ec.ECDSA(hashes.SHA256()))
        else:
            kind = type(public_key).__name__
            raise SignatureError(f"unsupported signature algorithm {alg} for a {kind}")
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify with the signer certificate") from exc
    except UnsupportedAlgorithm as exc:
        raise SignatureError(f"unsupported signature algorithm {alg}") from exc


def parse_and_verify(pkcs7_der: bytes) -> SignedData:
    """Parse a detached SignedData and check its single signer's signature.

    Raises :class:`SignatureError` with a one-line reason for anything malformed, unsupported
    or not verifying. The returned ``message_digest`` must still be compared with the content.
    """
    try:
        return _parse_and_verify(pkcs7_der)
    except (ValueError, UnsupportedAlgorithm) as exc:  # DerError, lazy certificate parsing
        raise SignatureError(f"malformed PKCS#7: {exc}") from exc


def _parse_and_verify(pkcs7_der: bytes) -> SignedData:
    outer = der.expect(der.decode_exact(pkcs7_der), der.SEQUENCE, "ContentInfo").children()
    if len(outer) != 2 or der.decode_oid(outer[0], "contentType") != OID_SIGNED_DATA:
        raise SignatureError("PKCS#7 content is not SignedData")
    inner = der.expect(outer[1], der.context(0), "ContentInfo content").children()
    if len(inner) != 1:
        raise DerError("ContentInfo: expected one SignedData")
    fields = der.expect(inner[0], der.SEQUENCE, "SignedData").children()
    if len(fields) < 4 or any(f.tag not in (der.context(0), der.context(1)) for f in fields[3:-1]):
        raise DerError("SignedData: unexpected fields")
    digest_algs = der.expect(fields[1], der.SET, "digestAlgorithms").children()
    if [_algorithm_oid(a, "digestAlgorithms") for a in digest_algs] != [OID_SHA256]:
        raise SignatureError("digestAlgorithms is not exactly SHA-256")
    encap = der.expect(fields[2], der.SEQUENCE, "encapContentInfo").children()
    if not encap or der.decode_oid(encap[0], "eContentType") != OID_DATA:
        raise SignatureError("signed content type is not id-data")
    if len(encap) > 1:
        raise SignatureError("signature embeds its content; expected a detached signature")
    certs_field = next((f for f in fields[3:-1] if f.tag == der.context(0)), None)
    if certs_field is None:
        raise SignatureError("signature embeds no certificate")
    certs: list[x509.Certificate] = []
    for item in certs_field.children():
        try:
            certs.append(_load_certificate(item.raw))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise SignatureError(f"unreadable embedded certificate: {exc}") from exc
    signer_infos = der.expect(fields[-1], der.SET, "signerInfos").children()
    if len(signer_infos) != 1:
        raise SignatureError(f"expected exactly one signer, found {len(signer_infos)}")
    info = _parse_signer_info(signer_infos[0])
    _version(fields[0], 1 if info.key_id is None else 3, "SignedData version")
    attrs = _attributes(info.signed_attrs)
    content_type = attrs.get(OID_CONTENT_TYPE)
    if content_type is None or der.decode_oid(content_type, "contentType") != OID_DATA:
        raise SignatureError("authenticated contentType is missing or not id-data")
    digest = attrs.get(OID_MESSAGE_DIGEST)
    if digest is None:
        raise SignatureError("authenticated messageDigest is missing")
    digest_value = der.expect(digest, der.OCTET_STRING, "messageDigest").content
    when = attrs.get(OID_SIGNING_TIME)
    signer = _find_signer(info, certs)
    _check_signature(signer, info)
    return SignedData(
        signer=signer,
        certificates=tuple(certs),
        message_digest=digest_value,
        signing_time=der.decode_time(when, "signingTime") if when is not None else None,
    )
