"""The gateway tier: WebSocket edge (auth, relay, fan-out, resume)."""
