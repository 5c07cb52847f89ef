// The board: a grid of squares rotated so the viewer's army is at the bottom;
// click-click, drag-and-drop (pointer events: mouse, pen and touch alike) and
// keyboard moves; legal-move hints, last move, checks, grey pieces.

import { FILES, isCorner, squareCoords, squareName } from "./notation.js";

const GLYPHS = { K: "\u265A", Q: "\u265B", R: "\u265C", B: "\u265D", N: "\u265E", P: "\u265F", D: "\u265B" };
const KIND_NAMES = { K: "king", Q: "queen", R: "rook", B: "bishop", N: "knight", P: "pawn", D: "queen (1 point)" };

/** The glyph of a piece kind (text presentation, never an emoji). */
export function glyph(type) {
  return (GLYPHS[type] || "?") + "\uFE0E";
}

/** Display [row, col] (row 0 at the top) of a square for a viewer in `seat`. */
export function displayCoords(game, seat, file, rank) {
  if (game !== "fourchess") {
    return seat === 1 ? [rank, 7 - file] : [7 - rank, file];
  }
  switch (seat) {
    case 1:
      return [13 - file, 13 - rank];
    case 2:
      return [rank, 13 - file];
    case 3:
      return [file, rank];
    default:
      return [13 - rank, file];
  }
}

/** Where a seat's panel sits for a viewer in `seat`: "bottom", "left", "top", "right". */
export function panelSide(game, viewerSeat, seat) {
  if (game !== "fourchess") return seat === (viewerSeat ?? 0) ? "bottom" : "top";
  return ["bottom", "left", "top", "right"][(seat - (viewerSeat ?? 0) + 4) % 4];
}

