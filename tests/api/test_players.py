"""Own account changes, public profiles with stats, paginated game history, one game."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson

from meeple.store.database import Store
from meeple.store.schema import game_events, game_seats, games, players, ratings
from tests.api.conftest import ApiServer, assert_problem, register


def test_patch_me_changes_the_display_name(api: ApiServer) -> None:
    with api.client() as client:
        player = register(client)
        changed = client.patch(
            "/api/v1/me", json={"display_name": "  Queen of Hearts "}, headers=player.auth
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["display_name"] == "Queen of Hearts"
        assert changed.json()["username"] == player.username
        profile = client.get(f"/api/v1/players/{player.username}").json()
        assert profile["display_name"] == "Queen of Hearts"
        for bad in ["", "   ", "x" * 65, "tab\there"]:
            response = client.patch("/api/v1/me", json={"display_name": bad}, headers=player.auth)
            assert_problem(response, 422, "validation_error")
        extra = client.patch(
            "/api/v1/me", json={"display_name": "ok", "role": "operator"}, headers=player.auth
        )
        assert_problem(extra, 422, "validation_error")
        assert client.get("/api/v1/me", headers=player.auth).json()["role"] == "player"
        anonymous = client.patch("/api/v1/me", json={"display_name": "x"})
        assert_problem(anonymous, 401, "not_authenticated")


def test_profile_is_empty_before_any_game(api: ApiServer) -> None:
    with api.client() as client:
        player = register(client)
        profile = client.get(f"/api/v1/players/{player.username.upper()}")
        assert profile.status_code == 200
        assert profile.json()["stats"] == []
        assert profile.json()["username"] == player.username
        history = client.get(f"/api/v1/players/{player.username}/games").json()
        assert history == {"items": [], "next_cursor": None}


async def _seed_games(api: ApiServer, usernames: list[str], count: int) -> list[str]:
    """Write finished four-player games as the engine would; their ids, oldest first."""
    url = f"sqlite+aiosqlite:///{api.data_dir / 'meeple.sqlite3'}"
    store = await Store.open(url, migrate=False)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    ids = []
    try:
        async with store.begin() as conn:
            rows = (
                await conn.execute(players.select().where(players.c.username.in_(usernames)))
            ).all()
            by_name = {row.username: row.id for row in rows}
            for n in range(count):
                game_id = uuid.uuid4().hex[:16]
                ids.append(game_id)
                await conn.execute(
                    games.insert().values(
                        id=game_id,
                        game="fourchess",
                        options={},
                        seats=4,
                        base_ms=300_000,
                        increment_ms=2_000,
                        stake=100,
                        currency="USD",
                        status="finished",
                        result={"placings": [1, 2, 3, 4], "reason": "checkmate"},
                        settled=True,
                        created_at=start + timedelta(minutes=n),
                        started_at=start + timedelta(minutes=n),
                        ended_at=start + timedelta(minutes=n, seconds=30),
                    )
                )
                for seat, name in enumerate(usernames):
                    placing = (seat + n) % 4 + 1
                    await conn.execute(
                        game_seats.insert().values(
                            game_id=game_id,
                            seat=seat,
                            player_id=by_name[name],
                            placing=placing,
                            points=4 - placing,
                            payout=280 if placing == 1 else 0,
                        )
                    )
                await conn.execute(
                    game_events.insert().values(
                        game_id=game_id,
                        seq=1,
                        kind="started",
                        seat=None,
                        body=orjson.dumps({"t": "started"}),
                        ts_ms=1,
                    )
                )
                await conn.execute(
                    game_events.insert().values(
                        game_id=game_id, seq=2, kind="move", seat=0, body=b"\x81\xa1m", ts_ms=2
                    )
                )
            await conn.execute(
                ratings.insert().values(
                    player_id=by_name[usernames[0]],
                    game="fourchess",
                    mu=27.0,
                    sigma=7.0,
                    rating=240,
                    games_played=count,
                    wins=2,
                    updated_at=start,
                )
            )
    finally:
        await store.close()
    return ids


async def test_history_stats_and_game_detail(api: ApiServer) -> None:
    with api.client() as client:
        seated = [register(client).username for _ in range(4)]
    ids = await _seed_games(api, seated, 5)
    with api.client() as client:
        profile = client.get(f"/api/v1/players/{seated[0]}").json()
        assert profile["stats"] == [
            {"game": "fourchess", "rating": 240, "games_played": 5, "wins": 2}
        ]
        # Seat 1 won games n=3 (placing (1+3)%4+1 == 1): one win, no rating yet.
        assert client.get(f"/api/v1/players/{seated[1]}").json()["stats"] == [
            {"game": "fourchess", "rating": None, "games_played": 5, "wins": 1}
        ]

        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, object] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = client.get(f"/api/v1/players/{seated[2]}/games", params=params).json()
            seen += [game["id"] for game in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))  # newest first, each once

        game = client.get(f"/api/v1/games/{ids[0]}").json()
        assert game["status"] == "finished"
        assert game["result"]["reason"] == "checkmate"
        assert [seat["username"] for seat in game["seats"]] == seated
        assert game["seats"][0]["placing"] == 1 and game["seats"][0]["payout"] == 280
        assert game["events"][0]["data"] == {"t": "started"}
        assert game["events"][1]["body_b64"] == "gaFt"
        assert "invite_code" not in game

        bad = client.get(f"/api/v1/players/{seated[0]}/games", params={"cursor": "???"})
        assert_problem(bad, 400, "invalid_cursor")
        too_many = client.get(f"/api/v1/players/{seated[0]}/games", params={"limit": 101})
        assert_problem(too_many, 422, "validation_error")
