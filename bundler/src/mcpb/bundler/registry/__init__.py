"""A static MCP registry: entries in a source tree, built into files that answer ``/v0.1``."""
