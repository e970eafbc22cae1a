/**
 * The live dashboard: `dashboard.history` once, then a `dashboard.snapshot` every second from
 * /ws/dashboard/ (consumers/dashboard.py), drawn as numbers, tables and two small SVG charts.
 *
 * wsapp.js brings the reconnects (after a server restart the page comes back on its own) and
 * stops after a 44xx close, whose reason the page shows. The charts are plain SVG paths drawn by
 * `drawChart()` below: a line per series over a sliding time window, nothing more.
 * Every piece of text from the server goes through textContent (ui.js's el()), never innerHTML.
 */
import { CloseCode, WsappSocket } from "wsapp";
import { avatar, el } from "demo/ui";

const SVG = "http://www.w3.org/2000/svg";
const MIN_SPAN_S = 60; // a young chart still spans a minute, so one point is not the whole width
const GAP_S = 5; // no point for this long (no dashboard open, server down): break the line

const CLOSE_MEANINGS = {
  [CloseCode.NORMAL_CLOSURE]: "normal",
  [CloseCode.GOING_AWAY]: "going away",
  [CloseCode.NO_STATUS_RECEIVED]: "no status",
  [CloseCode.ABNORMAL_CLOSURE]: "dropped (no close frame)",
  [CloseCode.UNSUPPORTED_DATA]: "unsupported data",
  [CloseCode.INVALID_PAYLOAD]: "invalid payload",
  [CloseCode.POLICY_VIOLATION]: "policy violation",
  [CloseCode.MESSAGE_TOO_BIG]: "message too big",
  [CloseCode.INTERNAL_ERROR]: "internal error",
  [CloseCode.SERVICE_RESTART]: "service restart",
  [CloseCode.TRY_AGAIN_LATER]: "overloaded",
  [CloseCode.BAD_REQUEST]: "bad request",
  [CloseCode.NOT_AUTHENTICATED]: "not authenticated",
  [CloseCode.FORBIDDEN]: "forbidden",
  [CloseCode.ROOM_NOT_FOUND]: "no such room",
  [CloseCode.TOO_MANY_CONNECTIONS]: "too many connections",
  [CloseCode.ROOM_CLOSED]: "room closed",
  [CloseCode.RATE_LIMITED]: "rate limited",
};
const REFUSALS = { origin: "bad Origin", no_route: "no such route", handshake: "refused before accept" };
const CLOSED_REASONS = {
  [CloseCode.NOT_AUTHENTICATED]: "You are logged out. Log in again to see the dashboard.",
  [CloseCode.FORBIDDEN]: "Staff only.",
};

const root = document.getElementById("dashboard");
const badge = document.getElementById("connection");
const badgeText = badge.querySelector(".badge-text");
const notice = document.getElementById("notice");
const $ = (id) => document.getElementById(id);

let points = [];
let windowS = 300;
let lastTs = null;

// -- formatting ---------------------------------------------------------------------------

const integer = new Intl.NumberFormat();
const decimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function rate(value) {
  return value >= 100 ? integer.format(Math.round(value)) : decimal.format(value);
}

