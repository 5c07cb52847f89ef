"""The games repository's contract, on every backend (DESIGN.md invariants 1-3)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert

from meeple.store.database import Store
from meeple.store.errors import (
    DuplicateCommand,
    GameClosed,
    GameExists,
    SequenceConflict,
    UnknownGame,
)
from meeple.store.games import Append, Appended, CommandRecord, Game, Games, NewEvent
from meeple.store.schema import game_events
from tests.store.factories import add_players


def ev(n: int, kind: str = "move", seat: int | None = 0) -> NewEvent:
    return NewEvent(kind, seat, f"event-{n}".encode(), 1_000 + n)


@pytest.fixture
async def repo(store: Store) -> Games:
    return Games(store)


async def new_game(store: Store, repo: Games, game_id: str = "g1", seats: int = 4) -> Game:
    players = await add_players(store, seats)
    return await repo.create(
        game_id, game="fourchess", players=players, currency="USD", stake=100, base_ms=60_000
    )


async def test_create_and_get(store: Store, repo: Games) -> None:
    players = await add_players(store, 2)
    game = await repo.create(
        "g1",
        game="chess",
        players=players,
        currency="USD",
        options={"variant": "x"},
        base_ms=300_000,
        increment_ms=2_000,
        stake=250,
        invite_code="ABC",
    )
    assert (game.id, game.game, game.players, game.status) == (
        "g1",
        "chess",
        tuple(players),
        "pending",
    )
    assert (game.options, game.base_ms, game.increment_ms, game.stake) == (
        {"variant": "x"},
        300_000,
        2_000,
        250,
    )
    assert (game.last_seq, game.result, game.settled, game.invite_code) == (0, None, False, "ABC")
    assert game.created_at.tzinfo is not None and game.started_at is None
    assert await repo.get("g1") == game
    assert await repo.get("nope") is None
    with pytest.raises(GameExists) as caught:
        await repo.create("g1", game="chess", players=players, currency="USD")
    assert caught.value.code == "game_exists"


async def test_append_assigns_contiguous_seqs(store: Store, repo: Games) -> None:
    await new_game(store, repo)
    assert await repo.append("g1", 0, [ev(1)]) == Appended("g1", 1, 1)
    assert await repo.append("g1", 1, [ev(2), ev(3, seat=None), ev(4)]) == Appended("g1", 2, 4)
    events = await repo.events_after("g1")
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.body for e in events] == [b"event-1", b"event-2", b"event-3", b"event-4"]
    assert events[2].seat is None and events[2].ts_ms == 1_003 and events[2].kind == "move"
    game = await repo.get("g1")
    assert game is not None and game.last_seq == 4


async def test_reads_after_a_seq_with_limit(store: Store, repo: Games) -> None:
    await new_game(store, repo)
    await repo.append("g1", 0, [ev(n) for n in range(1, 11)])
    assert [e.seq for e in await repo.events_after("g1", 4)] == [5, 6, 7, 8, 9, 10]
    assert [e.seq for e in await repo.events_after("g1", 4, limit=3)] == [5, 6, 7]
    assert await repo.events_after("g1", 10) == []
    assert await repo.events_after("other") == []


async def test_stale_expected_seq_conflicts_and_writes_nothing(store: Store, repo: Games) -> None:
    await new_game(store, repo)
    await repo.append("g1", 0, [ev(1), ev(2)])
    for stale in (0, 1, 3):
        with pytest.raises(SequenceConflict) as caught:
            await repo.append("g1", stale, [ev(9)], command=CommandRecord(1, f"c{stale}", {}))
        assert caught.value.code == "sequence_conflict"
        assert (caught.value.expected, caught.value.actual) == (stale, 2)
    assert [e.body for e in await repo.events_after("g1")] == [b"event-1", b"event-2"]
    assert await repo.command("g1", 1, "c0") is None


async def test_unknown_game(repo: Games) -> None:
    with pytest.raises(UnknownGame) as caught:
        await repo.append("nope", 0, [ev(1)])
    assert caught.value.code == "unknown_game"


async def test_two_writers_race_for_the_same_seq(store: Store, store_url: str, repo: Games) -> None:
    await new_game(store, repo)
    await repo.append("g1", 0, [ev(1)])
    # Two owners (separate pools, as two processes would be) both believe the log is at 1.
    other = await Store.open(
        str(store.engine.url.render_as_string(hide_password=False)), migrate=False
    )
    try:
        rival = Games(other)
        for round_ in range(5):
            at = 1 + round_
            results = await asyncio.gather(
                repo.append("g1", at, [NewEvent("move", 0, b"mine", 0)]),
                rival.append("g1", at, [NewEvent("move", 1, b"theirs", 0)]),
                return_exceptions=True,
            )
            wins = [r for r in results if isinstance(r, Appended)]
            losses = [r for r in results if isinstance(r, SequenceConflict)]
            assert len(wins) == 1 and len(losses) == 1, results
            assert wins[0] == Appended("g1", at + 1, at + 1)
    finally:
        await other.close()
    events = await repo.events_after("g1")
    assert [e.seq for e in events] == list(range(1, 7))


async def test_command_outcome_is_recorded_with_its_events(store: Store, repo: Games) -> None:
    game = await new_game(store, repo)
    player = game.players[0]
    await repo.append("g1", 0, [ev(1), ev(2)], command=CommandRecord(player, "cmd-1", {"ok": True}))
    outcome = await repo.command("g1", player, "cmd-1")
    assert outcome is not None
    assert (outcome.first_seq, outcome.last_seq, outcome.outcome) == (1, 2, {"ok": True})
    # A rejected command changes no state but its outcome is kept (with the seq check).
    rejected = CommandRecord(player, "cmd-2", {"error": "illegal_move"})
    assert await repo.append("g1", 2, [], command=rejected) == Appended("g1", 3, 2)
    outcome2 = await repo.command("g1", player, "cmd-2")
    assert outcome2 is not None and (outcome2.first_seq, outcome2.last_seq) == (None, None)
    assert await repo.command("g1", player, "cmd-3") is None
    assert await repo.command("g1", game.players[1], "cmd-1") is None
    # Recording the same command again is refused and writes nothing.
    with pytest.raises(DuplicateCommand) as caught:
        await repo.append("g1", 2, [ev(3)], command=CommandRecord(player, "cmd-1", {"ok": 1}))
    assert caught.value.code == "duplicate_command"
    assert len(await repo.events_after("g1")) == 2
    game_now = await repo.get("g1")
    assert game_now is not None and game_now.last_seq == 2


async def test_status_and_result_change_with_the_append(store: Store, repo: Games) -> None:
    await new_game(store, repo)
    await repo.append("g1", 0, [ev(1, "start")], status="active")
    active = await repo.get("g1")
    assert active is not None and active.status == "active" and active.started_at is not None
    assert [g.id for g in await repo.by_status("active")] == ["g1"]
    await repo.finish("g1", 1, {"placings": [1, 2, 3, 4]}, [ev(2, "game_over")])
    done = await repo.get("g1")
    assert done is not None
    assert (done.status, done.result, done.last_seq) == ("finished", {"placings": [1, 2, 3, 4]}, 2)
    assert done.ended_at is not None and done.started_at == active.started_at
    assert await repo.by_status("active") == []
    with pytest.raises(GameClosed) as caught:
        await repo.append("g1", 2, [ev(3)])
    assert caught.value.code == "game_closed"


async def test_abort(store: Store, repo: Games) -> None:
    await new_game(store, repo, "g1")
    await new_game(store, repo, "g2")
    await repo.abort("g1", 0, {"reason": "no_show"})
    aborted = await repo.get("g1")
    assert aborted is not None and aborted.status == "aborted"
    assert [g.id for g in await repo.by_status("aborted")] == ["g1"]
    assert [g.id for g in await repo.by_status("pending")] == ["g2"]
    assert {g.id for g in await repo.by_status()} == {"g1", "g2"}


async def test_batch_commits_all_but_the_conflicting_item(store: Store, repo: Games) -> None:
    for gid in ("a", "b", "c"):
        await new_game(store, repo, gid, seats=2)
    await repo.append("b", 0, [ev(1)])
    player = (await repo.get("a")).players[0]  # type: ignore[union-attr]
    results = await repo.append_many(
        [
            Append("c", 0, [ev(1), ev(2)], command=CommandRecord(player, "x", {"ok": True})),
            Append("b", 0, [ev(2)]),  # stale: b is at 1
            Append("a", 0, [ev(1)]),
            Append("a", 1, [ev(2)], status="active"),  # same game twice, in order
            Append("zzz", 0, [ev(1)]),  # unknown
        ]
    )
    assert results[0] == Appended("c", 1, 2)
    assert isinstance(results[1], SequenceConflict) and results[1].actual == 1
    assert results[2] == Appended("a", 1, 1)
    assert results[3] == Appended("a", 2, 2)
    assert isinstance(results[4], UnknownGame)
    assert [e.seq for e in await repo.events_after("a")] == [1, 2]
    assert [e.body for e in await repo.events_after("b")] == [b"event-1"]
    assert [e.seq for e in await repo.events_after("c")] == [1, 2]
    a = await repo.get("a")
    assert a is not None and a.status == "active" and a.last_seq == 2
    assert await repo.command("c", player, "x") is not None


async def test_a_batch_writes_what_a_single_append_writes(store: Store, repo: Games) -> None:
    # The batch path (on SQLite: plain sqlite3 on the writer thread) must store the
    # same values as the single append (SQLAlchemy), as every other reader sees them.
    await new_game(store, repo, "one")
    await new_game(store, repo, "many")
    player = (await repo.get("one")).players[0]  # type: ignore[union-attr]
    outcome = {"ok": True, "seq": 2, "code": None, "message": "é"}
    result = {"placings": [1, 2, 3, 4], "reason": "checkmate"}
    await repo.append("one", 0, [ev(1, "start", None)], status="active")
    await repo.append(
        "one",
        1,
        [ev(2)],
        command=CommandRecord(player, "c", outcome),
        status="finished",
        result=result,
    )
    assert await repo.append_many([Append("many", 0, [ev(1, "start", None)], status="active")]) == [
        Appended("many", 1, 1)
    ]
    done = await repo.append_many(
        [Append("many", 1, [ev(2)], CommandRecord(player, "c", outcome), "finished", result)]
    )
    assert done == [Appended("many", 2, 2)]
    one, many = await repo.get("one"), await repo.get("many")
    assert one is not None and many is not None
    assert (many.status, many.result, many.last_seq) == (one.status, one.result, one.last_seq)
    assert many.started_at is not None and many.ended_at is not None
    assert many.ended_at >= many.started_at and many.ended_at.tzinfo is not None
    strip = [(e.seq, e.kind, e.seat, e.body, e.ts_ms) for e in await repo.events_after("one")]
    assert [(e.seq, e.kind, e.seat, e.body, e.ts_ms) for e in await repo.events_after("many")] == (
        strip
    )
    a, b = await repo.command("one", player, "c"), await repo.command("many", player, "c")
    assert a is not None and b is not None
    assert (b.first_seq, b.last_seq, b.outcome) == (a.first_seq, a.last_seq, a.outcome)
    assert b.created_at.tzinfo is not None


async def test_outcomes_of_many_commands_at_once(store: Store, repo: Games) -> None:
    game = await new_game(store, repo)
    p0, p1 = game.players[0], game.players[1]
    await repo.append("g1", 0, [ev(1)], command=CommandRecord(p0, "a", {"ok": True, "seq": 1}))
    await repo.append("g1", 1, [], command=CommandRecord(p1, "b", {"ok": False, "code": "x"}))
    keys = [("g1", p0, "a"), ("g1", p1, "a"), ("g1", p1, "b"), ("g2", p0, "a")]
    assert await repo.outcomes(keys) == {
        ("g1", p0, "a"): {"ok": True, "seq": 1},
        ("g1", p1, "b"): {"ok": False, "code": "x"},
    }
    assert await repo.outcomes([]) == {}


async def test_batch_with_a_duplicate_command_item(store: Store, repo: Games) -> None:
    for gid in ("a", "b"):
        await new_game(store, repo, gid, seats=2)
    player = (await repo.get("a")).players[0]  # type: ignore[union-attr]
    await repo.append("a", 0, [ev(1)], command=CommandRecord(player, "x", {}))
    results = await repo.append_many(
        [
            Append("a", 1, [ev(2)], command=CommandRecord(player, "x", {})),
            Append("b", 0, [ev(1)], command=CommandRecord(player, "x", {})),
        ]
    )
    assert isinstance(results[0], DuplicateCommand)
    assert results[1] == Appended("b", 1, 1)
    assert [e.seq for e in await repo.events_after("a")] == [1]
    assert (await repo.get("a")).last_seq == 1  # type: ignore[union-attr]


async def test_concurrent_batches_of_overlapping_games(store: Store, repo: Games) -> None:
    ids = [f"g{n}" for n in range(6)]
    for gid in ids:
        await new_game(store, repo, gid, seats=2)
    # Two batches over the same games in opposite orders: no deadlock, one wins each game.
    first, second = await asyncio.gather(
        repo.append_many([Append(g, 0, [ev(1)]) for g in ids]),
        repo.append_many([Append(g, 0, [ev(2)]) for g in reversed(ids)]),
    )
    for n, gid in enumerate(ids):
        mine, theirs = first[n], second[len(ids) - 1 - n]
        assert isinstance(mine, Appended) != isinstance(theirs, Appended), (gid, mine, theirs)
        assert len(await repo.events_after(gid)) == 1


async def test_snapshots(store: Store, repo: Games) -> None:
    await new_game(store, repo)
    assert await repo.latest_snapshot("g1") is None
    await repo.save_snapshot("g1", 10, b"state-10", {"0": 1000})
    await repo.save_snapshot("g1", 20, b"state-20", {"0": 900})
    await repo.save_snapshot("g1", 20, b"again", {})  # same seq: kept as first written
    snap = await repo.latest_snapshot("g1")
    assert snap is not None
    assert (snap.seq, snap.state, snap.clocks) == (20, b"state-20", {"0": 900})


async def test_a_log_ahead_of_its_counter_is_a_conflict(store: Store, repo: Games) -> None:
    for gid in ("a", "b"):
        await new_game(store, repo, gid, seats=2)
    await repo.append("a", 0, [ev(1)])
    # Plant seq 2 behind the repository's back: last_seq still says 1.
    async with store.begin() as conn:
        await conn.execute(
            insert(game_events).values(game_id="a", seq=2, kind="x", seat=None, body=b"", ts_ms=0)
        )
    with pytest.raises(SequenceConflict) as caught:
        await repo.append("a", 1, [ev(2)])
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    results = await repo.append_many([Append("a", 1, [ev(2)]), Append("b", 0, [ev(1)])])
    assert isinstance(results[0], SequenceConflict)
    assert results[1] == Appended("b", 1, 1)
    assert (await repo.get("a")).last_seq == 1  # type: ignore[union-attr]
