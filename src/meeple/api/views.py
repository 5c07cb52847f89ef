"""Turning domain objects into response bodies."""

from __future__ import annotations

from meeple.api.schemas import Me
from meeple.auth.accounts import Player


def me_view(player: Player) -> Me:
    """A player's own account as the api shows it."""
    return Me(
        id=player.id,
        username=player.username,
        display_name=player.display_name,
        email=player.email,
        role="operator" if player.role == "operator" else "player",
        created_at=player.created_at,
    )
