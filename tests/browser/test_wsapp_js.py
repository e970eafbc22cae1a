"""``wsapp.js``'s promises, checked in Chromium against a scripted fake WebSocket.

The chat tests show the client working against the real server; these pin down the contract
each promise rests on — which close codes reconnect, the backoff curve, what ``since`` resumes
from, what the outbox re-sends, what is deduplicated — deterministically and in milliseconds.
The page and the module are served by Playwright's router: no server, no socket.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.fakesocket import client_page, run
from wsapp.codes import RECONNECT_CODES, CloseCode

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with client_page(browser) as page:
        yield page


def test_close_codes_and_reconnect_codes_match_the_server(page: Page) -> None:
    codes = run(page, "return { all: CloseCode, reconnect: window.wsapp.RECONNECT_CODES };")
    assert {name: CloseCode[name].value for name in codes["all"]} == codes["all"]
    assert sorted(codes["reconnect"]) == sorted(int(code) for code in RECONNECT_CODES)


def test_backoff_is_exponential_capped_and_jittered(page: Page) -> None:
    delays = run(
        page,
        """const { backoffDelay } = window.wsapp;
        const attempts = [0, 1, 2, 3, 4, 5, 9, 50];
        return {
          slowest: attempts.map((n) => backoffDelay(n, undefined, () => 0)),
          fastest: attempts.map((n) => backoffDelay(n, undefined, () => 1)),
          custom: backoffDelay(3, { initial: 100, max: 300, jitter: 0 }),
        };""",
    )
    assert delays["slowest"] == [500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]
    assert delays["fastest"] == [d // 2 for d in delays["slowest"]]  # jitter takes off ≤ 50 %
    assert delays["custom"] == 300


def test_outbox_resends_what_was_not_acknowledged_and_resume_asks_since_the_last_id(
    page: Page,
) -> None:
    result = run(
        page,
        """const socket = new WsappSocket("/ws/chat/lobby/", {
          WebSocket: FakeSocket, subprotocols: ["wsapp.v1"], backoff: { initial: 1, max: 1 },
        });
        const log = record(socket);
        socket.connect();
        await tick();
        const first = FakeSocket.all[0];
        first.open();
        first.receive({ type: "history", messages: [{ id: 1, body: "a" }, { id: 2, body: "b" }] });
        const acked = socket.post({ type: "chat.message", body: "acked" });
        socket.post({ type: "chat.message", body: "lost", client_id: "kept" });
        first.receive({ type: "chat.ack", client_id: acked, id: 3 });
        const outboxBeforeDrop = socket.outbox.map((item) => item.client_id);
        first.drop(CloseCode.ABNORMAL_CLOSURE);
        await tick(20);
        const second = FakeSocket.all[1];
        second.open();
        second.receive({ type: "history", messages: [{ id: 2 }, { id: 3 }, { id: 4, body: "missed" }] });
        second.receive({ type: "chat.message", id: 4, body: "missed" });
        second.receive({ type: "chat.ack", client_id: "kept", id: 5 });
        return {
          firstUrl: first.url, firstProtocols: first.protocols, firstSent: first.sent,
          secondUrl: second.url, secondSent: second.sent, acked, outboxBeforeDrop,
          outboxAfter: socket.outbox, statuses: log.status.map((s) => s.status),
          messages: log.messages, acks: log.acks.map((a) => [a.ack.id, a.item?.body, a.duplicate]),
          lastId: socket.lastId,
        };""",
    )
    assert result["firstUrl"] == "ws://127.0.0.1:9/ws/chat/lobby/"
    assert result["firstProtocols"] == ["wsapp.v1"]
    assert [m["body"] for m in result["firstSent"]] == ["acked", "lost"]
    assert result["outboxBeforeDrop"] == ["kept"]
    # The ack's id (3) is not a resume point: a smaller id may still have been on its way.
    assert result["secondUrl"] == "ws://127.0.0.1:9/ws/chat/lobby/?since=2"
    assert result["secondSent"] == [{"type": "chat.message", "body": "lost", "client_id": "kept"}]
    assert result["outboxAfter"] == []
    assert result["statuses"] == ["connecting", "live", "reconnecting", "reconnecting", "live"]
    history, replay = result["messages"]
    assert [m["id"] for m in history["messages"]] == [1, 2]
    assert [m["id"] for m in replay["messages"]] == [4]  # 2 was seen, 3 was our own (acked)
    assert len(result["messages"]) == 2  # the live copy of 4 was dropped as a duplicate
    assert result["acks"] == [[3, "acked", False], [5, "lost", False]]
    assert result["lastId"] == 4


@pytest.mark.parametrize(
    ("code", "reconnects"),
    [
        *[(int(code), True) for code in sorted(RECONNECT_CODES)],
        (CloseCode.NORMAL_CLOSURE, False),
        (CloseCode.POLICY_VIOLATION, False),
        (CloseCode.NOT_AUTHENTICATED, False),
        (CloseCode.FORBIDDEN, False),
        (CloseCode.ROOM_CLOSED, False),
        (CloseCode.RATE_LIMITED, False),
    ],
    ids=lambda value: (
        ("reconnects" if value else "stays-closed") if isinstance(value, bool) else str(int(value))
    ),
)
def test_reconnects_only_after_the_try_again_codes(page: Page, code: int, reconnects: bool) -> None:
    result = run(
        page,
        f"""const socket = new WsappSocket("/ws/x/", {{ WebSocket: FakeSocket, backoff: {{ initial: 1, max: 1 }} }});
        const log = record(socket);
        socket.connect();
        await tick();
        FakeSocket.all[0].open();
        FakeSocket.all[0].drop({int(code)}, "why");
        await tick(30);
        return {{ sockets: FakeSocket.all.length, last: log.status.at(-1), status: socket.status }};""",
    )
    if reconnects:
        assert result["sockets"] == 2
        assert result["status"] == "reconnecting"  # the second socket never opened
    else:
        assert result["sockets"] == 1
        assert result["last"] == {"status": "closed", "code": int(code), "reason": "why"}


def test_a_token_is_offered_as_a_subprotocol_and_a_refused_one_closes_4401(page: Page) -> None:
    result = run(
        page,
        """const offered = new WsappSocket("/ws/x/", {
          WebSocket: FakeSocket, subprotocols: ["wsapp.v1"], token: async () => "abc.DEF-1_2",
        });
        offered.connect();
        await tick();
        const refused = new WsappSocket("/ws/x/", {
          WebSocket: FakeSocket, token: () => { throw new NotAuthenticated("Log in to connect."); },
        });
        const log = record(refused);
        refused.connect();
        await tick();
        return { protocols: FakeSocket.all[0].protocols, sockets: FakeSocket.all.length, last: log.status.at(-1) };""",
    )
    assert result["protocols"] == ["wsapp.v1", "wsapp.token", "wsapp.token.abc.DEF-1_2"]
    assert result["sockets"] == 1
    assert result["last"] == {
        "status": "closed",
        "code": CloseCode.NOT_AUTHENTICATED,
        "reason": "Log in to connect.",
    }


def test_the_outbox_survives_a_reload_when_persisted(page: Page) -> None:
    result = run(
        page,
        """const before = new WsappSocket("/ws/x/", { WebSocket: FakeSocket, persist: "outbox.x" });
        const clientId = before.post({ type: "chat.message", body: "typed offline" });
        const after = new WsappSocket("/ws/x/", { WebSocket: FakeSocket, persist: "outbox.x" });
        after.connect();
        await tick();
        FakeSocket.all[0].open();
        FakeSocket.all[0].receive({ type: "chat.ack", client_id: clientId, id: 9 });
        return { outboxEmpty: after.outbox.length === 0, sent: FakeSocket.all[0].sent, clientId,
                 stored: sessionStorage.getItem("outbox.x") };""",
    )
    assert result["sent"] == [
        {"type": "chat.message", "body": "typed offline", "client_id": result["clientId"]}
    ]
    assert result["outboxEmpty"] is True
    assert result["stored"] is None  # acknowledged: nothing left to keep


def test_an_error_naming_a_posted_client_id_takes_it_out_of_the_outbox(page: Page) -> None:
    result = run(
        page,
        """const socket = new WsappSocket("/ws/chat/lobby/", { WebSocket: FakeSocket });
        const log = record(socket);
        const rejected = [];
        socket.addEventListener("rejected", (e) => rejected.push(e.detail));
        socket.connect();
        await tick();
        const ws = FakeSocket.all[0];
        ws.open();
        socket.post({ type: "chat.message", body: "", client_id: "bad" });
        socket.post({ type: "chat.message", body: "fine", client_id: "good" });
        ws.receive({ type: "error", code: "invalid_message", message: "empty", client_id: "bad" });
        ws.receive({ type: "error", code: "unknown_type", message: "nope" });
        return {
          outbox: socket.outbox.map((item) => item.client_id),
          rejected: rejected.map((r) => [r.error.code, r.item.client_id]),
          errors: log.messages.filter((m) => m.type === "error").map((m) => m.code),
        };""",
    )
    assert result == {
        "outbox": ["good"],
        "rejected": [["invalid_message", "bad"]],
        "errors": ["invalid_message", "unknown_type"],
    }
