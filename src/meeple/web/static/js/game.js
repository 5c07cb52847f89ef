// The game screen: follows one game through the socket (state + events), keeps the
// clocks ticking between events, and sends the player's commands.

import { money } from "./api.js";
import { BoardView, colourName, panelSide } from "./board.js";
import {
  applyMoveNaive,
  attackedKings,
  indexMoves,
  parseMoveText,
  parsePosition,
  seatNames,
} from "./notation.js";
import { $, el, formatClock } from "./ui.js";

/** The result reasons, for people. */
const REASONS = {
  checkmate: "checkmate",
  resign: "resignation",
  resignation: "resignation",
  timeout: "time",
  stalemate: "stalemate",
  agreement: "agreement",
  claim: "claim",
};

export class GameScreen {
  /**
   * @param {{socket: import("./socket.js").GameSocket, api: import("./api.js").Api,
   *          toast: (text: string, bad?: boolean) => void, confirm: (text: string) => Promise<boolean>,
   *          onEnded: (wallet: object|null) => void}} deps
   */
  constructor(deps) {
    this.deps = deps;
    this.socket = deps.socket;
    this.board = new BoardView($("#board"), {
      onMove: (text) => this.#move(text),
      onIllegal: (why) => deps.toast(`Illegal move: ${why}`, true),
      choosePromotion: (options, owner) => choosePromotion(options, owner, this.g?.game),
    });
    this.g = null;
    this.timer = null;
    this.socket.addEventListener("state", (e) => this.#onState(e.detail));
    this.socket.addEventListener("event", (e) => this.#onEvent(e.detail));
    this.socket.addEventListener("subscribe-failed", (e) => {
      if (this.g && e.detail.gameId === this.g.id) {
        this.#status(`Cannot follow this game: ${e.detail.error.message}`);
      }
    });
    $("#act-resign").addEventListener("click", () => this.#resign());
    $("#act-draw").addEventListener("click", () => this.#command({ type: "draw.offer" }, "Draw offered"));
    $("#act-accept").addEventListener("click", () => this.#command({ type: "draw.accept" }));
    $("#act-decline").addEventListener("click", () => this.#command({ type: "draw.decline" }));
    $("#act-claim").addEventListener("click", () =>
      this.#command({ type: "claim", claim: this.g?.game === "chess" ? "draw" : "win" }),
    );
  }

  /** Open a game (play if seated, else watch). */
  open(gameId) {
    if (this.g && this.g.id === gameId) return;
    this.close();
    this.g = {
      id: gameId,
      game: null,
      seq: 0,
      you: null,
      seats: [],
      position: null,
      legal: [],
      toAct: [],
      clocks: [],
      tsMs: 0,
      moves: [],
      lastMove: null,
      checks: new Set(),
      out: new Set(),
      points: [],
      drawOffer: null,
      status: "loading",
      result: null,
      stake: 0,
      timeControl: "",
      sending: false,
      moved: new Set(), // seats that made a move: the engine runs a clock only after it
    };
    $("#moves").replaceChildren();
    $("#result").hidden = true;
    this.#status("Loading the game…");
    $("#game-title").textContent = `Game ${gameId}`;
    this.socket.follow(gameId, 0);
    this.timer = setInterval(() => this.#tick(), 100);
  }

  /** Leave the game screen (stop following). */
  close() {
    if (!this.g) return;
    this.socket.unfollow(this.g.id);
    clearInterval(this.timer);
    this.g = null;
  }

  // -- frames --------------------------------------------------------------------------

  #onState(frame) {
    const g = this.g;
    if (!g || frame.game_id !== g.id) return;
    const view = frame.view || {};
    g.game = frame.game;
    g.seq = frame.seq;
    g.you = frame.you ?? null;
    g.seats = frame.seats || [];
    g.status = frame.status;
    g.result = frame.result || null;
    g.stake = frame.stake || 0;
    g.timeControl = frame.time_control || "";
    g.clocks = frame.clocks || [];
    g.toAct = frame.to_act || [];
    g.tsMs = frame.ts_ms || this.socket.now();
    const text = view.position ?? view.fen4 ?? view.fen;
    g.position = text ? safeParse(g.game, text) : g.position;
    g.legal = view.legal ?? view.legal_moves ?? [];
    g.drawOffer = view.draw_offer ?? null;
    g.points = view.points || (g.position ? g.position.points : []);
    g.out = new Set(seatsOut(view, g.position));
    if (Array.isArray(view.moves)) {
      g.moves = view.moves.map((m, i) =>
        typeof m === "string" ? { text: m, seat: g.game === "chess" ? i % 2 : null } : m,
      );
    }
    for (const m of g.moves) if (typeof m.seat === "number") g.moved.add(m.seat);
    // Past the first round every seat has moved (a state frame does not say who has).
    if (g.seq > g.seats.length + 1) g.seats.forEach((_, seat) => g.moved.add(seat));
    const last = view.last_move ?? (g.moves.length ? g.moves[g.moves.length - 1].text : null);
    if (typeof last === "string") g.lastMove = parseMoveText(last);
    g.checks = this.#checks();
    this.socket.seen(g.id, g.seq);
    this.#render(true);
  }

  #onEvent(frame) {
    const g = this.g;
    if (!g || frame.game_id !== g.id) return;
    if (frame.seq <= g.seq) return; // already applied (resume overlap)
    if (g.seq > 0 && frame.seq > g.seq + 1) {
      // A gap: ask again from the last event applied; the gateway fills it.
      this.socket.follow(g.id, g.seq);
      return;
    }
    if (g.seq === 0 && frame.seq > 1 && !g.game) return; // wait for the state frame
    g.seq = frame.seq;
    if (frame.clocks && frame.clocks.length) g.clocks = frame.clocks;
    g.toAct = frame.to_act || [];
    g.tsMs = frame.ts_ms;
    const data = frame.data || {};
    const seat = frame.seat ?? data.seat ?? null;
    let legalKnown = false;
    if (data.position) {
      g.position = safeParse(g.game || data.game, data.position) || g.position;
    }
    if (Array.isArray(data.legal)) {
      g.legal = g.you !== null && g.toAct.includes(g.you) ? data.legal : [];
      legalKnown = true;
    } else if (data.legal && typeof data.legal === "object" && g.you !== null) {
      g.legal = data.legal[String(g.you)] || [];
      legalKnown = true;
    }
    switch (frame.kind) {
      case "start":
        g.game = data.game || g.game;
        g.seats = data.seats || g.seats;
        g.timeControl = data.time_control || g.timeControl;
        g.stake = data.stake ?? g.stake;
        g.status = "active";
        break;
      case "move": {
        const text = data.move || "";
        if (!data.position && g.position) g.position = applyMoveNaive(g.position, text, seat);
        g.lastMove = parseMoveText(text, seat);
        g.moves.push({ text, seat });
        if (seat !== null) g.moved.add(seat);
        this.#appendMove(g.moves.length, text, seat);
        g.drawOffer = null;
        break;
      }
      case "resign":
      case "timeout":
      case "forfeit":
      case "eliminated":
        if (seat !== null) {
          g.out.add(seat);
          if (!data.position && g.position && g.game === "fourchess") greyOut(g.position, seat);
        }
        this.deps.toast(`${this.#seatName(seat)} ${frame.kind === "timeout" ? "ran out of time" : frame.kind === "resign" ? "resigned" : "is out"}`);
        break;
      case "draw_offered":
        g.drawOffer = seat;
        if (seat !== g.you) this.deps.toast(`${this.#seatName(seat)} offers a draw`);
        break;
      case "draw_declined":
        g.drawOffer = null;
        break;
      case "claimed":
        this.deps.toast(`${this.#seatName(seat)} claimed ${data.claim || "the game"}`);
        break;
      case "aborted":
        g.status = "aborted";
        g.result = { reason: data.reason || "aborted", ...data };
        break;
      case "game_over":
        g.status = "finished";
        g.result = data.result || data;
        break;
      default:
        break;
    }
    if (Array.isArray(data.points)) g.points = data.points;
    else if (g.position && g.position.points && data.position) g.points = g.position.points;
    for (const s of seatsOut(data, data.position ? g.position : null)) g.out.add(s);
    // Rules events folded into the engine's event: points, eliminations.
    for (const e of Array.isArray(data.events) ? data.events : []) {
      if (!e || typeof e.seat !== "number") continue;
      if (e.kind === "points" && e.data && typeof e.data.total === "number") g.points[e.seat] = e.data.total;
      if (e.kind === "eliminated" || (e.kind === "removed" && g.game === "fourchess")) {
        g.out.add(e.seat);
        if (!data.position && g.position && g.game === "fourchess") greyOut(g.position, e.seat);
      }
    }
    g.checks = this.#checks();
    if (!legalKnown && g.you !== null && g.toAct.includes(g.you) && g.status === "active") {
      // The event did not say which moves are legal now: ask for the state.
      this.socket.follow(g.id, 0);
    }
    if (!g.toAct.includes(g.you)) g.legal = legalKnown ? g.legal : [];
    g.sending = false;
    this.socket.seen(g.id, g.seq);
    this.#render(frame.kind === "start");
    if (g.status === "finished" || g.status === "aborted") this.#ended();
  }

  // -- commands ------------------------------------------------------------------------

  async #move(text) {
    const g = this.g;
    if (!g) return;
    const seq = g.seq;
    const legal = g.legal;
    g.sending = true;
    g.legal = []; // one move per turn; the next event brings the next legal moves
    this.#render(false);
    const queued = this.socket.state !== "online";
    if (queued) this.deps.toast(`Offline: ${text} will be sent when the connection is back`);
    try {
      await this.socket.send({ type: "move", game_id: g.id, move: text });
    } catch (err) {
      if (this.g !== g) return;
      g.sending = false;
      this.deps.toast(`Move ${text} refused: ${err.message} (${err.code})`, true);
      // Refused: nothing changed. If no event came meanwhile, the legal moves are the
      // ones we had; otherwise the events brought the new ones.
      if (g.seq === seq) g.legal = legal;
      this.#render(false);
    }
  }

  async #resign() {
    if (!this.g || this.g.you === null) return;
    if (await this.deps.confirm("Resign this game?")) this.#command({ type: "resign" }, "You resigned");
  }

  async #command(message, okText = null) {
    const g = this.g;
    if (!g) return;
    try {
      await this.socket.send({ ...message, game_id: g.id });
      if (okText) this.deps.toast(okText);
    } catch (err) {
      this.deps.toast(`${message.type} refused: ${err.message} (${err.code})`, true);
    }
  }

  // -- drawing -------------------------------------------------------------------------

  #render(full) {
    const g = this.g;
    if (!g || !g.game) return;
    const spectator = g.you === null;
    this.board.setOrientation(g.game, g.you);
    $("#table").dataset.game = g.game;
    $("#table").classList.toggle("chess", g.game === "chess");
    const myTurn = !spectator && g.toAct.includes(g.you) && g.status === "active";
    this.board.render({
      position: g.position,
      moves: myTurn && !g.sending ? indexMoves(g.legal, g.you) : new Map(),
      lastMove: g.lastMove,
      checks: kingSquares(g.position, g.checks),
      interactive: myTurn && !g.sending,
    });
    if (full) {
      $("#moves").replaceChildren();
      g.moves.forEach((m, i) => this.#appendMove(i + 1, m.text, m.seat));
    }
    const title = g.game === "fourchess" ? "Four-player chess" : "Chess";
    $("#game-title").textContent =
      `${title} · ${g.timeControl} · stake ${money(g.stake, this.deps.currency())}${spectator ? " · spectating" : ""}`;
    this.#panels();
    const active = g.status === "active";
    const ended = g.status === "finished" || g.status === "aborted";
    $("#actions").hidden = spectator || ended;
    $("#act-accept").hidden = $("#act-decline").hidden = !(active && g.drawOffer !== null && g.drawOffer !== g.you);
    $("#act-claim").textContent = g.game === "chess" ? "Claim draw" : "Claim win";
    if (ended) {
      this.#status(g.status === "aborted" ? "The game was aborted" : "Game over");
    } else if (spectator) {
      this.#status(`Spectating · ${g.toAct.map((s) => this.#seatName(s)).join(", ")} to move`);
    } else if (myTurn) {
      this.#status(g.sending ? "Sending your move…" : "Your move");
    } else if (g.out.has(g.you)) {
      this.#status("You are out of this game");
    } else {
      this.#status(`Waiting for ${g.toAct.map((s) => this.#seatName(s)).join(", ") || "the game"}`);
    }
    if (ended) this.#showResult();
  }

  #panels() {
    const g = this.g;
    const names = seatNames(g.game);
    const count = g.game === "fourchess" ? 4 : 2;
    for (const panel of document.querySelectorAll(".seat-panel")) panel.replaceChildren();
    for (let seat = 0; seat < count; seat++) {
      const info = g.seats.find((s) => s.seat === seat) || g.seats[seat] || {};
      const side = panelSide(g.game, g.you, seat);
      const panel = document.querySelector(`.seat-panel[data-side="${side}"]`);
      panel.dataset.seat = String(seat);
      panel.classList.toggle("active", g.toAct.includes(seat) && g.status === "active");
      panel.classList.toggle("out", g.out.has(seat));
      const who = info.display_name || info.username || `${names[seat]}`;
      const rating = info.rating ?? info.rating_before;
      panel.append(
        el("div", { class: "name" }, [
          el("span", { class: `dot owner-${seat}`, "aria-hidden": "true" }, "\u25CF "),
          `${who}${seat === g.you ? " (you)" : ""}`,
        ]),
        el("div", { class: "clock", "data-clock": String(seat), "aria-label": `${names[seat]} clock` }, ""),
        el("div", { class: "meta" }, [
          names[seat],
          rating !== undefined && rating !== null ? ` · ${rating}` : "",
          g.game === "fourchess" ? ` · ${g.points[seat] ?? 0} pts` : "",
          g.out.has(seat) ? " · out" : "",
        ]),
      );
    }
    this.#tick();
  }

  /** Update the clocks: the running ones are counted down locally between events. */
  #tick() {
    const g = this.g;
    if (!g || !g.game) return;
    const now = this.socket.now();
    for (const node of document.querySelectorAll("[data-clock]")) {
      const seat = Number(node.dataset.clock);
      let ms = g.clocks[seat];
      if (ms === undefined) {
        node.textContent = "";
        continue;
      }
      const running = g.status === "active" && g.toAct.includes(seat) && g.moved.has(seat);
      if (running) ms -= Math.max(0, now - g.tsMs);
      ms = Math.max(0, ms);
      node.textContent = formatClock(ms);
      node.classList.toggle("low", ms < 10000);
    }
  }