export class BoardView {
  /**
   * @param {HTMLElement} root  an empty element to draw into
   * @param {{onMove: (text: string) => void, onIllegal: (why: string) => void,
   *          choosePromotion: (options: {promo: string, text: string}[], owner: number) => Promise<string|null>}} handlers
   */
  constructor(root, handlers) {
    this.root = root;
    this.handlers = handlers;
    this.game = null;
    this.seat = null;
    this.cells = new Map(); // square -> element
    this.grid = []; // [row][col] -> square | null
    this.position = null;
    this.moves = new Map(); // from -> [{to, promo, text}]
    this.interactive = false;
    this.selected = null;
    this.cursor = null; // [row, col] for keyboard play
    this.drag = null;
    root.classList.add("board");
    root.tabIndex = 0;
    root.setAttribute("role", "grid");
    root.addEventListener("pointerdown", (e) => this.#pointerDown(e));
    root.addEventListener("keydown", (e) => this.#keyDown(e));
    root.addEventListener("focus", () => {
      // The keyboard cursor shows for keyboard focus only, not after a click.
      if (!root.matches(":focus-visible")) return;
      if (!this.cursor) this.cursor = [this.grid.length - 1, Math.floor(this.grid.length / 2)];
      this.#paintCursor();
    });
    root.addEventListener("blur", () => this.#paintCursor(false));
  }

  /** Build the squares for a game seen from `seat` (null: spectator, seen from seat 0). */
  setOrientation(game, seat) {
    if (this.game === game && this.seat === seat && this.cells.size) return;
    this.game = game;
    this.seat = seat;
    const size = game === "fourchess" ? 14 : 8;
    this.root.replaceChildren();
    this.root.style.setProperty("--size", String(size));
    this.root.dataset.game = game;
    this.cells.clear();
    this.grid = Array.from({ length: size }, () => Array(size).fill(null));
    for (let rank = 0; rank < size; rank++) {
      for (let file = 0; file < size; file++) {
        if (size === 14 && isCorner(file, rank)) continue;
        const [row, col] = displayCoords(game, seat ?? 0, file, rank);
        this.grid[row][col] = squareName(file, rank);
      }
    }
    const horizontalFiles = game !== "fourchess" || (seat ?? 0) % 2 === 0;
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        const name = this.grid[row][col];
        const cell = document.createElement("div");
        cell.style.gridRow = String(row + 1);
        cell.style.gridColumn = String(col + 1);
        if (!name) {
          cell.className = "corner";
          this.root.append(cell);
          continue;
        }
        const [file, rank] = squareCoords(name);
        cell.className = `sq ${(file + rank) % 2 === 0 ? "dark" : "light"}`;
        cell.dataset.square = name;
        cell.setAttribute("role", "gridcell");
        // Coordinates on the lowest square of each column and the leftmost of each row.
        const below = row + 1 < size ? this.grid[row + 1][col] : null;
        const left = col > 0 ? this.grid[row][col - 1] : null;
        if (!below) cell.append(label("file", horizontalFiles ? FILES[file] : String(rank + 1)));
        if (!left) cell.append(label("rank", horizontalFiles ? String(rank + 1) : FILES[file]));
        this.cells.set(name, cell);
        this.root.append(cell);
      }
    }
    this.selected = null;
  }

  /**
   * Draw a position.
   * @param {{position: object, legal: string[]|Map, lastMove: {from: string, to: string}|null,
   *          checks: Set<string>, interactive: boolean}} view
   */
  render({ position, moves, lastMove, checks, interactive }) {
    this.position = position;
    this.moves = moves || new Map();
    this.interactive = Boolean(interactive);
    this.root.classList.toggle("interactive", this.interactive);
    if (this.selected && !this.moves.has(this.selected)) this.selected = null;
    for (const [name, cell] of this.cells) {
      const piece = position ? position.pieces.get(name) : null;
      let el = cell.querySelector(".piece");
      if (piece) {
        if (!el) {
          el = document.createElement("span");
          cell.append(el);
        }
        el.className = `piece owner-${piece.owner} ${piece.type === "D" ? "promoted" : ""}`;
        el.dataset.owner = String(piece.owner);
        el.dataset.type = piece.type;
        el.textContent = glyph(piece.type);
        cell.setAttribute("aria-label", `${name} ${colourName(this.game, piece.owner)} ${KIND_NAMES[piece.type]}`);
      } else {
        if (el) el.remove();
        cell.setAttribute("aria-label", name);
      }
      cell.classList.toggle("last", Boolean(lastMove && (lastMove.from === name || lastMove.to === name)));
      cell.classList.toggle("check", Boolean(checks && checks.has(name)));
    }
    this.#paintSelection();
  }

  /** Forget the selection (e.g. after a move was sent). */
  clearSelection() {
    this.selected = null;
    this.#paintSelection();
  }

  // -- selection and hints ---------------------------------------------------------

  #paintSelection() {
    const targets = new Map();
    if (this.selected) for (const m of this.moves.get(this.selected) || []) targets.set(m.to, m);
    for (const [name, cell] of this.cells) {
      cell.classList.toggle("selected", name === this.selected);
      const hint = targets.has(name);
      cell.classList.toggle("hint", hint && !this.position?.pieces.has(name));
      cell.classList.toggle("hint-capture", hint && Boolean(this.position?.pieces.has(name)));
      cell.classList.toggle("movable", this.interactive && this.moves.has(name));
    }
  }

