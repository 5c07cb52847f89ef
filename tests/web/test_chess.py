"""Classic chess between two browsers: a private game by invite code, the lobby's live
games list, board and hints drawn from the events alone, the wallet, and moves made
while the socket is down (queued, sent once on reconnect with their ids, or refused
with a visible message). No console errors anywhere.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from tests.web.conftest import (
    PASSWORD,
    Server,
    Tab,
    api_login,
    api_register,
    deposit,
    open_tab,
    screenshot,
)

FUNDS = 1_000
STAKE = 100


class SocketGate:
    """Routes a page's WebSockets through Playwright: records what the page sends, and
    can cut the page off (its side of the socket closes; new sockets open but stay
    silent) and let it through again.

    The server side of a cut socket stays open, as a half-open TCP connection would, so
    the server does not count the player as gone (and forfeit them) while cut off.
    """

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.blocked = False
        self.live: list[WebSocketRoute] = []
        self.silent: list[WebSocketRoute] = []
        self.held = asyncio.Event()  # set when an attempt is held silent

    async def install(self, page: Page) -> None:
        """Route the page's sockets through the gate (before the page opens any)."""
        await page.route_web_socket(re.compile(r"/ws\?"), self._route)

    def _route(self, ws: WebSocketRoute) -> None:
        if self.blocked:
            self.silent.append(ws)  # open, but no welcome ever comes
            self.held.set()
            return
        server = ws.connect_to_server()

        def forward(message: str | bytes) -> None:
            self.sent.append(json.loads(message))
            server.send(message)

        ws.on_message(forward)
        ws.on_close(lambda code, reason: None)  # keep the server side open (see above)
        self.live.append(ws)

    async def cut(self) -> None:
        """Drop the page's socket; its reconnect attempts stay unanswered."""
        self.blocked = True
        self.held.clear()
        await self.live[-1].close(code=1012, reason="test: network down")
        try:  # the client's next attempt is held
            await asyncio.wait_for(self.held.wait(), timeout=10)
        except TimeoutError:
            raise AssertionError("the client did not try to reconnect") from None

    async def restore(self) -> None:
        """Let the page connect again: its held attempt closes, the next one goes through."""
        self.blocked = False
        await self.silent[-1].close(code=1012, reason="test: network back")

    def moves(self) -> list[dict[str, Any]]:
        """The move commands the page sent to the server, in order."""
        return [frame for frame in self.sent if frame.get("type") == "move"]


def usd(minor: int) -> str:
    """Minor units as the client shows them."""
    return f"{minor // 100}.{minor % 100:02d} USD"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(loop_scope="session")
async def tabs(browser: Browser, server: Server) -> AsyncIterator[list[Tab]]:
    """Desktop tabs, each its own browser context; opened with :func:`log_in`."""
    opened: list[Tab] = []
    yield opened
    for t in opened:
        await t.page.context.close()
    for t in opened:
        assert t.console.unexpected() == []


async def log_in(
    browser: Browser, server: Server, tabs: list[Tab], username: str, *, gate: bool = False
) -> tuple[Page, SocketGate | None]:
    """A new context logged in as ``username`` (an existing account), in the lobby, with
    every ``state`` frame it receives recorded in ``window.__states``."""
    t = await open_tab(browser, server.url)
    tabs.append(t)
    page = t.page
    socket_gate = None
    if gate:
        socket_gate = SocketGate()
        await socket_gate.install(page)
    await page.goto("/")
    await page.fill("#auth-username", username)
    await page.fill("#auth-password", PASSWORD)
    await page.click("#login-button")
    await expect(page.locator("#screen-lobby")).to_be_visible()
    await expect(page.locator("#conn")).to_have_text("online")
    await expect(page.locator("#balance")).to_have_text(re.compile(r"^\d+\.\d\d USD$"))
    await page.evaluate(
        """() => { window.__states = [];
            window.meeple.socket.addEventListener('state',
                (e) => window.__states.push(e.detail.seq)); }"""
    )
    return page, socket_gate


