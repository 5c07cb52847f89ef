"""Register, log in, stay logged in across reloads, refresh an expired token, log out."""

from __future__ import annotations

import itertools
import json

from playwright.sync_api import Page, expect

from tests.web.conftest import Server, Tab

PASSWORD = "Correct-horse-9"
_names = itertools.count(1)


def fresh_name(prefix: str = "web") -> str:
    """A username no other test of the session uses."""
    return f"{prefix}{next(_names)}"


def register(page: Page, username: str, password: str = PASSWORD) -> None:
    """Register through the form and wait for the lobby."""
    page.goto("/")
    page.fill("#auth-username", username)
    page.fill("#auth-password", password)
    page.click("#register-button")
    expect(page.locator("#screen-lobby")).to_be_visible()


def session(page: Page) -> dict[str, object]:
    """The session the client keeps in localStorage."""
    raw = page.evaluate("() => localStorage.getItem('meeple.session')")
    return json.loads(raw) if raw else {}


def test_register_reload_logout(tab: Tab, server: Server) -> None:
    page = tab.page
    name = fresh_name()
    register(page, name)
    expect(page.locator("#username")).to_have_text(name)
    assert session(page)["refresh_token"]

    page.reload()
    expect(page.locator("#screen-lobby")).to_be_visible()
    expect(page.locator("#username")).to_have_text(name)

    page.click("#logout")
    expect(page.locator("#screen-auth")).to_be_visible()
    assert session(page) == {}
    page.reload()
    expect(page.locator("#screen-auth")).to_be_visible()

    page.fill("#auth-username", name)
    page.fill("#auth-password", PASSWORD)
    page.press("#auth-password", "Enter")  # the keyboard path: Enter submits the form
    expect(page.locator("#screen-lobby")).to_be_visible()


def test_bad_credentials_and_taken_names_are_explained(tab: Tab) -> None:
    page = tab.page
    name = fresh_name()
    register(page, name)
    page.click("#logout")
    # The refused requests below are expected; the browser logs their status.
    tab.console.allow(r"status of (401|409)")

    page.fill("#auth-username", name)
    page.fill("#auth-password", "Wrong-password-1")
    page.click("#login-button")
    expect(page.locator("#auth-error")).to_contain_text("invalid_credentials")
    expect(page.locator("#screen-auth")).to_be_visible()

    page.fill("#auth-password", PASSWORD)
    page.click("#register-button")
    expect(page.locator("#auth-error")).to_contain_text("username_taken")


def test_an_expired_access_token_is_refreshed(tab: Tab) -> None:
    page = tab.page
    register(page, fresh_name())
    before = session(page)
    # The access token is refused (as an expired one would be): the client refreshes
    # once, rotating the refresh token, and the request goes through.
    tab.console.allow(r"status of 401")
    page.evaluate(
        """() => { const s = window.meeple.api.session;
                   s.access_token = s.access_token.slice(0, -4) + 'AAAA'; }"""
    )
    me = page.evaluate("() => window.meeple.api.me()")
    assert me["username"] == before.get("username")
    after = session(page)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]


def test_a_revoked_session_goes_back_to_login(tab: Tab, server: Server) -> None:
    page = tab.page
    register(page, fresh_name())
    tab.console.allow(r"status of 401")
    # Log out elsewhere (the server revokes the family); this tab's next refresh fails.
    page.evaluate(
        """async () => { const s = window.meeple.api.session;
          await fetch('/api/v1/auth/logout', {
            method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({refresh_token: s.refresh_token})});
          s.access_token = 'not-a-token'; }"""
    )
    page.evaluate("() => window.meeple.api.me().catch(() => null)")
    expect(page.locator("#screen-auth")).to_be_visible()
    assert session(page) == {}
