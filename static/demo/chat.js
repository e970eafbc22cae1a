/**
 * The chat page: every room the user may enter, over ONE socket (docs/topics.md).
 *
 * wsapp.js's TopicSocket does the generic work (reconnect, resubscribe with `since` per room,
 * an outbox per room, dedupe by id); this file only knows the chat's frames and the page. Each
 * room of the sidebar is a topic of the one socket, with its own message list (only the room in
 * view is in the document, as `#messages`), presence, typing line and unread count; switching
 * rooms swaps the list and the URL (history.pushState), never the socket. The server renders the
 * recent history of the room the page was opened on, so that topic resumes after the last id it
 * rendered and the first paint needs no round trip. User text only ever reaches the page as text
 * nodes (see ui.js's el()).
 */
import { CloseCode, TopicSocket } from "wsapp";
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
  [CloseCode.ROOM_FULL]: "This room is full.",
};

const root = document.getElementById("chat");
const { wsPath, subprotocol, me } = root.dataset;
const maxLength = Number(root.dataset.maxLength);
const emptyNote = document.getElementById("empty-room");
const badge = document.getElementById("connection");
const badgeText = badge.querySelector(".badge-text");
const notice = document.getElementById("notice");
const typingLine = document.getElementById("typing");
const presenceList = document.getElementById("presence");
const onlineCount = document.getElementById("online-count");
const presenceMini = document.getElementById("presence-mini");
const roomTitle = document.getElementById("room-title");
const roomDesc = document.getElementById("room-desc");
const form = document.getElementById("composer");
const input = document.getElementById("composer-input");
const sendButton = form.querySelector("button");
const outboxHint = document.getElementById("outbox-hint");
const facts = {
  protocol: document.getElementById("fact-protocol"),
  since: document.getElementById("fact-since"),
  outbox: document.getElementById("fact-outbox"),
  reconnects: document.getElementById("fact-reconnects"),
  topics: document.getElementById("fact-topics"),
};

let countdown = null;
let everLive = false;
let reconnects = 0;
let hiddenUnread = 0;
let socketClosed = null; // {code, reason} once the socket closed for good
let current = null; // the room in view

// -- rooms --------------------------------------------------------------------------------

/** A room of the sidebar: its link, its message list, who is here, its subscription's state. */
function makeRoom(link) {
  return {
    slug: link.dataset.room,
    title: link.dataset.title,
    description: link.dataset.description,
    link,
    unreadBadge: link.querySelector(".unread"),
    list: el("ol", { class: "messages", "aria-label": "Messages" }),
    online: new Set(),
    typing: new Map(), // username → timeout id
    lastTypingSent: 0,
    unread: 0,
    primed: false, // its first history is in: later messages count as unread
    closedReason: "",
    ended: null, // {code, text} once the subscription was refused or ended by the server
    topic: null,
  };
}

const rooms = new Map([...document.querySelectorAll(".rooms-rail a[data-room]")].map((a) => [a.dataset.room, makeRoom(a)]));

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

function findById(room, id) {
  return [...room.list.children].find((li) => li.dataset.id === String(id)) ?? null;
}

function findPending(room, clientId) {
  if (!clientId) return null;
  return [...room.list.querySelectorAll("li.pending")].find((li) => li.dataset.clientId === clientId) ?? null;
}

