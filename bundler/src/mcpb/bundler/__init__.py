"""The mcpb command line and the build pipeline behind it."""
