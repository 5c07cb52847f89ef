"""The client against a real WebSocket server that speaks protocol v1 (tests/client/fake_server)."""

from __future__ import annotations

import asyncio
import random

import pytest

from meeple.client import Client, ClientClosed, CommandError, ConnectionFailed
from meeple.protocol import messages as m
from tests.client.fake_server import FakeGateway

WITHIN = 5.0


@pytest.fixture
async def server() -> FakeGateway:
    async with FakeGateway() as gateway:
        yield gateway  # type: ignore[misc]


async def connect(server: FakeGateway, token: str, **kwargs: object) -> Client:
    return await Client.connect(server.url, token, **kwargs)  # type: ignore[arg-type]


async def test_welcome_and_ping(server: FakeGateway) -> None:
    async with await connect(server, "alice-token") as client:
        assert client.player_id == 1
        assert client.welcome is not None and client.welcome.username == "alice"
        pong = await client.ping()
        assert pong.server_time_ms > 0


async def test_bad_token_is_refused_with_the_servers_code(server: FakeGateway) -> None:
    with pytest.raises(ConnectionFailed) as info:
        await connect(server, "wrong")
    assert info.value.code == "unauthorized"


async def test_refused_command_raises_with_code(server: FakeGateway) -> None:
    game_id = server.new_game([1, 2])
    async with await connect(server, "alice-token") as alice:
        await alice.subscribe(game_id)
        with pytest.raises(CommandError) as info:
            await alice.move(game_id, "e2e5")
        assert info.value.code == "illegal_move"
        with pytest.raises(CommandError) as info:
            await alice.move("nope", "e2e4")
        assert info.value.code == "game_not_found"


async def test_two_views_follow_a_game_played_from_local_legal_moves(server: FakeGateway) -> None:
    game_id = server.new_game([1, 2])
    rng = random.Random(7)
    async with (
        await connect(server, "alice-token") as alice,
        await connect(server, "bob-token") as bob,
    ):
        await alice.subscribe(game_id)
        await bob.subscribe(game_id)
        players = [alice, bob]
        for ply in range(12):
            mover = players[ply % 2]
            view = mover.views[game_id]
            await mover.wait_until(lambda v=view: v.my_turn, WITHIN)
            ack = await mover.move(game_id, rng.choice(view.legal_moves()))
            assert ack.seq == ply + 2  # seq 1 is the start event
        for client in players:
            await client.wait_until(lambda c=client: c.last_seq(game_id) == 13, WITHIN)
        chess = server.chess
        truth = chess.position_to_text(server.games[game_id].state)
        for client in players:
            view = client.views[game_id]
            assert view.rules is not None and view.state is not None
            assert view.rules.position_to_text(view.state) == truth
            assert not view.stale


async def test_frames_iterate_in_order_without_duplicates(server: FakeGateway) -> None:
    game_id = server.new_game([1, 2])
    async with await connect(server, "carol-token") as carol:  # a spectator
        await carol.subscribe(game_id)
        state = await carol.next_frame(WITHIN)
        assert isinstance(state, m.State) and state.you is None
        await server._broadcast(server.games[game_id], server.apply_move(game_id, 0, "e2e4"))
        await server._broadcast(server.games[game_id], server.games[game_id].log[-1])  # twice
        await server._broadcast(server.games[game_id], server.apply_move(game_id, 1, "e7e5"))
        seqs = []
        for _ in range(2):
            frame = await carol.next_frame(WITHIN)
            assert isinstance(frame, m.Event)
            seqs.append(frame.seq)
        assert seqs == [2, 3]
        assert carol.views[game_id].legal_moves(0)  # white's moves, seen by a spectator


async def test_retry_with_the_same_id_returns_the_first_outcome(server: FakeGateway) -> None:
    game_id = server.new_game([1, 2])
    async with await connect(server, "alice-token") as alice:
        await alice.subscribe(game_id)
        first = await alice.move(game_id, "e2e4", command_id="m-1")
        again = await alice.move(game_id, "e2e4", command_id="m-1")
        assert first == again
        assert server.applied == ["m-1"]


async def test_unanswered_command_times_out_with_a_retriable_code(server: FakeGateway) -> None:
    server.swallow.add("Ping")
    async with await connect(server, "alice-token", command_timeout_s=0.2) as alice:
        with pytest.raises(CommandError) as info:
            await alice.ping(command_id="p-1")
        assert info.value.code == "timeout"
        server.swallow.clear()
        pong = await alice.ping(command_id="p-1")  # the retry, same id
        assert pong.id == "p-1"


async def test_rate_limited_commands_are_retried_after_the_servers_delay(
    server: FakeGateway,
) -> None:
    async with await connect(server, "alice-token") as alice:
        server.rate_limit_next = 2
        pong = await alice.ping(command_id="p-9")
        assert pong.id == "p-9"
        assert [r.id for r in server.received].count("p-9") == 3


