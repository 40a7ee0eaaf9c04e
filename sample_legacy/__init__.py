"""A legacy MCP server with its own OAuth 2.1 authorization server and opaque tokens."""
