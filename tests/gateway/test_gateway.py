"""The gateway over real WebSockets, with the fake engine behind the in-memory bus."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from sqlalchemy import select

from meeple.auth.tokens import TokenSigner
from meeple.protocol.internal import game_topic
from meeple.store.schema import game_events
from tests.auth.forge import legacy_token
from tests.gateway.conftest import KEY, MakeRig, Rig


async def _game(rig: Rig, seats: int = 2) -> tuple[str, list[tuple[int, str]]]:
    people = [await rig.player(f"p{i}") for i in range(seats)]
    game = await rig.engine.create_game(f"g{time.monotonic_ns()}", [p for p, _ in people])
    return game.game_id, people


# -- connect --------------------------------------------------------------------------


async def test_welcome_names_the_player_and_their_games(rig: Rig) -> None:
    game_id, [(alice, token), _] = await _game(rig)
    client = await rig.connect(token)
    welcome = await client.type("welcome")
    assert welcome["player_id"] == alice
    assert welcome["username"] == "p0"
    assert welcome["games"] == [game_id]
    assert welcome.get("games_available", True) is True  # defaults are omitted
    assert welcome["protocol"] == 1


async def test_bearer_header_is_accepted(rig: Rig) -> None:
    _, token = await rig.player()
    client = await rig.connect(None, additional_headers={"Authorization": f"Bearer {token}"})
    await client.type("welcome")


async def test_bad_tokens_get_their_code_and_4401(rig: Rig) -> None:
    player_id, _ = await rig.player()
    expired, _ = TokenSigner(KEY, -60).issue(player_id, "p", "player", None)
    forged, _ = TokenSigner("another-key-entirely-0123456789-abcdef", 900).issue(
        player_id, "p", "player", None
    )
    for token, code in [
        (None, "unauthorized"),
        (expired, "token_expired"),
        (forged, "unauthorized"),
    ]:
        client = await rig.connect(token)
        error = await client.type("error")
        assert error["code"] == code
        assert await client.wait_closed() == 4401


OLD_KEY = "the-gateway-tests-former-signing-key-0123456789"


async def test_previous_signing_key_verifies_until_it_is_dropped(make_rig: MakeRig) -> None:
    # A rotation: KEY is current, OLD_KEY still verifies during the overlap.
    overlap = await make_rig(signing_keys_previous=f"{OLD_KEY},")
    player_id, current = await overlap.player()
    old, _ = TokenSigner(OLD_KEY, 900).issue(player_id, "p", "player", None)
    unknown, _ = TokenSigner("a-key-no-gateway-was-given-0123456789", 900).issue(
        player_id, "p", "player", None
    )
    legacy_old, legacy_current = legacy_token(OLD_KEY, player_id), legacy_token(KEY, player_id)
    for token in (current, old, legacy_old, legacy_current):
        welcome = await (await overlap.connect(token)).type("welcome")
        assert welcome["player_id"] == player_id
    # The old key dropped: what it signed is refused; the current key's tokens are not.
    dropped = await make_rig()
    refusals = [(dropped, old), (dropped, legacy_old), (dropped, unknown), (overlap, unknown)]
    for rig, token in refusals:
        client = await rig.connect(token)
        error = await client.type("error")
        assert (error["code"], await client.wait_closed()) == ("unauthorized", 4401)
        if token is not legacy_old:  # no kid: no key to name
            assert "signed with an unknown key" in error["message"]
    for token in (current, legacy_current):
        await dropped.welcome(token)


async def test_per_address_connection_limit(make_rig: MakeRig) -> None:
    rig = await make_rig(ws_max_per_address=2)
    _, token = await rig.player()
    await rig.welcome(token)
    second = await rig.welcome(token)
    third = await rig.connect(token)
    assert (await third.type("error"))["code"] == "too_many_connections"
    assert await third.wait_closed() == 1008
    await second.close()
    # A closed connection frees its place (the server notices the close first).
    deadline = time.monotonic() + 5
    while rig.gateway.addresses.count("127.0.0.1") > 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    await rig.welcome(token)


# -- playing and watching -------------------------------------------------------------


async def test_state_then_live_events_for_players_and_spectators(rig: Rig) -> None:
    game_id, [(_, a_token), (_, b_token)] = await _game(rig)
    _, watcher_token = await rig.player("watcher")
    alice, bob, watcher = (
        await rig.welcome(a_token),
        await rig.welcome(b_token),
        await rig.welcome(watcher_token),
    )
    for client, you in [(alice, 0), (bob, 1), (watcher, None)]:
        sub_id = await client.send({"type": "subscribe", "game_id": game_id})
        state = await client.type("state")
        assert state["seq"] == 1 and state.get("you") == you
        ack = await client.reply(sub_id or "")
        assert ack == {"type": "ack", "id": sub_id, "seq": 1}

    ack = await alice.call({"type": "move", "game_id": game_id, "move": "e2e4"})
    assert ack["type"] == "ack" and ack["seq"] == 2
    for client in (alice, bob, watcher):
        event = await client.type("event")
        assert (event["seq"], event["data"], event["seat"]) == (2, {"move": "e2e4"}, 0)

    wrong_turn = await alice.call({"type": "move", "game_id": game_id, "move": "d2d4"})
    assert wrong_turn["code"] == "not_your_turn"
    spectator = await watcher.call({"type": "move", "game_id": game_id, "move": "e7e5"})
    assert spectator["code"] == "not_a_player"
    illegal = await bob.call({"type": "move", "game_id": game_id, "move": "bad"})
    assert illegal["code"] == "illegal_move"
    ok = await bob.call({"type": "move", "game_id": game_id, "move": "e7e5"})
    assert ok["seq"] == 3
    for client in (alice, bob, watcher):
        assert [e["seq"] for e in client.events(game_id)] == [2, 3]


async def test_unknown_game(rig: Rig) -> None:
    _, token = await rig.player()
    client = await rig.welcome(token)
    reply = await client.call({"type": "subscribe", "game_id": "nope"})
    assert reply["code"] == "game_not_found"


async def test_resume_sends_exactly_the_missed_events(rig: Rig) -> None:
    game_id, [(_, a_token), _] = await _game(rig)
    alice = await rig.welcome(a_token)
    game = rig.engine.games[game_id]
    for n in range(6):
        await rig.engine.append(game, "move", n % 2, {"n": n})  # seq 2..7
    ack = await alice.call({"type": "subscribe", "game_id": game_id, "after_seq": 3})
    assert ack["seq"] == 7
    assert [e["seq"] for e in alice.events(game_id)] == [4, 5, 6, 7]
    assert not [f for f in alice.frames if f["type"] == "state"]
    await rig.engine.append(game, "move", 0, {"n": 6})
    await alice.wait_for(lambda f: f.get("seq") == 8 and f["type"] == "event")
    assert [e["seq"] for e in alice.events(game_id)] == [4, 5, 6, 7, 8]


async def test_far_behind_gets_a_state(make_rig: MakeRig) -> None:
    rig = await make_rig(resume_limit=3)
    game_id, [(_, token), _] = await _game(rig)
    game = rig.engine.games[game_id]
    for n in range(6):
        await rig.engine.append(game, "move", n % 2, {"n": n})
    client = await rig.welcome(token)
    ack = await client.call({"type": "subscribe", "game_id": game_id, "after_seq": 2})
    assert ack["seq"] == 7
    assert [f["type"] for f in client.frames[1:]] == ["state", "ack"]


async def test_a_gap_in_live_frames_is_filled_from_the_store(rig: Rig) -> None:
    game_id, [(_, token), _] = await _game(rig)
    client = await rig.welcome(token)
    await client.call({"type": "subscribe", "game_id": game_id})
    game = rig.engine.games[game_id]
    await rig.engine.append(game, "move", 0, {"n": 2}, publish=False)  # the bus lost it
    await rig.engine.append(game, "move", 1, {"n": 3}, publish=False)
    await rig.engine.append(game, "move", 0, {"n": 4})
    await client.wait_for(lambda f: f.get("seq") == 4)
    assert [e["seq"] for e in client.events(game_id)] == [2, 3, 4]


async def test_duplicate_frames_are_dropped(rig: Rig) -> None:
    game_id, [(_, token), _] = await _game(rig)
    client = await rig.welcome(token)
    await client.call({"type": "subscribe", "game_id": game_id})
    game = rig.engine.games[game_id]
    await rig.engine.append(game, "move", 0, {})
    async with rig.store.connect() as conn:
        stored = (
            await conn.execute(
                select(game_events.c.body).where(
                    game_events.c.game_id == game_id, game_events.c.seq == 2
                )
            )
        ).scalar_one()
    await rig.bus.publish(game_topic(game_id), stored)  # a replay of seq 2
    await rig.engine.append(game, "move", 1, {})
    await client.wait_for(lambda f: f.get("seq") == 3)
    assert [e["seq"] for e in client.events(game_id)] == [2, 3]


async def test_a_command_id_in_flight_twice_is_sent_once(rig: Rig) -> None:
    game_id, [(_, token), _] = await _game(rig)
    first, second = await rig.welcome(token), await rig.welcome(token)
    rig.engine.hold.clear()
    move = {"type": "move", "game_id": game_id, "move": "e2e4", "id": "same"}
    await first.send(move)
    await second.send(move)
    await first.send({"type": "ping", "id": "sync"})
    await first.type("pong")
    rig.engine.hold.set()
    replies = [await first.reply("same"), await second.reply("same")]
    assert replies[0] == replies[1] == {"type": "ack", "id": "same", "seq": 2}
    assert [c.command_id for c in rig.engine.received if c.kind == "move"] == ["same"]
    # A later retry is answered by the engine's record, and changes nothing.
    assert (await first.call(move))["seq"] == 2
    assert rig.engine.games[game_id].seq == 2


async def test_no_answer_in_time_is_a_retriable_timeout(make_rig: MakeRig) -> None:
    rig = await make_rig(command_timeout_s=0.3)
    game_id, [(_, token), _] = await _game(rig)
    client = await rig.welcome(token)
    rig.engine.hold.clear()
    reply = await client.call({"type": "move", "game_id": game_id, "move": "e2e4", "id": "m1"})
    assert reply["code"] == "timeout"
    rig.engine.hold.set()
    retry = await client.call({"type": "move", "game_id": game_id, "move": "e2e4", "id": "m1"})
    assert retry == {"type": "ack", "id": "m1", "seq": 2}


async def test_games_unavailable_and_back(rig: Rig) -> None:
    game_id, [(_, token), _] = await _game(rig)
    client = await rig.welcome(token)
    await rig.engine.stop()
    notice = await client.type("notice")
    assert notice["code"] == "games_unavailable"
    started = time.monotonic()
    reply = await client.call({"type": "move", "game_id": game_id, "move": "e2e4"})
    assert reply["code"] == "games_unavailable"
    assert time.monotonic() - started < 1.0  # at once, not after a timeout
    queue = await client.call({"type": "queue.join", "game": "chess", "time_control": "1+0"})
    assert queue["code"] == "games_unavailable"
    await rig.engine.start()
    assert (await client.type("notice"))["code"] == "games_available"


async def test_matchmaking_commands_and_player_frames(rig: Rig) -> None:
    _, token = await rig.player()
    client = await rig.welcome(token)
    ack = await client.call(
        {"type": "queue.join", "game": "chess", "time_control": "3+2", "stake": 100}
    )
    assert ack["data"] == {"queued": "queue.join"}
    status = await client.type("queue.status")
    assert (status["state"], status["stake"]) == ("waiting", 100)
    join = next(c for c in rig.engine.received if c.kind == "queue.join")
    assert orjson.loads(join.arg or "")["time_control"] == "3+2"


async def test_presence_follows_the_players_connections(rig: Rig) -> None:
    game_id, [(alice, token), _] = await _game(rig)
    first = await rig.welcome(token)
    second = await rig.welcome(token)

    async def presence() -> list[str | None]:
        await asyncio.sleep(0)
        return [arg for p, g, arg in rig.engine.presence if (p, g) == (alice, game_id)]

    deadline = time.monotonic() + 5
    while await presence() != ["online"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    await first.close()
    await second.send({"type": "ping", "id": "x"})
    await second.type("pong")
    assert await presence() == ["online"]  # one connection is still there
    await second.close()
    while await presence() != ["online", "offline"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


# -- bad input ------------------------------------------------------------------------


async def test_bad_frames_get_their_codes_and_change_nothing(rig: Rig) -> None:
    game_id, [(_, token), _] = await _game(rig)
    client = await rig.welcome(token)
    cases: list[tuple[str | bytes, str]] = [
        ("{not json", "bad_frame"),
        ("[1, 2]", "bad_message"),
        ('{"type": "teleport", "id": "t1"}', "unknown_type"),
        ('{"type": "move", "id": "t2", "game_id": "' + game_id + '"}', "bad_message"),
        ('{"type": "move", "id": "t3", "game_id": "x", "move": "e2e4", "extra": 1}', "bad_message"),
        (b'{"type": "ping", "id": "t4"}', "bad_frame"),
    ]
    for frame, code in cases:
        await client.send(frame)
        error = await client.type("error")
        assert error["code"] == code, frame
    await client.send({"type": "ping", "id": "still-here"})
    assert (await client.type("pong"))["id"] == "still-here"
    assert rig.engine.games[game_id].seq == 1
    assert not [c for c in rig.engine.received if c.kind == "move"]


async def test_errors_echo_a_usable_id(rig: Rig) -> None:
    _, token = await rig.player()
    client = await rig.welcome(token)
    await client.send('{"type": "teleport", "id": "t1"}')
    assert (await client.type("error"))["id"] == "t1"


async def test_an_oversized_frame_closes_with_1009(make_rig: MakeRig) -> None:
    rig = await make_rig(ws_max_frame_bytes=1024)
    _, token = await rig.player()
    client = await rig.welcome(token)
    await client.send('{"type": "ping", "id": "' + "x" * 2000 + '"}')
    assert (await client.type("error"))["code"] == "frame_too_large"
    assert await client.wait_closed() == 1009


async def test_flooding_is_rate_limited_then_closed(make_rig: MakeRig) -> None:
    rig = await make_rig(ws_rate_per_s=5.0, ws_rate_burst=5, ws_flood_close_after=30)
    game_id, [(_, token), _] = await _game(rig)
    client = await rig.welcome(token)
    for n in range(60):
        await client.send({"type": "move", "game_id": game_id, "move": "e2e4", "id": f"f{n}"})
    limited = await client.type("error")
    assert limited["code"] == "rate_limited" and limited["retry_after_ms"] > 0
    assert limited["id"].startswith("f")  # the client can retry exactly that command
    assert await client.wait_closed() == 1008
    # Only the burst got through to the engine (one move, then not_your_turn).
    moves = [c for c in rig.engine.received if c.kind == "move"]
    assert len(moves) <= 6
    assert rig.engine.games[game_id].seq == 2


async def test_idle_connections_are_closed(make_rig: MakeRig) -> None:
    rig = await make_rig(ws_idle_timeout_s=0.3)
    _, token = await rig.player()
    client = await rig.welcome(token)
    assert await client.wait_closed() == 4000


# -- drain ----------------------------------------------------------------------------


async def test_drain_answers_commands_in_flight_then_closes(rig: Rig) -> None:
    game_id, [(_, token), _] = await _game(rig)
    client = await rig.welcome(token)
    rig.engine.hold.clear()
    await client.send({"type": "move", "game_id": game_id, "move": "e2e4", "id": "m1"})
    await client.send({"type": "ping", "id": "p"})
    await client.type("pong")
    draining = asyncio.create_task(rig.gateway.drain())
    notice = await client.type("notice")
    assert notice["code"] == "draining"
    rig.engine.hold.set()
    assert (await client.reply("m1"))["seq"] == 2
    assert await client.wait_closed() == 1012
    await draining
    late = await rig.connect(token)
    assert (await late.type("notice"))["code"] == "draining"
    assert await late.wait_closed() == 1012


async def test_falling_behind_the_bus_resyncs_from_the_store(rig: Rig) -> None:
    hub = rig.gateway.hub
    await hub.stop()
    hub.buffer_limit = 5  # the bus drops this gateway's subscriber past 5 waiting frames
    await hub.start()
    game_id, [(_, token), _] = await _game(rig)
    client = await rig.welcome(token)
    await client.call({"type": "subscribe", "game_id": game_id})
    game = rig.engine.games[game_id]
    for n in range(20):
        await rig.engine.append(game, "move", n % 2, {"n": n}, publish=False)
    async with rig.store.connect() as conn:
        bodies = (
            await conn.execute(
                select(game_events.c.body)
                .where(game_events.c.game_id == game_id, game_events.c.seq > 1)
                .order_by(game_events.c.seq)
            )
        ).scalars()
        frames = list(bodies)
    dropped = hub._subscriber
    for body in frames:  # all at once, faster than the hub drains them
        await rig.bus.publish(game_topic(game_id), body)
    assert dropped is not None and dropped.overflowed
    await client.wait_for(lambda f: f.get("seq") == 21)
    assert seqs_of(client.events(game_id)) == list(range(2, 22))
    # Commands still find their replies after the resubscription.
    assert (await client.call({"type": "move", "game_id": game_id, "move": "x"}))["seq"] == 22


def seqs_of(events: list[dict[str, object]]) -> list[object]:
    return [e["seq"] for e in events]


async def test_a_failing_store_read_is_an_error_not_a_stuck_follow(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    game_id, [(_, token), _] = await _game(rig)
    client = await rig.welcome(token)

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk on fire")

    async def buggy(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("our bug")

    async def refused(*_args: object, **_kwargs: object) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(rig.gateway.reads, "head", buggy)
    reply = await client.call({"type": "subscribe", "game_id": game_id, "after_seq": 1})
    assert reply["code"] == "internal_error"
    # A store that cannot be reached is a temporary unavailability: retriable.
    monkeypatch.setattr(rig.gateway.reads, "head", refused)
    reply = await client.call({"type": "subscribe", "game_id": game_id, "after_seq": 1})
    assert reply["code"] == "games_unavailable"
    monkeypatch.undo()
    await client.call({"type": "subscribe", "game_id": game_id})
    # A gap that cannot be filled closes the connection (1011): the client resumes.
    monkeypatch.setattr(rig.gateway.reads, "events_after", broken)
    game = rig.engine.games[game_id]
    await rig.engine.append(game, "move", 0, {}, publish=False)
    await rig.engine.append(game, "move", 1, {})
    assert await client.wait_closed() == 1011
