// The lobby: matchmaking queue, private games, one's games in progress, live games.

import { money } from "./api.js";
import { $, el, formatWait } from "./ui.js";

const LIVE_REFRESH_MS = 4000; // how often the lobby's live-games list is asked again

export class LobbyScreen {
  /**
   * @param {{socket: import("./socket.js").GameSocket, api: import("./api.js").Api,
   *          toast: (text: string, bad?: boolean) => void, currency: () => string,
   *          go: (hash: string) => void}} deps
   */
  constructor(deps) {
    this.deps = deps;
    this.socket = deps.socket;
    this.queue = null; // last queue.status frame while waiting
    this.queueSince = 0;
    this.timer = null;
    this.liveTimer = null;
    this.liveBusy = false;
    this.liveKey = null; // what the list shows, so that an unchanged refresh touches nothing
    $("#play-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.#join();
    });
    $("#queue-leave").addEventListener("click", () => this.#leave());
    $("#private-create").addEventListener("click", () => this.#createPrivate());
    $("#join-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.#joinPrivate();
    });
    $("#watch-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const id = $("#watch-id").value.trim();
      if (id) deps.go(`#/game/${encodeURIComponent(id)}`);
    });
    this.socket.addEventListener("queue", (e) => this.#onQueue(e.detail));
    this.socket.addEventListener("welcome", (e) => this.#myGames(e.detail.games || []));
  }

  /** Called when the lobby is shown. */
  show() {
    this.#stakeLabels();
    this.#myGames(this.socket.welcome ? this.socket.welcome.games || [] : []);
    this.#liveGames();
    clearInterval(this.liveTimer);
    this.liveTimer = setInterval(() => {
      if ($("#screen-lobby").hidden) {
        // The lobby was left: stop asking until it is shown again.
        clearInterval(this.liveTimer);
        this.liveTimer = null;
        return;
      }
      this.#liveGames();
    }, LIVE_REFRESH_MS);
  }

  /** Stakes in the wallet's currency ("Free", "1.00 USD", ...). */
  #stakeLabels() {
    for (const option of $("#play-stake").options) {
      const minor = Number(option.value);
      option.textContent = minor ? money(minor, this.deps.currency()) : "Free";
    }
  }

  #choice() {
    const stake = Number($("#play-stake").value);
    return { game: $("#play-game").value, time_control: $("#play-tc").value, stake };
  }

  async #join() {
    const choice = this.#choice();
    if (!choice) return;
    $("#queue-join").disabled = true;
    try {
      await this.socket.send({ type: "queue.join", ...choice });
      this.#onQueue({ state: "waiting", ...choice, waited_ms: 0, queue_size: 0 });
    } catch (err) {
      this.deps.toast(`Cannot join the queue: ${err.message} (${err.code})`, true);
      $("#queue-join").disabled = false;
    }
  }

  async #leave() {
    try {
      await this.socket.send({ type: "queue.leave" });
      this.#onQueue({ state: "left" });
    } catch (err) {
      this.deps.toast(`Cannot leave the queue: ${err.message}`, true);
    }
  }

  #onQueue(frame) {
    const waiting = frame.state === "waiting";
    $("#queue-join").disabled = waiting;
    $("#queue-leave").hidden = !waiting;
    clearInterval(this.timer);
    if (waiting) {
      this.queue = frame;
      this.queueSince = Date.now() - (frame.waited_ms || 0);
      const paint = () => {
        const q = this.queue;
        const size = q.queue_size ? ` · ${q.queue_size} waiting` : "";
        $("#queue-status").textContent =
          `Looking for a ${q.game === "chess" ? "chess" : "four-player"} game (${q.time_control}, ` +
          `${money(q.stake, this.deps.currency())}) · ${formatWait(Date.now() - this.queueSince)}${size}`;
      };
      paint();
      this.timer = setInterval(paint, 1000);
    } else if (frame.state === "dropped") {
      $("#queue-status").textContent = `Left the queue: ${frame.reason || "dropped"}`;
    } else if (frame.state === "matched") {
      $("#queue-status").textContent = "Game found!";
    } else {
      $("#queue-status").textContent = "";
    }
  }

  async #createPrivate() {
    const choice = this.#choice();
    if (!choice) return;
    try {
      const ack = await this.socket.send({ type: "private.create", ...choice });
      const data = ack.data || {};
      const code = data.code || data.invite_code || "?";
      $("#invite").replaceChildren(
        "Invite code: ",
        el("strong", { id: "invite-code" }, code),
        " — share it; the game starts when every seat is taken.",
      );
    } catch (err) {
      this.deps.toast(`Cannot create a private game: ${err.message} (${err.code})`, true);
    }
  }

  async #joinPrivate() {
    const code = $("#join-code").value.trim();
    if (!code) return;
    try {
      const ack = await this.socket.send({ type: "private.join", code });
      const gameId = ack.data && ack.data.game_id;
      this.deps.toast(gameId ? "Seat taken" : "Joined; waiting for the other players");
    } catch (err) {
      this.deps.toast(`Cannot join: ${err.message} (${err.code})`, true);
    }
  }

  #myGames(ids) {
    const list = $("#my-games");
    if (!ids.length) {
      list.replaceChildren(el("li", { class: "muted" }, "No game in progress."));
      return;
    }
    list.replaceChildren(
      ...ids.map((id) => el("li", {}, [el("a", { href: `#/game/${encodeURIComponent(id)}` }, `Resume game ${id}`)])),
    );
  }

  async #liveGames() {
    if (this.liveBusy) return; // a slow answer: skip this round rather than pile up
    this.liveBusy = true;
    let games;
    try {
      games = await this.deps.api.liveGames();
    } finally {
      this.liveBusy = false;
    }
    const me = (this.deps.api.session && this.deps.api.session.username) || "";
    const key = JSON.stringify(games && games.map((g) => [g.id, g.seats.map((s) => s.username)]));
    if (key === this.liveKey) return; // re-drawing would eat a click in progress
    this.liveKey = key;
    const list = $("#live-games");
    if (!games || !games.length) {
      list.replaceChildren(
        el("li", { class: "muted" }, games ? "No live games right now." : "The game list is unavailable."),
      );
      return;
    }
    list.replaceChildren(
      ...games.map((g) => {
        const names = (g.seats || []).map((s) => s.display_name || s.username);
        const mine = (g.seats || []).some((s) => s.username.toLowerCase() === me.toLowerCase());
        const title = g.game === "chess" ? "Chess" : g.game === "fourchess" ? "Four-player chess" : g.game;
        const stake = g.stake ? money(g.stake, g.currency) : "free";
        return el("li", { class: "live-game", "data-game-id": g.id }, [
          el("span", { class: "what" }, `${title} · ${g.time_control} · ${stake}${g.private ? " · private" : ""}`),
          el("a", { class: "go", href: `#/game/${encodeURIComponent(g.id)}` }, mine ? "Resume" : "Watch"),
          el("span", { class: "muted players" }, names.join(g.game === "chess" ? " vs " : ", ")),
        ]);
      }),
    );
  }
}
