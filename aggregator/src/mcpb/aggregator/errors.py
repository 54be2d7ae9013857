"""The aggregator's error families, with their exit codes (``docs/exit-codes.md``)."""

from __future__ import annotations

from mcpb.bundle.errors import McpbError


class ConfigError(McpbError):
    """The configuration file (or an admin API body) is unreadable or invalid."""

    service_exit_code = 78


class UpstreamError(McpbError):
    """An upstream cannot be prepared: its bundle cannot be obtained or needs a missing runtime."""

    service_exit_code = 69
