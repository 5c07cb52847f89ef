// The WebSocket protocol v1 client: connect with the access token, reconnect with
// backoff, resume followed games by sequence number, command ids and replies, and
// an outbox so that no command made while the socket is down is silently lost.

const GAME_COMMANDS = new Set(["move", "resign", "draw.offer", "draw.accept", "draw.decline", "claim"]);
const PING_EVERY_MS = 25000; // the gateway closes a connection idle for 120 s
const REPLY_TIMEOUT_MS = 10000;

let counter = 0;

/** A fresh client command id (unique per page load, readable in logs). */
export function commandId(prefix = "c") {
  counter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}-${Date.now().toString(36)}-${random}-${counter}`;
}

/** An error answered by the server (or by this client when it cannot send). */
export class CommandError extends Error {
  constructor(code, message, retryAfterMs = null) {
    super(message);
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Events (EventTarget): "status" {state, detail}, "frame" (every server frame),
 * "welcome", "event", "state", "queue", "matched", "notice", "error" (frames without
 * a command id), "refused" (a queued command the server refused after reconnecting).
 * status states: "connecting", "online", "reconnecting", "offline" (logged out).
 */
export class GameSocket extends EventTarget {
  /**
   * @param {{url: string, token: () => Promise<string|null>, refresh: () => Promise<boolean>}} options
   *   token() gives the current access token; refresh() renews it (false: logged out).
   */
  constructor({ url, token, refresh }) {
    super();
    this.url = url;
    this.token = token;
    this.refresh = refresh;
    this.ws = null;
    this.state = "offline";
    this.wanted = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pending = new Map(); // id -> {msg, resolve, reject, timer, sent}
    this.outbox = []; // ids of commands waiting for a connection, in order
    this.follows = new Map(); // game id -> last seq seen (resume point)
    this.clockOffsetMs = 0; // server time - local time
    this.welcome = null;
    this.gamesAvailable = true;
    this.draining = false;
    this.everConnected = false;
  }

  /** Start (or keep) connecting. */
  start() {
    this.wanted = true;
    if (!this.ws && !this.retryTimer) this.#connect();
  }

  /** Close for good (logout). Pending commands are refused. */
  stop() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ws) this.ws.close(1000, "bye");
    this.ws = null;
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(new CommandError("offline", "logged out"));
      this.pending.delete(id);
    }
    this.outbox = [];
    this.follows.clear();
    this.#setState("offline");
  }

  /** Server time now, in ms (local clock corrected by the welcome and pongs). */
  now() {
    return Date.now() + this.clockOffsetMs;
  }

  /** Follow a game from after `afterSeq`; resumed on every reconnect from the last seq seen. */
  follow(gameId, afterSeq = 0) {
    this.follows.set(gameId, afterSeq);
    if (this.state === "online") this.#subscribe(gameId);
  }

  /** Stop following a game. */
  unfollow(gameId) {
    if (!this.follows.has(gameId)) return;
    this.follows.delete(gameId);
    if (this.state === "online") this.#sendRaw({ type: "unsubscribe", id: commandId("u"), game_id: gameId });
  }

  /** Record that events up to `seq` of a game were applied (the resume point). */
  seen(gameId, seq) {
    if (this.follows.has(gameId) && seq > this.follows.get(gameId)) this.follows.set(gameId, seq);
  }

  /**
   * Send a command; resolves with the Ack, rejects with CommandError. Game commands
   * made while offline are queued (sent on reconnect with the same id); other
   * commands fail at once with code "offline".
   */
  send(message) {
    const msg = { ...message, id: message.id || commandId() };
    return new Promise((resolve, reject) => {
      const entry = { msg, resolve, reject, timer: null, sent: false };
      if (this.state === "online") {
        this.pending.set(msg.id, entry);
        this.#transmit(entry);
      } else if (GAME_COMMANDS.has(msg.type) && this.wanted) {
        entry.queuedWhileOffline = true;
        this.pending.set(msg.id, entry);
        this.outbox.push(msg.id);
        this.dispatchEvent(new CustomEvent("queued", { detail: { id: msg.id, msg, count: this.outbox.length } }));
      } else {
        reject(new CommandError("offline", "not connected; try again when the connection is back"));
      }
    });
  }

  /** Number of commands waiting for a connection. */
  get queued() {
    return this.outbox.length;
  }

  // -- connection --------------------------------------------------------------------

  async #connect() {
    this.retryTimer = null;
    if (!this.wanted) return;
    this.#setState(this.everConnected ? "reconnecting" : "connecting", { attempt: this.attempt });
    const token = await this.token();
    if (!token) {
      this.stop();
      return;
    }
    let ws;
    try {
      ws = new WebSocket(`${this.url}?token=${encodeURIComponent(token)}`);
    } catch (err) {
      this.#scheduleRetry();
      return;
    }
    this.ws = ws;
    let authFailed = null;
    ws.onmessage = (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      if (frame.type === "error" && !frame.id && (frame.code === "token_expired" || frame.code === "unauthorized")) {
        authFailed = frame.code;
      }
      this.#onFrame(frame);
    };
    ws.onclose = (e) => this.#onClose(ws, e, authFailed);
    ws.onerror = () => {}; // onclose follows and decides
  }

  async #onClose(ws, event, authFailed) {
    if (this.ws !== ws) return;
    this.ws = null;
    clearInterval(this.pingTimer);
    // Sent but unanswered commands go back to the front of the outbox: the retry
    // carries the same id, so the server answers with the first outcome.
    const unanswered = [...this.pending.values()].filter((e) => e.sent).map((e) => e.msg.id);
    for (const id of unanswered) {
      const entry = this.pending.get(id);
      clearTimeout(entry.timer);
      entry.sent = false;
      entry.queuedWhileOffline = true;
      if (!GAME_COMMANDS.has(entry.msg.type) && entry.msg.type !== "subscribe") {
        this.pending.delete(id);
        entry.reject(new CommandError("offline", "the connection dropped before an answer; try again"));
      }
    }
    this.outbox = [
      ...unanswered.filter((id) => this.pending.has(id)),
      ...this.outbox.filter((id) => !unanswered.includes(id)),
    ];
    if (!this.wanted) return;
    if (authFailed || event.code === 4401) {
      const ok = await this.refresh();
      if (!ok) {
        this.stop();
        this.dispatchEvent(new CustomEvent("logged-out"));
        return;
      }
      this.attempt = 0;
      this.#connect();
      return;
    }
    this.#scheduleRetry();
  }

  #scheduleRetry() {
    this.attempt += 1;
    // 0.5 s, 1 s, 2 s ... capped at 10 s, with jitter so a restarted server is not stampeded.
    const base = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = this.draining ? 300 + Math.random() * 700 : base / 2 + Math.random() * (base / 2);
    this.#setState("reconnecting", { attempt: this.attempt, delayMs: Math.round(delay) });
    this.retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, ...detail } }));
  }

  // -- frames ------------------------------------------------------------------------

  #onFrame(frame) {
    this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
    switch (frame.type) {
      case "welcome":
        this.#onWelcome(frame);
        break;
      case "ack":
      case "error":
        this.#onReply(frame);
        break;
      case "pong":
        this.#onPong(frame);
        this.#onReply({ type: "ack", id: frame.id });
        break;
      case "event":
        this.dispatchEvent(new CustomEvent("event", { detail: frame }));
        break;
      case "state":
        this.dispatchEvent(new CustomEvent("state", { detail: frame }));
        break;
      case "queue.status":
        this.dispatchEvent(new CustomEvent("queue", { detail: frame }));
        break;
      case "matched":
        this.dispatchEvent(new CustomEvent("matched", { detail: frame }));
        break;
      case "notice":
        this.#onNotice(frame);
        break;
      default:
        break;
    }
  }

  #onWelcome(frame) {
    const resumed = this.everConnected;
    this.everConnected = true;
    this.welcome = frame;
    this.attempt = 0;
    this.draining = false;
    this.gamesAvailable = frame.games_available !== false;
    this.clockOffsetMs = frame.server_time_ms - Date.now();
    this.#setState("online", { resumed, gamesAvailable: this.gamesAvailable });
    this.dispatchEvent(new CustomEvent("welcome", { detail: frame }));
    // Resume every followed game first, then flush commands in their order.
    for (const gameId of this.follows.keys()) this.#subscribe(gameId);
    const ids = this.outbox;
    this.outbox = [];
    for (const id of ids) {
      const entry = this.pending.get(id);
      if (entry) this.#transmit(entry);
    }
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
  }

  /** Measure the clock offset (and keep the connection alive). */
  ping() {
    if (this.state !== "online") return;
    const sentAt = Date.now();
    const id = commandId("p");
    this.pingSent = { id, sentAt };
    this.send({ type: "ping", id }).catch(() => {});
  }

  #onPong(frame) {
    if (this.pingSent && this.pingSent.id === frame.id) {
      const now = Date.now();
      const rtt = now - this.pingSent.sentAt;
      this.clockOffsetMs = frame.server_time_ms + rtt / 2 - now;
    }
  }

  #onNotice(frame) {
    if (frame.code === "games_unavailable") this.gamesAvailable = false;
    if (frame.code === "games_available") this.gamesAvailable = true;
    if (frame.code === "draining") this.draining = true;
    this.dispatchEvent(new CustomEvent("notice", { detail: frame }));
  }

  #onReply(frame) {
    const entry = frame.id ? this.pending.get(frame.id) : null;
    if (!entry) {
      if (frame.type === "error") this.dispatchEvent(new CustomEvent("error", { detail: frame }));
      return;
    }
    this.pending.delete(frame.id);
    clearTimeout(entry.timer);
    if (frame.type === "ack") {
      entry.resolve(frame);
      return;
    }
    const error = new CommandError(frame.code, frame.message, frame.retry_after_ms ?? null);
    const retriable = frame.code === "timeout" || frame.code === "rate_limited";
    if (retriable && (entry.retries || 0) < 3) {
      // Same id: the server gives the first outcome if the command did go through.
      entry.retries = (entry.retries || 0) + 1;
      this.pending.set(frame.id, entry);
      const delay = frame.retry_after_ms ?? 300 * entry.retries;
      entry.timer = setTimeout(() => {
        if (this.state === "online") this.#transmit(entry);
        else this.outbox.push(entry.msg.id);
      }, delay);
      return;
    }
    if (entry.queuedWhileOffline) {
      this.dispatchEvent(new CustomEvent("refused", { detail: { msg: entry.msg, error } }));
    }
    entry.reject(error);
  }

  #subscribe(gameId) {
    const afterSeq = this.follows.get(gameId) || 0;
    const msg = { type: "subscribe", id: commandId("s"), game_id: gameId, after_seq: afterSeq };
    this.send(msg).catch((err) => {
      this.dispatchEvent(new CustomEvent("subscribe-failed", { detail: { gameId, error: err } }));
    });
  }

  #transmit(entry) {
    if (!this.#sendRaw(entry.msg)) {
      entry.queuedWhileOffline = true;
      this.outbox.push(entry.msg.id);
      return;
    }
    entry.sent = true;
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      // No reply: keep the command pending; a reconnect resends it with its id.
      if (this.pending.get(entry.msg.id) === entry && this.ws) this.ws.close(4000, "reply timeout");
    }, REPLY_TIMEOUT_MS);
  }

  #sendRaw(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }
}
