"""The MCP Bundle format: manifests, archives, digests, signatures and placeholders.

This package has no runtime behaviour of its own; the loader and the bundler build on it.
"""