/** Place `node` in id order, before any pending (unacknowledged) bubbles. */
function insertSorted(list, node, id) {
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

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToEnd(list) {
  list.scrollTop = list.scrollHeight;
}

/** Show `message` in its room once; `count` says whether it may count as unread. */
function showMessage(room, message, count = true) {
  const stick = nearBottom(room.list) || message.user === me;
  const pending = message.user === me ? findPending(room, message.client_id) : null;
  if (findById(room, message.id)) {
    pending?.remove(); // already shown (a replay of our own message): drop the bubble
    return;
  }
  const node = messageNode(message);
  if (pending) pending.replaceWith(node);
  else insertSorted(room.list, node, message.id);
  regroup(node);
  regroup(node.nextElementSibling);
  if (room === current) {
    emptyNote.hidden = true;
    if (stick) scrollToEnd(room.list);
  }
  if (!count || message.user === me) return;
  if (room !== current) {
    room.unread += 1;
    renderUnread(room);
  } else if (document.visibilityState === "hidden") {
    hiddenUnread += 1;
    renderTitle();
  }
}

function showPending(room, item) {
  const node = messageNode({ user: me, body: item.body, client_id: item.client_id, ts: new Date().toISOString() }, true);
  room.list.append(node);
  regroup(node);
  if (room === current) {
    emptyNote.hidden = true;
    scrollToEnd(room.list);
  }
}

function renderUnread(room) {
  room.unreadBadge.textContent = room.unread ? String(room.unread) : "";
  room.unreadBadge.hidden = !room.unread;
  room.link.dataset.unread = String(room.unread);
}

function renderTitle() {
  const base = `#${current.slug} · wsapp demo`;
  document.title = hiddenUnread ? `(${hiddenUnread}) ${base}` : base;
}

// -- presence and typing ------------------------------------------------------------------

function renderPresence() {
  const users = [...current.online].sort((a, b) => (a === me ? -1 : b === me ? 1 : a.localeCompare(b)));
  presenceList.replaceChildren(
    ...users.map((user) =>
      el(
        "li",
        { dataset: { user } },
        avatar(user, "avatar-sm"),
        el("span", { class: "name" }, user),
        user === me ? el("span", { class: "you" }, "you") : null,
        current.typing.has(user) ? el("span", { class: "typing-dot", title: "typing" }) : null,
      ),
    ),
  );
  onlineCount.textContent = String(users.length);
  // Small screens hide the sidebar; the header keeps a glance of who is here.
  presenceMini.replaceChildren(...users.slice(0, 4).map((user) => avatar(user, "avatar-xs")));
  presenceMini.title = users.join(", ");
}

function renderTyping() {
  const names = [...current.typing.keys()];
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

function setTyping(room, user, on) {
  clearTimeout(room.typing.get(user));
  if (on) room.typing.set(user, setTimeout(() => setTyping(room, user, false), TYPING_SHOW_FOR_MS));
  else room.typing.delete(user);
  room.link.classList.toggle("is-typing", room.typing.size > 0);
  if (room !== current) return;
  renderTyping();
  renderPresence();
}

function setPresence(room, users) {
  room.online = new Set(users);
  for (const user of room.typing.keys()) if (!room.online.has(user)) setTyping(room, user, false);
  if (room === current) renderPresence();
}

// -- status: the socket's, and the room in view's -----------------------------------------

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

/** A passing error (a refused message, a rate limit): shown for a few seconds. */
function flashError(text) {
  showNotice(text, "error");
  setTimeout(() => {
    if (notice.textContent !== text) return;
    showNotice("");
    renderRoomState(); // the room's own notice, if it has one, comes back
  }, 5000);
}

function updateFacts() {
  const waiting = current.topic.outbox.length;
  const total = socket.outbox.length;
  facts.outbox.textContent = total ? `${total} waiting` : "empty";
  outboxHint.hidden = !waiting;
  outboxHint.textContent = waiting ? ` · ${waiting} waiting to send` : "";
  facts.since.textContent = current.topic.lastId ?? "—";
  facts.topics.textContent = String([...rooms.values()].filter((room) => room.topic.status === "live").length);
}

/** The notice and the composer for the room in view: why it cannot be used, if it cannot. */
function renderRoomState() {
  const ended = socketClosed ?? current.ended;
  input.disabled = sendButton.disabled = Boolean(ended);
  if (ended) showNotice(`${ended.text} (close code ${ended.code})`, "error");
  else if (notice.dataset.kind === "error" && notice.dataset.sticky) showNotice("");
  notice.dataset.sticky = ended ? "1" : "";
  updateFacts();
}

function onTopicStatus(room, detail) {
  const { status, code } = detail;
  room.link.dataset.status = status;
  if (!current) return; // subscribe() reports "subscribing" before the page is set up
  if (status === "refused" || (status === "unsubscribed" && code !== CloseCode.NORMAL_CLOSURE)) {
    const text = detail.message || detail.reason || room.closedReason || CLOSE_REASONS[code] || "You left this room.";
    room.ended = { code, text };
    room.online.clear();
    if (room === current) renderPresence();
  }
  if (room === current) renderRoomState();
  else updateFacts();
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
    if (!current.ended) showNotice("");
    presenceList.classList.remove("stale");
  }
  if (status === "reconnecting") {
    presenceList.classList.add("stale");
    for (const room of rooms.values()) room.typing.forEach((_, user) => setTyping(room, user, false));
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
    const text = reason || CLOSE_REASONS[code] || "Disconnected.";
    socketClosed = { code, text };
    setBadge("closed", `Closed: ${text}`, `Close code ${code}`);
    for (const room of rooms.values()) room.online.clear();
    renderPresence();
    renderRoomState();
  }
  updateFacts();
}

// -- incoming frames, per room ------------------------------------------------------------

function onHistory(room, { messages, truncated }) {
  // The first history of a room not in view is its recent past, not news: no unread count.
  messages.forEach((message) => showMessage(room, message, room.primed));
  room.primed = true;
  if (truncated && room === current) {
    showNotice("You were away for a while: only the latest missed messages are shown. Reload for the full history.");
  }
}

function onMessage(room, frame) {
  switch (frame?.type) {
    case "chat.message":
      setTyping(room, frame.user, false);
      showMessage(room, frame); // a history message was shown by onHistory: a no-op then
      break;
    case "room.closed":
      room.closedReason = frame.reason;
      break;
    case "error":
      if (room === current) flashError(frame.message);
      break;
    default:
      break;
  }
  updateFacts();
}

function onAck(room, { ack, item }) {
  if (item) showMessage(room, { id: ack.id, room: room.slug, user: me, body: item.body, client_id: item.client_id, ts: new Date().toISOString() });
  updateFacts();
}

// -- switching rooms ----------------------------------------------------------------------

/** Put `room` in view: its list, header, presence and typing line; the socket stays. */
function view(room) {
  const previous = current;
  current = room;
  if (previous) {
    previous.list.removeAttribute("id");
    previous.list.replaceWith(room.list);
    previous.link.removeAttribute("aria-current");
  }
  room.list.id = "messages";
  room.link.setAttribute("aria-current", "page");
  room.unread = 0;
  renderUnread(room);
  roomTitle.replaceChildren(el("span", { class: "room-hash", "aria-hidden": "true" }, "#"), room.title);
  roomDesc.textContent = room.description;
  roomDesc.hidden = !room.description;
  input.placeholder = `Message #${room.slug}`;
  emptyNote.hidden = room.list.children.length > 0;
  root.dataset.room = room.slug;
  hiddenUnread = 0;
  renderTitle();
  renderPresence();
  renderTyping();
  if (!room.ended && !socketClosed) showNotice("");
  renderRoomState();
  scrollToEnd(room.list);
}

for (const room of rooms.values()) {
  room.link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    if (room === current) return;
    view(room);
    history.pushState({ room: room.slug }, "", room.link.href);
    input.focus();
  });
}

