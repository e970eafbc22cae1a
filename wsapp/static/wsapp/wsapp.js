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
 * What it promises, and why:
 * - Reconnect with capped exponential backoff and jitter, only after the close codes that mean
 *   "try again" (1001, 1006, 1011, 1012, 1013: wsapp.codes.RECONNECT_CODES); never after 1000
 *   or an application 4xxx code, which say "don't" (logged out, forbidden, room closed, rate
 *   limited, room full).
 * - Resume: every reconnect asks for `?since=<highest id seen>`, so the server replays what
 *   this page missed; frames (and `history` lists) whose id was seen are dropped, so nothing
 *   shows twice.
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
export class WsappSocket extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.url = url;
    this.options = {
      subprotocols: [],
      token: null,
      backoff: DEFAULT_BACKOFF,
      maxRetries: Infinity,
      lastId: null,
      seen: [],
      persist: null,
      WebSocket: globalThis.WebSocket,
      ...options,
      ack: { type: "chat.ack", key: "client_id", ...options.ack },
      resume: options.resume === false ? false : { param: "since", idKey: "id", listKey: "messages", ...options.resume },
    };
    this.status = "idle";
    this.attempt = 0;
    this.lastId = this.options.lastId ?? null;
    this.ws = null;
    this._timer = null;
    this._stopped = false;
    this._seen = new Set();
    this._seenOrder = [];
    this.options.seen.forEach((id) => this._markSeen(id));
    this._outbox = new Map(this._restoreOutbox());
    for (const [name, handler] of [["status", options.onStatus], ["message", options.onMessage], ["ack", options.onAck]]) {
      if (handler) this.addEventListener(name, (event) => handler(event.detail));
    }
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

  /**
   * Send `data` reliably: it gets a `client_id` (unless it has one), stays in the outbox until
   * acknowledged and is re-sent after every reconnect. Returns the `client_id`.
   */
  post(data) {
    const key = this.options.ack.key;
    if (this._outbox.size >= OUTBOX_LIMIT) throw new Error(`The outbox is full (${OUTBOX_LIMIT} unacknowledged).`);
    const item = { ...data, [key]: data[key] ?? randomId() };
    this._outbox.set(item[key], item);
    this._saveOutbox();
    this.send(item);
    return item[key];
  }

  /** Unacknowledged posted frames, oldest first. */
  get outbox() {
    return [...this._outbox.values()];
  }

  /** Give up on a posted frame (e.g. the server answered it with an error). */
  discard(clientId) {
    const removed = this._outbox.delete(clientId);
    this._saveOutbox();
    return removed;
  }

  // -- connection lifecycle ---------------------------------------------------------------

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
    const url = wsUrl(this.url);
    const { resume } = this.options;
    if (resume && this.lastId !== null) url.searchParams.set(resume.param, String(this.lastId));
    return url;
  }

  _onOpen() {
    this.attempt = 0;
    this._setStatus("live", { protocol: this.ws.protocol, url: this.ws.url });
    for (const item of this._outbox.values()) this.ws.send(JSON.stringify(item));
  }

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

  // -- incoming frames --------------------------------------------------------------------

  _receive(text) {
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      this._emit("message", text);
      return;
    }
    const { ack, resume } = this.options;
    if (data?.type === ack.type && data[ack.key] != null) {
      this._onAck(data);
      return;
    }
    if (data?.type === "error" && data[ack.key] != null && this._outbox.has(data[ack.key])) {
      // The server refused this posted frame for good: resending it would only fail again.
      const item = this._outbox.get(data[ack.key]);
      this._outbox.delete(data[ack.key]);
      this._saveOutbox();
      this._emit("rejected", { error: data, item });
    }
    if (resume && Array.isArray(data?.[resume.listKey])) {
      data = { ...data, [resume.listKey]: data[resume.listKey].filter((item) => this._isNew(item)) };
    } else if (resume && data && !this._isNew(data)) {
      return;
    }
    this._emit("message", data);
  }

  _onAck(data) {
    const key = this.options.ack.key;
    const item = this._outbox.get(data[key]) ?? null;
    this._outbox.delete(data[key]);
    this._saveOutbox();
    const id = this.options.resume ? data[this.options.resume.idKey] : undefined;
    const duplicate = id != null && this._seen.has(id);
    // Seen, so the replay of our own message after a reconnect is dropped; but lastId does not
    // move: a message with a smaller id may still be on its way to us.
    if (id != null) this._markSeen(id);
    this._emit("ack", { ack: data, item, duplicate });
  }

  /** Whether `item` (a frame or a history entry) is new; records its id if so. */
  _isNew(item) {
    const id = item?.[this.options.resume.idKey];
    if (id == null) return true;
    if (this._seen.has(id)) return false;
    this._markSeen(id);
    if (typeof id === "number" && (this.lastId === null || id > this.lastId)) this.lastId = id;
    return true;
  }

  _markSeen(id) {
    if (this._seen.has(id)) return;
    this._seen.add(id);
    this._seenOrder.push(id);
    if (this._seenOrder.length > SEEN_LIMIT) this._seen.delete(this._seenOrder.shift());
  }

  // -- outbox persistence: survives a reload of the tab when `persist` names a key ---------

  _restoreOutbox() {
    if (!this.options.persist) return [];
    try {
      const items = JSON.parse(globalThis.sessionStorage.getItem(this.options.persist) ?? "[]");
      return items.map((item) => [item[this.options.ack.key], item]);
    } catch {
      return [];
    }
  }

  _saveOutbox() {
    if (!this.options.persist) return;
    try {
      if (this._outbox.size) globalThis.sessionStorage.setItem(this.options.persist, JSON.stringify(this.outbox));
      else globalThis.sessionStorage.removeItem(this.options.persist);
    } catch {
      // Storage full or disabled: the in-memory outbox still covers reconnects.
    }
  }
}

/** `new WsappSocket(url, options).connect()`. */
export function connect(url, options = {}) {
  return new WsappSocket(url, options).connect();
}
