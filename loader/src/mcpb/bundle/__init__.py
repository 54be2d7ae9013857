"""The MCP Bundle format: manifests, archives, digests, signatures and placeholders.

This package has no runtime behaviour of its own; the loader and the bundler build on it.
"""

#: Nothing is re-exported: import the module that holds a concept (``mcpb.bundle.manifest``,
#: ``mcpb.bundle.extract``...), so a cheap import never pays for the pydantic models.
__all__: list[str] = []
