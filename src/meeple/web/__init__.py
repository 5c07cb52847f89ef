"""The browser client (static files)."""
