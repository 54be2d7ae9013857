"""Bridge benchmarks: our stdio→HTTP bridge against supergateway and mcp-proxy (see README.md)."""
