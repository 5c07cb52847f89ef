"""The public list of games: active or finished, newest first, by game, paginated."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from meeple.store.database import Store
from meeple.store.schema import game_seats, games, players
from tests.api.conftest import ApiServer, assert_problem, register


async def _seed(api: ApiServer, game: str, usernames: list[str]) -> dict[str, list[str]]:
    """Games of a game name no other test uses, as the engine and matchmaker write them:
    five active, two finished, one pending, one aborted. Ids by status, newest first."""
    store = await Store.open(
        f"sqlite+aiosqlite:///{api.data_dir / 'meeple.sqlite3'}", migrate=False
    )
    start = datetime(2031, 1, 1, tzinfo=UTC)
    made: dict[str, list[tuple[datetime, str]]] = {}
    plan = ["active"] * 5 + ["finished"] * 2 + ["pending", "aborted"]
    try:
        async with store.begin() as conn:
            rows = (
                await conn.execute(players.select().where(players.c.username.in_(usernames)))
            ).all()
            ids = {row.username: row.id for row in rows}
            for n, status in enumerate(plan):
                game_id = uuid.uuid4().hex[:16]
                # Two games share a start time: the id breaks the tie, and pages stay exact.
                started = start + timedelta(minutes=min(n, 3)) if status != "pending" else None
                await conn.execute(
                    games.insert().values(
                        id=game_id,
                        game=game,
                        options={},
                        seats=2,
                        base_ms=180_000,
                        increment_ms=2_000,
                        stake=100 * n,
                        currency="USD",
                        status=status,
                        invite_code=f"I{uuid.uuid4().hex[:10]}" if n == 1 else None,
                        last_seq=10 + n,
                        created_at=start,
                        started_at=started,
                        ended_at=started + timedelta(seconds=30)
                        if started and status != "active"
                        else None,
                    )
                )
                for seat, name in enumerate(usernames):
                    await conn.execute(
                        game_seats.insert().values(game_id=game_id, seat=seat, player_id=ids[name])
                    )
                made.setdefault(status, []).append((started or start, game_id))
    finally:
        await store.close()
    return {s: [i for _, i in sorted(pairs, reverse=True)] for s, pairs in made.items()}


async def test_active_games_newest_first_paged_and_public(api: ApiServer) -> None:
    name = f"g{uuid.uuid4().hex[:10]}"
    with api.client() as client:
        seated = [register(client).username for _ in range(2)]
    made = await _seed(api, name, seated)
    with api.client() as client:  # no token: the list is public
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, object] = {"game": name, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            response = client.get("/api/v1/games", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == made["active"]  # each once, newest first; status defaults to active
        assert pages == 3

        first = client.get("/api/v1/games", params={"game": name, "limit": 100}).json()["items"]
        by_id = {item["id"]: item for item in first}
        item = by_id[made["active"][-1]]  # the oldest: n == 0
        assert item["game"] == name and item["status"] == "active"
        assert item["time_control"] == "3+2"
        assert (item["base_ms"], item["increment_ms"]) == (180_000, 2_000)
        assert item["stake"] == 0 and item["currency"] == "USD"
        assert item["last_seq"] == 10
        assert item["started_at"] == "2031-01-01T00:00:00Z"
        assert item["ended_at"] is None
        assert [s["username"] for s in item["seats"]] == seated
        assert [s["seat"] for s in item["seats"]] == [0, 1]
        assert sum(entry["private"] for entry in first) == 1
        assert "invite_code" not in str(first)

        finished = client.get("/api/v1/games", params={"game": name, "status": "finished"})
        assert [g["id"] for g in finished.json()["items"]] == made["finished"]
        assert all(g["ended_at"] for g in finished.json()["items"])

        # Without a game filter our newest active games are on the list too, in order.
        everything = client.get("/api/v1/games", params={"limit": 100}).json()["items"]
        starts = [g["started_at"] for g in everything]
        assert starts == sorted(starts, reverse=True)
        assert set(made["active"]) <= {g["id"] for g in everything}
        assert not {*made["pending"], *made["aborted"]} & {g["id"] for g in everything}


def test_bad_list_requests_are_problems(api: ApiServer) -> None:
    with api.client() as client:
        assert_problem(client.get("/api/v1/games", params={"cursor": "???"}), 400, "invalid_cursor")
        for params in (
            {"status": "pending"},
            {"status": "aborted"},
            {"limit": 0},
            {"limit": 101},
            {"game": "Four Chess"},
        ):
            assert_problem(client.get("/api/v1/games", params=params), 422, "validation_error")
        unknown = client.get("/api/v1/games", params={"game": "nosuchgame"})
        assert unknown.status_code == 200
        assert unknown.json() == {"items": [], "next_cursor": None}
