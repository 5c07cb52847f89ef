"""Index games by (status, started_at, id): the public list of live games.

``GET /api/v1/games?status=active`` filters on status and pages by start time, newest
first (``ORDER BY started_at DESC, id DESC``, keyset cursor on the same pair). With this
index both backends read the page straight off the index, backwards, and stop at the
limit; before it they read every game of that status and sorted them. The index leads
with status, so it also serves every lookup by status alone: ``ix_games_status`` is
dropped (one index fewer to maintain on each game's status change).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_games_status_started", "games", ["status", "started_at", "id"], unique=False
    )
    op.drop_index("ix_games_status", table_name="games")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index("ix_games_status", "games", ["status"], unique=False)
    op.drop_index("ix_games_status_started", table_name="games")
