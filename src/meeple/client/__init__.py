"""An async Python client for meeple's WebSocket protocol."""
