"""Sign, verify and unsign ``.mcpb`` bundles (the reference CLI's MCPB_SIG_V1 block, done right).

Signing appends ``MCPB_SIG_V1 | len | DER PKCS#7 | MCPB_SIG_END`` (see
:mod:`mcpb.bundle.sigblock`) and, unlike the reference CLI, grows the zip's
end-of-central-directory (EOCD) comment length so the block becomes the tail of the zip comment:
strict zip readers then still open a signed bundle. The signature covers every byte before the
block, that updated length included. Because an ECDSA signature's DER length varies, signing
repeats until the block length it announced is the length it produced.

Decisions:

* Signing a bundle that already carries a block is refused; ``unsign`` first. ``unsign``
  restores the exact original bytes (our EOCD change is undone), so unsign-then-sign is fine.
* A zip whose EOCD comment length does not match its trailing bytes is refused for signing:
  only then can ``unsign`` know the original value.
* Verifying checks the signature over the authenticated attributes, the messageDigest against
  SHA-256 of exactly the bytes before the block, the signer certificate's validity at the
  verification time, and with a CA bundle, the chain (``cryptography.x509.verification``) and
  that the signer may sign code (extendedKeyUsage, when present, names codeSigning).
* ``self_signed_identity`` keeps one key and certificate per user in ``$MCPB_SIGNING_DIR``, else
  ``$XDG_CONFIG_HOME/mcpb/signing``, else ``~/.config/mcpb/signing`` (directory 0700, key 0600);
  the reference CLI writes them into its own npm package directory instead.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import os
import stat
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mcpb.bundle import sigblock
from mcpb.bundle.atomic import atomic_output, write_atomic
from mcpb.bundle.digest import CHUNK
from mcpb.bundle.errors import SignatureError, UsageError
from mcpb.bundle.pkcs7 import SigningKey, build_signed_data, parse_and_verify

Status = Literal["unsigned", "self-signed", "signed"]

EOCD_MAGIC = b"PK\x05\x06"
EOCD_SIZE = 22  # fixed part; the comment length is its last two bytes
MAX_COMMENT = 0xFFFF
_MAX_ATTEMPTS = 32


@dataclass(frozen=True)
class SignatureInfo:
    """What a bundle's signature says; all ``None``/False for an unsigned bundle."""

    status: Status
    subject: str | None = None
    issuer: str | None = None
    fingerprint: str | None = None  # SHA-256 of the signer certificate's DER, lowercase hex
    valid_from: dt.datetime | None = None
    valid_to: dt.datetime | None = None
    signing_time: dt.datetime | None = None
    chain_verified: bool = False

    @property
    def signed(self) -> bool:
        return self.status != "unsigned"


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _info(
    cert: x509.Certificate, *, signing_time: dt.datetime | None, chain_verified: bool
) -> SignatureInfo:
    return SignatureInfo(
        status="self-signed" if _is_self_signed(cert) else "signed",
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        valid_from=cert.not_valid_before_utc,
        valid_to=cert.not_valid_after_utc,
        signing_time=signing_time,
        chain_verified=chain_verified,
    )


# --- the zip's end-of-central-directory record ----------------------------------------------


def _read_at(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)


def _find_eocd(f: BinaryIO, zip_length: int, *, ends: Sequence[int]) -> int | None:
    """Offset of the last EOCD in ``[0, zip_length)`` whose comment reaches one of ``ends``.

    A candidate counts only if its comment length field equals the distance from the end of
    its fixed part to one of the given file offsets; this skips ``PK\\x05\\x06`` inside data.
    """
    start = max(0, zip_length - EOCD_SIZE - MAX_COMMENT)
    tail = _read_at(f, start, zip_length - start)
    at = tail.rfind(EOCD_MAGIC, 0, len(tail) - EOCD_SIZE + 4)
    while at >= 0:
        (length,) = struct.unpack_from("<H", tail, at + 20)
        if any(length == end - (start + at + EOCD_SIZE) for end in ends):
            return start + at
        at = tail.rfind(EOCD_MAGIC, 0, at)
    return None


def _damaged_block(f: BinaryIO, size: int) -> bool:
    """A signature header after the zip's last EOCD magic, but no intact footer after it."""
    start = max(0, size - sigblock.MAX_BLOCK)
    tail = _read_at(f, start, size - start)
    header = tail.rfind(sigblock.HEADER)
    return header >= 0 and tail.rfind(EOCD_MAGIC) < header


# --- file plumbing -----------------------------------------------------------------------------


@contextmanager
def _atomic_output(target: Path, *, like: Path) -> Iterator[BinaryIO]:
    """An atomic output beside ``target`` with the permission bits of ``like``."""
    if not target.parent.is_dir():
        raise UsageError(f"output directory {target.parent} does not exist")
    with atomic_output(target, mode=stat.S_IMODE(like.stat().st_mode)) as out:
        yield out


