"""Bots that play random legal moves."""
