"""One module per ``mcpb`` subcommand; each exposes a click command registered in cli.py."""
