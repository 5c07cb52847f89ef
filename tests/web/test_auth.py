"""Register, log in, stay logged in across reloads, refresh an expired token, log out."""

from __future__ import annotations

import itertools
import json

from playwright.async_api import Page, expect

from tests.web.conftest import Server, Tab

PASSWORD = "Correct-horse-9"
_names = itertools.count(1)


def fresh_name(prefix: str = "web") -> str:
    """A username no other test of the session uses."""
    return f"{prefix}{next(_names)}"


async def register(page: Page, username: str, password: str = PASSWORD) -> None:
    """Register through the form and wait for the lobby."""
    await page.goto("/")
    await page.fill("#auth-username", username)
    await page.fill("#auth-password", password)
    await page.click("#register-button")
    await expect(page.locator("#screen-lobby")).to_be_visible()


async def session(page: Page) -> dict[str, object]:
    """The session the client keeps in localStorage."""
    raw = await page.evaluate("() => localStorage.getItem('meeple.session')")
    return json.loads(raw) if raw else {}


async def test_register_reload_logout(tab: Tab, server: Server) -> None:
    page = tab.page
    name = fresh_name()
    await register(page, name)
    await expect(page.locator("#username")).to_have_text(name)
    assert (await session(page))["refresh_token"]

    await page.reload()
    await expect(page.locator("#screen-lobby")).to_be_visible()
    await expect(page.locator("#username")).to_have_text(name)

    await page.click("#logout")
    await expect(page.locator("#screen-auth")).to_be_visible()
    assert await session(page) == {}
    await page.reload()
    await expect(page.locator("#screen-auth")).to_be_visible()

    await page.fill("#auth-username", name)
    await page.fill("#auth-password", PASSWORD)
    await page.press("#auth-password", "Enter")  # the keyboard path: Enter submits the form
    await expect(page.locator("#screen-lobby")).to_be_visible()


async def test_bad_credentials_and_taken_names_are_explained(tab: Tab) -> None:
    page = tab.page
    name = fresh_name()
    await register(page, name)
    await page.click("#logout")
    # The refused requests below are expected; the browser logs their status.
    tab.console.allow(r"status of (401|409)")

    await page.fill("#auth-username", name)
    await page.fill("#auth-password", "Wrong-password-1")
    await page.click("#login-button")
    await expect(page.locator("#auth-error")).to_contain_text("invalid_credentials")
    await expect(page.locator("#screen-auth")).to_be_visible()

    await page.fill("#auth-password", PASSWORD)
    await page.click("#register-button")
    await expect(page.locator("#auth-error")).to_contain_text("username_taken")


async def test_an_expired_access_token_is_refreshed(tab: Tab) -> None:
    page = tab.page
    await register(page, fresh_name())
    before = await session(page)
    # The access token is refused (as an expired one would be): the client refreshes
    # once, rotating the refresh token, and the request goes through.
    tab.console.allow(r"status of 401")
    await page.evaluate(
        """() => { const s = window.meeple.api.session;
                   s.access_token = s.access_token.slice(0, -4) + 'AAAA'; }"""
    )
    me = await page.evaluate("() => window.meeple.api.me()")
    assert me["username"] == before.get("username")
    after = await session(page)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]


async def test_a_revoked_session_goes_back_to_login(tab: Tab, server: Server) -> None:
    page = tab.page
    await register(page, fresh_name())
    tab.console.allow(r"status of 401")
    # Log out elsewhere (the server revokes the family); this tab's next refresh fails.
    await page.evaluate(
        """async () => { const s = window.meeple.api.session;
          await fetch('/api/v1/auth/logout', {
            method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({refresh_token: s.refresh_token})});
          s.access_token = 'not-a-token'; }"""
    )
    await page.evaluate("() => window.meeple.api.me().catch(() => null)")
    await expect(page.locator("#screen-auth")).to_be_visible()
    assert await session(page) == {}
