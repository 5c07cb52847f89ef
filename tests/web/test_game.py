"""A whole four-player game in the browser: a real user against three ``meeple bots``.

The user registers, joins the queue with a stake, and three bots (a separate
``meeple bots`` process) fill the game. The user moves by click and by drag, an
illegal drag is refused, the clocks tick, a spectator follows the same game, a
reload resumes the board, and after resigning the user sees the result and the
wallet change. No console errors anywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

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


@pytest.fixture
def bots(server: Server) -> Iterator[Fleet]:
    """Three funded bots playing one game each (started by the test when it is queued)."""
    secrets = server.data_dir / "meeple-bots.json"
    accounts = BotAccounts(secrets)
    for n in (1, 2, 3):
        name = f"bot-{n}"
        api_register(server, name, accounts.password(name))
        deposit(server, name, FUNDS)
    command = [MEEPLE, "bots", "--count", "3", "--url", server.url, "--stake", str(STAKE)]
    command += ["--games", "1", "--think-ms", "150", "--secrets", str(secrets)]
    fleet = Fleet(command)
    yield fleet
    fleet.stop()


def board_pieces(page: Page) -> dict[str, str]:
    """Square -> owner+kind of every piece on the board as drawn."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#board .sq')]
            .filter((c) => c.querySelector('.piece'))
            .map((c) => { const p = c.querySelector('.piece');
                          return [c.dataset.square, p.dataset.owner + p.dataset.type]; }))"""
    )


def wait_my_turn(page: Page, timeout_ms: int = 20_000) -> None:
    expect(page.locator("#game-status")).to_have_text("Your move", timeout=timeout_ms)
    expect(page.locator("#board .sq.movable").first).to_be_visible()


def hints(page: Page) -> list[str]:
    return page.eval_on_selector_all(
        "#board .sq.hint, #board .sq.hint-capture", "els => els.map(e => e.dataset.square)"
    )


def square(page: Page, name: str) -> str:
    return f'#board .sq[data-square="{name}"]'


def clock_ms(text: str) -> float:
    minutes, seconds = text.split(":")
    return (int(minutes) * 60 + float(seconds)) * 1000


def played(page: Page) -> int:
    return page.locator("#moves li").count()


def test_a_four_player_game_in_the_browser(
    browser: Browser, server: Server, tab: Tab, bots: Fleet
) -> None:
    page = tab.page
    page.goto("/")
    page.fill("#auth-username", "webplayer")
    page.fill("#auth-password", PASSWORD)
    page.click("#register-button")
    expect(page.locator("#screen-lobby")).to_be_visible()
    deposit(server, "webplayer", FUNDS)
    page.reload()
    expect(page.locator("#balance")).to_have_text("100.00 USD")

    # Join the four-player queue with a stake; see the wait.
    page.select_option("#play-game", "fourchess")
    page.select_option("#play-tc", "3+2")
    page.select_option("#play-stake", str(STAKE))
    page.click("#queue-join")
    expect(page.locator("#queue-status")).to_contain_text("Looking for a four-player game")
    expect(page.locator("#queue-leave")).to_be_visible()
    screenshot(page, "lobby")
    bots.start()

    # Three bots fill the game: the board opens with our (red) army at the bottom.
    expect(page.locator("#screen-game")).to_be_visible(timeout=20_000)
    game_id = page.url.rsplit("/", 1)[1]
    wait_my_turn(page)
    expect(page.locator('.seat-panel[data-side="bottom"] .name')).to_contain_text("(you)")
    assert page.locator("#board .sq").count() == 160
    expect(page.locator("#balance")).to_have_text("99.00 USD")

    # A move by click-click: select a pawn, the hints appear, click one.
    page.click(square(page, "h2"))
    assert set(hints(page)) == {"h3", "h4"}
    page.click(square(page, "h3"))
    expect(page.locator(f"{square(page, 'h3')} .piece")).to_have_attribute("data-owner", "0")
    expect(page.locator("#moves li").first).to_contain_text("h2-h3")

    # A spectator follows the same game.
    watcher = open_tab(browser, server.url, width=390, height=844)  # a phone
    try:
        watch = watcher.page
        watch.goto("/")
        watch.fill("#auth-username", "webwatcher")
        watch.fill("#auth-password", PASSWORD)
        watch.click("#register-button")
        expect(watch.locator("#screen-lobby")).to_be_visible()
        watch.fill("#watch-id", game_id)
        watch.click("#watch-form button")
        expect(watch.locator("#game-title")).to_contain_text("spectating")
        expect(watch.locator("#actions")).to_be_hidden()
        expect(watch.locator(f"{square(watch, 'h3')} .piece")).to_have_attribute("data-owner", "0")

        # The clocks tick: on our second turn our own clock runs down between events.
        wait_my_turn(page)
        before = clock_ms(page.inner_text('.seat-panel[data-side="bottom"] .clock'))
        page.wait_for_timeout(1200)
        after = clock_ms(page.inner_text('.seat-panel[data-side="bottom"] .clock'))
        assert 700 <= before - after <= 2500, (before, after)

        # An illegal drag is refused: nothing is sent, the piece stays.
        moves_before = played(page)
        page.drag_and_drop(square(page, "d2"), square(page, "d7"))
        expect(page.locator(".toast.bad")).to_contain_text("Illegal move")
        expect(page.locator(f"{square(page, 'd2')} .piece")).to_be_visible()
        assert played(page) == moves_before
        expect(page.locator("#game-status")).to_have_text("Your move")

        # A move by drag-and-drop.
        page.drag_and_drop(square(page, "g2"), square(page, "g4"))
        expect(page.locator(f"{square(page, 'g4')} .piece")).to_have_attribute("data-owner", "0")
        expect(watch.locator(f"{square(watch, 'g4')} .piece")).to_have_attribute("data-owner", "0")
        screenshot(page, "game")
        screenshot(watch, "spectator-phone")

        # A reload mid-game resumes the board as it was.
        wait_my_turn(page)
        pieces = board_pieces(page)
        page.reload()
        wait_my_turn(page)
        assert board_pieces(page) == pieces
        expect(page.locator("#conn")).to_have_text(re.compile("online|resumed"))

        # Resign: the game goes on without us until the bots leave (their process
        # stops; each forfeits after the disconnect grace). Then the result and the
        # wallet change: our stake is lost.
        page.click("#act-resign")
        page.click("#confirm-yes")
        expect(page.locator("#game-status")).to_have_text(
            re.compile("You are out|Game over"), timeout=10_000
        )
        bots.stop()
        expect(page.locator("#result")).to_be_visible(timeout=20_000)
        expect(page.locator("#result h3")).to_contain_text("You placed #4")
        expect(page.locator("#wallet-change")).to_have_text(
            "Stake 1.00 USD · payout 0.00 USD · net -1.00 USD · wallet 99.00 USD"
        )
        expect(watch.locator("#result")).to_be_visible()
        screenshot(page, "result")
    finally:
        watcher.page.context.close()
        assert watcher.console.unexpected() == []
