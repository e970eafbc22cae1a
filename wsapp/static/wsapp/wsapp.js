/**
 * wsapp.js — the browser client wsapp ships. An ES module, no build step, no dependencies.
 *
 *   import { connect } from "/static/wsapp/wsapp.js";
 *   const socket = connect("/ws/chat/lobby/", { subprotocols: ["wsapp.v1"] });
 *   socket.addEventListener("status", (e) => console.log(e.detail.status));   // connecting · live · reconnecting · closed
 *   socket.addEventListener("message", (e) => console.log(e.detail));         // each frame, deduplicated by id
 *   socket.addEventListener("ack", (e) => console.log(e.detail.item, e.detail.ack.id));
 *   socket.post({ type: "chat.message", body: "hi" });   // kept in the outbox until acknowledged
 *   socket.send({ type: "typing" });                      // volatile: dropped when not live
 *
 * Many rooms over one socket (wsapp.rooms.TopicConsumer, docs/topics.md):
 *
 *   import { connectTopics } from "/static/wsapp/wsapp.js";
 *   const socket = connectTopics("/ws/topics/", { subprotocols: ["wsapp.v1"] });
 *   const lobby = socket.subscribe("lobby");               // a Topic: its own events and outbox
 *   lobby.addEventListener("message", (e) => console.log(e.detail));   // history and live, each id once
 *   lobby.post({ type: "chat.message", body: "hi" });      // the topic is added to the frame
 *
 * What it promises, and why:
 * - Reconnect with capped exponential backoff and jitter, only after the close codes that mean
 *   "try again" (1001, 1006, 1011, 1012, 1013: wsapp.codes.RECONNECT_CODES); never after 1000
 *   or an application 4xxx code, which say "don't" (logged out, forbidden, room closed, rate
 *   limited, room full).
 * - Resume: every reconnect asks for `?since=<highest id seen>` (a topic: `since` in its
 *   `subscribe` frame), so the server replays what this page missed; frames (and `history`
 *   lists) whose id was seen are dropped, so nothing shows twice.
 * - Outbox: `post()` keeps a frame, keyed by its `client_id`, until an ack names that
 *   `client_id`; after a reconnect every unacknowledged frame is re-sent with the same
 *   `client_id`, which the server stores once. Nothing typed is lost, nothing doubles.
 *
 * The chat protocol's names (`chat.ack`, `client_id`, `id`, `since`, `messages`) are defaults;
 * the `ack` and `resume` options rename them for other protocols.
 */

/** wsapp's close codes (wsapp/codes.py), so pages never compare with bare numbers. */
export const CloseCode = Object.freeze({
  NORMAL_CLOSURE: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS_RECEIVED: 1005,
  ABNORMAL_CLOSURE: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  BAD_REQUEST: 4400,
  NOT_AUTHENTICATED: 4401,
  FORBIDDEN: 4403,
  ROOM_NOT_FOUND: 4404,
  TOO_MANY_CONNECTIONS: 4409,
  ROOM_CLOSED: 4410,
  RATE_LIMITED: 4429,
  ROOM_FULL: 4503,
});

/** The close codes after which a client reconnects (wsapp.codes.RECONNECT_CODES). */
export const RECONNECT_CODES = Object.freeze([
  CloseCode.GOING_AWAY,
  CloseCode.ABNORMAL_CLOSURE,
  CloseCode.INTERNAL_ERROR,
  CloseCode.SERVICE_RESTART,
  CloseCode.TRY_AGAIN_LATER,
]);

/** Whether a close with `code` should be followed by a reconnect. */
export function shouldReconnect(code) {
  return RECONNECT_CODES.includes(code);
}

export const DEFAULT_BACKOFF = Object.freeze({ initial: 500, max: 10000, factor: 2, jitter: 0.5 });

/**
 * Milliseconds to wait before reconnect attempt number `attempt` (0-based): exponential,
 * capped at `max`, then shortened by up to `jitter` (a fraction) so that a thousand pages
 * dropped by one restart do not all come back in the same millisecond.
 */
export function backoffDelay(attempt, backoff = DEFAULT_BACKOFF, random = Math.random) {
  const { initial, max, factor, jitter } = { ...DEFAULT_BACKOFF, ...backoff };
  const ceiling = Math.min(max, initial * factor ** Math.max(0, attempt));
  return Math.round(ceiling * (1 - jitter * random()));
}

