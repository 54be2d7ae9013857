"""Signing, verifying and unsigning bundles with real keys and a real test CA."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from mcpb.bundle import sigblock
from mcpb.bundle.errors import SignatureError, UsageError
from mcpb.bundle.signature import (
    EOCD_MAGIC,
    self_signed_identity,
    sign_bundle,
    sign_bundle_self_signed,
    unsign_bundle,
    verify_bundle,
)
from tests.support.certs import Chain, build_chain, issue


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Chain]:
    base = tmp_path_factory.mktemp("pki")
    return {kind: build_chain(base / kind, kind) for kind in ("rsa", "ec")}


def make_bundle(path: Path, *, comment: bytes = b"", files: int = 3) -> Path:
    """A small valid zip with a manifest, written with the standard library."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", '{"manifest_version": "0.3", "name": "demo"}')
        for i in range(files):
            zf.writestr(f"server/file{i}.py", f"print({i})\n" * (i + 1))
        zf.comment = comment
    return path


def eocd_of(data: bytes) -> tuple[int, int]:
    """(offset, comment length) of the last EOCD record in ``data``."""
    at = data.rfind(EOCD_MAGIC, 0, len(data) - 21)
    while at >= 0:
        (length,) = struct.unpack_from("<H", data, at + 20)
        if at + 22 + length == len(data):
            return at, length
        at = data.rfind(EOCD_MAGIC, 0, at)
    raise AssertionError("no EOCD whose comment reaches the end of the file")


def sign_with(chain: Chain, bundle: Path, **kw):
    return sign_bundle(
        bundle,
        cert=chain.signer.cert_path,
        key=chain.signer.key_path,
        intermediates=[chain.intermediate.cert_path],
        **kw,
    )


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_round_trip_with_intermediate_chain(pki, tmp_path, kind):
    chain = pki[kind]
    bundle = make_bundle(tmp_path / "demo.mcpb")
    original = bundle.read_bytes()

    signed_info = sign_with(chain, bundle)
    data = bundle.read_bytes()
    block = sigblock.find_block_in_file(bundle)
    assert block is not None
    assert block.end == len(data)
    assert data[block.zip_length :].startswith(b"MCPB_SIG_V1")
    assert signed_info.status == "signed"

    info = verify_bundle(bundle, ca_bundle=chain.ca_bundle)
    assert info.status == "signed"
    assert info.chain_verified is True
    assert info.subject == "O=mcpb test PKI,CN=signer"
    assert info.issuer == "O=mcpb test PKI,CN=intermediate-ca"
    assert info.fingerprint == chain.signer.cert.fingerprint(hashes.SHA256()).hex()
    assert info.valid_from == chain.signer.cert.not_valid_before_utc
    assert info.valid_to == chain.signer.cert.not_valid_after_utc
    assert info.signing_time == signed_info.signing_time
    assert info.signing_time is not None
    assert abs(info.signing_time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)

    # Without a CA bundle the signature still verifies, but the chain is not vouched for.
    plain = verify_bundle(bundle)
    assert (plain.status, plain.chain_verified) == ("signed", False)

    # The signed bytes are the zip with the EOCD comment length grown over the block.
    digest = hashlib.sha256(data[: block.zip_length]).digest()
    assert digest in block.pkcs7_der
    assert data[: block.zip_length] != original


@pytest.mark.parametrize("comment", [b"", b"an archive comment"])
def test_signed_bundle_is_a_strict_zip(pki, tmp_path, comment):
    bundle = make_bundle(tmp_path / "demo.mcpb", comment=comment)
    with zipfile.ZipFile(bundle) as zf:
        files_before = {i.filename: zf.read(i) for i in zf.infolist()}
    sign_with(pki["ec"], bundle)
    data = bundle.read_bytes()
    block = sigblock.find_block_in_file(bundle)
    assert block is not None

    at, length = eocd_of(data)  # the EOCD comment length covers exactly the trailing bytes
    assert at + 22 + length == len(data)
    assert data[at + 22 : at + 22 + len(comment)] == comment

    with zipfile.ZipFile(bundle) as zf:
        assert zf.testzip() is None
        assert zf.comment.startswith(comment)
        assert zf.comment.endswith(b"MCPB_SIG_END")
        assert {i.filename: zf.read(i) for i in zf.infolist()} == files_before

    unzip = shutil.which("unzip")
    if unzip is not None:  # Info-ZIP is stricter than Python about trailing bytes
        result = subprocess.run([unzip, "-t", str(bundle)], capture_output=True)
        output = (result.stdout + result.stderr).decode(errors="replace")  # it prints the comment
        assert result.returncode == 0, output
        assert "No errors detected" in output
        assert "warning" not in output.lower()
        assert output.count("OK") == len(files_before)


