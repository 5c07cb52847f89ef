// Positions and move texts: FEN (chess), FEN4 (chess.com's four-player format),
// and the from/to squares of a move text. Pure functions, no DOM.

/** @typedef {{owner: number, type: string}} Piece  owner: seat (0-3), 4 = grey (eliminated) */
/**
 * @typedef {Object} Position
 * @property {string} game        "fourchess" | "chess"
 * @property {number} size        14 | 8
 * @property {Map<string, Piece>} pieces  square name ("e2", "k14") -> piece
 * @property {number|null} turn   seat to move
 * @property {boolean[]} dead     per seat: eliminated
 * @property {number[]} points    per seat (fourchess)
 */

export const FILES = "abcdefghijklmn";
export const FOURCHESS_COLOURS = ["red", "blue", "yellow", "green"];
export const CHESS_COLOURS = ["white", "black"];
const COLOUR_LETTERS = "rbyg";
const TURN_LETTERS = "RBYG";

/** True for the 3x3 corners that are not part of the 14x14 board (file, rank from 0). */
export function isCorner(file, rank) {
  return (file < 3 || file > 10) && (rank < 3 || rank > 10);
}

/** Square name from 0-based file and rank. */
export function squareName(file, rank) {
  return FILES[file] + String(rank + 1);
}

/** [file, rank] (0-based) of a square name, or null. */
export function squareCoords(name) {
  const m = /^([a-n])(\d{1,2})$/.exec(name);
  if (!m) return null;
  return [FILES.indexOf(m[1]), Number(m[2]) - 1];
}

/** Every playable square name of a game's board. */
export function boardSquares(game) {
  const size = game === "fourchess" ? 14 : 8;
  const out = [];
  for (let rank = 0; rank < size; rank++) {
    for (let file = 0; file < size; file++) {
      if (size === 14 && isCorner(file, rank)) continue;
      out.push(squareName(file, rank));
    }
  }
  return out;
}

/** Parse a position text of either game. Throws Error with a message on bad input. */
export function parsePosition(game, text) {
  return game === "fourchess" ? parseFen4(text) : parseFen(text);
}

/**
 * chess.com FEN4: "R-0,0,0,0-1,1,1,1-1,1,1,1-0,0,0,0-0-<board>", the header
 * fields being the colour to move, eliminated flags, king-side and queen-side
 * castling, points, and the move counter (newer texts add more fields: the board
 * is always after the last "-"). Board rows from rank 14 down to 1, separated by
 * "/"; cells by ",": a number is that many empty squares, "x" one corner square,
 * else a colour letter (r, b, y, g; any other, e.g. "d", is grey) and a kind.
 */
export function parseFen4(text) {
  const cut = text.lastIndexOf("-");
  if (cut < 0) throw new Error(`not a FEN4 text: ${text}`);
  const header = text.slice(0, cut).split("-");
  const rows = text.slice(cut + 1).split("/");
  if (rows.length !== 14) throw new Error(`FEN4 board needs 14 rows, got ${rows.length}`);
  const pieces = new Map();
  rows.forEach((row, i) => {
    const rank = 13 - i;
    let file = 0;
    for (const cell of row.split(",")) {
      if (cell === "") continue;
      if (/^\d+$/.test(cell)) {
        file += Number(cell);
      } else if (cell === "x" || cell === "X") {
        file += 1;
      } else {
        const colour = cell[0];
        const kind = cell.slice(1).toUpperCase();
        if (!/^[PNBRQKD]$/.test(kind)) throw new Error(`bad FEN4 piece ${cell}`);
        const owner = COLOUR_LETTERS.indexOf(colour);
        pieces.set(squareName(file, rank), { owner: owner < 0 ? 4 : owner, type: kind });
        file += 1;
      }
    }
    if (file !== 14) throw new Error(`FEN4 row ${i + 1} has ${file} squares`);
  });
  const flags = (field, fallback) =>
    field === undefined ? fallback : field.split(",").map((v) => v.trim() === "1");
  const numbers = (field) =>
    field === undefined ? [0, 0, 0, 0] : field.split(",").map((v) => Number(v) || 0);
  const turn = TURN_LETTERS.indexOf((header[0] || "R").trim().toUpperCase());
  return {
    game: "fourchess",
    size: 14,
    pieces,
    turn: turn < 0 ? null : turn,
    dead: flags(header[1], [false, false, false, false]),
    points: numbers(header[4]),
  };
}

