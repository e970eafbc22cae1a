"""The page the client-side unit tests of ``wsapp.js`` run in: the module, a scripted fake
WebSocket, nothing else. Served by Playwright's router: no server, no socket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, Page, Route

from tests.browser.harness import WAIT_MS
from tests.e2e.servers import PROJECT_ROOT

ORIGIN = "http://127.0.0.1:9"  # never contacted: every request is answered by the router
CLIENT = PROJECT_ROOT / "wsapp" / "static" / "wsapp" / "wsapp.js"

PAGE = """<!doctype html><title>wsapp.js</title><script type="module">
window.wsapp = await import("/wsapp.js");
// A WebSocket whose server side the test scripts: open(), receive(frame), drop(code, reason).
window.FakeSocket = class FakeSocket {
  static all = [];
  constructor(url, protocols) {
    Object.assign(this, { url, protocols, sent: [], readyState: 0, protocol: "" });
    FakeSocket.all.push(this);
  }
  open(protocol = "wsapp.v1") { this.readyState = 1; this.protocol = protocol; this.onopen?.({}); }
  receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
  drop(code, reason = "") { this.readyState = 3; this.onclose?.({ code, reason }); }
  send(text) { this.sent.push(JSON.parse(text)); }
  close(code, reason) { this.readyState = 3; this.closedWith = [code, reason]; }
};
window.record = (socket) => {
  const log = { status: [], messages: [], acks: [] };
  socket.addEventListener("status", (e) => log.status.push(e.detail));
  socket.addEventListener("message", (e) => log.messages.push(e.detail));
  socket.addEventListener("ack", (e) => log.acks.push(e.detail));
  return log;
};
window.recordTopic = (topic) => {
  const log = { status: [], messages: [], history: [], presence: [], typing: [], acks: [], rejected: [] };
  const names = { status: "status", message: "messages", history: "history", presence: "presence",
                  typing: "typing", ack: "acks", rejected: "rejected" };
  for (const [name, key] of Object.entries(names)) topic.addEventListener(name, (e) => log[key].push(e.detail));
  return log;
};
window.tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
window.ready = true;
</script>"""


@contextmanager
def client_page(browser: Browser) -> Iterator[Page]:
    """A page with ``window.wsapp`` (the module), ``FakeSocket``, ``record`` and ``tick``; it
    must raise no script error."""
    context = browser.new_context(base_url=ORIGIN)
    context.set_default_timeout(WAIT_MS)

    def serve(route: Route) -> None:
        if route.request.url.endswith("/wsapp.js"):
            route.fulfill(body=CLIENT.read_text(), content_type="text/javascript")
        else:
            route.fulfill(body=PAGE, content_type="text/html")

    context.route(f"{ORIGIN}/**", serve)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")
    page.wait_for_function("window.ready === true")
    yield page
    context.close()
    assert errors == []


def run(page: Page, body: str) -> Any:
    """Evaluate ``body`` as the inside of an async function with the module's names in scope."""
    return page.evaluate(
        "async () => { const { WsappSocket, TopicSocket, CloseCode, NotAuthenticated } = "
        f"window.wsapp;\n{body}\n}}"
    )