/** A random UUID v4; `crypto.randomUUID` only exists in secure contexts (https, localhost). */
export function randomId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `path` (or a full URL) as an absolute ws:// or wss:// URL on this page's host. */
export function wsUrl(path, base = globalThis.location?.href) {
  const url = new URL(path, base);
  if (url.protocol === "http:") url.protocol = "ws:";
  if (url.protocol === "https:") url.protocol = "wss:";
  return url;
}

/** Thrown by `fetchToken` when the session is not logged in: reconnecting cannot help. */
export class NotAuthenticated extends Error {}

/**
 * A connection token from wsapp's token view (`/wsapp/token/`), for the `token` option when
 * the socket cannot carry the session cookie (another host, a worker).
 */
export async function fetchToken(url = "/wsapp/token/") {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    cache: "no-store",
  });
  if (response.status === 401) throw new NotAuthenticated("Log in to connect.");
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return (await response.json()).token;
}

const TOKEN_MARKER = "wsapp.token";
const TOKEN_PREFIX = "wsapp.token.";
const SEEN_LIMIT = 5000;
const OUTBOX_LIMIT = 1000;
const DEFAULT_ACK = Object.freeze({ type: "chat.ack", key: "client_id" });
const DEFAULT_RESUME = Object.freeze({ param: "since", idKey: "id", listKey: "messages" });

// -- one stream's bookkeeping: shared by a WsappSocket and by each Topic ---------------------

/** The ids a stream has seen (the most recent SEEN_LIMIT of them) and its resume point. */
class SeenIds {
  constructor(ids = [], lastId = null) {
    this.lastId = lastId;
    this._set = new Set();
    this._order = [];
    ids.forEach((id) => this.mark(id));
  }

  has(id) {
    return this._set.has(id);
  }

  mark(id) {
    if (this._set.has(id)) return;
    this._set.add(id);
    this._order.push(id);
    if (this._order.length > SEEN_LIMIT) this._set.delete(this._order.shift());
  }

  /** Whether `item` (a frame or a history entry) is new; records its id and moves `lastId`. */
  isNew(item, idKey) {
    const id = item?.[idKey];
    if (id == null) return true;
    if (this._set.has(id)) return false;
    this.mark(id);
    if (typeof id === "number" && (this.lastId === null || id > this.lastId)) this.lastId = id;
    return true;
  }
}

/** Posted frames by key until acknowledged; kept in `sessionStorage` under `persist` if given. */
class Outbox {
  constructor(key, persist) {
    this.key = key;
    this.persist = persist;
    this._items = new Map(this._restore());
  }

  get size() {
    return this._items.size;
  }

  has(id) {
    return this._items.has(id);
  }

  get(id) {
    return this._items.get(id);
  }

  values() {
    return [...this._items.values()];
  }

  /** Keep `data` under its key (one is made if it has none); returns the kept frame. */
  add(data) {
    if (this._items.size >= OUTBOX_LIMIT) throw new Error(`The outbox is full (${OUTBOX_LIMIT} unacknowledged).`);
    const item = { ...data, [this.key]: data[this.key] ?? randomId() };
    this._items.set(item[this.key], item);
    this._save();
    return item;
  }

  delete(id) {
    const removed = this._items.delete(id);
    this._save();
    return removed;
  }

  _restore() {
    if (!this.persist) return [];
    try {
      const items = JSON.parse(globalThis.sessionStorage.getItem(this.persist) ?? "[]");
      return items.map((item) => [item[this.key], item]);
    } catch {
      return [];
    }
  }

  _save() {
    if (!this.persist) return;
    try {
      if (this._items.size) globalThis.sessionStorage.setItem(this.persist, JSON.stringify(this.values()));
      else globalThis.sessionStorage.removeItem(this.persist);
    } catch {
      // Storage full or disabled: the in-memory outbox still covers reconnects.
    }
  }
}

/**
 * What a stream does with its frames: acks take posted frames out of the outbox, an `error`
 * naming a posted key refuses it for good, and frames (or `history` lists) carrying an id
 * already seen are dropped.
 */
class Delivery {
  constructor({ ack, resume, lastId = null, seen = [], persist = null }) {
    this.ack = ack;
    this.resume = resume;
    this.seen = new SeenIds(seen, lastId);
    this.outbox = new Outbox(ack.key, persist);
  }

  isAck(data) {
    return data?.type === this.ack.type && data[this.ack.key] != null;
  }