async def test_reconnect_resumes_each_game_from_the_last_seq(server: FakeGateway) -> None:
    game_id = server.new_game([1, 2])
    async with await connect(server, "alice-token") as alice:
        await alice.subscribe(game_id)
        await alice.move(game_id, "e2e4")
        await alice.wait_until(lambda: alice.last_seq(game_id) == 2, WITHIN)
        await server.drop_all()
        # Moves made while alice is away reach her after the reconnect, once each.
        server.apply_move(game_id, 1, "e7e5")
        await alice.wait_until(lambda: alice.reconnects == 1, WITHIN)
        await alice.wait_until(lambda: alice.last_seq(game_id) == 3, WITHIN)
        view = alice.views[game_id]
        assert view.my_turn and not view.stale
        await alice.move(game_id, "g1f3")
        await alice.wait_until(lambda: alice.last_seq(game_id) == 4, WITHIN)
        resumes = [r for r in server.received if isinstance(r, m.Subscribe)]
        assert [r.after_seq for r in resumes] == [0, 2]


async def test_a_resubscribe_refused_mid_failover_is_retried_until_it_holds(
    server: FakeGateway,
) -> None:
    game_id = server.new_game([1, 2])
    async with await connect(server, "alice-token") as alice:
        await alice.subscribe(game_id)
        await alice.move(game_id, "e2e4")
        await alice.wait_until(lambda: alice.last_seq(game_id) == 2, WITHIN)
        server.unavailable_subscribes = 2  # the game's engine is changing hands
        await server.drop_all()
        server.apply_move(game_id, 1, "e7e5")
        await alice.wait_until(lambda: alice.last_seq(game_id) == 3, WITHIN)
        assert game_id in alice.subscriptions
        resumes = [r for r in server.received if isinstance(r, m.Subscribe)]
        assert [r.after_seq for r in resumes] == [0, 2, 2, 2]


async def test_a_command_waiting_when_the_connection_drops_is_resent_with_its_id(
    server: FakeGateway,
) -> None:
    game_id = server.new_game([1, 2])
    server.swallow.add("Move")  # the first answer is lost with the connection
    async with await connect(server, "alice-token") as alice:
        await alice.subscribe(game_id)
        moving = asyncio.create_task(alice.move(game_id, "d2d4", command_id="m-7"))
        await alice.wait_until(lambda: alice.last_seq(game_id) == 2, WITHIN)
        server.swallow.clear()
        await server.drop_all()
        ack = await asyncio.wait_for(moving, WITHIN)
        assert ack.seq == 2
        assert server.applied == ["m-7"]  # applied once, though sent twice
        assert [r.id for r in server.received].count("m-7") == 2


async def test_a_view_that_cannot_apply_an_event_resyncs_from_a_state(
    server: FakeGateway,
) -> None:
    game_id = server.new_game([1, 2])
    async with await connect(server, "alice-token") as alice:
        await alice.subscribe(game_id)
        await alice.wait_until(lambda: alice.views[game_id].state is not None, WITHIN)
        await server.inject(game_id, "mystery", 0, {})
        await alice.wait_until(
            lambda: len([r for r in server.received if isinstance(r, m.Subscribe)]) == 2, WITHIN
        )
        await alice.wait_until(
            lambda: not alice.views[game_id].stale and alice.views[game_id].seq == 2, WITHIN
        )
        assert alice.views[game_id].my_turn


async def test_matched_frame_gives_the_seat(server: FakeGateway) -> None:
    async with (
        await connect(server, "alice-token") as alice,
        await connect(server, "bob-token") as bob,
    ):
        await alice.join_queue("chess", "1+0")
        await bob.join_queue("chess", "1+0")
        frame = await alice.next_frame(WITHIN)
        assert isinstance(frame, m.Matched) and frame.seat == 0
        frame = await bob.next_frame(WITHIN)
        assert isinstance(frame, m.Matched) and frame.seat == 1
        assert bob.views[frame.game_id].you == 1


async def test_close_fails_waiting_commands_and_ends_iteration(server: FakeGateway) -> None:
    server.swallow.add("Ping")
    alice = await connect(server, "alice-token")
    waiting = asyncio.create_task(alice.ping())
    await alice.close()
    with pytest.raises(ClientClosed):
        await waiting
    assert [f async for f in alice] == []
    with pytest.raises(ClientClosed):
        await alice.ping()


async def test_an_idle_client_pings_to_stay_connected(server: FakeGateway) -> None:
    async with await connect(server, "alice-token", keepalive_s=0.05) as alice:
        await alice.wait_until(lambda: len(server.received) >= 2, WITHIN)
        assert all(isinstance(r, m.Ping) for r in server.received)


async def test_reconnect_with_an_expired_token_asks_for_a_fresh_one(server: FakeGateway) -> None:
    asked: list[str] = []

    async def fresh_token() -> str:
        asked.append("alice-token-2")
        return "alice-token-2"

    async with await connect(server, "alice-token", token_provider=fresh_token) as alice:
        server.refused.add("alice-token")
        await server.drop_all()
        await alice.wait_until(lambda: alice.reconnects == 1, WITHIN)
        assert asked == ["alice-token-2"]
        assert (await alice.ping()).id


async def test_without_a_token_provider_an_expired_token_closes_the_client(
    server: FakeGateway,
) -> None:
    alice = await connect(server, "alice-token")
    server.refused.add("alice-token")
    await server.drop_all()
    await asyncio.wait_for(alice.wait_closed(), WITHIN)
    with pytest.raises(ClientClosed):
        await alice.ping()