def test_ecdsa_length_changes_are_absorbed(pki, tmp_path):
    """ECDSA signatures vary by a byte or two; every signed file must still be a strict zip."""
    lengths = set()
    for i in range(24):
        bundle = make_bundle(tmp_path / f"b{i}.mcpb")
        sign_with(pki["ec"], bundle)
        data = bundle.read_bytes()
        eocd_of(data)
        block = sigblock.find_block_in_file(bundle)
        assert block is not None
        lengths.add(len(block.pkcs7_der))
        assert verify_bundle(bundle).status == "signed"
    assert len(lengths) > 1


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_unsign_restores_original_bytes(pki, tmp_path, kind):
    bundle = make_bundle(tmp_path / "demo.mcpb", comment=b"keep me")
    original = bundle.read_bytes()
    sign_with(pki[kind], bundle)
    signed = bundle.read_bytes()

    out = tmp_path / "copy.mcpb"
    assert unsign_bundle(bundle, out) == out
    assert out.read_bytes() == original
    assert bundle.read_bytes() == signed  # the input was left alone

    unsign_bundle(bundle)
    assert bundle.read_bytes() == original
    assert verify_bundle(bundle).status == "unsigned"

    # Unsign-then-sign is allowed and verifies again.
    sign_with(pki[kind], bundle)
    assert verify_bundle(bundle, ca_bundle=pki[kind].ca_bundle).chain_verified


def test_unsign_of_a_reference_style_block_drops_only_the_block(pki, tmp_path):
    """A block appended without touching the EOCD (the reference CLI's way)."""
    bundle = make_bundle(tmp_path / "demo.mcpb")
    original = bundle.read_bytes()
    appended = original + sigblock.render_block(b"\x30\x03\x02\x01\x01")
    bundle.write_bytes(appended)
    unsign_bundle(bundle)
    assert bundle.read_bytes() == original


def test_refuses_to_sign_twice_and_leaves_the_file(pki, tmp_path):
    bundle = make_bundle(tmp_path / "demo.mcpb")
    sign_with(pki["rsa"], bundle)
    signed = bundle.read_bytes()
    with pytest.raises(SignatureError, match="already signed"):
        sign_with(pki["rsa"], bundle)
    assert bundle.read_bytes() == signed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.mcpb"]


def test_comment_without_room_for_the_block_is_refused(pki, tmp_path):
    bundle = make_bundle(tmp_path / "demo.mcpb", comment=b"c" * 65000)
    original = bundle.read_bytes()
    with pytest.raises(SignatureError, match="zip comment too long"):
        sign_with(pki["rsa"], bundle)
    assert bundle.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.mcpb"]


def test_unsign_unsigned_is_an_error(tmp_path):
    bundle = make_bundle(tmp_path / "demo.mcpb")
    with pytest.raises(SignatureError, match="not signed"):
        unsign_bundle(bundle)


def test_sign_to_out_leaves_the_input(pki, tmp_path):
    bundle = make_bundle(tmp_path / "demo.mcpb")
    original = bundle.read_bytes()
    out = tmp_path / "signed.mcpb"
    sign_with(pki["rsa"], bundle, out=out)
    assert bundle.read_bytes() == original
    assert verify_bundle(out, ca_bundle=pki["rsa"].ca_bundle).status == "signed"


def test_verify_unsigned_reports_status(tmp_path):
    info = verify_bundle(make_bundle(tmp_path / "demo.mcpb"))
    assert info.status == "unsigned"
    assert (info.subject, info.fingerprint, info.chain_verified) == (None, None, False)
    assert not info.signed