  /** The `ack` event's detail for an ack frame; the frame leaves the outbox. */
  acknowledge(data) {
    const key = data[this.ack.key];
    const item = this.outbox.get(key) ?? null;
    this.outbox.delete(key);
    const id = this.resume ? data[this.resume.idKey] : undefined;
    const duplicate = id != null && this.seen.has(id);
    // Seen, so the replay of our own message after a reconnect is dropped; but lastId does not
    // move: a message with a smaller id may still be on its way to us.
    if (id != null) this.seen.mark(id);
    return { ack: data, item, duplicate };
  }

  /** The `rejected` event's detail if `data` is an `error` naming a posted frame, else null. */
  refusal(data) {
    const key = data?.[this.ack.key];
    if (data?.type !== "error" || key == null || !this.outbox.has(key)) return null;
    // The server refused this posted frame for good: resending it would only fail again.
    const item = this.outbox.get(key);
    this.outbox.delete(key);
    return { error: data, item };
  }

  /** `data` with its list filtered to new entries, or null if the frame itself was seen. */
  fresh(data) {
    const { resume } = this;
    if (!resume || !data) return data;
    if (Array.isArray(data[resume.listKey])) {
      return { ...data, [resume.listKey]: data[resume.listKey].filter((item) => this.seen.isNew(item, resume.idKey)) };
    }
    return this.seen.isNew(data, resume.idKey) ? data : null;
  }
}

/** Call `options.onX(detail)` for each `x` event of `target` that has such an option. */
function bindHandlers(target, options, names) {
  for (const name of names) {
    const handler = options[`on${name[0].toUpperCase()}${name.slice(1)}`];
    if (handler) target.addEventListener(name, (event) => handler(event.detail));
  }
}

// -- the socket that comes back -------------------------------------------------------------

/**
 * A WebSocket that reconnects: status events, backoff, the token subprotocol. What a frame
 * means is the subclass's: `_frame(data)` gets each JSON frame, `_live()` runs on every open.
 */
class ReconnectingSocket extends EventTarget {
  constructor(url, options = {}, defaults = {}) {
    super();
    this.url = url;
    this.options = {
      subprotocols: [],
      token: null,
      backoff: DEFAULT_BACKOFF,
      maxRetries: Infinity,
      WebSocket: globalThis.WebSocket,
      ...defaults,
      ...options,
    };
    this.status = "idle";
    this.attempt = 0;
    this.ws = null;
    this._timer = null;
    this._stopped = false;
    bindHandlers(this, options, ["status", "message", "ack"]);
    // A pending reconnect need not wait out its backoff once the network or the tab is back.
    this._wake = () => globalThis.document?.visibilityState !== "hidden" && this.reconnectNow();
    globalThis.addEventListener?.("online", this._wake);
    globalThis.document?.addEventListener("visibilitychange", this._wake);
  }

  /** Open the connection (again, after `close()`). */
  connect() {
    if (this.status === "connecting" || this.status === "live") return this;
    if (this.status === "reconnecting") {
      this.reconnectNow();
      return this;
    }
    this._stopped = false;
    this.attempt = 0;
    this._open();
    return this;
  }

  /** Close for good: no reconnect. The outbox is kept for a later `connect()`. */
  close(code = CloseCode.NORMAL_CLOSURE, reason = "") {
    this._stopped = true;
    clearTimeout(this._timer);
    this._timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close(code, reason);
    this._setStatus("closed", { code, reason, byClient: true });
  }

  /** Skip the wait: reconnect now if a reconnect is pending (the network came back, say). */
  reconnectNow() {
    if (this.status !== "reconnecting" || this._timer === null) return;
    clearTimeout(this._timer);
    this._timer = null;
    this._open();
  }

  /** Send `data` now if live; returns false (and drops it) otherwise. For volatile frames. */
  send(data) {
    if (this.status !== "live" || !this.ws) return false;
    this.ws.send(typeof data === "string" ? data : JSON.stringify(data));
    return true;
  }

  async _open() {
    this._setStatus(this.attempt === 0 && this.status !== "reconnecting" ? "connecting" : "reconnecting", {
      attempt: this.attempt,
    });
    let protocols = [...this.options.subprotocols];
    try {
      const token = await this._token();
      if (token) protocols = [...protocols, TOKEN_MARKER, TOKEN_PREFIX + token];
    } catch (error) {
      if (this._stopped) return;
      if (error instanceof NotAuthenticated) {
        this._finish(CloseCode.NOT_AUTHENTICATED, error.message);
      } else {
        this._retry(CloseCode.ABNORMAL_CLOSURE, String(error.message ?? error));
      }
      return;
    }
    if (this._stopped) return;
    const ws = new this.options.WebSocket(this._url().href, protocols);
    this.ws = ws;
    ws.onopen = () => ws === this.ws && this._onOpen();
    ws.onmessage = (event) => ws === this.ws && this._receive(event.data);
    ws.onclose = (event) => ws === this.ws && this._onClose(event);
  }

