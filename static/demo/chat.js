/**
 * The chat page: DESIGN.md's chat protocol on top of wsapp.js.
 *
 * wsapp.js does the generic work (reconnect, resume with ?since=, outbox, dedupe by id); this
 * file only knows the chat's frames and the page. The server renders the recent history, so the
 * socket resumes from the last id it rendered and the first paint needs no round trip.
 * User text only ever reaches the page as text nodes (see ui.js's el()).
 */
import { CloseCode, WsappSocket } from "wsapp";
import { avatar, el, setTime } from "demo/ui";

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const TYPING_SEND_EVERY_MS = 2500;
const TYPING_SHOW_FOR_MS = 4000;
const NEAR_BOTTOM_PX = 120;

const CLOSE_REASONS = {
  [CloseCode.NORMAL_CLOSURE]: "Disconnected.",
  [CloseCode.NOT_AUTHENTICATED]: "You are logged out. Log in again to chat.",
  [CloseCode.FORBIDDEN]: "You may not enter this room.",
  [CloseCode.ROOM_NOT_FOUND]: "This room does not exist.",
  [CloseCode.TOO_MANY_CONNECTIONS]: "Too many open tabs: close one and reload.",
  [CloseCode.ROOM_CLOSED]: "This room is closed.",
  [CloseCode.RATE_LIMITED]: "Slow down: too many messages.",
};

const root = document.getElementById("chat");
const { wsPath, subprotocol, room, me } = root.dataset;
const maxLength = Number(root.dataset.maxLength);
const list = document.getElementById("messages");
const emptyNote = document.getElementById("empty-room");
const badge = document.getElementById("connection");
const badgeText = badge.querySelector(".badge-text");
const notice = document.getElementById("notice");
const typingLine = document.getElementById("typing");
const presenceList = document.getElementById("presence");
const onlineCount = document.getElementById("online-count");
const presenceMini = document.getElementById("presence-mini");
const form = document.getElementById("composer");
const input = document.getElementById("composer-input");
const outboxHint = document.getElementById("outbox-hint");
const facts = {
  protocol: document.getElementById("fact-protocol"),
  since: document.getElementById("fact-since"),
  outbox: document.getElementById("fact-outbox"),
  reconnects: document.getElementById("fact-reconnects"),
};

const online = new Set();
const typing = new Map(); // username → timeout id
let lastTypingSent = 0;
let countdown = null;
let everLive = false;
let reconnects = 0;
let unread = 0;
let closedReason = "";
const baseTitle = document.title;

// -- messages -----------------------------------------------------------------------------

function messageNode(message, pending = false) {
  const author = message.user ?? "";
  const classes = ["msg"];
  if (author && author === me) classes.push("mine");
  if (!author) classes.push("system");
  if (pending) classes.push("pending");
  const li = el("li", {
    class: classes.join(" "),
    dataset: { user: author, clientId: message.client_id ?? "", ts: message.ts ?? "" },
  });
  if (message.id != null) li.dataset.id = String(message.id);
  const time = el("time");
  if (message.ts) setTime(time, message.ts);
  const meta = el(
    "div",
    { class: "meta" },
    el("span", { class: "author" }, author || "system"),
    time,
    pending ? el("span", { class: "state" }, "sending…") : null,
  );
  li.append(avatar(author), el("div", { class: "bubble" }, meta, el("p", { class: "body" }, message.body)));
  return li;
}

function findById(id) {
  return [...list.children].find((li) => li.dataset.id === String(id)) ?? null;
}

function findPending(clientId) {
  if (!clientId) return null;
  return [...list.querySelectorAll("li.pending")].find((li) => li.dataset.clientId === clientId) ?? null;
}

/** Place `node` in id order, before any pending (unacknowledged) bubbles. */
function insertSorted(node, id) {
  let before = null;
  for (let cur = list.lastElementChild; cur; cur = cur.previousElementSibling) {
    if (cur.classList.contains("pending") || Number(cur.dataset.id) > id) before = cur;
    else break;
  }
  list.insertBefore(node, before);
}

