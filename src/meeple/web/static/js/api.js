// The REST api client: JSON requests with the access token, one refresh (single
// flight) on a 401, and the session (refresh token) kept in localStorage so that a
// reload stays logged in.

const SESSION_KEY = "meeple.session";
const BASE = "/api/v1";

/** An api error: RFC 9457 problem fields (status, code, detail). */
export class ApiError extends Error {
  constructor(status, code, detail, body = null) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `http_${status}`;
    this.detail = detail || "";
    this.body = body;
  }
}

export class Api extends EventTarget {
  constructor() {
    super();
    this.session = loadSession();
    this.refreshing = null;
  }

  /** True when a session (refresh token) is stored. */
  get loggedIn() {
    return Boolean(this.session && this.session.refresh_token);
  }

  /** The access token, refreshed first when it is about to expire (null: logged out). */
  async accessToken() {
    if (!this.loggedIn) return null;
    if (!this.session.access_token || Date.now() > this.session.expires_at - 15000) {
      if (!(await this.refresh())) return null;
    }
    return this.session.access_token;
  }

  /** Rotate the refresh token. One refresh at a time; false (and logged out) when refused. */
  refresh() {
    if (!this.loggedIn) return Promise.resolve(false);
    if (!this.refreshing) {
      this.refreshing = this.#doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async #doRefresh() {
    // Another tab may have rotated the token already: use the newest stored one.
    const stored = loadSession();
    if (stored && stored.refresh_token !== this.session.refresh_token && stored.expires_at > Date.now() + 15000) {
      this.session = stored;
      return true;
    }
    let response;
    try {
      response = await fetch(`${BASE}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: this.session.refresh_token }),
      });
    } catch {
      return Boolean(this.session.access_token); // offline: keep the session, try later
    }
    if (!response.ok) {
      this.#setSession(null);
      this.dispatchEvent(new CustomEvent("logged-out", { detail: { reason: "session ended" } }));
      return false;
    }
    const pair = await response.json();
    this.#setSession({ ...this.session, ...tokens(pair) });
    return true;
  }

  /** A JSON request; refreshes the token once on 401 and retries. */
  async request(method, path, body = undefined, { auth = true } = {}) {
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (auth) {
        const token = await this.accessToken();
        if (!token) throw new ApiError(401, "not_authenticated", "please log in");
        headers.Authorization = `Bearer ${token}`;
      }
      let response;
      try {
        response = await fetch(`${BASE}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch {
        throw new ApiError(0, "network", "the server cannot be reached");
      }
      if (response.status === 401 && auth && attempt === 0 && (await this.refresh())) continue;
      if (response.status === 204) return null;
      const data = await response.json().catch(() => null);
      if (!response.ok) {
        throw new ApiError(response.status, data && data.code, data && (data.detail || data.title), data);
      }
      return data;
    }
  }

  /** Create an account, then log in. */
  async register(username, password) {
    await this.request("POST", "/auth/register", { username, password }, { auth: false });
    return this.login(username, password);
  }

  /** Log in; stores the session. */
  async login(username, password) {
    const pair = await this.request("POST", "/auth/login", { username, password }, { auth: false });
    this.#setSession({ username, ...tokens(pair) });
    try {
      const me = await this.me();
      this.#setSession({ ...this.session, player_id: me.id, display_name: me.display_name });
    } catch {
      // The profile is a nicety; the tokens are what matter.
    }
    this.dispatchEvent(new CustomEvent("logged-in"));
    return this.session;
  }

  /** End the session on the server (best effort) and here. */
  async logout() {
    const refresh = this.session && this.session.refresh_token;
    this.#setSession(null);
    if (refresh) {
      await fetch(`${BASE}/auth/logout`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refresh }),
      }).catch(() => {});
    }
    this.dispatchEvent(new CustomEvent("logged-out", { detail: { reason: "logout" } }));
  }

  me() {
    return this.request("GET", "/me");
  }

  wallet() {
    return this.request("GET", "/wallet");
  }

  statement(cursor = null) {
    return this.request("GET", `/wallet/statement${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
  }

  /**
   * The wallet once a game's money has moved. The engine settles a game shortly after
   * its end, so when a movement is due (`expectLine`) this waits, bounded, for the
   * game's settlement or refund line in the statement before reading the balance.
   */
  async walletAfterGame(gameId, expectLine, deadlineMs = 15000) {
    const until = Date.now() + deadlineMs;
    for (let delay = 200; expectLine; delay = Math.min(delay * 2, 2000)) {
      const page = await this.request("GET", "/wallet/statement?limit=20");
      const lines = (page && page.items) || [];
      if (lines.some((l) => l.game_id === gameId && (l.kind === "settlement" || l.kind === "refund"))) break;
      if (Date.now() + delay > until) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    return this.wallet();
  }

  game(gameId) {
    return this.request("GET", `/games/${encodeURIComponent(gameId)}`);
  }

  /** Active games to watch, newest first (the public `GET /games`); null when the api
   * cannot be reached or refuses. */
  async liveGames({ game = null, limit = 20 } = {}) {
    const query = new URLSearchParams({ status: "active", limit: String(limit) });
    if (game) query.set("game", game);
    try {
      const page = await this.request("GET", `/games?${query}`, undefined, { auth: false });
      return page && Array.isArray(page.items) ? page.items : null;
    } catch {
      return null;
    }
  }

  #setSession(session) {
    this.session = session;
    if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else localStorage.removeItem(SESSION_KEY);
  }
}

function tokens(pair) {
  return {
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    expires_at: Date.now() + pair.expires_in * 1000,
  };
}

function loadSession() {
  try {
    const session = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    return session && session.refresh_token ? session : null;
  } catch {
    return null;
  }
}

/** Money in minor units as text: 1234 -> "12.34 USD". */
export function money(minor, currency = "USD") {
  if (minor === null || minor === undefined) return "-";
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")} ${currency}`;
}
