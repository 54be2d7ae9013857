"""The names each package face exports are pinned: changing one is a decision, not an accident."""

from __future__ import annotations

import importlib
import importlib.resources

import pytest

FACES = {
    "mcpb.bundle": [],
    "mcpb.bundler": [],
    "mcpb.mcphttp": [
        "SUPPORTED_PROTOCOL_VERSIONS",
        "Backend",
        "BackendFactory",
        "BackendUnavailableError",
        "HTTPError",
        "HealthEndpoint",
        "HttpSettings",
        "McpHttpApp",
        "Readiness",
        "ReadyEndpoint",
        "RequestSink",
        "Session",
        "SessionLimitError",
        "SessionTable",
        "Sink",
        "bind_socket",
        "loop_factory",
        "run",
        "serve_app",
    ],
    "mcpb.loader": [
        "LaunchSpec",
        "LoaderConfig",
        "Obtained",
        "load_config",
        "obtain",
        "plan_launch",
        "run_loader",
    ],
    "mcpb.loader.bridge": [
        "MAX_SESSIONS",
        "BridgeConfig",
        "StdioBackend",
        "StdioSettings",
        "create_app",
        "serve_bridge",
    ],
    "mcpb.aggregator": [
        "AggregatorConfig",
        "AggregatorOptions",
        "ConfigError",
        "UpstreamConfig",
        "UpstreamError",
        "VmcpConfig",
        "load_config_file",
        "run_aggregator",
        "serve_aggregator",
    ],
}


@pytest.mark.parametrize("name", sorted(FACES))
def test_exported_names_are_pinned_and_resolve(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(FACES[name])
    for exported in module.__all__:
        assert getattr(module, exported) is not None, f"{name}.{exported}"


def test_every_distribution_is_typed() -> None:
    for name in ("mcpb.bundle", "mcpb.loader", "mcpb.mcphttp", "mcpb.aggregator", "mcpb.bundler"):
        module = importlib.import_module(name)
        assert module.__file__ is not None
        assert (importlib.resources.files(name) / "py.typed").is_file(), name
