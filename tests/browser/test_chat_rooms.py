"""The demo chat runs every room over one socket (``/ws/topics/``), in a real browser against a
real server: messages land in their room, rooms not in view count what they missed, switching
rooms never opens a socket, and a server crash loses and doubles nothing in any room."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, WebSocket, expect

from tests.browser.harness import (
    RECONNECT_MS,
    DemoServer,
    badge,
    bodies,
    new_user_context,
    open_room,
    rail,
    say,
    screenshot,
    switch_room,
)
from wsapp.codes import CloseCode

pytestmark = pytest.mark.browser


def test_two_users_in_two_rooms_over_one_socket_each_with_unread_counts(
    browser: Browser, demo_server: DemoServer
) -> None:
    alice_sockets: list[str] = []
    bob_sockets: list[str] = []
    alice = open_room(
        new_user_context(browser, demo_server, "alice"), "lobby", sockets=alice_sockets
    )
    bob = open_room(new_user_context(browser, demo_server, "bob"), "random", sockets=bob_sockets)
    for page in (alice, bob):
        for slug in ("lobby", "random"):  # every room of the sidebar is subscribed
            expect(rail(page, slug)).to_have_attribute("data-status", "live")

    say(bob, "Only in random")
    expect(rail(alice, "random").locator(".unread")).to_have_text("1")
    expect(rail(alice, "lobby").locator(".unread")).to_be_hidden()  # the room in view
    expect(bodies(alice, "Only in random")).to_have_count(0)
    say(alice, "Only in lobby")
    expect(rail(bob, "lobby").locator(".unread")).to_have_text("1")
    expect(bodies(bob, "Only in lobby")).to_have_count(0)
    expect(bodies(bob, "Only in random")).to_have_count(1)
    say(bob, "Second in random")
    expect(rail(alice, "random").locator(".unread")).to_have_text("2")
    screenshot(bob, "chat-rooms.png")  # in random; lobby counts what he missed

    switch_room(alice, "random")
    assert alice.url == demo_server.url("/rooms/random/")
    expect(alice.locator("#room-title")).to_have_text("#Random")
    expect(rail(alice, "random").locator(".unread")).to_be_hidden()  # reset on view
    expect(bodies(alice, "Only in random")).to_have_count(1)
    expect(bodies(alice, "Second in random")).to_have_count(1)
    expect(bodies(alice, "Only in lobby")).to_have_count(0)
    expect(alice.locator("#presence li[data-user=bob]")).to_be_visible()  # random's presence

    bob.locator("#composer-input").press_sequentially("typing in random")
    expect(alice.locator("#typing")).to_have_text("bob is typing…")
    switch_room(alice, "lobby")
    expect(alice.locator("#typing")).to_have_text("")  # typing is per room
    expect(bodies(alice, "Only in lobby")).to_have_count(1)
    alice.go_back()  # the URL is the room in view, history included
    expect(alice.locator("#chat")).to_have_attribute("data-room", "random")
    say(alice, "Posted after switching")
    expect(bodies(bob, "Posted after switching")).to_have_count(1)
    expect(alice.locator("#messages .msg.pending")).to_have_count(0)  # acknowledged

    ws_url = f"ws://127.0.0.1:{demo_server.port}/ws/topics/"
    assert alice_sockets == [ws_url]  # three room switches, one socket
    assert bob_sockets == [ws_url]
    assert alice.evaluate("window.wsappChat.topics.size") == 2
    expect(alice.locator("#fact-reconnects")).to_have_text("0")
    assert demo_server.count_messages("Only in random") == 1


def test_every_room_resumes_after_the_server_drops_the_socket(
    browser: Browser, demo_server: DemoServer
) -> None:
    alice_sockets: list[str] = []
    alice = open_room(
        new_user_context(browser, demo_server, "alice"), "lobby", sockets=alice_sockets
    )
    bob = open_room(new_user_context(browser, demo_server, "bob"), "lobby")

    demo_server.kill()
    for page in (alice, bob):
        expect(badge(page)).to_have_attribute("data-status", "reconnecting")
    say(alice, "Typed offline in lobby")
    switch_room(alice, "random")  # switching needs no socket
    say(alice, "Typed offline in random")
    expect(alice.locator("#fact-outbox")).to_have_text("2 waiting")
    missed_lobby = demo_server.add_message("lobby", "admin", "Missed in lobby")
    missed_random = demo_server.add_message("random", "admin", "Missed in random")
    assert missed_random > missed_lobby

    demo_server.start()  # same port, same database
    for page in (alice, bob):
        expect(badge(page)).to_have_attribute("data-status", "live", timeout=RECONNECT_MS)
        expect(page.locator("#fact-reconnects")).to_have_text("1")
    expect(alice.locator("#fact-outbox")).to_have_text("empty")
    opened = len(alice_sockets)  # one before the crash, then each attempt until one got through
    # bob stayed in lobby: random's resume brought him two messages he has not seen.
    expect(rail(bob, "random").locator(".unread")).to_have_text("2")
    for page, slugs in ((alice, ("random", "lobby")), (bob, ("lobby", "random"))):
        for slug in slugs:
            switch_room(page, slug)
            for body in (f"Typed offline in {slug}", f"Missed in {slug}"):
                expect(bodies(page, body)).to_have_count(1)
            expect(page.locator("#messages .msg.pending")).to_have_count(0)
    bob.wait_for_timeout(500)  # nothing doubles later either
    expect(bodies(alice, "Typed offline in lobby")).to_have_count(1)  # alice ended in lobby
    expect(bodies(bob, "Typed offline in random")).to_have_count(1)  # bob in random
    for slug in ("lobby", "random"):
        assert demo_server.count_messages(f"Typed offline in {slug}") == 1
    assert len(alice_sockets) == opened  # switching rooms after the restart opened none
    assert set(alice_sockets) == {f"ws://127.0.0.1:{demo_server.port}/ws/topics/"}


def test_a_room_refused_by_the_server_says_why_and_the_others_stay_usable(
    browser: Browser, demo_server: DemoServer
) -> None:
    demo_server.query("UPDATE wsapp_room SET is_archived = 1 WHERE slug = 'random'")
    page = new_user_context(browser, demo_server, "alice").new_page()
    sockets: list[str] = []
    subscribes: list[str] = []

    def watch(ws: WebSocket) -> None:
        sockets.append(ws.url)
        ws.on("framesent", lambda payload: subscribes.append(str(payload)))

    page.on("websocket", watch)
    page.goto("/rooms/random/")

    expect(rail(page, "random")).to_have_attribute("data-status", "refused")
    expect(page.locator("#notice")).to_contain_text("archived")
    expect(page.locator("#notice")).to_contain_text(f"(close code {CloseCode.ROOM_CLOSED:d})")
    expect(page.locator("#composer-input")).to_be_disabled()
    expect(badge(page)).to_have_attribute("data-status", "live")  # the socket stays open
    page.wait_for_timeout(1500)  # longer than any first backoff step (≤ 500 ms)
    expect(rail(page, "random")).to_have_attribute("data-status", "refused")

    switch_room(page, "lobby")
    expect(page.locator("#composer-input")).to_be_enabled()
    expect(page.locator("#notice")).to_be_hidden()
    say(page, "Lobby still works")
    expect(bodies(page, "Lobby still works")).to_have_count(1)
    expect(page.locator("#messages .msg.pending")).to_have_count(0)
    assert sockets == [f"ws://127.0.0.1:{demo_server.port}/ws/topics/"]
    random = [f for f in subscribes if '"subscribe"' in f and '"random"' in f]
    assert len(random) == 1, subscribes  # never retried


def test_a_room_archived_in_the_admin_ends_its_topic_live_and_the_socket_stays(
    browser: Browser, demo_server: DemoServer
) -> None:
    sockets: list[str] = []
    bob = open_room(new_user_context(browser, demo_server, "bob"), "random", sockets=sockets)
    admin = new_user_context(browser, demo_server, "admin").new_page()
    (pk,) = demo_server.query("SELECT id FROM wsapp_room WHERE slug = 'random'")[0]
    admin.goto(f"/admin/wsapp/room/{pk}/change/")
    admin.check("#id_is_archived")
    admin.click("input[name=_save]")
    expect(admin.locator(".messagelist")).to_be_visible()

    expect(rail(bob, "random")).to_have_attribute("data-status", "unsubscribed")
    expect(bob.locator("#notice")).to_have_text(
        f"This room has been archived. (close code {CloseCode.ROOM_CLOSED:d})"
    )
    expect(bob.locator("#composer-input")).to_be_disabled()
    expect(bob.locator("#presence li")).to_have_count(0)
    expect(badge(bob)).to_have_attribute("data-status", "live")
    switch_room(bob, "lobby")  # the other rooms go on over the same socket
    expect(bob.locator("#composer-input")).to_be_enabled()
    say(bob, "Random is closed")
    expect(bob.locator("#messages .msg.pending")).to_have_count(0)
    assert sockets == [f"ws://127.0.0.1:{demo_server.port}/ws/topics/"]
