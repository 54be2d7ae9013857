"""The mcpb command line and the build pipeline behind it."""

#: Nothing is re-exported: the command line is :mod:`mcpb.bundler.cli`, the library functions
#: live in the module of their concept (``mcpb.bundler.builder``, ``mcpb.bundler.packing``...).
__all__: list[str] = []
