// The browser client's entry point: session, socket, router and header.

import { Api, money } from "./api.js";
import { GameScreen } from "./game.js";
import { LobbyScreen } from "./lobby.js";
import { GameSocket } from "./socket.js";
import { $, confirmDialog, toast } from "./ui.js";
import { WalletScreen } from "./wallet.js";

const api = new Api();
const wsUrl = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
const socket = new GameSocket({
  url: wsUrl,
  token: () => api.accessToken(),
  refresh: () => api.refresh(),
});
let currency = localStorage.getItem("meeple.currency") || "USD";
const deps = {
  api,
  socket,
  toast,
  confirm: confirmDialog,
  currency: () => currency,
  setCurrency: (c) => {
    if (c && c !== currency) {
      currency = c;
      localStorage.setItem("meeple.currency", c);
    }
  },
  go: (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  showBalance: (wallet) => showBalance(wallet),
  onEnded: (wallet) => (wallet ? showBalance(wallet) : refreshBalance()),
};
const screens = {
  lobby: new LobbyScreen(deps),
  wallet: new WalletScreen(deps),
  game: new GameScreen(deps),
};
window.meeple = { api, socket, screens }; // for people debugging in the console, and the tests

// -- header and connection state --------------------------------------------------------

async function refreshBalance() {
  try {
    showBalance(await api.wallet());
  } catch {
    $("#balance").textContent = "";
  }
}

function showBalance(wallet) {
  deps.setCurrency(wallet.currency);
  $("#balance").textContent = money(wallet.balance, wallet.currency);
}

function showConnection(state, text) {
  const conn = $("#conn");
  conn.dataset.state = state;
  conn.textContent = text;
}

function banner(text) {
  const node = $("#banner");
  node.hidden = !text;
  node.textContent = text || "";
}

let resumedTimer = null;
socket.addEventListener("status", (e) => {
  const { state, attempt, delayMs, resumed, gamesAvailable } = e.detail;
  clearTimeout(resumedTimer);
  if (state === "online") {
    if (!gamesAvailable) {
      showConnection("unavailable", "games unavailable");
      banner("Games are unavailable right now; your account and wallet still work.");
    } else {
      showConnection("online", resumed ? "resumed" : "online");
      banner(null);
      if (resumed) resumedTimer = setTimeout(() => showConnection("online", "online"), 4000);
    }
  } else if (state === "reconnecting") {
    const wait = delayMs ? ` in ${Math.ceil(delayMs / 1000)} s` : "";
    showConnection("reconnecting", `reconnecting${attempt ? ` (${attempt})` : ""}${wait}`);
    if (socket.draining) banner("The server is restarting; reconnecting…");
  } else if (state === "connecting") {
    showConnection("connecting", "connecting…");
  } else {
    showConnection("offline", "offline");
  }
});
socket.addEventListener("notice", (e) => {
  const { code, message } = e.detail;
  if (code === "games_unavailable") {
    showConnection("unavailable", "games unavailable");
    banner("Games are unavailable right now; your account and wallet still work.");
  } else if (code === "games_available") {
    showConnection("online", "online");
    banner(null);
    toast("Games are available again");
  } else if (code === "draining") {
    showConnection("draining", "server draining");
    banner("The server is restarting; you will be reconnected.");
  } else {
    toast(message || code);
  }
});
socket.addEventListener("queued", (e) => {
  showConnection("reconnecting", `reconnecting · ${e.detail.count} queued`);
});
socket.addEventListener("refused", (e) => {
  toast(`Your queued ${e.detail.msg.type} was refused: ${e.detail.error.message}`, true);
});
socket.addEventListener("error", (e) => {
  const { code, message } = e.detail;
  if (code !== "token_expired" && code !== "unauthorized") toast(`${message} (${code})`, true);
});
socket.addEventListener("matched", (e) => {
  toast("Game found!");
  refreshBalance();
  deps.go(`#/game/${encodeURIComponent(e.detail.game_id)}`);
});
socket.addEventListener("logged-out", () => loggedOut("Your session ended; please log in again."));
api.addEventListener("logged-out", (e) => {
  if (e.detail && e.detail.reason !== "logout") loggedOut("Your session ended; please log in again.");
});

function loggedOut(message) {
  socket.stop();
  screens.game.close();
  if (message) toast(message, true);
  deps.go("#/login");
}

// -- log in / register ------------------------------------------------------------------

async function authenticate(register) {
  const form = $("#auth-form");
  if (!form.reportValidity()) return;
  const username = $("#auth-username").value.trim();
  const password = $("#auth-password").value;
  $("#auth-error").textContent = "";
  for (const b of form.querySelectorAll("button")) b.disabled = true;
  try {
    if (register) await api.register(username, password);
    else await api.login(username, password);
    $("#auth-password").value = "";
    refreshBalance();
    socket.start();
    deps.go("#/lobby");
  } catch (err) {
    $("#auth-error").textContent = `${err.detail || err.message}${err.code ? ` (${err.code})` : ""}`;
  } finally {
    for (const b of form.querySelectorAll("button")) b.disabled = false;
  }
}
$("#auth-form").addEventListener("submit", (e) => {
  e.preventDefault();
  authenticate(false);
});
$("#register-button").addEventListener("click", () => authenticate(true));
$("#logout").addEventListener("click", async () => {
  socket.stop();
  screens.game.close();
  await api.logout();
  deps.go("#/login");
});

// -- router -----------------------------------------------------------------------------

function show(name) {
  for (const screen of document.querySelectorAll(".screen")) screen.hidden = screen.id !== `screen-${name}`;
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === name);
    if (link.dataset.nav === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const loggedIn = api.loggedIn;
  document.querySelector(".nav").hidden = !loggedIn;
  document.querySelector(".who").hidden = !loggedIn;
  $("#username").textContent = loggedIn ? api.session.username || "" : "";
}

function route() {
  const hash = location.hash || "#/lobby";
  const [, name, arg] = /^#\/([a-z]+)\/?(.*)$/.exec(hash) || [null, "lobby", ""];
  if (!api.loggedIn) {
    screens.game.close();
    show("auth");
    $("#auth-username").focus();
    return;
  }
  socket.start();
  if (name === "game" && arg) {
    show("game");
    screens.game.open(decodeURIComponent(arg));
    return;
  }
  screens.game.close();
  if (name === "wallet") {
    show("wallet");
    screens.wallet.show();
  } else if (name === "login") {
    deps.go("#/lobby");
  } else {
    show("lobby");
    screens.lobby.show();
  }
}

window.addEventListener("hashchange", route);
if (api.loggedIn) refreshBalance();
route();
