"""Interoperability of our CLI with the reference MCPB CLI (npm @anthropic-ai/mcpb@2.1.2).

- its ``validate`` accepts manifests our ``init`` writes and the manifests inside bundles we pack;
- its ``unpack`` reproduces our files and their modes (exec bits);
- we read (``info``, ``validate``), unpack and verify bundles its ``pack`` and ``sign`` produce.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mcpb.bundler.cli import main
from tests.support.certs import build_chain

pytestmark = pytest.mark.interop

NODE_TIMEOUT = 60


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def reference(
    cli: Path, *args: object, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cli), *(str(a) for a in args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        cwd=cwd,
    )


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def source_project(root: Path, manifest_version: str = "0.3") -> Path:
    """A project with nested folders, an executable and a vendored package."""
    files = {
        "server/main.py": b"print('hello')\n",
        "server/lib/vendored/__init__.py": b"VALUE = 1\n",
        "server/lib/vendored/.env.example": b"KEY=\n",  # a default exclude, but vendored
        "bin/launch": b'#!/bin/sh\nexec python3 "$(dirname "$0")/../server/main.py"\n',
        "data/a b/unicode-\u00e9.txt": "caf\u00e9\n".encode(),
        "data/empty": b"",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "bin" / "launch").chmod(0o755)
    result = run("init", root, "--yes", "--name", "interop", "--manifest-version", manifest_version)
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.parametrize(
    ("server_type", "version"),
    [
        ("python", "0.1"),
        ("python", "0.2"),
        ("node", "0.3"),
        ("binary", "0.3"),
        ("python", "0.4"),
    ],
)
def test_reference_validates_manifests_from_init(
    reference_mcpb: Path, tmp_path: Path, server_type: str, version: str
) -> None:
    result = run("init", tmp_path, "--yes", "--type", server_type, "--manifest-version", version)
    assert result.exit_code == 0, result.output
    proc = reference(reference_mcpb, "validate", tmp_path / "manifest.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Manifest schema validation passes!" in proc.stdout


@pytest.mark.parametrize("version", ["0.2", "0.3"])
def test_reference_unpacks_our_bundle_with_modes_and_validates_it(
    reference_mcpb: Path, tmp_path: Path, version: str
) -> None:
    """0.3 carries our record under _meta, 0.2 in a sidecar file: both must pass."""
    src = source_project(tmp_path / "src", version)
    bundle = tmp_path / "ours.mcpb"
    assert run("pack", src, bundle).exit_code == 0
    out = tmp_path / "by-reference"
    proc = reference(reference_mcpb, "unpack", bundle, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = tree(out)
    expected = {k: v for k, v in tree(src).items() if k not in ("manifest.json", ".mcpbignore")}
    for name, (data, mode) in expected.items():
        assert got[name][0] == data, name
        assert got[name][1] == (0o755 if mode & 0o111 else 0o644), name
    extra = set(got) - set(expected)
    assert extra == (
        {"manifest.json"} if version == "0.3" else {"manifest.json", ".mcpb-toolchain.json"}
    )
    assert got["bin/launch"][1] == 0o755
    proc = reference(reference_mcpb, "validate", out / "manifest.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the manifest inside our bundle is the author's one plus, for 0.3, our _meta key only
    stored = json.loads(got["manifest.json"][0])
    original = json.loads((src / "manifest.json").read_text())
    assert {k: v for k, v in stored.items() if k != "_meta"} == original
    proc = reference(reference_mcpb, "info", bundle)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "File: ours.mcpb" in proc.stdout


def test_we_read_and_unpack_bundles_packed_by_the_reference(
    reference_mcpb: Path, tmp_path: Path
) -> None:
    src = source_project(tmp_path / "src", "0.2")
    (src / ".mcpbignore").unlink()  # the reference reads it too; keep the trees comparable
    bundle = tmp_path / "theirs.mcpb"
    proc = reference(reference_mcpb, "pack", src, bundle)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = run("info", bundle, "--json")
    assert info.exit_code == 0, info.output
    data = json.loads(info.stdout)
    assert data["name"] == "interop"
    assert data["manifest_version"] == "0.2"
    assert data["platform"] is None and data["record_files"] is None
    assert data["signature"]["status"] == "unsigned"
    result = run("validate", bundle)
    assert result.exit_code == 0, result.output
    dest = tmp_path / "by-us"
    result = run("unpack", bundle, dest)
    assert result.exit_code == 0, result.output
    assert "no SHA256 record" in result.stdout
    got = tree(dest)
    # the reference drops .env* even inside vendored folders (a known defect); we unpack
    # exactly what it packed
    expected = {k: v for k, v in tree(src).items() if k != "server/lib/vendored/.env.example"}
    assert set(got) == set(expected)
    for name, (data_bytes, mode) in expected.items():
        assert got[name][0] == data_bytes, name
        assert got[name][1] == (0o755 if mode & 0o111 else 0o644), name


def test_we_verify_and_unpack_bundles_signed_by_the_reference(
    reference_mcpb: Path, tmp_path: Path
) -> None:
    chain = build_chain(tmp_path / "pki", "rsa")
    src = source_project(tmp_path / "src")
    bundle = tmp_path / "signed.mcpb"
    assert run("pack", src, bundle).exit_code == 0
    proc = reference(
        reference_mcpb,
        "sign",
        bundle,
        "--cert",
        chain.signer.cert_path,
        "--key",
        chain.signer.key_path,
        "--intermediate",
        chain.intermediate.cert_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run("verify", bundle, "--ca-bundle", chain.ca_bundle)
    assert result.exit_code == 0, result.output
    assert f"  chain: verified against {chain.ca_bundle}" in result.stdout
    info = json.loads(run("info", bundle, "--json").stdout)
    assert info["signature"]["status"] == "signed"
    dest = tmp_path / "out"
    assert run("unpack", bundle, dest).exit_code == 0
    assert (dest / "bin" / "launch").stat().st_mode & 0o111
    assert os.access(dest / "bin" / "launch", os.X_OK)
