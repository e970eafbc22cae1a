"""The demo chat in a real browser against a real server: what a newcomer sees, and what survives
a server crash. Every wait is bounded (``WAIT_MS``, ``RECONNECT_MS``)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.harness import (
    RECONNECT_MS,
    WAIT_MS,
    DemoServer,
    badge,
    bodies,
    new_user_context,
    open_room,
    say,
    screenshot,
)
from wsapp.codes import CloseCode

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


def test_alice_types_and_bob_sees_it_with_her_presence_and_typing(
    browser: Browser, demo_server: DemoServer
) -> None:
    alice = open_room(new_user_context(browser, demo_server, "alice", via_form=True), "lobby")
    bob = open_room(new_user_context(browser, demo_server, "bob", via_form=True), "lobby")

    expect(bob.locator("#presence li").first).to_have_attribute("data-user", "bob")  # "you" first
    expect(bob.locator("#presence li[data-user=alice]")).to_be_visible()
    expect(bob.locator("#online-count")).to_have_text("2")
    expect(alice.locator("#presence li[data-user=bob]")).to_be_visible()

    alice.locator("#composer-input").press_sequentially("Hello bob")
    expect(bob.locator("#typing")).to_have_text("alice is typing…")
    alice.press("#composer-input", "Enter")

    expect(bodies(bob, "Hello bob")).to_have_count(1)
    message = bob.locator("#messages .msg").last
    expect(message).to_have_attribute("data-user", "alice")
    expect(message.locator(".author")).to_have_text("alice")
    expect(bob.locator("#typing")).to_have_text("")  # her message ends her typing
    expect(bodies(alice, "Hello bob")).to_have_count(1)
    expect(alice.locator("#messages .msg.pending")).to_have_count(0)  # acknowledged
    assert demo_server.count_messages("Hello bob") == 1

    say(bob, "Hi alice! I saw you typing.")
    expect(bodies(alice, "Hi alice! I saw you typing.")).to_have_count(1)
    say(alice, "Open this room in two windows and watch it move ✨")
    expect(bodies(bob, "Open this room in two windows and watch it move ✨")).to_have_count(1)
    alice.locator("#composer-input").press_sequentially("Now kill the server…")
    expect(bob.locator("#typing")).to_have_text("alice is typing…")
    screenshot(bob, "chat.png")

    phone = new_user_context(
        browser, demo_server, "bob", viewport={"width": 390, "height": 780}, device_scale_factor=2
    )
    small = open_room(phone, "lobby")
    expect(small.locator("#presence-mini .avatar")).to_have_count(2)  # the sidebar is folded
    screenshot(small, "chat-mobile.png")


def test_server_killed_and_restarted_under_the_page(
    browser: Browser, demo_server: DemoServer
) -> None:
    alice = open_room(new_user_context(browser, demo_server, "alice"), "lobby")
    bob = open_room(new_user_context(browser, demo_server, "bob"), "lobby")

    demo_server.kill()
    for page in (alice, bob):
        expect(badge(page)).to_have_attribute("data-status", "reconnecting")
        expect(badge(page)).to_contain_text("Reconnecting")

    typed = "Typed while the server was down"
    say(alice, typed)
    expect(alice.locator("#messages .msg.pending").get_by_text(typed, exact=True)).to_be_visible()
    expect(alice.locator("#fact-outbox")).to_have_text("1 waiting")
    screenshot(alice, "chat-reconnecting.png")
    missed = "Posted while you were away"
    demo_server.add_message("lobby", "admin", missed)

    demo_server.start()  # same port, same database
    for page in (alice, bob):
        expect(badge(page)).to_have_attribute("data-status", "live", timeout=RECONNECT_MS)
        expect(page.locator("#fact-reconnects")).to_have_text("1")

    for page in (alice, bob):
        expect(bodies(page, typed)).to_have_count(1)
        expect(bodies(page, missed)).to_have_count(1)
    expect(alice.locator("#messages .msg.pending")).to_have_count(0)
    expect(alice.locator("#fact-outbox")).to_have_text("empty")
    expect(bob.locator("#presence li[data-user=alice]")).to_be_visible()
    # Nothing doubles later either: the resend was acknowledged, not broadcast again.
    bob.wait_for_timeout(500)
    for page in (alice, bob):
        expect(bodies(page, typed)).to_have_count(1)
    assert demo_server.count_messages(typed) == 1
    # The missed message sits before the one alice sent after it, in id order.
    texts = bob.locator("#messages .msg .body").all_inner_texts()
    assert texts.index(missed) < texts.index(typed)


def test_a_message_body_is_shown_as_text_and_runs_nothing(
    browser: Browser, demo_server: DemoServer
) -> None:
    dialogs: list[str] = []
    alice = open_room(new_user_context(browser, demo_server, "alice"), "lobby", dialogs)
    bob_context = new_user_context(browser, demo_server, "bob")
    bob = open_room(bob_context, "lobby", dialogs)

    say(alice, XSS)
    for page in (alice, bob):
        expect(bodies(page, XSS)).to_have_count(1)
        expect(page.locator("#messages img")).to_have_count(0)

    late = open_room(bob_context, "lobby", dialogs)  # the server-rendered history
    expect(bodies(late, XSS)).to_have_count(1)
    expect(late.locator("#messages img")).to_have_count(0)
    late.wait_for_timeout(300)  # an <img onerror> would have fired by now
    assert dialogs == []
    assert late.evaluate("document.querySelectorAll('img').length") == 0


def test_a_4xxx_close_shows_its_reason_and_is_never_retried(
    browser: Browser, demo_server: DemoServer
) -> None:
    context = new_user_context(browser, demo_server, "alice")
    sockets: list[str] = []
    page = open_room(context, "lobby", sockets=sockets)
    other_tab = context.new_page()
    other_tab.goto("/")
    other_tab.get_by_role("button", name="Log out").click()  # every socket of alice gets 4401

    expect(badge(page)).to_have_attribute("data-status", "closed")
    expect(badge(page)).to_contain_text("Closed: Logged out.")
    expect(page.locator("#notice")).to_contain_text(f"(close code {CloseCode.NOT_AUTHENTICATED:d})")
    expect(page.locator("#composer-input")).to_be_disabled()
    page.wait_for_timeout(1500)  # longer than the first backoff step (≤ 500 ms)
    expect(badge(page)).to_have_attribute("data-status", "closed")
    assert sockets == [f"ws://127.0.0.1:{demo_server.port}/ws/topics/"]


def test_home_lists_the_rooms_you_may_enter_with_live_online_counts(
    browser: Browser, demo_server: DemoServer
) -> None:
    home = demo_server.new_context(browser).new_page()
    home.goto("/")
    expect(home.get_by_role("link", name="Log in to chat")).to_be_visible(timeout=WAIT_MS)
    expect(home.locator(".room-card")).to_have_count(2)

    alice_home = new_user_context(browser, demo_server, "alice").new_page()
    alice_home.goto("/")
    rooms = alice_home.locator(".room-card")
    expect(rooms).to_have_count(2)  # lobby and random; staff is private to admin
    expect(alice_home.locator("a[href='/dashboard/']")).to_have_count(0)
    lobby_count = alice_home.locator("[data-online=lobby] .online-count")
    expect(lobby_count).to_have_text("0")

    open_room(new_user_context(browser, demo_server, "bob"), "lobby")
    expect(lobby_count).to_have_text("1", timeout=WAIT_MS)  # polled every 3 s
    screenshot(alice_home, "home.png")

    admin_home = new_user_context(browser, demo_server, "admin").new_page()
    admin_home.goto("/")
    expect(admin_home.locator(".room-card[data-room=staff]")).to_be_visible()
    expect(admin_home.locator("nav a[href='/dashboard/']")).to_be_visible()
