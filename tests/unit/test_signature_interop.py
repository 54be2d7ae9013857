"""Signatures against the reference CLI (npm @anthropic-ai/mcpb): each side reads the other's.

Observed with 2.1.2 on Linux, and asserted below so a change is noticed:
* ``mcpb sign`` signs only with RSA keys (node-forge): an ECDSA key fails with
  "Cannot read public key. OID is not RSA.".
* ``mcpb verify`` never reports a signature as valid (exit 1, "Extension is not signed"), ours
  or its own: node-forge cannot verify PKCS#7, and the code maps every failure to "unsigned".
* ``mcpb info`` on an RSA-signed bundle says "WARNING: Not signed" (exit 0); on an
  ECDSA-signed bundle it fails (exit 1, "OID is not RSA") because forge cannot even parse
  the certificate. ``unpack`` extracts signed bundles of both kinds. Hence our self-signed
  identity uses RSA.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from mcpb.bundle import sigblock
from mcpb.bundle.errors import SignatureError
from mcpb.bundle.signature import sign_bundle, unsign_bundle, verify_bundle
from tests.support.certs import Chain, build_chain
from tests.unit.test_signature import eocd_of, flipped

pytestmark = pytest.mark.interop

MANIFEST = """{
  "manifest_version": "0.2",
  "name": "interop-demo",
  "version": "1.0.0",
  "description": "A bundle for signature interop tests",
  "author": {"name": "mcpb tests"},
  "server": {
    "type": "node",
    "entry_point": "server/index.js",
    "mcp_config": {"command": "node", "args": ["${__dirname}/server/index.js"]}
  }
}"""
FILES = {"manifest.json": MANIFEST, "server/index.js": "console.log('hello');\n"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Chain]:
    base = tmp_path_factory.mktemp("pki")
    return {kind: build_chain(base / kind, kind) for kind in ("rsa", "ec")}


def make_bundle(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in FILES.items():
            zf.writestr(name, text)
    return path


def run(cli: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cli), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_reference_signed_bundle_verifies_with_ours(reference_mcpb, pki, tmp_path):
    chain = pki["rsa"]
    bundle = make_bundle(tmp_path / "ref.mcpb")
    original = bundle.read_bytes()
    result = run(
        reference_mcpb,
        "sign",
        bundle,
        "--cert",
        chain.signer.cert_path,
        "--key",
        chain.signer.key_path,
        "--intermediate",
        chain.intermediate.cert_path,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = bundle.read_bytes()
    assert data.startswith(original)  # the reference appends and changes nothing else
    # ... so its EOCD comment length does not cover the block (the defect we fix).
    with pytest.raises(AssertionError):
        eocd_of(data)

    info = verify_bundle(bundle, ca_bundle=chain.ca_bundle)
    assert (info.status, info.chain_verified) == ("signed", True)
    assert info.subject == "O=mcpb test PKI,CN=signer"
    assert info.signing_time is not None

    block = sigblock.find_block_in_file(bundle)
    assert block is not None
    victim = tmp_path / "tampered.mcpb"
    for offset in (0, block.zip_length // 2, block.zip_length - 1, len(data) - 40):
        victim.write_bytes(flipped(data, offset))
        with pytest.raises(SignatureError):
            verify_bundle(victim, ca_bundle=chain.ca_bundle)

    unsign_bundle(bundle)
    assert bundle.read_bytes() == original


def test_reference_refuses_ecdsa_keys(reference_mcpb, pki, tmp_path):
    chain = pki["ec"]
    bundle = make_bundle(tmp_path / "ref.mcpb")
    args = ("--cert", chain.signer.cert_path, "--key", chain.signer.key_path)
    result = run(reference_mcpb, "sign", bundle, *args, cwd=tmp_path)
    assert result.returncode == 1
    assert "OID is not RSA" in result.stdout + result.stderr


def test_reference_self_signed_bundle_verifies_with_ours(reference_mcpb, tmp_path):
    bundle = make_bundle(tmp_path / "ref.mcpb")
    original = bundle.read_bytes()
    result = run(reference_mcpb, "sign", bundle, "--self-signed", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    info = verify_bundle(bundle)
    assert info.status == "self-signed"
    assert info.subject is not None
    assert "CN=MCPB Self-Signed Certificate" in info.subject
    assert info.subject == info.issuer
    unsign_bundle(bundle)
    assert bundle.read_bytes() == original


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_reference_unpacks_our_signed_bundles(reference_mcpb, pki, tmp_path, kind):
    chain = pki[kind]
    bundle = make_bundle(tmp_path / "ours.mcpb")
    sign_bundle(
        bundle,
        cert=chain.signer.cert_path,
        key=chain.signer.key_path,
        intermediates=[chain.intermediate.cert_path],
    )
    out = tmp_path / "out"
    result = run(reference_mcpb, "unpack", bundle, out, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    extracted = {
        p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()
    }
    assert extracted == FILES

    info = run(reference_mcpb, "info", bundle, cwd=tmp_path)
    verify = run(reference_mcpb, "verify", bundle, cwd=tmp_path)
    assert verify.returncode == 1  # the reference never says "valid" on Linux
    if kind == "rsa":
        assert info.returncode == 0, info.stdout + info.stderr
        assert "File: ours.mcpb" in info.stdout
        assert "Not signed" in info.stdout
        assert "Extension is not signed" in verify.stdout + verify.stderr
    else:
        assert info.returncode == 1
        assert "OID is not RSA" in info.stdout + info.stderr
    # Ours says it is signed and by whom.
    assert verify_bundle(bundle, ca_bundle=chain.ca_bundle).chain_verified