def _chunks(src: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    """``length`` bytes from ``start`` in bounded chunks; a short file is an error."""
    src.seek(start)
    while length > 0:
        chunk = src.read(min(CHUNK, length))
        if not chunk:
            raise SignatureError("file shrank while being read")
        yield chunk
        length -= len(chunk)


def _copy_range(src: BinaryIO, dst: BinaryIO, start: int, length: int) -> None:
    for chunk in _chunks(src, start, length):
        dst.write(chunk)


def _hash_range(f: BinaryIO, start: int, length: int) -> hashlib._Hash:
    h = hashlib.sha256()
    for chunk in _chunks(f, start, length):
        h.update(chunk)
    return h


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise UsageError(f"{what} {path}: no such file")


# --- loading signing inputs --------------------------------------------------------------------


def _load_certs(path: Path, what: str) -> list[x509.Certificate]:
    _require_file(path, what)
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise SignatureError(f"{what} {path}: not a PEM or DER certificate") from exc


def _load_key(path: Path) -> SigningKey:
    _require_file(path, "key")
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except TypeError as exc:
        raise SignatureError(f"key {path}: encrypted keys are not supported") from exc
    except ValueError as exc:
        raise SignatureError(f"key {path}: not a PEM or DER private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SignatureError(f"key {path}: only RSA and ECDSA keys can sign bundles")
    return key


def _public_der(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _check_valid_at(cert: x509.Certificate, at: dt.datetime, what: str) -> None:
    if at < cert.not_valid_before_utc:
        raise SignatureError(f"{what} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}")
    if at > cert.not_valid_after_utc:
        raise SignatureError(f"{what} expired on {cert.not_valid_after_utc:%Y-%m-%d}")


# --- sign ----------------------------------------------------------------------------------


def sign_bundle(
    path: Path,
    *,
    cert: Path,
    key: Path,
    intermediates: Sequence[Path] = (),
    out: Path | None = None,
    now: dt.datetime | None = None,
) -> SignatureInfo:
    """Sign ``path`` (written to ``out``, default in place) and describe the signature.

    Raises :class:`SignatureError` for an already-signed bundle, a file that is not a zip, a
    key that does not match the certificate, or an expired certificate; nothing is written.
    """
    _require_file(path, "bundle")
    signer, *bundled = _load_certs(cert, "certificate")
    chain = bundled + [c for p in intermediates for c in _load_certs(p, "intermediate")]
    private_key = _load_key(key)
    if _public_der(private_key.public_key()) != _public_der(signer.public_key()):
        raise SignatureError(f"key {key} does not match certificate {cert}")
    when = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    _check_valid_at(signer, when, f"certificate {cert}")
    target = out or path
    with path.open("rb") as f:
        size = path.stat().st_size
        if sigblock.find_block(f, size, source=str(path)) is not None:
            raise SignatureError(f"{path}: already signed; unsign it first")
        eocd = _find_eocd(f, size, ends=[size])
        if eocd is None:
            raise SignatureError(
                f"{path}: not a zip archive (no end-of-central-directory record matching the "
                "end of the file)"
            )
        comment = _read_at(f, eocd + EOCD_SIZE, size - eocd - EOCD_SIZE)
        prefix = _hash_range(f, 0, eocd + 20)

        def sign_for(block_length: int) -> bytes:
            new_length = len(comment) + block_length
            if new_length > MAX_COMMENT:
                raise SignatureError(f"{path}: zip comment too long to hold a signature")
            h = prefix.copy()
            h.update(struct.pack("<H", new_length) + comment)
            return build_signed_data(
                h.digest(), signer=signer, key=private_key, extra_certs=chain, signing_time=when
            )

        block = sigblock.render_block(sign_for(0))
        for _ in range(_MAX_ATTEMPTS):
            candidate = sigblock.render_block(sign_for(len(block)))
            if len(candidate) == len(block):
                block = candidate
                break
            block = candidate
        else:
            raise SignatureError(f"{path}: signature length did not settle")
        with _atomic_output(target, like=path) as dst:
            _copy_range(f, dst, 0, eocd + 20)
            dst.write(struct.pack("<H", len(comment) + len(block)) + comment + block)
    return _info(signer, signing_time=when, chain_verified=False)


# --- verify --------------------------------------------------------------------------------


def _verify_chain(
    signer: x509.Certificate,
    others: Sequence[x509.Certificate],
    ca_bundle: Path,
    at: dt.datetime,
    source: str,
) -> None:
    anchors = _load_certs(ca_bundle, "CA bundle")
    policies = verification.ExtensionPolicy
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(anchors))
        .time(at)
        .extension_policies(
            ca_policy=policies.webpki_defaults_ca(), ee_policy=policies.permit_all()
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(signer, list(others))
    except (verification.VerificationError, ValueError, UnsupportedAlgorithm) as exc:
        reason = str(exc).split(" (encountered", 1)[0]
        raise SignatureError(f"{source}: signer not trusted by {ca_bundle}: {reason}") from exc
    try:
        eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return
    allowed = {ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
    if not allowed.intersection(eku):
        raise SignatureError(f"{source}: signer certificate is not meant for code signing")


def verify_bundle(
    path: Path, *, ca_bundle: Path | None = None, now: dt.datetime | None = None
) -> SignatureInfo:
    """Check the signature of ``path``; an unsigned bundle gives ``status="unsigned"``.

    Raises :class:`SignatureError` with a one-line reason when the signature is malformed,
    does not match the bytes, the certificate is out of its validity period, or (with
    ``ca_bundle``) the chain does not lead to an anchor in that file.
    """
    _require_file(path, "bundle")
    at = now or dt.datetime.now(dt.UTC)
    with path.open("rb") as f:
        size = path.stat().st_size
        block = sigblock.find_block(f, size, source=str(path))
        if block is None:
            if _damaged_block(f, size):
                raise SignatureError(f"{path}: signature block damaged (footer missing)")
            return SignatureInfo(status="unsigned")
        digest = _hash_range(f, 0, block.zip_length).digest()
    try:
        signed = parse_and_verify(block.pkcs7_der)
    except SignatureError as exc:
        raise SignatureError(f"{path}: {exc.message}") from exc
    if signed.message_digest != digest:
        raise SignatureError(f"{path}: signature does not match the bundle's bytes (modified)")
    _check_valid_at(signed.signer, at, f"{path}: signer certificate")
    if ca_bundle is not None:
        others = [c for c in signed.certificates if c != signed.signer]
        _verify_chain(signed.signer, others, ca_bundle, at, str(path))
    return _info(
        signed.signer, signing_time=signed.signing_time, chain_verified=ca_bundle is not None
    )


# --- unsign --------------------------------------------------------------------------------


def unsign_bundle(path: Path, out: Path | None = None) -> Path:
    """Remove the signature block, restoring the bytes as they were before signing.

    For bundles we signed, the EOCD comment length goes back to its original value; for
    bundles signed by the reference CLI (which never changed it) the result is simply the
    bytes before the block. Raises :class:`SignatureError` if ``path`` is not signed.
    """
    _require_file(path, "bundle")
    target = out or path
    size = path.stat().st_size
    with path.open("rb") as f:
        block = sigblock.find_block(f, size, source=str(path))
        if block is None:
            raise SignatureError(f"{path}: not signed; nothing to remove")
        zip_length = block.zip_length
        eocd = _find_eocd(f, zip_length, ends=[size, zip_length])
        with _atomic_output(target, like=path) as dst:
            if eocd is None:  # not a zip we understand: drop the block, change nothing else
                _copy_range(f, dst, 0, zip_length)
            else:
                _copy_range(f, dst, 0, eocd + 20)
                dst.write(struct.pack("<H", zip_length - eocd - EOCD_SIZE))
                _copy_range(f, dst, eocd + EOCD_SIZE, zip_length - eocd - EOCD_SIZE)
    return target


# --- self-signed identity ------------------------------------------------------------------


@dataclass(frozen=True)
class SigningIdentity:
    """Paths of a certificate and its key, and whether they were just created."""

    cert: Path
    key: Path
    created: bool


def default_identity_dir() -> Path:
    """Where ``self_signed_identity`` keeps its key when no directory is given."""
    if explicit := os.environ.get("MCPB_SIGNING_DIR"):
        return Path(explicit)
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "mcpb" / "signing"


def self_signed_identity(
    directory: Path | None = None, *, common_name: str | None = None
) -> SigningIdentity:
    """Return the self-signed signing identity in ``directory``, creating it on first use.

    RSA-3072 (the widest interoperability), codeSigning, valid for ten years, files
    ``self-signed-cert.pem`` and ``self-signed-key.pem``.
    """
    home = directory or default_identity_dir()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (home / ".lock").open("a") as lock:  # two first uses at once must not mix keys
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_identity(home, common_name)


def _ensure_identity(home: Path, common_name: str | None) -> SigningIdentity:
    cert_path = home / "self-signed-cert.pem"
    key_path = home / "self-signed-key.pem"
    if cert_path.is_file() and key_path.is_file():
        return SigningIdentity(cert_path, key_path, created=False)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name(
        [
            x509.NameAttribute(
                NameOID.COMMON_NAME, common_name or f"{getpass.getuser()} (mcpb self-signed)"
            )
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomic(key_path, key_pem, mode=0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return SigningIdentity(cert_path, key_path, created=True)


def sign_bundle_self_signed(
    path: Path, *, out: Path | None = None, directory: Path | None = None
) -> SignatureInfo:
    """:func:`sign_bundle` with the user's self-signed identity (created if needed)."""
    identity = self_signed_identity(directory)
    return sign_bundle(path, cert=identity.cert, key=identity.key, out=out)
