"""``wsapp.js``'s ``TopicSocket``: many topics over one socket, checked against a scripted fake
WebSocket playing docs/topics.md's server side.

What each promise rests on, deterministically: one socket for every topic, frames routed by
their ``topic``, each topic's own ids, presence, outbox and resume point; after a reconnect every
wanted topic is subscribed again with ``since`` = its ``lastId`` and its outbox re-sent only after
its ``subscribed``; refusals and server-ended subscriptions are never retried (a 1013 refusal is).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.fakesocket import client_page, run
from wsapp.codes import CloseCode

pytestmark = pytest.mark.browser

#: A server's answer to ``subscribe``: subscribed, history, presence (docs/topics.md's order).
SERVE = """
const serve = (ws, topic, messages = [], users = ["alice"]) => {
  ws.receive({ type: "subscribed", topic });
  ws.receive({ type: "history", topic, messages, truncated: false });
  ws.receive({ type: "presence.state", topic, users });
};
// A TopicSocket on a fake socket, subscribed to `names` (each recorded), then connected and open.
const start = async (names, options = {}) => {
  const socket = new TopicSocket("/ws/topics/", { WebSocket: FakeSocket, backoff: { initial: 1, max: 1 }, ...options });
  const topics = names.map((name) => socket.subscribe(name));
  const logs = topics.map((topic) => recordTopic(topic));
  socket.connect();
  await tick();
  const ws = FakeSocket.all.at(-1);
  ws.open();
  return { socket, topics, logs, ws };
};
const msg = (topic, id, body, extra = {}) =>
  ({ type: "chat.message", topic, id, room: topic, user: "bob", body, client_id: "", ts: "", ...extra });