  async _token() {
    const { token } = this.options;
    return typeof token === "function" ? await token() : token;
  }

  _url() {
    return wsUrl(this.url);
  }

  _onOpen() {
    this.attempt = 0;
    this._setStatus("live", { protocol: this.ws.protocol, url: this.ws.url });
    this._live();
  }

  _live() {}

  _onClose(event) {
    this.ws = null;
    if (this._stopped) return;
    if (shouldReconnect(event.code)) this._retry(event.code, event.reason);
    else this._finish(event.code, event.reason);
  }

  _retry(code, reason) {
    if (this.attempt >= this.options.maxRetries) {
      this._finish(code, reason || "Gave up reconnecting.");
      return;
    }
    const delay = backoffDelay(this.attempt, this.options.backoff);
    this.attempt += 1;
    this._setStatus("reconnecting", { code, reason, attempt: this.attempt, delay });
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._timer = null;
      this._open();
    }, delay);
  }

  _finish(code, reason) {
    this._stopped = true;
    this._setStatus("closed", { code, reason });
  }

  _setStatus(status, detail = {}) {
    this.status = status;
    this._emit("status", { status, ...detail });
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  _receive(text) {
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      this._emit("message", text);
      return;
    }
    this._frame(data);
  }

  _frame(data) {
    this._emit("message", data);
  }
}

/**
 * A WebSocket that comes back: status events, resume, deduplication and an outbox.
 *
 * Events (`addEventListener`, or the `onStatus`/`onMessage`/`onAck` options):
 * - `status`:  `{status, code, reason, attempt, delay}`; status is `connecting`, `live`,
 *   `reconnecting` (delay = ms until the next attempt) or `closed` (code + reason: final).
 * - `message`: each incoming JSON frame not seen before (a `history`-style list is filtered).
 * - `ack`:     `{ack, item, duplicate}` when the server acknowledges a posted frame.
 * - `rejected`: `{error, item}` when an `error` frame names a posted frame's key: it leaves the
 *   outbox (the `error` frame is also emitted as a `message`).
 */
export class WsappSocket extends ReconnectingSocket {
  constructor(url, options = {}) {
    super(url, options, { lastId: null, seen: [], persist: null });
    this.options.ack = { ...DEFAULT_ACK, ...options.ack };
    this.options.resume = options.resume === false ? false : { ...DEFAULT_RESUME, ...options.resume };
    const { ack, resume, lastId, seen, persist } = this.options;
    this._delivery = new Delivery({ ack, resume, lastId, seen, persist });
  }

  /** The resume point: the highest message id seen (null before any). */
  get lastId() {
    return this._delivery.seen.lastId;
  }

  /**
   * Send `data` reliably: it gets a `client_id` (unless it has one), stays in the outbox until
   * acknowledged and is re-sent after every reconnect. Returns the `client_id`.
   */
  post(data) {
    const item = this._delivery.outbox.add(data);
    this.send(item);
    return item[this.options.ack.key];
  }

  /** Unacknowledged posted frames, oldest first. */
  get outbox() {
    return this._delivery.outbox.values();
  }

  /** Give up on a posted frame (e.g. the server answered it with an error). */
  discard(clientId) {
    return this._delivery.outbox.delete(clientId);
  }

  _url() {
    const url = wsUrl(this.url);
    const { resume } = this.options;
    if (resume && this.lastId !== null) url.searchParams.set(resume.param, String(this.lastId));
    return url;
  }

  _live() {
    for (const item of this._delivery.outbox.values()) this.ws.send(JSON.stringify(item));
  }

  _frame(data) {
    const delivery = this._delivery;
    if (delivery.isAck(data)) {
      this._emit("ack", delivery.acknowledge(data));
      return;
    }
    const refused = delivery.refusal(data);
    if (refused) this._emit("rejected", refused);
    const fresh = delivery.fresh(data);
    if (fresh !== null) this._emit("message", fresh);
  }
}

/** `new WsappSocket(url, options).connect()`. */
export function connect(url, options = {}) {
  return new WsappSocket(url, options).connect();
}

// -- many topics over one socket (docs/topics.md) ---------------------------------------------