async def start_private_game(creator: Page, joiner: Page, stake: int) -> str:
    """The creator makes a private chess game (3+2, ``stake``); the joiner takes the
    other seat with the invite code. Both land on the game; its id."""
    await creator.select_option("#play-game", "chess")
    await creator.select_option("#play-tc", "3+2")
    await creator.select_option("#play-stake", str(stake))
    await creator.click("#private-create")
    code = creator.locator("#invite-code")
    await expect(code).to_have_text(re.compile(r"\S{4,16}"))
    await joiner.fill("#join-code", await code.inner_text())
    await joiner.click("#join-form button")
    for page in (creator, joiner):
        await expect(page.locator("#screen-game")).to_be_visible()
        await expect(page.locator("#game-title")).to_contain_text("Chess · 3+2")
    game_id = creator.url.rsplit("/", 1)[1]
    assert joiner.url.rsplit("/", 1)[1] == game_id
    return game_id


async def seat(page: Page) -> int:
    seat_number: int = await page.evaluate("() => window.meeple.screens.game.g.you")
    return seat_number


def sq(name: str) -> str:
    return f'#board .sq[data-square="{name}"]'


async def move(page: Page, origin: str, target: str) -> None:
    """Play a move by click-click on our turn."""
    await expect(page.locator("#game-status")).to_have_text("Your move")
    await page.click(sq(origin))
    await page.click(sq(target))


async def hints(page: Page) -> set[str]:
    squares: list[str] = await page.eval_on_selector_all(
        "#board .sq.hint, #board .sq.hint-capture", "els => els.map(e => e.dataset.square)"
    )
    return set(squares)


async def piece_on(page: Page, square: str, owner: int) -> None:
    await expect(page.locator(f"{sq(square)} .piece")).to_have_attribute("data-owner", str(owner))


async def states(page: Page) -> list[int]:
    seqs: list[int] = await page.evaluate("() => window.__states")
    return seqs


async def logged_moves(server: Server, game_id: str) -> list[str]:
    """The move texts in the game's event log (the api's game detail; each stored event
    is the frame as it was fanned out)."""
    async with httpx.AsyncClient(base_url=server.url) as client:
        detail = (await client.get(f"/api/v1/games/{game_id}")).json()
    return [e["data"]["data"]["move"] for e in detail["events"] if e["kind"] == "move"]