"""


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with client_page(browser) as page:
        yield page


def test_one_socket_carries_every_topic_and_routes_frames_by_topic(page: Page) -> None:
    result = run(
        page,
        SERVE
        + """const socket = new TopicSocket("/ws/topics/", { WebSocket: FakeSocket, subprotocols: ["wsapp.v1"] });
        const lobby = socket.subscribe("lobby", { lastId: 7, seen: [7] });
        const random = socket.subscribe("random");
        const [l, r] = [recordTopic(lobby), recordTopic(random)];
        const statusBefore = [lobby.status, random.status];
        socket.connect();
        await tick();
        const ws = FakeSocket.all[0];
        ws.open();
        serve(ws, "lobby", [msg("lobby", 7, "rendered"), msg("lobby", 8, "new")], ["alice", "bob"]);
        serve(ws, "random", [msg("random", 7, "same id, other topic")]);
        ws.receive(msg("lobby", 8, "new"));                       // a duplicate of history
        ws.receive(msg("random", 9, "live"));
        ws.receive({ type: "presence.diff", topic: "lobby", joins: ["carol"], leaves: ["bob"] });
        ws.receive({ type: "typing", topic: "random", user: "bob" });
        ws.receive({ type: "error", code: "invalid_json", message: "Not JSON." });
        const socketMessages = [];
        socket.addEventListener("message", (e) => socketMessages.push(e.detail));
        ws.receive({ type: "error", code: "unknown_type", message: "No." });
        return {
          sockets: FakeSocket.all.length, url: ws.url, protocols: ws.protocols, sent: ws.sent,
          statusBefore, status: [lobby.status, random.status],
          lobbyStatus: l.status.map((s) => s.status),
          lobby: l.messages.map((m) => [m.type, m.topic, m.id ?? null]),
          lobbyHistory: l.history, random: r.messages.map((m) => [m.type, m.id ?? null]),
          presence: l.presence.map((p) => p.users), users: lobby.users, typing: r.typing,
          lastIds: [lobby.lastId, random.lastId], socketMessages,
          same: socket.subscribe("lobby") === lobby, sentAfterSame: ws.sent.length,
        };""",
    )
    assert result["sockets"] == 1
    assert result["url"] == "ws://127.0.0.1:9/ws/topics/"  # resume is per topic, not in the URL
    assert result["protocols"] == ["wsapp.v1"]
    assert result["sent"] == [
        {"type": "subscribe", "topic": "lobby", "since": 7},
        {"type": "subscribe", "topic": "random"},
    ]
    assert result["statusBefore"] == ["subscribing", "subscribing"]
    assert result["status"] == ["live", "live"]
    assert result["lobbyStatus"] == ["live"]  # recorded from after subscribe()
    assert result["lobby"] == [
        ["chat.message", "lobby", 8],  # 7 was rendered by the page; the live 8 was a duplicate
        ["presence.state", "lobby", None],
        ["presence.diff", "lobby", None],
    ]
    assert [m["body"] for m in result["lobbyHistory"][0]["messages"]] == ["new"]
    assert result["lobbyHistory"][0]["truncated"] is False
    assert result["random"] == [
        ["chat.message", 7],  # ids are deduplicated per topic
        ["presence.state", None],
        ["chat.message", 9],
        ["typing", None],
    ]
    assert result["presence"] == [["alice", "bob"], ["alice", "carol"]]
    assert result["users"] == ["alice", "carol"]
    assert result["typing"] == [{"type": "typing", "topic": "random", "user": "bob"}]
    assert result["lastIds"] == [8, 9]
    assert result["socketMessages"] == [{"type": "error", "code": "unknown_type", "message": "No."}]
    assert result["same"] is True
    assert result["sentAfterSame"] == 2  # subscribing again to a live topic sends nothing


def test_post_waits_for_subscribed_and_acks_and_rejections_stay_in_their_topic(
    page: Page,
) -> None:
    result = run(
        page,
        SERVE
        + """const { socket, topics: [lobby, random], logs: [l, r], ws } = await start(["lobby", "random"]);
        const early = lobby.post({ type: "chat.message", body: "early" });
        const sentBeforeSubscribed = ws.sent.length;
        const typingDropped = lobby.send({ type: "typing" });
        serve(ws, "lobby");
        const bad = random.post({ type: "chat.message", body: "", client_id: "bad" });
        serve(ws, "random");
        lobby.send({ type: "typing" });
        ws.receive({ type: "chat.ack", topic: "lobby", client_id: early, id: 11 });
        ws.receive({ type: "error", topic: "random", code: "invalid_message", message: "Empty.", client_id: "bad" });
        ws.receive(msg("lobby", 11, "early", { user: "alice", client_id: early }));   // our own, echoed
        return {
          sentBeforeSubscribed, typingDropped, sent: ws.sent.slice(2),
          acks: l.acks.map((a) => [a.ack.id, a.item?.body, a.duplicate]),
          lobbyMessages: l.messages.filter((m) => m.type === "chat.message").length,
          rejected: r.rejected.map((x) => [x.error.code, x.item.client_id]),
          randomErrors: r.messages.filter((m) => m.type === "error").map((m) => m.code),
          outboxes: [lobby.outbox.length, random.outbox.length, socket.outbox.length],
          lobbyLastId: lobby.lastId,
        };""",
    )
    assert result["sentBeforeSubscribed"] == 2  # the two subscribes: "early" waits
    assert result["typingDropped"] is False
    early = {"type": "chat.message", "body": "early", "topic": "lobby"}
    assert [{k: v for k, v in f.items() if k != "client_id"} for f in result["sent"]] == [
        early,
        {"type": "chat.message", "body": "", "topic": "random"},
        {"type": "typing", "topic": "lobby"},
    ]
    assert result["acks"] == [[11, "early", False]]
    assert result["lobbyMessages"] == 0  # its echo was ours, acknowledged: not shown twice
    assert result["rejected"] == [["invalid_message", "bad"]]
    assert result["randomErrors"] == ["invalid_message"]
    assert result["outboxes"] == [0, 0, 0]
    assert result["lobbyLastId"] is None  # an ack is not a resume point


def test_a_reconnect_resubscribes_each_topic_since_its_last_id_then_resends_its_outbox(
    page: Page,
) -> None:
    result = run(
        page,
        SERVE
        + """const { socket, topics: [lobby, random, staff], logs: [l], ws: first } = await start(["lobby", "random", "staff"]);
        const log = record(socket);
        serve(first, "lobby", [msg("lobby", 3, "a"), msg("lobby", 5, "b")]);
        serve(first, "random", [msg("random", 4, "c")]);
        serve(first, "staff");
        random.unsubscribe();
        first.receive({ type: "unsubscribed", topic: "random", code: CloseCode.NORMAL_CLOSURE, reason: "" });
        first.receive(msg("random", 6, "after unsubscribe"));
        lobby.post({ type: "chat.message", body: "typed offline", client_id: "kept" });
        const sentLive = first.sent.at(-1);
        first.drop(CloseCode.ABNORMAL_CLOSURE);
        const offline = [lobby.status, random.status, staff.status];
        await tick(20);
        const second = FakeSocket.all[1];
        second.open();
        const resubscribed = [...second.sent];
        second.receive({ type: "subscribed", topic: "lobby" });
        const resent = second.sent.slice(resubscribed.length);
        second.receive({ type: "history", topic: "lobby", messages: [msg("lobby", 5, "b"), msg("lobby", 6, "missed")], truncated: false });
        second.receive({ type: "presence.state", topic: "lobby", users: ["alice"] });
        second.receive({ type: "chat.ack", topic: "lobby", client_id: "kept", id: 7 });
        return {
          sentLive, offline, resubscribed, resent, socketStatus: log.status.map((s) => s.status),
          lobbyStatus: l.status.map((s) => s.status), status: [lobby.status, random.status, staff.status],
          lobbyBodies: l.messages.filter((m) => m.type === "chat.message").map((m) => m.body),
          outbox: lobby.outbox, lastId: lobby.lastId,
        };""",
    )
    assert result["sentLive"]["client_id"] == "kept"
    assert result["offline"] == ["subscribing", "unsubscribed", "subscribing"]
    assert result["resubscribed"] == [
        {"type": "subscribe", "topic": "lobby", "since": 5},
        {"type": "subscribe", "topic": "staff"},  # it had no message: its whole history again
    ]  # not random: the client left it
    assert result["resent"] == [
        {"type": "chat.message", "body": "typed offline", "client_id": "kept", "topic": "lobby"}
    ]
    assert result["socketStatus"] == ["reconnecting", "reconnecting", "live"]
    assert result["lobbyStatus"] == ["live", "subscribing", "live"]
    assert result["status"] == ["live", "unsubscribed", "subscribing"]
    assert result["lobbyBodies"] == ["a", "b", "missed"]  # 5 once, nothing after unsubscribe
    assert result["outbox"] == []
    assert result["lastId"] == 6


def test_refusals_and_server_ended_subscriptions_are_not_retried_but_1013_is(
    page: Page,
) -> None:
    result = run(
        page,
        SERVE
        + """const started = await start(["nope", "busy", "old"]);
        const first = started.ws;
        const [nope, busy, old] = started.logs;
        first.receive({ type: "subscribe.refused", topic: "nope", code: CloseCode.ROOM_NOT_FOUND, error: "not_found", message: "No room 'nope'." });
        first.receive({ type: "subscribe.refused", topic: "busy", code: CloseCode.TRY_AGAIN_LATER, error: "try_again_later", message: "Later." });
        serve(first, "old");
        first.receive({ type: "room.closed", topic: "old", reason: "Archived." });
        first.receive({ type: "unsubscribed", topic: "old", code: CloseCode.ROOM_CLOSED, reason: "Archived." });
        await tick(20);
        const retried = first.sent.slice(3);
        serve(first, "busy");
        first.drop(CloseCode.SERVICE_RESTART);
        await tick(20);
        FakeSocket.all[1].open();
        return {
          nope: nope.status, busy: busy.status.map((s) => [s.status, s.code ?? null]),
          old: old.status.map((s) => [s.status, s.code ?? null]),
          oldFrames: old.messages.map((m) => m.type), oldUsers: started.topics[2].users,
          retried, resubscribed: FakeSocket.all[1].sent,
        };""",
    )
    assert result["nope"] == [
        {
            "status": "refused",
            "code": CloseCode.ROOM_NOT_FOUND,
            "error": "not_found",
            "message": "No room 'nope'.",
        },
    ]
    assert result["retried"] == [{"type": "subscribe", "topic": "busy"}]
    assert result["busy"] == [
        ["subscribing", CloseCode.TRY_AGAIN_LATER],
        ["live", None],
        ["subscribing", None],
    ]
    assert result["old"] == [
        ["live", None],
        ["unsubscribed", CloseCode.ROOM_CLOSED],
    ]
    assert result["oldFrames"] == ["presence.state", "room.closed"]
    assert result["oldUsers"] == []
    assert result["resubscribed"] == [{"type": "subscribe", "topic": "busy"}]


def test_a_final_close_marks_every_topic_closed_and_connect_resubscribes_them(
    page: Page,
) -> None:
    result = run(
        page,
        SERVE
        + """const { socket, logs: [l] } = await start(["lobby"]);
        serve(FakeSocket.all[0], "lobby", [msg("lobby", 2, "x")]);
        FakeSocket.all[0].drop(CloseCode.NOT_AUTHENTICATED, "Logged out.");
        await tick(20);
        const afterClose = { sockets: FakeSocket.all.length, status: socket.status, topic: l.status.at(-1) };
        socket.connect();
        await tick();
        FakeSocket.all[1].open();
        return { afterClose, sent: FakeSocket.all[1].sent };""",
    )
    assert result["afterClose"] == {
        "sockets": 1,
        "status": "closed",
        "topic": {"status": "closed", "code": CloseCode.NOT_AUTHENTICATED, "reason": "Logged out."},
    }
    assert result["sent"] == [{"type": "subscribe", "topic": "lobby", "since": 2}]


def test_each_topics_outbox_survives_a_reload_under_its_own_key(page: Page) -> None:
    result = run(
        page,
        SERVE
        + """const before = new TopicSocket("/ws/topics/", { WebSocket: FakeSocket, persist: "outbox" });
        const id = before.subscribe("lobby").post({ type: "chat.message", body: "typed offline" });
        before.subscribe("random");
        const stored = Object.keys(sessionStorage).sort();
        // What WsappSocket({persist: "outbox.random"}) keeps: a frame with no topic.
        sessionStorage.setItem("outbox.random", JSON.stringify([{ type: "chat.message", body: "old page", client_id: "old" }]));
        const after = new TopicSocket("/ws/topics/", { WebSocket: FakeSocket, persist: "outbox" });
        const lobby = after.subscribe("lobby");
        const random = after.subscribe("random");
        const restored = [lobby.outbox.map((i) => i.body), random.outbox.length];
        after.connect();
        await tick();
        const ws = FakeSocket.all[0];
        ws.open();
        serve(ws, "lobby");
        serve(ws, "random");
        ws.receive({ type: "chat.ack", topic: "lobby", client_id: id, id: 1 });
        return { stored, restored, sent: ws.sent, id, left: sessionStorage.getItem("outbox.lobby") };""",
    )
    assert result["stored"] == ["outbox.lobby"]
    assert result["restored"] == [["typed offline"], 1]
    assert result["sent"][2] == {
        "type": "chat.message",
        "body": "typed offline",
        "topic": "lobby",
        "client_id": result["id"],
    }
    assert result["sent"][3] == {
        "type": "chat.message",
        "body": "old page",
        "client_id": "old",
        "topic": "random",
    }
    assert result["left"] is None  # acknowledged: nothing left to keep