/**
 * One subscription of a TopicSocket: a room's frames, presence, outbox and resume point.
 *
 * Events (`addEventListener`, or `onMessage`/`onStatus`/... options of `subscribe()`):
 * - `status`: `{status, ...}`; `subscribing` (sent, or waiting for the socket; after a
 *   `subscribe.refused` with a try-again code, with its `code` and the retry `delay`), `live`,
 *   `refused` `{code, error, message}` (not retried), `unsubscribed` `{code, reason}` (by the
 *   client, 1000, or by the server: 4410 room closed, 4403 removed; not resubscribed), `closed`
 *   `{code, reason}` when the socket closed for good (its `connect()` resubscribes).
 * - `message`: each live frame, and each history message, once per id (its `topic` set).
 * - `history`: `{messages, truncated}`, the new messages of each `history` frame.
 * - `presence`: `{users}`, kept current from `presence.state` and `presence.diff`.
 * - `typing`: the `typing` frame. `ack`: `{ack, item, duplicate}`. `rejected`: `{error, item}`.
 */
export class Topic extends EventTarget {
  constructor(socket, name, options = {}) {
    super();
    this.socket = socket;
    this.name = name;
    this.status = "idle";
    this.users = [];
    this._wanted = false;
    this._attempt = 0;
    this._timer = null;
    const prefix = socket.options.persist;
    const { ack, resume } = socket.options;
    this._delivery = new Delivery({
      ack,
      resume,
      lastId: options.lastId ?? null,
      seen: options.seen ?? [],
      persist: options.persist ?? (prefix ? `${prefix}.${name}` : null),
    });
    bindHandlers(this, options, ["status", "message", "history", "presence", "typing", "ack", "rejected"]);
  }

  /** The resume point: the highest message id seen in this topic (null before any). */
  get lastId() {
    return this._delivery.seen.lastId;
  }

  /** Unacknowledged posted frames of this topic, oldest first. */
  get outbox() {
    return this._delivery.outbox.values();
  }

  /** Send `data` to this topic reliably (see `WsappSocket.post`); returns its `client_id`. */
  post(data) {
    const item = this._delivery.outbox.add({ ...data, topic: this.name });
    if (this.status === "live") this.socket.send(item);
    return item[this.socket.options.ack.key];
  }

  /** Send `data` to this topic now if subscribed; returns false (and drops it) otherwise. */
  send(data) {
    return this.status === "live" && this.socket.send({ ...data, topic: this.name });
  }

  /** Give up on a posted frame. */
  discard(clientId) {
    return this._delivery.outbox.delete(clientId);
  }

  /** Subscribe again (after `unsubscribe()`, a refusal or the server ending it). */
  subscribe() {
    if (this._wanted) return this;
    this._wanted = true;
    this._attempt = 0;
    if (this.socket.status === "live") this._sendSubscribe();
    else this._setStatus("subscribing");
    return this;
  }

  /** Leave the topic; `status` becomes `unsubscribed` once the server confirms. */
  unsubscribe() {
    const was = this._wanted;
    this._wanted = false;
    clearTimeout(this._timer);
    if (was && this.socket.send({ type: "unsubscribe", topic: this.name })) return;
    this._ended({ code: CloseCode.NORMAL_CLOSURE, reason: "" });
  }

  _sendSubscribe() {
    clearTimeout(this._timer);
    this._timer = null;
    const frame = { type: "subscribe", topic: this.name };
    if (this.lastId !== null) frame[this._delivery.resume.param] = this.lastId;
    if (this.status !== "subscribing") this._setStatus("subscribing");
    this.socket.send(frame);
  }

  /** The socket went away: live again (resubscribed) after its reconnect, or closed for good. */
  _offline(detail) {
    if (!this._wanted) return;
    clearTimeout(this._timer);
    if (detail.status === "closed") this._setStatus("closed", { code: detail.code, reason: detail.reason });
    else if (this.status !== "subscribing") this._setStatus("subscribing");
  }

  _frame(data) {
    if (!this._wanted && data.type !== "unsubscribed" && data.type !== "error") return; // a late frame
    switch (data.type) {
      case "subscribed":
        this._attempt = 0;
        this._setStatus("live");
        // With its topic even if it was kept by a single-room page under the same storage key.
        for (const item of this._delivery.outbox.values()) this.socket.send({ ...item, topic: this.name });
        return;
      case "subscribe.refused":
        this._refused(data);
        return;
      case "unsubscribed":
        this._wanted = false;
        this._ended({ code: data.code, reason: data.reason ?? "" });
        return;
      case "history":
        this._history(data);
        return;
      case "presence.state":
        this._presence(data.users);
        break;
      case "presence.diff":
        this._presence([...this.users.filter((u) => !(data.leaves ?? []).includes(u)), ...(data.joins ?? [])]);
        break;
      case "typing":
        this._emit("typing", data);
        break;
      default:
        break;
    }
    this._deliver(data);
  }

