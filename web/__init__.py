"""The HTTP/WS surface in front of the schema (DESIGN.md's web/ room)."""
