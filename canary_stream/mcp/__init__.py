"""The identity MCP server (``canary-identity``, customers.md): read-only, merchant-scoped."""