  #appendMove(number, text, seat) {
    const g = this.g;
    const item = el("li", {}, [
      seat !== null && seat !== undefined
        ? el("span", { class: `dot owner-${seat}`, title: colourName(g.game, seat) }, "\u25CF ")
        : "",
      text,
    ]);
    item.value = number;
    const list = $("#moves");
    list.append(item);
    list.scrollTop = list.scrollHeight; // the list only, never the page

  }

  #showResult() {
    const g = this.g;
    const r = g.result || {};
    const names = seatNames(g.game);
    const box = $("#result");
    box.hidden = false;
    const placings = r.placings || [];
    const payouts = r.payouts || {};
    const ratings = r.ratings || {};
    const rows = g.seats.map((info, i) => {
      const seat = info.seat ?? i;
      const payout = Array.isArray(payouts) ? payouts[seat] : payouts[String(seat)];
      const rating = Array.isArray(ratings) ? ratings[seat] : ratings[String(seat)];
      return el("tr", { "data-seat": String(seat) }, [
        el("td", {}, placings[seat] !== undefined ? `#${placings[seat]}` : "-"),
        el("td", {}, `${info.username || names[seat]}${seat === g.you ? " (you)" : ""}`),
        el("td", {}, r.points && r.points[seat] !== undefined ? `${r.points[seat]} pts` : ""),
        el("td", {}, payout !== undefined && payout !== null ? money(payout, this.deps.currency()) : ""),
        el("td", {}, ratingText(rating)),
      ]);
    });
    const reason = REASONS[r.reason] || r.reason || "";
    const mine = g.you !== null && placings[g.you] !== undefined ? placings[g.you] : null;
    // A shared place is not a win: a drawn chess game is placed 1, 1.
    const shared = mine !== null && placings.filter((p) => p === mine).length > 1;
    const heading =
      g.status === "aborted" ? "Aborted"
      : mine === null ? "Result"
      : shared && placings.every((p) => p === mine) ? "Draw"
      : shared ? `You shared place #${mine}`
      : mine === 1 ? "You won"
      : `You placed #${mine}`;
    box.replaceChildren(
      el("h3", {}, heading),
      el("p", { class: "muted" }, reason ? `By ${reason}` : ""),
      el("table", {}, [el("tbody", {}, rows)]),
      el("p", { id: "wallet-change" }, ""),
    );
  }

  async #ended() {
    const g = this.g;
    if (g.you === null) {
      this.deps.onEnded(null);
      return;
    }
    const currency = this.deps.currency();
    const payouts = (g.result && g.result.payouts) || {};
    const payout = (Array.isArray(payouts) ? payouts[g.you] : payouts[String(g.you)]) ?? 0;
    const aborted = g.status === "aborted";
    let text = aborted
      ? `Stake ${money(g.stake, currency)} refunded`
      : `Stake ${money(g.stake, currency)} · payout ${money(payout, currency)} · net ${money(payout - g.stake, currency)}`;
    const node = () => (this.g === g ? document.getElementById("wallet-change") : null);
    const shown = node();
    if (shown) shown.textContent = text;
    try {
      // Money moves when the engine settles, a moment after the end: wait for it.
      const due = g.stake > 0 && (aborted || payout > 0);
      const wallet = await this.deps.api.walletAfterGame(g.id, due);
      this.deps.onEnded(wallet);
      text += ` · wallet ${money(wallet.balance, currency)}`;
    } catch {
      // Wallet unavailable: the result stands without it.
      this.deps.onEnded(null);
    }
    const updated = node();
    if (updated) updated.textContent = text;
  }

  /** Seats in check now, computed from the position (chess: only the side to move). */
  #checks() {
    const g = this.g;
    if (!g.position || g.status === "finished" || g.status === "aborted") return new Set();
    const attacked = attackedKings(g.position, g.out);
    if (g.game === "chess") return new Set([...attacked].filter((s) => g.toAct.includes(s)));
    return attacked;
  }

  #seatName(seat) {
    const g = this.g;
    if (seat === null || seat === undefined || !g) return "Someone";
    const info = g.seats.find((s) => s.seat === seat) || g.seats[seat] || {};
    return info.username || seatNames(g.game || "fourchess")[seat];
  }

  #status(text) {
    $("#game-status").textContent = text;
  }
}