async def test_private_chess_game_live_list_and_wallet(
    browser: Browser, server: Server, tabs: list[Tab]
) -> None:
    alice, bob, carol = unique("alice"), unique("bob"), unique("carol")
    for name in (alice, bob, carol):
        await api_register(server, name)
    for name in (alice, bob, carol):
        await deposit(server, name, FUNDS)
    a, _ = await log_in(browser, server, tabs, alice)
    b, _ = await log_in(browser, server, tabs, bob)
    c, _ = await log_in(browser, server, tabs, carol)  # in the lobby before the game starts

    game_id = await start_private_game(a, b, STAKE)
    white, black = (a, b) if await seat(a) == 0 else (b, a)
    assert {await seat(white), await seat(black)} == {0, 1}

    # The lobby's live list picks the game up on a refresh; a click spectates it.
    live = c.locator(f'#live-games li[data-game-id="{game_id}"]')
    await expect(live).to_contain_text("Chess · 3+2 · 1.00 USD · private", timeout=10_000)
    await expect(live).to_contain_text(f"{alice}")
    await expect(live).to_contain_text(f"{bob}")
    await screenshot(c, "lobby-live")
    await live.locator("a").click()
    await expect(c.locator("#game-title")).to_contain_text("spectating")
    await piece_on(c, "e2", 0)

    # Four moves by click: hints come from the events' legal moves, the board from
    # their positions; nobody asks for a state again after the first one.
    await expect(white.locator("#game-status")).to_have_text("Your move")
    await white.click(sq("e2"))
    assert await hints(white) == {"e3", "e4"}
    await white.click(sq("e4"))
    for page in (white, black, c):
        await piece_on(page, "e4", 0)
    await move(black, "e7", "e5")
    await piece_on(white, "e5", 1)
    await expect(white.locator("#game-status")).to_have_text("Your move")
    await white.click(sq("g1"))
    assert await hints(white) == {"f3", "h3", "e2"}
    await white.click(sq("f3"))
    await expect(black.locator("#game-status")).to_have_text("Your move")
    await black.click(sq("b8"))
    assert await hints(black) == {"a6", "c6"}
    await black.click(sq("c6"))
    for page in (white, black, c):
        await piece_on(page, "c6", 1)
        await expect(page.locator("#moves li")).to_have_count(4)
    await expect(white.locator("#game-status")).to_have_text("Your move")
    assert await logged_moves(server, game_id) == ["e2e4", "e7e5", "g1f3", "b8c6"]
    assert len(await states(white)) == 1 and len(await states(black)) == 1
    await screenshot(white, "chess")

    # Black resigns; White wins the pot less the rake, and sees it in the wallet.
    await black.click("#act-resign")
    await black.click("#confirm-yes")
    await expect(white.locator("#result h3")).to_have_text("You won")
    await expect(black.locator("#result h3")).to_have_text("You placed #2")
    await expect(c.locator("#result")).to_be_visible()
    winner = alice if white is a else bob
    token = await api_login(server, winner)
    async with httpx.AsyncClient(base_url=server.url) as client:
        wallet = await client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {token}"})
    balance = wallet.json()["balance"]
    assert FUNDS < balance < FUNDS + STAKE  # won the other stake, less the rake
    shown = usd(balance)
    # The engine settles a moment after the end; the client waits for it (bounded).
    await expect(white.locator("#wallet-change")).to_contain_text(f"wallet {shown}", timeout=15_000)
    await expect(white.locator("#balance")).to_have_text(shown)  # the header waited for settlement
    await white.click('a[data-nav="wallet"]')
    await expect(white.locator("#wallet-balance")).to_have_text(shown)
    rows = white.locator("#statement tr")
    await expect(rows).to_have_count(3)  # newest first
    await expect(rows.nth(0)).to_contain_text("settlement")
    await expect(rows.nth(0)).to_contain_text(usd(balance - (FUNDS - STAKE)))  # the payout
    await expect(rows.nth(0)).to_contain_text(shown)
    await expect(rows.nth(1)).to_contain_text("escrow")
    await expect(rows.nth(1)).to_contain_text("-1.00 USD")
    await expect(rows.nth(1)).to_contain_text(game_id)
    await expect(rows.nth(2)).to_contain_text("deposit · web tests")
    await expect(rows.nth(2)).to_contain_text("10.00 USD")
    await screenshot(white, "wallet")