  #paintCursor(show = true) {
    for (const cell of this.root.querySelectorAll(".cursor")) cell.classList.remove("cursor");
    if (!show || !this.cursor) return;
    const name = this.grid[this.cursor[0]]?.[this.cursor[1]];
    const cell = name ? this.cells.get(name) : this.root.children[this.cursor[0] * this.grid.length + this.cursor[1]];
    if (cell) cell.classList.add("cursor");
    if (name) this.root.setAttribute("aria-activedescendant", "");
  }

  /** A click (or Enter) on a square: select, reselect, move or deselect. */
  #activate(name) {
    if (!this.interactive || !name) {
      this.selected = null;
      this.#paintSelection();
      return;
    }
    if (this.selected && name !== this.selected) {
      const options = (this.moves.get(this.selected) || []).filter((m) => m.to === name);
      if (options.length) {
        this.#play(options);
        return;
      }
    }
    if (this.moves.has(name)) {
      this.selected = this.selected === name ? null : name;
    } else {
      this.selected = null;
    }
    this.#paintSelection();
  }

  async #play(options) {
    const from = this.selected;
    this.selected = null;
    this.#paintSelection();
    let text = options[0].text;
    if (options.length > 1 || options[0].promo) {
      const owner = this.position?.pieces.get(from)?.owner ?? 0;
      text = await this.handlers.choosePromotion(options, owner);
      if (!text) return;
    }
    this.handlers.onMove(text);
  }

  // -- pointer: click-click and drag-and-drop -------------------------------------

  #squareAt(x, y) {
    const el = document.elementFromPoint(x, y);
    const cell = el && el.closest ? el.closest(".sq") : null;
    return cell && this.root.contains(cell) ? cell.dataset.square : null;
  }

  #pointerDown(event) {
    if (event.button !== 0) return;
    const cell = event.target.closest(".sq");
    const name = cell ? cell.dataset.square : null;
    if (!name) return;
    const canDrag = this.interactive && this.moves.has(name);
    if (!canDrag || (this.selected && this.selected !== name && this.#isTarget(name))) {
      this.#activate(name);
      return;
    }
    event.preventDefault();
    this.root.focus({ preventScroll: true });
    const wasSelected = this.selected === name;
    this.selected = name;
    this.#paintSelection();
    const piece = cell.querySelector(".piece");
    const drag = { from: name, x: event.clientX, y: event.clientY, ghost: null, piece, wasSelected };
    this.drag = drag;
    const move = (e) => {
      if (!drag.ghost && Math.hypot(e.clientX - drag.x, e.clientY - drag.y) < 5) return;
      if (!drag.ghost && piece) {
        const rect = piece.getBoundingClientRect();
        drag.ghost = piece.cloneNode(true);
        drag.ghost.classList.add("ghost");
        drag.ghost.style.width = `${rect.width}px`;
        drag.ghost.style.height = `${rect.height}px`;
        drag.ghost.style.fontSize = getComputedStyle(piece).fontSize;
        document.body.append(drag.ghost);
        piece.classList.add("dragging");
      }
      if (drag.ghost) {
        drag.ghost.style.left = `${e.clientX}px`;
        drag.ghost.style.top = `${e.clientY}px`;
      }
    };
    const up = (e) => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      window.removeEventListener("pointercancel", up);
      this.drag = null;
      if (!drag.ghost) {
        // A click: the second click on the selected piece deselects it.
        if (drag.wasSelected) {
          this.selected = null;
          this.#paintSelection();
        }
        return;
      }
      drag.ghost.remove();
      piece.classList.remove("dragging");
      const target = e.type === "pointerup" ? this.#squareAt(e.clientX, e.clientY) : null;
      if (!target || target === drag.from) return;
      const options = (this.moves.get(drag.from) || []).filter((m) => m.to === target);
      if (options.length) {
        this.#play(options);
      } else {
        this.selected = null;
        this.#paintSelection();
        this.handlers.onIllegal(`${drag.from} to ${target} is not a legal move`);
      }
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
    window.addEventListener("pointercancel", up);
  }

  #isTarget(name) {
    return (this.moves.get(this.selected) || []).some((m) => m.to === name);
  }

  // -- keyboard ---------------------------------------------------------------------

  #keyDown(event) {
    const size = this.grid.length;
    if (!size) return;
    if (!this.cursor) this.cursor = [size - 1, Math.floor(size / 2)];
    const steps = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (steps[event.key]) {
      const [dr, dc] = steps[event.key];
      this.cursor = [
        Math.min(size - 1, Math.max(0, this.cursor[0] + dr)),
        Math.min(size - 1, Math.max(0, this.cursor[1] + dc)),
      ];
      this.#paintCursor();
      event.preventDefault();
    } else if (event.key === "Enter" || event.key === " ") {
      this.#activate(this.grid[this.cursor[0]][this.cursor[1]]);
      event.preventDefault();
    } else if (event.key === "Escape") {
      this.selected = null;
      this.#paintSelection();
    }
  }
}

function label(kind, text) {
  const el = document.createElement("span");
  el.className = `coord ${kind}`;
  el.textContent = text;
  el.setAttribute("aria-hidden", "true");
  return el;
}

/** A piece owner's colour name, for people. */
export function colourName(game, owner) {
  if (owner === 4) return "grey";
  return game === "fourchess"
    ? ["red", "blue", "yellow", "green"][owner]
    : ["white", "black"][owner];
}