function safeParse(game, text) {
  try {
    return parsePosition(game, text);
  } catch (err) {
    console.warn("bad position text", text, err.message);
    return null;
  }
}

/** Seats out of the game according to a view or event data and the position header. */
function seatsOut(data, position) {
  const out = [];
  for (const key of ["eliminated", "out", "dead"]) {
    const value = data[key];
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        if (typeof v === "number") out.push(v);
        else if (v === true) out.push(i);
      });
    } else if (typeof value === "number") out.push(value);
  }
  if (position && position.dead) position.dead.forEach((dead, i) => dead && out.push(i));
  return out;
}

function kingSquares(position, seats) {
  const squares = new Set();
  if (!position || !seats.size) return squares;
  for (const [name, piece] of position.pieces) {
    if (piece.type === "K" && seats.has(piece.owner)) squares.add(name);
  }
  return squares;
}

function greyOut(position, seat) {
  for (const [name, piece] of position.pieces) {
    if (piece.owner === seat) position.pieces.set(name, { ...piece, owner: 4 });
  }
}

function ratingText(rating) {
  if (rating === undefined || rating === null) return "";
  if (typeof rating === "number") return String(rating);
  const before = rating.before ?? rating.rating_before;
  const after = rating.after ?? rating.rating_after;
  if (before === undefined || after === undefined) return "";
  const delta = after - before;
  return `${after} (${delta >= 0 ? "+" : ""}${delta})`;
}

/** Ask which piece to promote to; resolves with the chosen move text or null. */
function choosePromotion(options, owner, game) {
  const dialog = $("#promotion");
  const box = $("#promotion-options");
  box.replaceChildren(
    ...options.map((o) =>
      el(
        "button",
        { value: o.text, class: `piece-choice`, "aria-label": `${o.promo || "move"} (${o.text})`, "data-promo": o.promo },
        [el("span", { class: `dot owner-${owner}` }, promoGlyph(o.promo))],
      ),
    ),
  );
  document.getElementById("board").dataset.game = game || "fourchess";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue || null), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

function promoGlyph(kind) {
  const glyphs = { Q: "\u265B", D: "\u265B", R: "\u265C", B: "\u265D", N: "\u265E" };
  return `${glyphs[kind] || "?"}\uFE0E`;
}