function duration(seconds) {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d ${Math.floor((seconds % 86400) / 3600)}h`;
}

function ago(ts, now) {
  const seconds = Math.max(0, now - ts);
  return seconds < 5 ? "just now" : `${duration(seconds)} ago`;
}

function plural(count, word, words = `${word}s`) {
  return `${integer.format(count)} ${count === 1 ? word : words}`;
}

// -- the chart ----------------------------------------------------------------------------

function svgEl(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/** A round axis maximum at or above `value`: 1, 2, 5 × 10^n. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((nice) => nice >= value);
}

/** `series` cut into unbroken runs: a run ends where two points are more than GAP_S apart. */
function runs(series) {
  const result = [];
  for (const point of series) {
    const run = result[result.length - 1];
    if (run && point.ts - run[run.length - 1].ts <= GAP_S) run.push(point);
    else result.push([point]);
  }
  return result;
}

/**
 * Draw `lines` ([{name, values: [{ts, value}]}]) into `svg` over the window ending `now`:
 * horizontal grid with round values, a time axis, one path per line (class `line line-<name>`),
 * and under the first line a soft area.
 */
function drawChart(svg, lines, now) {
  const width = svg.clientWidth || 600;
  const height = svg.clientHeight || 160;
  const pad = { top: 12, right: 14, bottom: 24, left: 40 };
  const first = lines[0].values[0]?.ts ?? now;
  const start = Math.max(now - windowS, Math.min(first, now - MIN_SPAN_S));
  const span = now - start;
  const max = niceMax(Math.max(0, ...lines.flatMap((line) => line.values.map((p) => p.value))));
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const x = (ts) => pad.left + ((ts - start) / span) * innerW;
  const y = (value) => pad.top + innerH - (value / max) * innerH;

  const nodes = [];
  for (const fraction of [0, 0.5, 1]) {
    const value = max * fraction;
    nodes.push(svgEl("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }));
    nodes.push(svgEl("text", { class: "tick", x: pad.left - 8, y: y(value) + 4, "text-anchor": "end" }, rate(value)));
  }
  const minutes = span / 60;
  nodes.push(svgEl("text", { class: "tick", x: pad.left, y: height - 6 }, minutes >= 1.5 ? `−${Math.round(minutes)} min` : `−${Math.round(span)} s`));
  nodes.push(svgEl("text", { class: "tick", x: width - pad.right, y: height - 6, "text-anchor": "end" }, "now"));

  const xy = (p) => `${x(p.ts).toFixed(1)},${y(p.value).toFixed(1)}`;
  const base = y(0).toFixed(1);
  lines.forEach((line, index) => {
    const values = line.values.filter((p) => p.ts >= start);
    if (!values.length) return;
    const pieces = runs(values);
    if (index === 0) {
      // A soft area under each unbroken run of the first line, down to the baseline.
      const area = pieces
        .filter((run) => run.length > 1)
        .map((run) => `M${x(run[0].ts).toFixed(1)},${base}L${run.map(xy).join("L")}L${x(run[run.length - 1].ts).toFixed(1)},${base}Z`);
      nodes.push(svgEl("path", { class: `area area-${line.name}`, d: area.join("") }));
    }
    const d = pieces.map((run) => `M${run.map(xy).join("L")}`).join("");
    nodes.push(svgEl("path", { class: `line line-${line.name}`, d, "data-series": line.name }));
    const last = values[values.length - 1];
    nodes.push(svgEl("circle", { class: `chart-dot chart-dot-${line.name}`, cx: x(last.ts), cy: y(last.value), r: 3.5 }));
  });
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren(...nodes);
}

function drawCharts() {
  if (lastTs === null) return;
  const series = (key) => points.map((p) => ({ ts: p.ts, value: p[key] }));
  drawChart($("chart-connections"), [{ name: "connections", values: series("connections") }], lastTs);
  drawChart(
    $("chart-messages"),
    [
      { name: "in", values: series("messages_in") },
      { name: "out", values: series("messages_out") },
    ],
    lastTs,
  );
  $("chart-window").textContent = windowS % 60 === 0 ? plural(windowS / 60, "minute") : `${windowS} seconds`;
}

// -- the panels ---------------------------------------------------------------------------

function renderStats(frame) {
  $("stat-connections").textContent = integer.format(frame.connections);
  $("stat-processes").textContent = `on ${plural(frame.processes.length, "process", "processes")}`;
  $("stat-users").textContent = integer.format(frame.users_online);
  const busy = frame.rooms.filter((room) => room.online > 0).length;
  $("stat-rooms").textContent = `in ${plural(busy, "room")}`;
  $("stat-in").textContent = rate(frame.rates.messages_in);
  $("stat-out").textContent = rate(frame.rates.messages_out);
  $("stat-in-total").textContent = `${integer.format(frame.totals.messages_in)} in total`;
  $("stat-out-total").textContent = `${integer.format(frame.totals.messages_out)} in total`;
}

function renderRooms(rooms) {
  const list = $("dash-rooms");
  if (!rooms.length) {
    list.replaceChildren(el("li", { class: "empty-row" }, "No rooms yet."));
    return;
  }
  const most = Math.max(1, ...rooms.map((room) => room.online));
  list.replaceChildren(
    ...rooms.map((room) => {
      const bar = el("span", { class: "bar-fill" });
      bar.style.width = `${(room.online / most) * 100}%`;
      return el(
        "li",
        { class: room.online ? "is-active" : null, dataset: { room: room.slug, online: room.online } },
        el(
          "div",
          { class: "room-bar-head" },
          el("span", { class: "room-name" }, el("span", { class: "room-hash", "aria-hidden": "true" }, "#"), room.slug),
          room.private ? el("span", { class: "pill pill-private" }, "private") : null,
          el("span", { class: "room-users" }, ...room.users.map((user) => avatar(user, "avatar-xs"))),
          el("span", { class: "room-count" }, String(room.online)),
        ),
        el("span", { class: "bar", title: `${plural(room.sockets, "socket")} open` }, bar),
      );
    }),
  );
}

function renderEvents(events, now) {
  const list = $("events");
  if (!events.length) {
    list.replaceChildren(el("li", { class: "empty-row" }, "Nobody has come or gone yet."));
    return;
  }
  list.replaceChildren(
    ...events.map((event) => {
      const time = el("time", { datetime: new Date(event.ts * 1000).toISOString(), title: clock.format(new Date(event.ts * 1000)) }, ago(event.ts, now));
      return el(
        "li",
        { class: `event event-${event.kind}`, dataset: { kind: event.kind, user: event.user, room: event.room } },
        avatar(event.user, "avatar-sm"),
        el(
          "span",
          { class: "event-text" },
          el("strong", {}, event.user),
          event.kind === "join" ? " joined " : " left ",
          el("span", { class: "event-room" }, `#${event.room}`),
        ),
        time,
      );
    }),
  );
}

