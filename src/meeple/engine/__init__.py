"""The engine tier: authoritative games, clocks, settlement."""
