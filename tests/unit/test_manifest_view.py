"""The runtime's light manifest view agrees with the pydantic models (the validator of record).

Over every valid manifest in tests/data/manifests (ours and the reference CLI's), the fields
the runtime reads through :class:`ManifestView` equal what :class:`Manifest` parsed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpb.bundle.errors import ManifestError
from mcpb.bundle.manifest import parse_manifest
from mcpb.bundle.manifest_view import read_manifest_view
from tests.support.manifests import minimal_manifest

DATA = Path(__file__).resolve().parents[1] / "data" / "manifests"
VALID = sorted([*DATA.glob("valid/*.json"), *DATA.glob("reference/valid/*.json")])


def test_the_corpus_is_there() -> None:
    assert len(VALID) >= 30


@pytest.mark.parametrize("path", VALID, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_view_matches_the_models(path: Path) -> None:
    data = json.loads(path.read_text())
    model = parse_manifest(data, source=path.name)
    view = read_manifest_view(data, source=path.name)
    assert view.name == model.name
    assert view.version == model.version
    assert view.server_type == model.server.type
    config = model.server.mcp_config
    assert (view.mcp_config.command, view.mcp_config.args) == (config.command, config.args)
    assert view.mcp_config.env == config.env
    assert set(view.mcp_config.platform_overrides) == set(config.platform_overrides)
    for os_name, override in config.platform_overrides.items():
        mine = view.mcp_config.platform_overrides[os_name]
        assert (mine.command, mine.args, mine.env) == (
            override.command,
            override.args,
            override.env,
        )
    assert set(view.user_config) == set(model.user_config)
    for key, option in model.user_config.items():
        mine_option = view.user_config[key]
        assert mine_option.type == option.type
        assert bool(mine_option.required) == option.required
        assert bool(mine_option.multiple) == option.multiple
        assert mine_option.default == option.default
        assert (mine_option.min, mine_option.max) == (option.min, option.max)
    platforms = model.compatibility.platforms if model.compatibility else None
    assert view.platforms == platforms


def test_linux_command_prefers_the_override() -> None:
    server = minimal_manifest()["server"]
    server["mcp_config"]["platform_overrides"] = {"linux": {"command": "python3.12"}}
    view = read_manifest_view(minimal_manifest(server=server), source="m")
    assert view.linux_command() == "python3.12"
    assert read_manifest_view(minimal_manifest(), source="m").linux_command() == "python3"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"name": 5}, "name: must be a string"),
        ({"compatibility": {"platforms": "linux"}}, "compatibility.platforms"),
        ({"user_config": {"k": {"type": "string", "required": "yes"}}}, "user_config.k.required"),
    ],
)
def test_wrong_shapes_name_the_field(change: dict[str, object], path: str) -> None:
    with pytest.raises(ManifestError, match=path):
        read_manifest_view(minimal_manifest(**change), source="cached/manifest.json")
