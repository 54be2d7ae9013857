"""The project's own registry (``registry/``) is valid: every entry in place and well-formed."""

from __future__ import annotations

from pathlib import Path

from mcpb.bundler.registry.entries import validate_registry

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_registry_is_valid() -> None:
    entries = validate_registry(REPO / "registry")
    assert [e.name for e in entries] == ["io.github.mcpb-toolchain/hello-python"]
    tags, categories = entries[0].labels()
    assert tags == ["example", "greeting"] and categories == ["developer-tools"]
