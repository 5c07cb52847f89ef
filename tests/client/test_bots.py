"""Bots against the in-test gateway: accounts, matchmaking, whole games of random moves."""

from __future__ import annotations

from pathlib import Path

from meeple.bots import BotAccounts, BotPlan, run_fleet
from meeple.client import Api, HttpError
from tests.client.fake_server import FakeGateway, fake_api


def test_bot_passwords_are_stable_per_secret_and_follow_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "bots.json"
    first = BotAccounts(path)
    again = BotAccounts(path)
    other = BotAccounts(tmp_path / "other.json")
    password = first.password("bot-1")
    assert password == again.password("bot-1")
    assert password != first.password("bot-2")
    assert password != other.password("bot-1")
    assert len(password) >= 10 and any(c.isupper() for c in password)
    assert any(c.isdigit() or c.islower() for c in password)
    assert path.stat().st_mode & 0o777 == 0o600


async def test_register_or_login_registers_once_then_logs_in() -> None:
    transport = fake_api()
    async with Api("http://meeple.test", transport=transport) as api:
        first = await api.register_or_login("bot-1", "Secret1234x")
        again = await api.register_or_login("bot-1", "Secret1234x")
        assert first.access_token == again.access_token == "token-bot-1"
        try:
            await api.register_or_login("bot-1", "Wrong12345x")
        except HttpError as exc:
            assert (exc.status, exc.code) == (401, "bad_credentials")
        else:
            raise AssertionError("a wrong password logged in")


async def test_a_fleet_plays_whole_games_to_their_end(tmp_path: Path) -> None:
    lines: list[str] = []
    async with FakeGateway() as server:
        base_url = server.url.replace("ws://", "http://").removesuffix("/ws")
        stats = await run_fleet(
            base_url,
            4,
            BotPlan(game="chess", time_control="1+0", games=1),
            accounts=BotAccounts(tmp_path / "bots.json"),
            seed=3,
            progress=lines.append,
            api_transport=fake_api(),
        )
    assert [s.games for s in stats] == [1, 1, 1, 1]
    assert len(server.games) == 2
    for game in server.games.values():
        assert server.chess.result(game.state) is not None  # played to the end
    total_moves = sum(len(g.log) - 2 for g in server.games.values())  # minus start, game_over
    assert sum(s.moves for s in stats) == total_moves
    assert sum(s.errors for s in stats) == 0
    assert sum("over" in line for line in lines) == 4


def test_bots_command_refuses_bad_arguments() -> None:
    from meeple.cli import main

    assert main(["bots", "--count", "0"]) == 2
    assert main(["bots", "--count", "2", "--time-control", "fast"]) == 2
