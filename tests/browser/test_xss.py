"""Every place the demo shows user-written text, with markup in it: shown as text, runs nothing.

Message bodies are covered in ``test_chat.py``; here the room's title and description (written by
anyone with admin access, shown on the home page, the room page and the dashboard) and an
announcement, each an HTML payload that would raise a dialog or add an element if it ran.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.harness import (
    DemoServer,
    bodies,
    new_user_context,
    open_room,
    watch_dialogs,
)

pytestmark = pytest.mark.browser

TITLE = '<img src=x onerror=alert("title")>'
DESCRIPTION = '"><script>alert("description")</script><svg onload=alert("svg")>'


def test_room_title_and_description_are_text_on_every_page(
    browser: Browser, demo_server: DemoServer
) -> None:
    demo_server.query(
        "UPDATE wsapp_room SET title = ?, description = ? WHERE slug = 'lobby'",
        (TITLE, DESCRIPTION),
    )
    dialogs: list[str] = []
    admin = new_user_context(browser, demo_server, "admin")

    home = admin.new_page()
    watch_dialogs(home, dialogs)
    home.goto("/")
    card = home.locator(".room-card[data-room=lobby]")
    expect(card).to_contain_text(TITLE)
    expect(card).to_contain_text(DESCRIPTION)

    room = open_room(admin, "lobby", dialogs)
    expect(room.locator("main")).to_contain_text(TITLE)
    expect(room.locator(".chat-desc")).to_have_text(DESCRIPTION)

    dashboard = admin.new_page()
    watch_dialogs(dashboard, dialogs)
    dashboard.goto("/dashboard/")
    # The open room page makes lobby a room with a user online: the dashboard lists it.
    expect(dashboard.locator("#dash-rooms")).to_contain_text("lobby")

    for page in (home, room, dashboard):
        page.wait_for_timeout(300)  # an onerror/onload handler would have fired by now
        assert page.evaluate("document.querySelectorAll('main img, main svg script').length") == 0
        assert (
            page.evaluate("document.querySelectorAll('script:not([src]):not([type])').length") == 0
        )
    assert dialogs == []


def test_an_announcement_with_markup_is_text(browser: Browser, demo_server: DemoServer) -> None:
    dialogs: list[str] = []
    bob = open_room(new_user_context(browser, demo_server, "bob"), "lobby", dialogs)
    payload = "<b>bold</b><img src=x onerror=alert('announce')>"
    demo_server.add_message("lobby", "admin", payload)  # as the admin's Announce action stores it
    late = open_room(new_user_context(browser, demo_server, "alice"), "lobby", dialogs)
    expect(bodies(late, payload)).to_have_count(1)
    expect(late.locator("#messages b, #messages img")).to_have_count(0)
    bob.wait_for_timeout(300)
    assert dialogs == []
