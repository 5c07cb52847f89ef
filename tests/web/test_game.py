"""A whole four-player game in the browser: a real user against three ``meeple bots``.

The user registers, joins the queue with a stake, and three bots (a separate
``meeple bots`` process) fill the game. The user moves by click and by drag, an
illegal drag is refused, the clocks tick, a spectator follows the same game, a
reload resumes the board, and after resigning the user sees the result and the
wallet change. No console errors anywhere.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import AsyncIterator

import pytest_asyncio
from playwright.async_api import Browser, Locator, Page, expect

from meeple.bots.accounts import BotAccounts
from tests.web.conftest import (
    MEEPLE,
    PASSWORD,
    SERVER_ENV,
    Server,
    Tab,
    api_register,
    deposit,
    open_tab,
    screenshot,
)

STAKE = 100
FUNDS = 10_000


class Fleet:
    """The ``meeple bots`` process: started when the user is queued, stopped at will."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command,
            env={**os.environ, **SERVER_ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


@pytest_asyncio.fixture(loop_scope="session")
async def bots(server: Server) -> AsyncIterator[Fleet]:
    """Three funded bots playing one game each (started by the test when it is queued)."""
    secrets = server.data_dir / "meeple-bots.json"
    accounts = BotAccounts(secrets)
    for n in (1, 2, 3):
        name = f"bot-{n}"
        await api_register(server, name, accounts.password(name))
        await deposit(server, name, FUNDS)
    command = [MEEPLE, "bots", "--count", "3", "--url", server.url, "--stake", str(STAKE)]
    command += ["--games", "1", "--think-ms", "150", "--secrets", str(secrets)]
    fleet = Fleet(command)
    yield fleet
    await asyncio.to_thread(fleet.stop)


async def board_pieces(page: Page) -> dict[str, str]:
    """Square -> owner+kind of every piece on the board as drawn."""
    pieces: dict[str, str] = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#board .sq')]
            .filter((c) => c.querySelector('.piece'))
            .map((c) => { const p = c.querySelector('.piece');
                          return [c.dataset.square, p.dataset.owner + p.dataset.type]; }))"""
    )
    return pieces


async def wait_my_turn(page: Page, timeout_ms: int = 20_000) -> None:
    await expect(page.locator("#game-status")).to_have_text("Your move", timeout=timeout_ms)
    await expect(page.locator("#board .sq.movable").first).to_be_visible()


async def hints(page: Page) -> list[str]:
    squares: list[str] = await page.eval_on_selector_all(
        "#board .sq.hint, #board .sq.hint-capture", "els => els.map(e => e.dataset.square)"
    )
    return squares


def square(page: Page, name: str) -> str:
    return f'#board .sq[data-square="{name}"]'


def piece(page: Page, name: str) -> Locator:
    """The piece drawn on square ``name``."""
    return page.locator(f"{square(page, name)} .piece")


def clock_ms(text: str) -> float:
    minutes, seconds = text.split(":")
    return (int(minutes) * 60 + float(seconds)) * 1000


async def played(page: Page) -> int:
    return await page.locator("#moves li").count()


async def test_a_four_player_game_in_the_browser(
    browser: Browser, server: Server, tab: Tab, bots: Fleet
) -> None:
    page = tab.page
    await page.goto("/")
    await page.fill("#auth-username", "webplayer")
    await page.fill("#auth-password", PASSWORD)
    await page.click("#register-button")
    await expect(page.locator("#screen-lobby")).to_be_visible()
    await deposit(server, "webplayer", FUNDS)
    await page.reload()
    await expect(page.locator("#balance")).to_have_text("100.00 USD")

    # Join the four-player queue with a stake; see the wait.
    await page.select_option("#play-game", "fourchess")
    await page.select_option("#play-tc", "3+2")
    await page.select_option("#play-stake", str(STAKE))
    await page.click("#queue-join")
    await expect(page.locator("#queue-status")).to_contain_text("Looking for a four-player game")
    await expect(page.locator("#queue-leave")).to_be_visible()
    await screenshot(page, "lobby")
    bots.start()

    # Three bots fill the game: the board opens with our (red) army at the bottom.
    await expect(page.locator("#screen-game")).to_be_visible(timeout=20_000)
    game_id = page.url.rsplit("/", 1)[1]
    await wait_my_turn(page)
    await expect(page.locator('.seat-panel[data-side="bottom"] .name')).to_contain_text("(you)")
    assert await page.locator("#board .sq").count() == 160
    await expect(page.locator("#balance")).to_have_text("99.00 USD")

    # A move by click-click: select a pawn, the hints appear, click one.
    await page.click(square(page, "h2"))
    assert set(await hints(page)) == {"h3", "h4"}
    await page.click(square(page, "h3"))
    await expect(piece(page, "h3")).to_have_attribute("data-owner", "0")
    await expect(page.locator("#moves li").first).to_contain_text("h2-h3")

    # A spectator follows the same game.
    watcher = await open_tab(browser, server.url, width=390, height=844)  # a phone
    try:
        watch = watcher.page
        await watch.goto("/")
        await watch.fill("#auth-username", "webwatcher")
        await watch.fill("#auth-password", PASSWORD)
        await watch.click("#register-button")
        await expect(watch.locator("#screen-lobby")).to_be_visible()
        await watch.fill("#watch-id", game_id)
        await watch.click("#watch-form button")
        await expect(watch.locator("#game-title")).to_contain_text("spectating")
        await expect(watch.locator("#actions")).to_be_hidden()
        await expect(piece(watch, "h3")).to_have_attribute("data-owner", "0")

        # The clocks tick: on our second turn our own clock runs down between events.
        await wait_my_turn(page)
        before = clock_ms(await page.inner_text('.seat-panel[data-side="bottom"] .clock'))
        await page.wait_for_timeout(1200)
        after = clock_ms(await page.inner_text('.seat-panel[data-side="bottom"] .clock'))
        assert 700 <= before - after <= 2500, (before, after)

        # An illegal drag is refused: nothing is sent, the piece stays.
        moves_before = await played(page)
        await page.drag_and_drop(square(page, "d2"), square(page, "d7"))
        await expect(page.locator(".toast.bad")).to_contain_text("Illegal move")
        # The toast sits over the bottom of the board (our army): it must not catch the
        # next drag (it did, now and then, while it showed).
        over_toast = await page.evaluate(
            """() => { const r = document.querySelector('.toast.bad').getBoundingClientRect();
                return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)
                    .closest('#toasts') !== null; }"""
        )
        assert not over_toast
        await expect(piece(page, "d2")).to_be_visible()
        assert await played(page) == moves_before
        await expect(page.locator("#game-status")).to_have_text("Your move")

        # A move by drag-and-drop.
        await page.drag_and_drop(square(page, "g2"), square(page, "g4"))
        await expect(piece(page, "g4")).to_have_attribute("data-owner", "0")
        await expect(piece(watch, "g4")).to_have_attribute("data-owner", "0")
        await screenshot(page, "game")
        await screenshot(watch, "spectator-phone")

        # A reload mid-game resumes the board as it was.
        await wait_my_turn(page)
        pieces = await board_pieces(page)
        await page.reload()
        await wait_my_turn(page)
        assert await board_pieces(page) == pieces
        await expect(page.locator("#conn")).to_have_text(re.compile("online|resumed"))

        # Resign: the game goes on without us until the bots leave (their process
        # stops; each forfeits after the disconnect grace). Then the result and the
        # wallet change: our stake is lost.
        await page.click("#act-resign")
        await page.click("#confirm-yes")
        await expect(page.locator("#game-status")).to_have_text(
            re.compile("You are out|Game over"), timeout=10_000
        )
        await asyncio.to_thread(bots.stop)
        await expect(page.locator("#result")).to_be_visible(timeout=20_000)
        await expect(page.locator("#result h3")).to_contain_text("You placed #4")
        await expect(page.locator("#wallet-change")).to_have_text(
            "Stake 1.00 USD · payout 0.00 USD · net -1.00 USD · wallet 99.00 USD"
        )
        await expect(watch.locator("#result")).to_be_visible()
        await screenshot(page, "result")
    finally:
        await watcher.page.context.close()
        assert watcher.console.unexpected() == []