window.addEventListener("popstate", (event) => {
  const room = rooms.get(event.state?.room ?? root.dataset.initialRoom);
  if (room && room !== current) view(room);
});

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
  const clientId = current.topic.post({ type: "chat.message", body });
  showPending(current, { body, client_id: clientId });
  input.value = "";
  current.lastTypingSent = 0; // the others cleared our typing line on this message: announce the next
  autosize();
  updateFacts();
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
  if (input.value.trim() && now - current.lastTypingSent > TYPING_SEND_EVERY_MS && current.topic.send({ type: "typing" })) {
    current.lastTypingSent = now;
  }
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    hiddenUnread = 0;
    renderTitle();
  }
});

// -- start --------------------------------------------------------------------------------

const first = rooms.get(root.dataset.room);
const rendered = document.getElementById("messages");
for (const li of rendered.children) {
  setTime(li.querySelector("time"), li.dataset.ts);
  regroup(li);
}
first.list = rendered; // the server rendered this room's recent history
first.primed = true;
root.dataset.initialRoom = first.slug;
history.replaceState({ room: first.slug }, "", location.href);

const socket = new TopicSocket(wsPath, {
  subprotocols: [subprotocol],
  persist: "wsapp.outbox", // one sessionStorage key per room: wsapp.outbox.<slug>
  onStatus,
  onMessage: (frame) => frame?.type === "error" && flashError(frame.message), // not about one room
});
for (const room of rooms.values()) {
  const options = { onStatus: (detail) => onTopicStatus(room, detail) };
  if (room === first) {
    options.lastId = root.dataset.lastId ? Number(root.dataset.lastId) : null;
    options.seen = [...rendered.children].map((li) => Number(li.dataset.id));
  }
  room.topic = socket.subscribe(room.slug, options);
  room.topic.addEventListener("history", (e) => onHistory(room, e.detail));
  room.topic.addEventListener("message", (e) => onMessage(room, e.detail));
  room.topic.addEventListener("presence", (e) => setPresence(room, e.detail.users));
  room.topic.addEventListener("typing", (e) => e.detail.user !== me && setTyping(room, e.detail.user, true));
  room.topic.addEventListener("ack", (e) => onAck(room, e.detail));
  room.topic.outbox.forEach((item) => showPending(room, item)); // typed before a reload, still unacknowledged
}
view(first);
socket.connect();
window.wsappChat = socket; // for the curious, in the devtools console