function renderProcesses(processes) {
  $("processes").tBodies[0].replaceChildren(
    ...processes.map((p) =>
      el(
        "tr",
        { dataset: { process: p.process } },
        el("td", {}, el("code", {}, p.process)),
        el("td", { class: "num strong" }, integer.format(p.connections)),
        el("td", { class: "num" }, rate(p.messages_in)),
        el("td", { class: "num" }, rate(p.messages_out)),
        el("td", { class: "num" }, integer.format(p.accepted)),
        el("td", { class: "num" }, integer.format(p.rooms)),
        el("td", { class: "num" }, duration(p.uptime)),
      ),
    ),
  );
}

function renderCloses(closed, refused) {
  const rows = [
    ...Object.entries(closed).map(([code, count]) => [code, CLOSE_MEANINGS[code] ?? "application", count, Number(code) >= 4000 ? "app" : "std"]),
    ...Object.entries(refused).map(([reason, count]) => ["refused", REFUSALS[reason] ?? reason, count, "refused"]),
  ];
  const body = $("closes").tBodies[0];
  if (!rows.length) {
    body.replaceChildren(el("tr", {}, el("td", { class: "empty-row", colspan: 3 }, "Nothing closed yet.")));
    return;
  }
  body.replaceChildren(
    ...rows.map(([code, meaning, count, kind]) =>
      el("tr", { dataset: { code } }, el("td", {}, el("span", { class: `code-pill code-${kind}` }, code)), el("td", {}, meaning), el("td", { class: "num strong" }, integer.format(count))),
    ),
  );
}

// -- the socket ---------------------------------------------------------------------------

function setBadge(status, text, title = "") {
  badge.dataset.status = status;
  badgeText.textContent = text;
  badge.title = title;
}

function showNotice(text) {
  notice.hidden = !text;
  notice.dataset.kind = "error";
  notice.textContent = text;
}

function onStatus({ status, code, reason }) {
  root.dataset.status = status;
  if (status === "connecting") setBadge("connecting", "Connecting…");
  if (status === "live") {
    setBadge("live", "Live", "One snapshot a second");
    showNotice("");
  }
  if (status === "reconnecting") setBadge("reconnecting", "Reconnecting…", code ? `Connection lost (${code})` : "");
  if (status === "closed") {
    const text = reason || CLOSED_REASONS[code] || "Disconnected.";
    setBadge("closed", `Closed: ${text}`, `Close code ${code}`);
    showNotice(`${text} (close code ${code})`);
  }
}

function onMessage(frame) {
  if (frame?.type === "dashboard.history") {
    windowS = frame.window;
    // After a reconnect the server's series replaces ours: it may have been sampling meanwhile.
    points = frame.points;
    lastTs = points.length ? points[points.length - 1].ts : lastTs;
    drawCharts();
  } else if (frame?.type === "dashboard.snapshot") {
    if (!points.length || frame.point.ts > points[points.length - 1].ts) points.push(frame.point);
    points = points.filter((p) => p.ts >= frame.ts - windowS);
    lastTs = frame.ts;
    renderStats(frame);
    drawCharts();
    renderRooms(frame.rooms);
    renderEvents(frame.events, frame.ts);
    renderProcesses(frame.processes);
    renderCloses(frame.closed, frame.refused);
  }
}

const socket = new WsappSocket(root.dataset.wsPath, { resume: false, onStatus, onMessage });
socket.connect();
new ResizeObserver(() => drawCharts()).observe($("chart-connections"));
window.wsappDashboard = socket; // for the curious, in the devtools console