def flipped(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :]


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_every_single_byte_flip_fails_verification(pki, tmp_path):
    """Exhaustive: the zip part, the header, the length, the DER and the footer."""
    chain = pki["ec"]
    bundle = make_bundle(tmp_path / "demo.mcpb", files=1)
    sign_with(chain, bundle)
    data = bundle.read_bytes()
    assert verify_bundle(bundle, ca_bundle=chain.ca_bundle).chain_verified
    victim = tmp_path / "tampered.mcpb"
    accepted = []
    for offset in range(len(data)):
        victim.write_bytes(flipped(data, offset))
        try:
            verify_bundle(victim, ca_bundle=chain.ca_bundle)
        except SignatureError as exc:
            assert "\n" not in str(exc)
            assert str(victim) in str(exc)
        else:
            accepted.append(offset)
    assert accepted == []


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_byte_flips_fail_without_a_ca_bundle(pki, tmp_path, kind):
    bundle = make_bundle(tmp_path / "demo.mcpb")
    sign_with(pki[kind], bundle)
    data = bundle.read_bytes()
    block = sigblock.find_block_in_file(bundle)
    assert block is not None
    zip_len = block.zip_length
    der_at = zip_len + len(sigblock.HEADER) + 4
    eocd, _ = eocd_of(data)
    offsets = {
        "first zip byte": 0,
        "middle of zip": zip_len // 2,
        "eocd comment length": eocd + 20,
        "last zip byte": zip_len - 1,
        "header": zip_len + 3,
        "length field": zip_len + len(sigblock.HEADER),
        "der start": der_at,
        "der middle": der_at + len(block.pkcs7_der) // 2,
        "der signature": der_at + len(block.pkcs7_der) - 5,
        "footer": len(data) - 3,
    }
    victim = tmp_path / "tampered.mcpb"
    for where, offset in offsets.items():
        victim.write_bytes(flipped(data, offset))
        with pytest.raises(SignatureError) as err:
            verify_bundle(victim)
        assert str(victim) in str(err.value), where


def test_truncated_and_extended_files_fail(pki, tmp_path):
    bundle = make_bundle(tmp_path / "demo.mcpb")
    sign_with(pki["rsa"], bundle)
    data = bundle.read_bytes()
    victim = tmp_path / "v.mcpb"
    victim.write_bytes(data[:-1])
    with pytest.raises(SignatureError, match="damaged"):
        verify_bundle(victim)
    victim.write_bytes(b"x" + data)
    with pytest.raises(SignatureError, match="does not match the bundle"):
        verify_bundle(victim)


def test_block_bytes_inside_archived_files_do_not_count(pki, tmp_path):
    """A stored (uncompressed) file holding a whole block's bytes is data, not a signature."""
    fake = sigblock.render_block(b"\x30\x03\x02\x01\x01")
    bundle = tmp_path / "demo.mcpb"
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", "{}")
        zf.writestr("vendor/sigblock_copy.bin", fake)
    original = bundle.read_bytes()
    assert fake in original
    assert verify_bundle(bundle).status == "unsigned"
    sign_with(pki["rsa"], bundle)
    assert verify_bundle(bundle, ca_bundle=pki["rsa"].ca_bundle).chain_verified
    unsign_bundle(bundle)
    assert bundle.read_bytes() == original


def test_bytes_appended_after_the_block_fail(pki, tmp_path):
    bundle = make_bundle(tmp_path / "demo.mcpb")
    sign_with(pki["rsa"], bundle)
    bundle.write_bytes(bundle.read_bytes() + b"\n")
    with pytest.raises(SignatureError, match="damaged"):
        verify_bundle(bundle)


def test_untrusted_chain_is_rejected(pki, tmp_path):
    bundle = make_bundle(tmp_path / "demo.mcpb")
    sign_with(pki["rsa"], bundle)
    with pytest.raises(SignatureError, match="not trusted by"):
        verify_bundle(bundle, ca_bundle=pki["ec"].ca_bundle)
    # Without the intermediate embedded the chain cannot be built.
    plain = tmp_path / "plain.mcpb"
    make_bundle(plain)
    sign_bundle(plain, cert=pki["rsa"].signer.cert_path, key=pki["rsa"].signer.key_path)
    assert verify_bundle(plain).status == "signed"
    with pytest.raises(SignatureError, match="not trusted by"):
        verify_bundle(plain, ca_bundle=pki["rsa"].ca_bundle)


