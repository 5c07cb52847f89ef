// The wallet: balance and statement (newest first, paged by cursor).

import { money } from "./api.js";
import { $, el } from "./ui.js";

export class WalletScreen {
  /** @param {{api: import("./api.js").Api, toast: Function, currency: () => string, showBalance: Function}} deps */
  constructor(deps) {
    this.deps = deps;
    this.cursor = null;
    $("#statement-more").addEventListener("click", () => this.#page(this.cursor));
  }

  async show() {
    $("#statement").replaceChildren();
    this.cursor = null;
    try {
      const wallet = await this.deps.api.wallet();
      this.deps.showBalance(wallet); // the header too: it may be older than this screen
      $("#wallet-balance").textContent = money(wallet.balance, wallet.currency);
    } catch (err) {
      $("#wallet-balance").textContent = `Unavailable (${err.message})`;
      return;
    }
    await this.#page(null);
  }

  async #page(cursor) {
    let page;
    try {
      page = await this.deps.api.statement(cursor);
    } catch (err) {
      this.deps.toast(`Statement unavailable: ${err.message}`, true);
      return;
    }
    const currency = this.deps.currency();
    for (const line of page.items || []) {
      $("#statement").append(
        el("tr", {}, [
          el("td", {}, new Date(line.created_at).toLocaleString()),
          el("td", {}, line.memo ? `${line.kind} · ${line.memo}` : line.kind),
          el("td", {}, line.game_id ? el("a", { href: `#/game/${encodeURIComponent(line.game_id)}` }, line.game_id) : ""),
          el("td", { class: "num" }, money(line.amount, currency)),
          el("td", { class: "num" }, money(line.balance_after, currency)),
        ]),
      );
    }
    if (!(page.items || []).length && !cursor) {
      $("#statement").append(el("tr", {}, [el("td", { colspan: "5", class: "muted" }, "No movements yet.")]));
    }
    this.cursor = page.next_cursor || null;
    $("#statement-more").hidden = !this.cursor;
  }
}