  _deliver(data) {
    const delivery = this._delivery;
    if (delivery.isAck(data)) {
      this._emit("ack", delivery.acknowledge(data));
      return;
    }
    if (data.type === "error" && !this._wanted) {
      if (data.code === "not_subscribed") this._ended({ code: CloseCode.NORMAL_CLOSURE, reason: "" });
      return;
    }
    const refused = delivery.refusal(data);
    if (refused) this._emit("rejected", refused);
    const fresh = delivery.fresh(data);
    if (fresh !== null) this._emit("message", fresh);
  }

  _history(data) {
    const fresh = this._delivery.fresh(data);
    const messages = fresh[this._delivery.resume.listKey] ?? [];
    this._emit("history", { messages, truncated: Boolean(data.truncated) });
    for (const message of messages) this._emit("message", { ...message, topic: this.name });
  }

  _presence(users) {
    this.users = [...new Set(users)];
    this._emit("presence", { users: this.users });
  }

  _refused(data) {
    const detail = { code: data.code, error: data.error, message: data.message };
    if (!shouldReconnect(data.code)) {
      this._wanted = false;
      this._setStatus("refused", detail);
      return;
    }
    // 1013: the server cannot take it now (its channel layer is away); ask again later.
    const delay = backoffDelay(this._attempt, this.socket.options.backoff);
    this._attempt += 1;
    this._setStatus("subscribing", { ...detail, delay });
    this._timer = setTimeout(() => this._wanted && this.socket.status === "live" && this._sendSubscribe(), delay);
  }

  _ended(detail) {
    this.users = [];
    if (this.status !== "unsubscribed") this._setStatus("unsubscribed", detail);
  }

  _setStatus(status, detail = {}) {
    this.status = status;
    this._emit("status", { status, ...detail });
  }

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

/**
 * One reconnecting socket carrying any number of topics (wsapp.rooms.TopicConsumer).
 *
 * Its `status` events are WsappSocket's; `message` gets the frames that name no topic this
 * socket subscribed to (connection-level `error` frames, say). After every reconnect each topic
 * still wanted is subscribed again with `since` = its `lastId`, then its outbox is re-sent.
 * Options are WsappSocket's, except `persist`: a key prefix, each topic's outbox kept under
 * `<persist>.<topic>`; and `lastId`/`seen`, which belong to `subscribe()`.
 */
export class TopicSocket extends ReconnectingSocket {
  constructor(url, options = {}) {
    super(url, options, { persist: null });
    this.options.ack = { ...DEFAULT_ACK, ...options.ack };
    this.options.resume = { ...DEFAULT_RESUME, ...options.resume };
    /** The topics by name, in the order they were first subscribed. */
    this.topics = new Map();
    this.addEventListener("status", (event) => {
      if (event.detail.status === "reconnecting" || event.detail.status === "closed") {
        for (const topic of this.topics.values()) topic._offline(event.detail);
      }
    });
  }

  /**
   * The Topic `name`, subscribed (or being subscribed as soon as the socket is live).
   * Options: `lastId` and `seen` (what the page already shows), `persist` (a sessionStorage
   * key for the outbox), `onMessage`/`onStatus`/`onPresence`/... handlers. Subscribing to a
   * topic twice returns the same Topic.
   */
  subscribe(name, options = {}) {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = new Topic(this, name, options);
      this.topics.set(name, topic);
    }
    return topic.subscribe();
  }

  /** Unacknowledged posted frames of every topic. */
  get outbox() {
    return [...this.topics.values()].flatMap((topic) => topic.outbox);
  }

  _live() {
    for (const topic of this.topics.values()) if (topic._wanted) topic._sendSubscribe();
  }

  _frame(data) {
    const topic = data?.topic != null ? this.topics.get(data.topic) : undefined;
    if (topic) topic._frame(data);
    else this._emit("message", data);
  }
}

/** `new TopicSocket(url, options).connect()`. */
export function connectTopics(url, options = {}) {
  return new TopicSocket(url, options).connect();
}