/** Standard FEN (only the fields the board needs: placement and side to move). */
export function parseFen(text) {
  const [placement, side] = text.trim().split(/\s+/);
  const rows = (placement || "").split("/");
  if (rows.length !== 8) throw new Error(`FEN board needs 8 rows, got ${rows.length}`);
  const pieces = new Map();
  rows.forEach((row, i) => {
    const rank = 7 - i;
    let file = 0;
    for (const ch of row) {
      if (/[1-8]/.test(ch)) {
        file += Number(ch);
      } else if (/[pnbrqk]/i.test(ch)) {
        const owner = ch === ch.toUpperCase() ? 0 : 1;
        pieces.set(squareName(file, rank), { owner, type: ch.toUpperCase() });
        file += 1;
      } else {
        throw new Error(`bad FEN character ${ch}`);
      }
    }
    if (file !== 8) throw new Error(`FEN row ${i + 1} has ${file} squares`);
  });
  return {
    game: "chess",
    size: 8,
    pieces,
    turn: side === "b" ? 1 : 0,
    dead: [false, false],
    points: [0, 0],
  };
}

// Castling as the four-player rules write it ("O-O", "O-O-O"): per seat, the king's
// and the rook's from and to squares, king side first (chess.com's layout).
const FOURCHESS_CASTLES = [
  [["h1", "j1", "k1", "i1"], ["h1", "f1", "d1", "g1"]],
  [["a7", "a5", "a4", "a6"], ["a7", "a9", "a11", "a8"]],
  [["g14", "e14", "d14", "f14"], ["g14", "i14", "k14", "h14"]],
  [["n8", "n10", "n11", "n9"], ["n8", "n6", "n4", "n7"]],
];
const CHESS_CASTLES = { e1g1: ["h1", "f1"], e1c1: ["a1", "d1"], e8g8: ["h8", "f8"], e8c8: ["a8", "d8"] };

/**
 * The squares of a move text: "h2-h3", "e2e4", "e7e8q", "h7-h8=D", "d7xd8=Q", and
 * "O-O" / "O-O-O" for `seat` in four-player chess. Returns {from, to, promo, rook}
 * (promo: upper-case kind letter or ""; rook: [from, to] when castling) or null for
 * a text it cannot place on the board.
 */
