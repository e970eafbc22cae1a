"""The live dashboard in a real browser against the real demo server: who is refused, that its
numbers follow the chat pages, that its chart redraws; and its README screenshot. Every wait is
bounded (the harness's ``WAIT_MS``, set as Playwright's default timeout)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.harness import (
    DemoServer,
    badge,
    new_user_context,
    open_room,
    say,
    screenshot,
)

pytestmark = pytest.mark.browser

#: A chart line with at least two points: a move, then a line segment.
WITH_POINTS = re.compile(r"^M[\d.]+,[\d.]+L")

#: Opens a raw socket to the dashboard from the page and resolves with its close code and reason.
SOCKET_OUTCOME = """(path) => new Promise((resolve, reject) => {
  const ws = new WebSocket(new URL(path, location.href).href.replace(/^http/, "ws"));
  ws.onclose = (event) => resolve([event.code, event.reason]);
  setTimeout(() => reject(new Error("no close within 5 s")), 5000);
})"""


def open_dashboard(browser: Browser, server: DemoServer, **options: Any) -> Page:
    """The staff dashboard, live, with its first snapshot drawn."""
    page = new_user_context(browser, server, "admin", **options).new_page()
    page.goto("/dashboard/")
    expect(badge(page)).to_have_attribute("data-status", "live")
    expect(page.locator("#processes tbody tr")).to_have_count(1)
    return page


def connections(page: Page) -> Any:
    return page.locator("#stat-connections")


def test_a_user_who_is_not_staff_is_refused_the_dashboard(
    browser: Browser, demo_server: DemoServer
) -> None:
    page = new_user_context(browser, demo_server, "alice").new_page()
    response = page.goto("/dashboard/")
    assert response is not None and response.status == 403
    expect(page.locator("#refusal")).to_contain_text("Staff only.")
    expect(page.locator("#refusal")).to_contain_text("You are logged in as alice")
    expect(page.locator("#dashboard")).to_have_count(0)
    # The socket refuses on its own, whatever the page does.
    assert page.evaluate(SOCKET_OUTCOME, "/ws/dashboard/") == [4403, "Staff only."]

    anonymous = browser.new_context(base_url=demo_server.base_url).new_page()
    anonymous.goto("/dashboard/")
    expect(anonymous).to_have_url(demo_server.url("/accounts/login/?next=/dashboard/"))
    assert anonymous.evaluate(SOCKET_OUTCOME, "/ws/dashboard/") == [
        4401,
        "Authentication required.",
    ]


def test_the_connection_count_follows_the_pages_and_the_chart_redraws(
    browser: Browser, demo_server: DemoServer
) -> None:
    dashboard = open_dashboard(browser, demo_server)
    expect(connections(dashboard)).to_have_text("1")  # its own socket
    line = dashboard.locator("#chart-connections path.line-connections")
    expect(line).to_have_attribute("d", WITH_POINTS)
    drawn = line.get_attribute("d")
    expect(line).not_to_have_attribute("d", drawn or "")  # a second later, redrawn

    open_room(new_user_context(browser, demo_server, "alice"), "lobby")
    expect(connections(dashboard)).to_have_text("2")
    bob = open_room(new_user_context(browser, demo_server, "bob"), "lobby")  # the third page
    expect(connections(dashboard)).to_have_text("3")

    lobby = dashboard.locator("#dash-rooms li").first
    expect(lobby).to_have_attribute("data-room", "lobby")
    expect(lobby).to_have_attribute("data-online", "2")
    expect(dashboard.locator("#stat-users")).to_have_text("2")
    # Each chat page is in every room of its rail (one socket): bob joined lobby and random.
    events = dashboard.locator("#events li")
    expect(events.filter(has_text="bob joined #lobby")).to_have_count(1)
    expect(events.filter(has_text="bob joined #random")).to_have_count(1)
    expect(dashboard.locator("#processes tbody td.strong")).to_have_text("3")

    bob.close()
    expect(connections(dashboard)).to_have_text("2")
    expect(events.filter(has_text="bob left #lobby")).to_have_count(1)
    expect(dashboard.locator("#closes tr[data-code='1001']")).to_be_visible()  # a closed tab


def test_screenshot_of_a_busy_dashboard(browser: Browser, demo_server: DemoServer) -> None:
    dashboard = open_dashboard(browser, demo_server, viewport={"width": 1280, "height": 1080})
    alice_context = new_user_context(browser, demo_server, "alice")
    alice = open_room(alice_context, "lobby")
    open_room(alice_context, "random").close()  # a tab closed: a leave and a 1001
    bob_context = new_user_context(browser, demo_server, "bob")
    bob = open_room(bob_context, "lobby")
    open_room(bob_context, "random")
    admin_room = open_room(new_user_context(browser, demo_server, "admin"), "staff")
    # A few bursts of chat, so the message chart has a shape.
    for burst in range(6):
        for n in range(1 + burst % 3 * 2):
            say(alice if n % 2 else bob, f"burst {burst} message {n}")
        dashboard.wait_for_timeout(1200)
    say(admin_room, "Staff: the dashboard is live.")
    # admin's page is on staff, and in lobby too: every room of the rail is subscribed.
    expect(dashboard.locator("#dash-rooms li").first).to_have_attribute("data-online", "3")
    expect(connections(dashboard)).to_have_text("5")
    dashboard.wait_for_timeout(2500)  # the rates settle back towards the idle baseline
    path = screenshot(dashboard, "dashboard.png")
    assert path.stat().st_size > 20_000
