"""Whole games through nginx: bots (meeple.bots, on meeple.client) log in over ``/api/``,
play over ``/ws``, on a cluster of two api, two gateway and two engine processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from meeple.bots import BotAccounts, BotPlan, run_fleet
from tests.cluster.checks import event_logs, until_settled
from tests.cluster.harness import Cluster

# A cluster of seven processes and nginx, started once for the package (~30 s).
pytestmark = pytest.mark.slow


async def test_bots_play_fourchess_and_chess_to_the_end(running: Cluster, tmp_path: Path) -> None:
    accounts = BotAccounts(tmp_path / "bots.json")
    games: set[str] = set()

    def progress(line: str) -> None:
        if ": matched in " in line:
            games.add(line.rsplit(" ", 1)[1])

    fleets = [
        run_fleet(
            running.url,
            count,
            BotPlan(game=game, time_control="1+0", stake=0, games=1),
            accounts=accounts,
            first=first,
            seed=11,
            progress=progress,
        )
        for game, count, first in (("fourchess", 4, 1), ("chess", 2, 11))
    ]
    four, two = await asyncio.wait_for(asyncio.gather(*fleets), 100)
    assert [s.games for s in four + two] == [1] * 6, four + two
    assert len(games) == 2, games
    logs = await event_logs(running, sorted(games))
    for game_id, log in logs.items():
        assert [e["seq"] for e in log] == list(range(1, len(log) + 1)), game_id
        assert log[0]["kind"] == "start" and log[-1]["kind"] == "game_over", game_id
    assert sorted(len(log[0]["data"]["seats"]) for log in logs.values()) == [2, 4]
    await until_settled(running, sorted(games))
    ledger = running.meeple("ledger", "check")
    assert ledger.returncode == 0, ledger.stdout + ledger.stderr