export function parseMoveText(text, seat = null) {
  const t = text.trim().replace(/[+#]+$/, "");
  const castle = /^(O-O|0-0)(-O|-0)?$/.exec(t);
  if (castle) {
    const sides = FOURCHESS_CASTLES[seat];
    if (!sides) return null;
    const [from, to, rookFrom, rookTo] = sides[castle[2] ? 1 : 0];
    return { from, to, promo: "", rook: [rookFrom, rookTo] };
  }
  const m = /^([a-n])(\d{1,2})\s*[-x:]?\s*([a-n])(\d{1,2})\s*=?\s*([nbrqdNBRQD])?$/.exec(t);
  if (!m) return null;
  return { from: m[1] + m[2], to: m[3] + m[4], promo: (m[5] || "").toUpperCase(), rook: null };
}

/** Index legal move texts of `seat` by origin square: Map from -> [{to, promo, text}]. */
export function indexMoves(texts, seat = null) {
  const byFrom = new Map();
  for (const text of texts || []) {
    const move = parseMoveText(text, seat);
    if (!move) continue;
    if (!byFrom.has(move.from)) byFrom.set(move.from, []);
    byFrom.get(move.from).push({ to: move.to, promo: move.promo, text });
  }
  return byFrom;
}

/**
 * Apply a move text of `seat` to a position naively (moves the piece, promotes,
 * moves a castling rook). Used only when an event carries no position text; en
 * passant and the like are corrected by the next position text.
 */
export function applyMoveNaive(position, text, seat = null) {
  const move = parseMoveText(text, seat);
  if (!move) return position;
  const pieces = new Map(position.pieces);
  const piece = pieces.get(move.from);
  if (!piece) return position;
  pieces.delete(move.from);
  pieces.set(move.to, move.promo ? { owner: piece.owner, type: move.promo } : piece);
  const rook = move.rook || (piece.type === "K" ? CHESS_CASTLES[move.from + move.to] : null);
  if (rook && position.game === (move.rook ? "fourchess" : "chess") && pieces.get(rook[0])) {
    pieces.set(rook[1], pieces.get(rook[0]));
    pieces.delete(rook[0]);
  }
  return { ...position, pieces };
}

// Pawn capture steps [file, rank] per owner: fourchess Red, Blue, Yellow, Green.
const PAWN_CAPTURES = [
  [[-1, 1], [1, 1]],
  [[1, 1], [1, -1]],
  [[-1, -1], [1, -1]],
  [[-1, 1], [-1, -1]],
];
const KNIGHT = [[1, 2], [2, 1], [2, -1], [1, -2], [-1, -2], [-2, -1], [-2, 1], [-1, 2]];
const ORTHO = [[1, 0], [-1, 0], [0, 1], [0, -1]];
const DIAG = [[1, 1], [1, -1], [-1, 1], [-1, -1]];

/**
 * Owners whose king a live enemy piece attacks (grey pieces attack nobody; in chess
 * Black's pawns capture downwards like Yellow's). `out`: owners no longer playing.
 */
export function attackedKings(position, out = new Set()) {
  const size = position.size;
  const onBoard = (f, r) => f >= 0 && r >= 0 && f < size && r < size && !(size === 14 && isCorner(f, r));
  const at = (f, r) => (onBoard(f, r) ? position.pieces.get(squareName(f, r)) || null : undefined);
  const enemy = (piece, owner) => piece && piece.owner !== owner && piece.owner !== 4 && !out.has(piece.owner);
  const captures = (o) => PAWN_CAPTURES[position.game === "chess" && o === 1 ? 2 : o];
  const result = new Set();
  for (const [name, king] of position.pieces) {
    if (king.type !== "K" || king.owner === 4 || out.has(king.owner)) continue;
    const [kf, kr] = squareCoords(name);
    const hit = (() => {
      for (const [df, dr] of KNIGHT) {
        const p = at(kf + df, kr + dr);
        if (enemy(p, king.owner) && p.type === "N") return true;
      }
      for (const [dirs, kinds] of [[ORTHO, "RQD"], [DIAG, "BQD"]]) {
        for (const [df, dr] of dirs) {
          for (let step = 1; ; step++) {
            const p = at(kf + df * step, kr + dr * step);
            if (p === undefined) break;
            if (p === null) continue;
            if (enemy(p, king.owner) && (kinds.includes(p.type) || (step === 1 && p.type === "K"))) return true;
            break;
          }
        }
      }
      for (const [name2, p] of position.pieces) {
        if (p.type !== "P" || !enemy(p, king.owner)) continue;
        const [pf, pr] = squareCoords(name2);
        if (captures(p.owner).some(([df, dr]) => pf + df === kf && pr + dr === kr)) return true;
      }
      return false;
    })();
    if (hit) result.add(king.owner);
  }
  return result;
}

/** Seat names of a game, for people. */
export function seatNames(game) {
  return game === "fourchess"
    ? ["Red", "Blue", "Yellow", "Green"]
    : ["White", "Black"];
}
