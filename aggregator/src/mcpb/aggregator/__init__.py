"""The vMCP aggregator: upstream MCP servers composed into virtual MCP servers.

Upstreams (streamable HTTP, legacy SSE, stdio commands, bundles, server.json entries) are
transport backends; each vMCP is a backend of the transport core serving a curated,
namespaced selection of their tools, prompts and resources at ``/vmcp/{name}/mcp``. See
``docs/aggregator.md``.
"""

from mcpb.aggregator.config import AggregatorConfig, UpstreamConfig, VmcpConfig
from mcpb.aggregator.config_file import load_config_file
from mcpb.aggregator.errors import ConfigError, UpstreamError
from mcpb.aggregator.serve import AggregatorOptions, run_aggregator, serve_aggregator

__all__ = [
    "AggregatorConfig",
    "AggregatorOptions",
    "ConfigError",
    "UpstreamConfig",
    "UpstreamError",
    "VmcpConfig",
    "load_config_file",
    "run_aggregator",
    "serve_aggregator",
]
