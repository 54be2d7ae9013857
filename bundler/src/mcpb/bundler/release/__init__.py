"""Publishing built bundles: GitHub Releases (``mcpb publish``)."""
