"""A free TCP port on loopback, for servers a test starts (the runtime's own helper)."""

from mcpb.mcphttp.serve import free_port

__all__ = ["free_port"]
