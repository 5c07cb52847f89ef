"""The client's pure modules (FEN4, FEN, move texts, board orientation), run in Chromium."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Tab

# chess.com's start position, as the rules write it (meeple.rules.fourchess.geometry).
START_FEN4 = (
    "R-0,0,0,0-1,1,1,1-1,1,1,1-0,0,0,0-0-"
    "x,x,x,yR,yN,yB,yK,yQ,yB,yN,yR,x,x,x/x,x,x,yP,yP,yP,yP,yP,yP,yP,yP,x,x,x/x,x,x,8,x,x,x/"
    "bR,bP,10,gP,gR/bN,bP,10,gP,gN/bB,bP,10,gP,gB/bQ,bP,10,gP,gK/"
    "bK,bP,10,gP,gQ/bB,bP,10,gP,gB/bN,bP,10,gP,gN/bR,bP,10,gP,gR/"
    "x,x,x,8,x,x,x/x,x,x,rP,rP,rP,rP,rP,rP,rP,rP,x,x,x/x,x,x,rR,rN,rB,rQ,rK,rB,rN,rR,x,x,x"
)


async def run_module(tab: Tab, module: str, body: str) -> Any:
    """Evaluate ``body`` (an async function body) with module ``m`` imported."""
    await tab.page.goto("/")
    return await tab.page.evaluate(
        f"async () => {{ const m = await import('/js/{module}.js'); {body} }}"
    )


async def test_fen4_start_position(tab: Tab) -> None:
    result = await run_module(
        tab,
        "notation",
        f"""const p = m.parseFen4({START_FEN4!r});
        const count = [0, 0, 0, 0, 0];
        for (const piece of p.pieces.values()) count[piece.owner] += 1;
        return {{count, turn: p.turn, dead: p.dead, points: p.points,
                 h1: p.pieces.get('h1'), a7: p.pieces.get('a7'), g14: p.pieces.get('g14'),
                 n8: p.pieces.get('n8'), d2: p.pieces.get('d2'),
                 squares: m.boardSquares('fourchess').length}};""",
    )
    assert result["count"] == [16, 16, 16, 16, 0]
    assert result["turn"] == 0
    assert result["dead"] == [False] * 4
    assert result["points"] == [0, 0, 0, 0]
    assert result["h1"] == {"owner": 0, "type": "K"}
    assert result["a7"] == {"owner": 1, "type": "K"}
    assert result["g14"] == {"owner": 2, "type": "K"}
    assert result["n8"] == {"owner": 3, "type": "K"}
    assert result["d2"] == {"owner": 0, "type": "P"}
    assert result["squares"] == 160


async def test_fen4_header_and_grey_pieces(tab: Tab) -> None:
    fen4 = START_FEN4.replace("R-0,0,0,0-", "Y-0,1,0,0-").replace("-0,0,0,0-0-", "-3,0,20,1-7-")
    fen4 = fen4.replace("bK", "dK")
    result = await run_module(
        tab,
        "notation",
        f"""const p = m.parseFen4({fen4!r});
        return {{turn: p.turn, dead: p.dead, points: p.points, a7: p.pieces.get('a7')}};""",
    )
    assert result == {
        "turn": 2,
        "dead": [False, True, False, False],
        "points": [3, 0, 20, 1],
        "a7": {"owner": 4, "type": "K"},
    }


async def test_bad_positions_are_refused(tab: Tab) -> None:
    result = await run_module(
        tab,
        "notation",
        """const errors = [];
        for (const [f, text] of [[m.parseFen4, 'R-0,0,0,0-x/x'], [m.parseFen, '8/8 w'],
                                 [m.parseFen, 'rnbqkbnr/pppppppp/9/8/8/8/PPPPPPPP/RNBQKBNR w']]) {
          try { f(text); errors.push(null); } catch (e) { errors.push(e.message); }
        }
        return errors;""",
    )
    assert all(isinstance(e, str) and e for e in result), result


async def test_fen_and_move_texts(tab: Tab) -> None:
    result = await run_module(
        tab,
        "notation",
        """const p = m.parseFen('rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1');
        const texts = ['h2-h3', 'e2e4', 'e7e8q', 'h7-h8=D', 'd7xd8=Q', 'k13-k14', 'O-O', 'a1'];
        const moves = m.indexMoves(['e7e8q', 'e7e8r', 'e2e4', 'O-O']);
        return {turn: p.turn, e4: p.pieces.get('e4'), e8: p.pieces.get('e8'), n: p.pieces.size,
                parsed: texts.map((t) => m.parseMoveText(t)),
                e7: moves.get('e7').map((x) => x.promo), keys: [...moves.keys()]};""",
    )
    assert result["turn"] == 1
    assert result["e4"] == {"owner": 0, "type": "P"}
    assert result["e8"] == {"owner": 1, "type": "K"}
    assert result["n"] == 32
    assert result["parsed"] == [
        {"from": "h2", "to": "h3", "promo": "", "rook": None},
        {"from": "e2", "to": "e4", "promo": "", "rook": None},
        {"from": "e7", "to": "e8", "promo": "Q", "rook": None},
        {"from": "h7", "to": "h8", "promo": "D", "rook": None},
        {"from": "d7", "to": "d8", "promo": "Q", "rook": None},
        {"from": "k13", "to": "k14", "promo": "", "rook": None},
        None,
        None,
    ]
    assert result["e7"] == ["Q", "R"]
    assert result["keys"] == ["e7", "e2"]


async def test_each_army_is_at_the_bottom_of_its_own_view(tab: Tab) -> None:
    """The king of the viewing seat is on the bottom row, queen to its left (chess.com)."""
    result = await run_module(
        tab,
        "board",
        """const kings = {0: [7, 0], 1: [0, 6], 2: [6, 13], 3: [13, 7]};   // h1, a7, g14, n8
        const queens = {0: [6, 0], 1: [0, 7], 2: [7, 13], 3: [13, 6]};  // g1, a8, h14, n7
        const out = {};
        for (const seat of [0, 1, 2, 3]) {
          const k = m.displayCoords('fourchess', seat, ...kings[seat]);
          const q = m.displayCoords('fourchess', seat, ...queens[seat]);
          out[seat] = {k, q, sides: [0, 1, 2, 3].map((s) => m.panelSide('fourchess', seat, s))};
        }
        out.chess = [m.displayCoords('chess', 0, 4, 0), m.displayCoords('chess', 1, 4, 7)];
        return out;""",
    )
    for seat in ("0", "1", "2", "3"):
        king, queen = result[seat]["k"], result[seat]["q"]
        assert king[0] == 13 and queen[0] == 13, (seat, king, queen)
        assert queen[1] == king[1] - 1, (seat, king, queen)
        assert result[seat]["sides"][int(seat)] == "bottom"
    # Turn order runs clockwise: the next seat sits on the left.
    assert result["0"]["sides"] == ["bottom", "left", "top", "right"]
    assert result["1"]["sides"] == ["right", "bottom", "left", "top"]
    assert result["chess"] == [[7, 4], [7, 3]]


async def test_castling_texts_and_the_naive_move(tab: Tab) -> None:
    result = await run_module(
        tab,
        "notation",
        f"""const p = m.parseFen4({START_FEN4!r});
        const emptied = {{...p, pieces: new Map(p.pieces)}};
        for (const sq of ['i1', 'j1']) emptied.pieces.delete(sq);
        const after = m.applyMoveNaive(emptied, 'O-O', 0);
        return {{red: m.parseMoveText('O-O', 0), blue: m.parseMoveText('O-O-O', 1),
                 none: m.parseMoveText('O-O', null), index: [...m.indexMoves(['O-O'], 3).keys()],
                 j1: after.pieces.get('j1'), i1: after.pieces.get('i1'),
                 k1: after.pieces.get('k1')}};""",
    )
    assert result["red"] == {"from": "h1", "to": "j1", "promo": "", "rook": ["k1", "i1"]}
    assert result["blue"] == {"from": "a7", "to": "a9", "promo": "", "rook": ["a11", "a8"]}
    assert result["none"] is None
    assert result["index"] == ["n8"]
    assert result["j1"] == {"owner": 0, "type": "K"}
    assert result["i1"] == {"owner": 0, "type": "R"}
    assert result["k1"] is None


async def test_checks_are_found_on_both_boards(tab: Tab) -> None:
    result = await run_module(
        tab,
        "notation",
        """const chess = (fen) => [...m.attackedKings(m.parseFen(fen))];
        return {
          start: chess('rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1'),
          scholar: chess('r1bqkb1r/pppp1Qpp/2n2n2/4p3/2B1P3/8/PPPP1PPP/RNB1K1NR b KQkq - 0 4'),
          pawn: chess('8/8/8/3k4/4P3/8/8/4K3 b - - 0 1'),
          blocked: chess('4k3/8/8/8/8/8/4P3/4R2K b - - 0 1'),
        };""",
    )
    assert result == {"start": [], "scholar": [1], "pawn": [1], "blocked": []}


async def test_fourchess_checks_ignore_grey_pieces(tab: Tab) -> None:
    result = await run_module(
        tab,
        "notation",
        f"""const base = m.parseFen4({START_FEN4!r});
        const check = (edit, out = []) => {{
          const p = {{...base, pieces: new Map(base.pieces)}};
          edit(p.pieces);
          return [...m.attackedKings(p, new Set(out))].sort();
        }};
        return {{
          start: check(() => {{}}),
          // A blue knight on g3 (after h2 moved away it would see h1): attacks h1.
          knight: check((b) => b.set('g3', {{owner: 1, type: 'N'}})),
          grey: check((b) => b.set('g3', {{owner: 4, type: 'N'}})),
          outOwner: check((b) => b.set('g3', {{owner: 1, type: 'N'}}), [1]),
          // A yellow pawn on g2 captures towards rank 1: it attacks f1 and h1.
          yellowPawn: check((b) => b.set('g2', {{owner: 2, type: 'P'}})),
          // A red pawn on i2 attacks h3 and j3, not h1.
          ownPawn: check((b) => b.set('i2', {{owner: 0, type: 'P'}})),
        }};""",
    )
    assert result == {
        "start": [],
        "knight": [0],
        "grey": [],
        "outOwner": [],
        "yellowPawn": [0],
        "ownPawn": [],
    }
