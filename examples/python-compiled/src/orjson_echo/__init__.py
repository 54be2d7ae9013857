"""An MCP server whose tool uses orjson, so its bundle carries a compiled extension."""
