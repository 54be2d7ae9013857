"""``mcpb sign`` / ``verify`` / ``unsign`` and the signature state in ``info``: real keys and
certificate chains, tampering detected, unsign restores the exact bytes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mcpb.bundler.cli import main
from tests.support.certs import Chain, build_chain

MANIFEST = {
    "manifest_version": "0.3",
    "name": "signed-server",
    "version": "1.0.0",
    "description": "d",
    "author": {"name": "a"},
    "server": {
        "type": "node",
        "entry_point": "index.js",
        "mcp_config": {"command": "node", "args": ["${__dirname}/index.js"]},
    },
}


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return build_chain(tmp_path_factory.mktemp("pki"), "ec")


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "manifest.json").write_text(json.dumps(MANIFEST))
    (src / "index.js").write_text("console.log('hi')\n" * 50)
    out = tmp_path / "signed-server.mcpb"
    assert run("pack", src, out).exit_code == 0
    return out


def sign_with_chain(bundle: Path, chain: Chain) -> Result:
    return run(
        "sign",
        bundle,
        "--cert",
        chain.signer.cert_path,
        "--key",
        chain.signer.key_path,
        "--intermediate",
        chain.intermediate.cert_path,
    )


def test_sign_verify_with_chain_and_unsign_restores_bytes(bundle: Path, chain: Chain) -> None:
    original = bundle.read_bytes()
    result = sign_with_chain(bundle, chain)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"signed {bundle}: signed, subject ")
    assert "signer" in result.stdout
    signed = bundle.read_bytes()
    assert signed.startswith(original[:-22]) and len(signed) > len(original)
    with zipfile.ZipFile(bundle) as zf:  # strict readers still open a bundle we signed
        assert zf.testzip() is None

    result = run("verify", bundle, "--ca-bundle", chain.ca_bundle)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{bundle}: signature verified (signed, subject ")
    assert lines[2] == f"  chain: verified against {chain.ca_bundle}"

    result = run("verify", bundle)
    assert result.exit_code == 0
    assert "  chain: not checked (give --ca-bundle to check it)" in result.stdout

    result = run("verify", bundle, "--json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["verified"] is True and payload["status"] == "signed"
    assert payload["chain_verified"] is False
    assert len(payload["fingerprint"]) == 64

    result = run("unsign", bundle)
    assert result.exit_code == 0
    assert result.stdout == f"removed the signature: {bundle}\n"
    assert bundle.read_bytes() == original


def test_verify_fails_against_another_ca(bundle: Path, chain: Chain, tmp_path: Path) -> None:
    other = build_chain(tmp_path / "other", "ec", prefix="other-")
    assert sign_with_chain(bundle, chain).exit_code == 0
    result = run("verify", bundle, "--ca-bundle", other.ca_bundle)
    assert result.exit_code == 1
    assert result.stderr.startswith("mcpb: error: ") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("where", ["zip_start", "zip_middle", "eocd", "signature"])
def test_tampering_with_any_byte_fails_verify_and_unpack(
    bundle: Path, chain: Chain, tmp_path: Path, where: str
) -> None:
    size_before = bundle.stat().st_size
    assert sign_with_chain(bundle, chain).exit_code == 0
    data = bytearray(bundle.read_bytes())
    offset = {
        "zip_start": 10,
        "zip_middle": size_before // 2,
        "eocd": size_before - 12,
        "signature": size_before + 100,
    }[where]
    data[offset] ^= 0x01
    bundle.write_bytes(bytes(data))
    result = run("verify", bundle)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"mcpb: error: {bundle}")
    assert result.stderr.count("\n") == 1
    result = run("verify", bundle, "--json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["verified"] is False and payload["status"] == "invalid"
    assert payload["error"].startswith(str(bundle))
    dest = tmp_path / "out"
    result = run("unpack", bundle, dest)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert not dest.exists()


def test_info_reports_each_signature_state(bundle: Path, chain: Chain) -> None:
    result = run("info", bundle, "--json")
    assert json.loads(result.stdout)["signature"]["status"] == "unsigned"
    assert sign_with_chain(bundle, chain).exit_code == 0
    data = json.loads(run("info", bundle, "--json").stdout)
    sig = data["signature"]
    assert sig["status"] == "signed"
    assert "signer" in sig["subject"] and "intermediate-ca" in sig["issuer"]
    assert len(sig["fingerprint"]) == 64
    text = run("info", bundle).stdout
    assert "  signature:    signed, subject " in text
    # flip a byte of index.js's compressed data (after its 30-byte header and 8-byte name):
    # the zip still opens, so info describes the bundle and says the signature is bad
    raw = bytearray(bundle.read_bytes())
    raw[40] ^= 0xFF
    bundle.write_bytes(bytes(raw))
    result = run("info", bundle, "--json")
    assert result.exit_code == 0
    sig = json.loads(result.stdout)["signature"]
    assert sig["status"] == "invalid"
    assert "modified" in sig["error"]
    assert "  signature:    INVALID (" in run("info", bundle).stdout


def test_self_signed_identity_is_created_once_and_verifies(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "signing"
    monkeypatch.setenv("MCPB_SIGNING_DIR", str(home))
    result = run("sign", bundle, "--self-signed")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"signed {bundle}: self-signed, subject ")
    assert {"self-signed-cert.pem", "self-signed-key.pem"} <= {p.name for p in home.iterdir()}
    assert (home / "self-signed-key.pem").stat().st_mode & 0o077 == 0
    result = run("verify", bundle)
    assert result.exit_code == 0
    assert "  warning: self-signed; no CA vouches for the signer's identity" in result.stdout
    # a second bundle reuses the same identity: same fingerprint
    first = json.loads(run("verify", bundle, "--json").stdout)["fingerprint"]
    assert run("unsign", bundle).exit_code == 0
    assert run("sign", bundle, "--self-signed", "-o", tmp_path / "copy.mcpb").exit_code == 0
    assert json.loads(run("verify", tmp_path / "copy.mcpb", "--json").stdout)["fingerprint"] == (
        first
    )


def test_verify_unsigned_exits_one(bundle: Path) -> None:
    result = run("verify", bundle)
    assert result.exit_code == 1
    assert result.stderr == f"mcpb: error: {bundle}: not signed\n"
    result = run("verify", bundle, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "unsigned"


def test_usage_errors(bundle: Path, chain: Chain) -> None:
    result = run("sign", bundle)
    assert result.exit_code == 2
    assert result.stderr == "mcpb: error: sign: give --cert and --key, or --self-signed\n"
    result = run("sign", bundle, "--self-signed", "--cert", chain.signer.cert_path)
    assert result.exit_code == 2
    assert "cannot be combined" in result.stderr
    result = run("unsign", bundle)
    assert result.exit_code == 1
    assert result.stderr == f"mcpb: error: {bundle}: not signed; nothing to remove\n"


def test_signing_twice_is_refused_and_leaves_the_bundle_alone(bundle: Path, chain: Chain) -> None:
    assert sign_with_chain(bundle, chain).exit_code == 0
    signed = bundle.read_bytes()
    result = sign_with_chain(bundle, chain)
    assert result.exit_code == 1
    assert result.stderr.startswith("mcpb: error: ") and result.stderr.count("\n") == 1
    assert bundle.read_bytes() == signed


def test_wrong_key_for_certificate_is_refused(bundle: Path, chain: Chain) -> None:
    original = bundle.read_bytes()
    result = run(
        "sign", bundle, "--cert", chain.signer.cert_path, "--key", chain.intermediate.key_path
    )
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert bundle.read_bytes() == original


def test_ignore_signature_extracts_a_bundle_whose_signature_is_broken(
    bundle: Path, chain: Chain, tmp_path: Path
) -> None:
    size_before = bundle.stat().st_size
    assert sign_with_chain(bundle, chain).exit_code == 0
    data = bytearray(bundle.read_bytes())
    data[size_before + 100] ^= 0x01  # inside the DER signature: the zip itself is intact
    bundle.write_bytes(bytes(data))
    result = run("unpack", bundle, tmp_path / "refused")
    assert result.exit_code == 1
    assert not (tmp_path / "refused").exists()
    result = run("unpack", bundle, tmp_path / "forced", "--ignore-signature")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "forced" / "index.js").read_text() == "console.log('hi')\n" * 50