def test_validity_period_is_enforced(pki, tmp_path):
    chain = pki["ec"]
    bundle = make_bundle(tmp_path / "demo.mcpb")
    sign_with(chain, bundle)
    later = chain.signer.cert.not_valid_after_utc + dt.timedelta(days=1)
    with pytest.raises(SignatureError, match="expired on"):
        verify_bundle(bundle, now=later)
    earlier = chain.signer.cert.not_valid_before_utc - dt.timedelta(days=1)
    with pytest.raises(SignatureError, match="not valid before"):
        verify_bundle(bundle, now=earlier)


def test_expired_certificate_cannot_sign(tmp_path):
    now = dt.datetime.now(dt.UTC)
    old = issue(
        tmp_path,
        "old",
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    bundle = make_bundle(tmp_path / "demo.mcpb")
    original = bundle.read_bytes()
    with pytest.raises(SignatureError, match="expired on"):
        sign_bundle(bundle, cert=old.cert_path, key=old.key_path)
    assert bundle.read_bytes() == original


def test_code_signing_usage_required_by_chain_check(pki, tmp_path):
    chain = pki["rsa"]
    tls_only = issue(tmp_path, "tls", issuer=chain.intermediate, code_signing=False)
    # Replace the EKU: a certificate for something else entirely is refused with a CA bundle.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    cert = (
        x509.CertificateBuilder()
        .subject_name(tls_only.cert.subject)
        .issuer_name(chain.intermediate.cert.subject)
        .public_key(tls_only.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(tls_only.cert.not_valid_before_utc)
        .not_valid_after(tls_only.cert.not_valid_after_utc)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(chain.intermediate.key, hashes.SHA256())
    )
    tls_only.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    bundle = make_bundle(tmp_path / "demo.mcpb")
    sign_bundle(
        bundle,
        cert=tls_only.cert_path,
        key=tls_only.key_path,
        intermediates=[chain.intermediate.cert_path],
    )
    assert verify_bundle(bundle).status == "signed"
    with pytest.raises(SignatureError, match="not meant for code signing"):
        verify_bundle(bundle, ca_bundle=chain.ca_bundle)


def test_mismatched_key_and_bad_inputs(pki, tmp_path):
    bundle = make_bundle(tmp_path / "demo.mcpb")
    with pytest.raises(SignatureError, match="does not match certificate"):
        sign_bundle(bundle, cert=pki["rsa"].signer.cert_path, key=pki["ec"].signer.key_path)
    with pytest.raises(UsageError, match="no such file"):
        sign_bundle(bundle, cert=tmp_path / "missing.pem", key=pki["rsa"].signer.key_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(SignatureError, match="not a PEM or DER certificate"):
        sign_bundle(bundle, cert=junk, key=pki["rsa"].signer.key_path)
    not_zip = tmp_path / "not.mcpb"
    not_zip.write_bytes(b"hello, this is not a zip file")
    with pytest.raises(SignatureError, match="not a zip archive"):
        sign_with(pki["rsa"], not_zip)
    garbage_after = tmp_path / "trailing.mcpb"
    garbage_after.write_bytes(make_bundle(tmp_path / "t.zip").read_bytes() + b"junk")
    with pytest.raises(SignatureError, match="not a zip archive"):
        sign_with(pki["rsa"], garbage_after)
    with pytest.raises(UsageError, match="does not exist"):
        sign_with(pki["rsa"], bundle, out=tmp_path / "missing" / "out.mcpb")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "demo.mcpb",
        "junk.pem",
        "not.mcpb",
        "t.zip",
        "trailing.mcpb",
    ]


def test_self_signed_identity_is_created_once_and_verifies(tmp_path):
    home = tmp_path / "signing"
    first = self_signed_identity(home, common_name="Test Publisher")
    assert first.created
    assert (home.stat().st_mode & 0o777) == 0o700
    assert (first.key.stat().st_mode & 0o777) == 0o600
    again = self_signed_identity(home)
    assert (again.cert, again.key, again.created) == (first.cert, first.key, False)

    bundle = make_bundle(tmp_path / "demo.mcpb")
    info = sign_bundle_self_signed(bundle, directory=home)
    assert info.status == "self-signed"
    verified = verify_bundle(bundle)
    assert (verified.status, verified.subject) == ("self-signed", "CN=Test Publisher")
    # Trusting the self-signed certificate itself makes the chain check pass.
    trusted = verify_bundle(bundle, ca_bundle=first.cert)
    assert trusted.chain_verified