async def test_moves_made_offline_are_sent_once_on_reconnect(
    browser: Browser, server: Server, tabs: list[Tab]
) -> None:
    dave, erin = unique("dave"), unique("erin")
    for name in (dave, erin):
        await api_register(server, name)
    d, d_gate = await log_in(browser, server, tabs, dave, gate=True)
    e, e_gate = await log_in(browser, server, tabs, erin, gate=True)
    game_id = await start_private_game(d, e, 0)
    white, gate = (d, d_gate) if await seat(d) == 0 else (e, e_gate)
    black = e if white is d else d
    assert gate is not None
    await expect(white.locator("#game-status")).to_have_text("Your move")
    await white.evaluate(
        """() => { window.__queued = [];
            window.meeple.socket.addEventListener('queued',
                (e) => window.__queued.push(e.detail.id)); }"""
    )

    # The network goes: White moves anyway, and queues a second move by script.
    await gate.cut()
    await expect(white.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    await move(white, "e2", "e4")
    await expect(white.locator(".toast").last).to_contain_text("Offline: e2e4 will be sent")
    await expect(white.locator("#game-status")).to_have_text("Sending your move…")
    await white.evaluate(
        """(gameId) => { window.__second = 'pending';
            window.meeple.socket.send({type: 'move', game_id: gameId, move: 'd2d4'})
              .then(() => { window.__second = 'ack'; },
                    (err) => { window.__second = err.code; }); }""",
        game_id,
    )
    await expect(white.locator("#conn")).to_contain_text("2 queued")
    queued: list[str] = await white.evaluate("() => window.__queued")
    assert len(queued) == 2
    assert gate.moves() == []  # nothing went out while cut off
    assert await logged_moves(server, game_id) == []

    # The network comes back: the queue goes out in order with the same ids. The move
    # is applied once; the second, no longer White's turn, is refused out loud.
    await gate.restore()
    await expect(white.locator("#conn")).to_have_text(re.compile("resumed|online"))
    await piece_on(white, "e4", 0)
    await piece_on(black, "e4", 0)
    await expect(white.locator(".toast.bad").last).to_contain_text("Your queued move was refused")
    await white.wait_for_function("() => window.__second !== 'pending'")
    assert await white.evaluate("() => window.__second") == "not_your_turn"
    assert [(m["id"], m["move"]) for m in gate.moves()] == list(
        zip(queued, ["e2e4", "d2d4"], strict=True)
    )
    assert await logged_moves(server, game_id) == ["e2e4"]

    # The game goes on from the resumed socket: no state was needed to resume.
    await move(black, "e7", "e5")
    await expect(white.locator("#game-status")).to_have_text("Your move")
    await white.click(sq("g1"))
    assert await hints(white) == {"f3", "h3", "e2"}
    await white.click(sq("f3"))
    await piece_on(black, "f3", 0)
    assert await logged_moves(server, game_id) == ["e2e4", "e7e5", "g1f3"]
    assert len(await states(white)) == 1
    await black.click("#act-resign")
    await black.click("#confirm-yes")
    await expect(white.locator("#result h3")).to_have_text("You won")


async def logged_kinds(server: Server, game_id: str) -> list[str]:
    async with httpx.AsyncClient(base_url=server.url) as client:
        detail = (await client.get(f"/api/v1/games/{game_id}")).json()
    return [e["kind"] for e in detail["events"]]


async def balance_of(server: Server, username: str) -> int:
    token = await api_login(server, username)
    async with httpx.AsyncClient(base_url=server.url) as client:
        wallet = await client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {token}"})
    balance: int = wallet.json()["balance"]
    return balance


async def test_a_draw_offered_declined_then_agreed_splits_the_pot(
    browser: Browser, server: Server, tabs: list[Tab]
) -> None:
    fay, gus = unique("fay"), unique("gus")
    for name in (fay, gus):
        await api_register(server, name)
        await deposit(server, name, FUNDS)
    f, _ = await log_in(browser, server, tabs, fay)
    g, _ = await log_in(browser, server, tabs, gus)
    game_id = await start_private_game(f, g, STAKE)
    white, black = (f, g) if await seat(f) == 0 else (g, f)
    await move(white, "e2", "e4")
    await move(black, "e7", "e5")

    # White offers: only Black is asked, and declines; the game goes on.
    await white.click("#act-draw")
    await expect(black.locator(".toast").last).to_contain_text("offers a draw")
    await expect(black.locator("#act-accept")).to_be_visible()
    await expect(black.locator("#act-decline")).to_be_visible()
    await expect(white.locator("#act-accept")).to_be_hidden()
    await black.click("#act-decline")
    for page in (white, black):
        await expect(page.locator("#act-accept")).to_be_hidden()
    await move(white, "g1", "f3")

    # Black offers in turn; White accepts: a draw by agreement for both.
    await black.click("#act-draw")
    await expect(white.locator("#act-accept")).to_be_visible()
    await white.click("#act-accept")
    for page in (white, black):
        await expect(page.locator("#result h3")).to_have_text("Draw")
        await expect(page.locator("#result")).to_contain_text("By agreement")
        await expect(page.locator("#actions")).to_be_hidden()
    kinds = await logged_kinds(server, game_id)
    assert [k for k in kinds if k.startswith("draw")] == [
        "draw_offered",
        "draw_declined",
        "draw_offered",
        "draw_accepted",
    ]
    assert kinds[-1] == "game_over"
    # The pot is split evenly (less the rake): the two wallets end equal, once settled
    # (settlement follows the game_over event).
    async with asyncio.timeout(10):
        while True:
            balances = [await balance_of(server, name) for name in (fay, gus)]
            if all(b > FUNDS - STAKE for b in balances):
                break
            await asyncio.sleep(0.1)
    assert balances[0] == balances[1] and balances[0] <= FUNDS