/** Consecutive messages of one author within a few minutes share one header. */
function regroup(li) {
  if (!li) return;
  const prev = li.previousElementSibling;
  const same =
    prev &&
    li.dataset.user &&
    prev.dataset.user === li.dataset.user &&
    Math.abs(Date.parse(li.dataset.ts) - Date.parse(prev.dataset.ts)) < GROUP_WINDOW_MS;
  li.classList.toggle("cont", Boolean(same));
}

function nearBottom() {
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToEnd() {
  list.scrollTop = list.scrollHeight;
}

function showMessage(message) {
  const stick = nearBottom() || message.user === me;
  const pending = message.user === me ? findPending(message.client_id) : null;
  if (findById(message.id)) {
    pending?.remove(); // already shown (a replay of our own message): drop the bubble
    return;
  }
  const node = messageNode(message);
  if (pending) pending.replaceWith(node);
  else insertSorted(node, message.id);
  regroup(node);
  regroup(node.nextElementSibling);
  emptyNote.hidden = true;
  if (stick) scrollToEnd();
  if (document.visibilityState === "hidden" && message.user !== me) {
    unread += 1;
    document.title = `(${unread}) ${baseTitle}`;
  }
}

function showPending(item) {
  const node = messageNode({ user: me, body: item.body, client_id: item.client_id, ts: new Date().toISOString() }, true);
  list.append(node);
  regroup(node);
  emptyNote.hidden = true;
  scrollToEnd();
}

// -- presence and typing ------------------------------------------------------------------

function renderPresence() {
  const users = [...online].sort((a, b) => (a === me ? -1 : b === me ? 1 : a.localeCompare(b)));
  presenceList.replaceChildren(
    ...users.map((user) =>
      el(
        "li",
        { dataset: { user } },
        avatar(user, "avatar-sm"),
        el("span", { class: "name" }, user),
        user === me ? el("span", { class: "you" }, "you") : null,
        typing.has(user) ? el("span", { class: "typing-dot", title: "typing" }) : null,
      ),
    ),
  );
  onlineCount.textContent = String(users.length);
  // Small screens hide the sidebar; the header keeps a glance of who is here.
  presenceMini.replaceChildren(...users.slice(0, 4).map((user) => avatar(user, "avatar-xs")));
  presenceMini.title = users.join(", ");
}

function renderTyping() {
  const names = [...typing.keys()];
  typingLine.dataset.users = names.join(",");
  if (!names.length) {
    typingLine.replaceChildren();
    return;
  }
  const who = names.length === 1 ? names[0] : names.length === 2 ? `${names[0]} and ${names[1]}` : "Several people";
  typingLine.replaceChildren(
    el("span", { class: "dots", "aria-hidden": "true" }, el("i"), el("i"), el("i")),
    el("span", {}, `${who} ${names.length === 1 ? "is" : "are"} typing…`),
  );
}

function setTyping(user, on) {
  clearTimeout(typing.get(user));
  if (on) typing.set(user, setTimeout(() => setTyping(user, false), TYPING_SHOW_FOR_MS));
  else typing.delete(user);
  renderTyping();
  renderPresence();
}

// -- connection status --------------------------------------------------------------------

function setBadge(status, text, title = "") {
  badge.dataset.status = status;
  badgeText.textContent = text;
  badge.title = title;
}

function showNotice(text, kind = "info") {
  notice.hidden = !text;
  notice.dataset.kind = kind;
  notice.textContent = text;
}

function updateOutbox() {
  const waiting = socket.outbox.length;
  facts.outbox.textContent = waiting ? `${waiting} waiting` : "empty";
  outboxHint.hidden = !waiting;
  outboxHint.textContent = waiting ? ` · ${waiting} waiting to send` : "";
  facts.since.textContent = socket.lastId ?? "—";
}

function onStatus(detail) {
  clearInterval(countdown);
  const { status, code, reason, delay } = detail;
  if (status === "connecting") setBadge("connecting", "Connecting…");
  if (status === "live") {
    if (everLive) reconnects += 1;
    everLive = true;
    facts.reconnects.textContent = String(reconnects);
    facts.protocol.textContent = detail.protocol || "—";
    setBadge("live", "Live", `Connected to ${wsPath}`);
    showNotice("");
    presenceList.classList.remove("stale");
  }
  if (status === "reconnecting") {
    presenceList.classList.add("stale");
    typing.forEach((_, user) => setTyping(user, false));
    const why = code ? `Connection lost (${code}${reason ? `: ${reason}` : ""}).` : "";
    if (delay) {
      const until = Date.now() + delay;
      const tick = () => {
        const seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        setBadge("reconnecting", seconds ? `Reconnecting in ${seconds}s` : "Reconnecting…", why);
      };
      tick();
      countdown = setInterval(tick, 250);
    } else {
      setBadge("reconnecting", "Reconnecting…", why);
    }
  }
  if (status === "closed") {
    const text = reason || closedReason || CLOSE_REASONS[code] || "Disconnected.";
    setBadge("closed", `Closed: ${text}`, `Close code ${code}`);
    showNotice(`${text} (close code ${code})`, "error");
    input.disabled = true;
    form.querySelector("button").disabled = true;
    online.clear();
    renderPresence();
  }
  updateOutbox();
}

// -- incoming frames ----------------------------------------------------------------------

function onMessage(frame) {
  switch (frame?.type) {
    case "history":
      frame.messages.forEach(showMessage);
      if (frame.truncated) showNotice("You were away for a while: only the latest missed messages are shown. Reload for the full history.");
      break;
    case "chat.message":
      setTyping(frame.user, false);
      showMessage(frame);
      break;
    case "presence.state":
      online.clear();
      frame.users.forEach((user) => online.add(user));
      renderPresence();
      break;
    case "presence.diff":
      frame.joins.forEach((user) => online.add(user));
      frame.leaves.forEach((user) => {
        online.delete(user);
        if (typing.has(user)) setTyping(user, false);
      });
      renderPresence();
      break;
    case "typing":
      if (frame.user !== me) setTyping(frame.user, true);
      break;
    case "room.closed":
      closedReason = frame.reason;
      break;
    case "error":
      showNotice(frame.message, "error");
      setTimeout(() => notice.textContent === frame.message && showNotice(""), 5000);
      break;
    default:
      break;
  }
  updateOutbox();
}

function onAck({ ack, item }) {
  if (item) showMessage({ id: ack.id, room, user: me, body: item.body, client_id: item.client_id, ts: new Date().toISOString() });
  updateOutbox();
}

// -- composer -----------------------------------------------------------------------------

function autosize() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 180)}px`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = input.value.trim();
  if (!body || input.disabled) return;
  if (body.length > maxLength) {
    showNotice(`Messages are at most ${maxLength} characters.`, "error");
    return;
  }
  const clientId = socket.post({ type: "chat.message", body });
  showPending({ body, client_id: clientId });
  input.value = "";
  lastTypingSent = 0; // the others cleared our typing line on this message: announce the next
  autosize();
  updateOutbox();
  input.focus();
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});

input.addEventListener("input", () => {
  autosize();
  const now = Date.now();
  if (input.value.trim() && now - lastTypingSent > TYPING_SEND_EVERY_MS && socket.send({ type: "typing" })) {
    lastTypingSent = now;
  }
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    unread = 0;
    document.title = baseTitle;
  }
});

// -- start --------------------------------------------------------------------------------

for (const li of list.children) {
  setTime(li.querySelector("time"), li.dataset.ts);
  regroup(li);
}
scrollToEnd();

const renderedIds = [...list.children].map((li) => Number(li.dataset.id));
const socket = new WsappSocket(wsPath, {
  subprotocols: [subprotocol],
  lastId: root.dataset.lastId ? Number(root.dataset.lastId) : null,
  seen: renderedIds,
  persist: `wsapp.outbox.${room}`,
  onStatus,
  onMessage,
  onAck,
});
socket.outbox.forEach(showPending); // typed before a reload, still unacknowledged
socket.connect();
window.wsappChat = socket; // for the curious, in the devtools console
