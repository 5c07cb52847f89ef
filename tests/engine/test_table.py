"""The engine's functional core over classic chess: turns, seats, clocks, deadlines."""

from __future__ import annotations

from meeple.engine import table as t
from meeple.engine.table import Policy, SeatInfo, Table, decide, next_deadline
from meeple.protocol import messages
from meeple.rules.classic import ClassicChess

CHESS = ClassicChess()
ALICE, BOB, EVE = 11, 12, 13


def new_table(**policy: int) -> Table:
    table = Table(
        game_id="g1",
        rules=CHESS,  # type: ignore[arg-type]
        seats=(SeatInfo(ALICE, "alice"), SeatInfo(BOB, "bob")),
        base_ms=60_000,
        increment_ms=2_000,
        stake=100,
        policy=Policy(
            first_move_timeout_ms=policy.get("first_move", 30_000),
            disconnect_grace_ms=policy.get("grace", 60_000),
            payout_percent=(100, 0),
            rake_bps=500,
        ),
    )
    started = decide(table, "start", 0, None, 1_000)
    assert started.reply is not None and started.reply.ok
    return started.table


def event(body: bytes) -> messages.Event:
    frame = messages.decode_server(body)
    assert isinstance(frame, messages.Event)
    return frame


def test_start_event_is_seq_one_and_start_is_idempotent() -> None:
    table = new_table()
    assert table.seq == 1 and table.status == t.ACTIVE and table.to_act == (0,)
    again = decide(table, "start", 0, None, 2_000)
    assert again.events == () and again.table is table


def test_moves_charge_the_mover_and_add_increment() -> None:
    table = new_table()
    first = decide(table, "move", ALICE, "e2e4", 5_000)  # first move: free
    assert first.reply == t.Reply(True, 2)
    frame = event(first.events[0].body)
    assert (frame.kind, frame.seat, frame.data["move"]) == ("move", 0, "e2e4")
    assert frame.clocks == [60_000, 60_000] and frame.to_act == [1]
    table = decide(first.table, "move", BOB, "e7e5", 6_000).table
    table = decide(table, "move", ALICE, "g1f3", 16_000).table  # 10 s used, +2 s
    assert table.clock.read(16_000) == (52_000, 60_000)


def test_mistakes_change_nothing() -> None:
    table = new_table()
    cases = [
        ("move", BOB, "e7e5", "not_your_turn"),
        ("move", EVE, "e2e4", "not_a_player"),
        ("move", ALICE, "e2e5", "illegal_move"),
        ("move", ALICE, "zz", "bad_notation"),
        ("claim", ALICE, "win", "action_unavailable"),
    ]
    for kind, player, arg, code in cases:
        decision = decide(table, kind, player, arg, 2_000)
        assert decision.reply is not None and decision.reply.code == code, (kind, arg)
        assert decision.events == () and decision.table is table


def test_checkmate_ends_with_payouts_and_ratings() -> None:
    table = new_table()
    now = 2_000
    for player, move in [(ALICE, "f2f3"), (BOB, "e7e5"), (ALICE, "g2g4"), (BOB, "d8h4")]:
        decision = decide(table, "move", player, move, now)
        table, now = decision.table, now + 1_000
    kinds = [e.kind for e in decision.events]
    assert kinds == ["move", "game_over"] and table.status == t.FINISHED
    result = event(decision.events[-1].body).data
    assert result["placings"] == [2, 1] and result["reason"] == "checkmate"
    assert result["payouts"] == [0, 190] and result["rake"] == 10
    assert result["ratings"][1]["after"] > result["ratings"][1]["before"]
    late = decide(table, "move", ALICE, "e2e4", now)
    assert late.reply is not None and late.reply.code == "game_over"


def test_flag_falls_and_late_move_is_refused() -> None:
    table = new_table()
    table = decide(table, "move", ALICE, "e2e4", 2_000).table
    table = decide(table, "move", BOB, "e7e5", 3_000).table
    table = decide(table, "move", ALICE, "d2d4", 4_000).table  # black's clock runs from 4 s
    assert next_deadline(table) == (64_000, "flag", 1)
    assert decide(table, "tick", 0, None, 63_999).events == ()
    late = decide(table, "move", BOB, "d7d5", 64_500)
    assert [e.kind for e in late.events] == ["timeout", "game_over"]
    assert late.reply is not None and late.reply.code == "game_over"
    assert event(late.events[0].body).clocks[1] == 0
    assert late.table.result is not None and late.table.result["placings"] == [1, 2]


def test_first_move_timeout_aborts() -> None:
    table = new_table(first_move=5_000)
    table = decide(table, "move", ALICE, "e2e4", 2_000).table
    assert next_deadline(table) == (7_000, "first_move", 1)
    tick = decide(table, "tick", 0, None, 7_000)
    assert [e.kind for e in tick.events] == ["aborted"] and tick.table.status == t.ABORTED
    assert tick.reply is None


def test_disconnect_grace_forfeits_never_past_the_flag() -> None:
    table = new_table(grace=10_000)
    table = decide(table, "move", ALICE, "e2e4", 2_000).table
    table = decide(table, "move", BOB, "e7e5", 3_000).table
    table = decide(table, "presence", ALICE, "offline", 3_000).table
    assert next_deadline(table) == (13_000, "grace", 0)
    back = decide(table, "presence", ALICE, "online", 5_000).table
    assert next_deadline(back) == (63_000, "flag", 0)
    gone = decide(table, "tick", 0, None, 13_000)
    assert [e.kind for e in gone.events] == ["forfeit", "game_over"]


def test_draw_offer_and_accept() -> None:
    table = new_table()
    table = decide(table, "move", ALICE, "e2e4", 2_000).table
    offered = decide(table, "draw.offer", BOB, None, 3_000)
    assert [e.kind for e in offered.events] == ["draw_offered"]
    accepted = decide(offered.table, "draw.accept", ALICE, None, 4_000)
    assert [e.kind for e in accepted.events] == ["draw_accepted", "game_over"]
    assert accepted.table.result is not None and accepted.table.result["placings"] == [1, 1]


def test_state_frame_for_player_and_spectator() -> None:
    table = new_table()
    mine = decide(table, "state", ALICE, None, 1_500)
    assert mine.reply is not None and mine.reply.payload is not None
    frame = messages.decode_server(mine.reply.payload)
    assert isinstance(frame, messages.State)
    assert frame.you == 0 and len(frame.view["legal_moves"]) == 20 and frame.seq == 1
    spectator = decide(table, "state", EVE, None, 1_500)
    assert spectator.reply is not None and spectator.reply.payload is not None
    frame = messages.decode_server(spectator.reply.payload)
    assert isinstance(frame, messages.State) and frame.you is None
    assert frame.view["position"] == frame.view["fen"]  # the position text is always there


def test_events_carry_the_position_and_the_legal_moves_to_act() -> None:
    table = new_table()
    start = decide(new_table(), "start", 0, None, 2_000)  # idempotent: no new event
    assert start.events == ()
    moved = decide(table, "move", ALICE, "e2e4", 5_000)
    frame = event(moved.events[0].body)
    assert frame.data["position"] == "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"
    assert len(frame.data["legal"]) == 20 and "e7e5" in frame.data["legal"]
    resigned = decide(moved.table, "resign", BOB, None, 6_000)
    over = [event(e.body) for e in resigned.events if e.kind == "game_over"]
    assert over and "position" not in over[0].data  # the result stays as it was
