/**
 * Small DOM helpers the demo pages share. Every piece of user text goes through `el()` as a
 * text node (textContent), never through innerHTML: a message body is data, not markup.
 */

/** `el("li", {class: "msg", dataset: {id: 1}}, "text", child)` → an element. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "style") Object.assign(node.style, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A stable avatar hue for a username: the same arithmetic as the `hue` template filter. */
export function hue(username) {
  let value = 0;
  for (const char of username ?? "") value = (value * 31 + char.codePointAt(0)) % 360;
  return value;
}

/** A round avatar with the user's initial. */
export function avatar(username, extraClass = "") {
  const node = el("span", { class: `avatar ${extraClass}`.trim(), "aria-hidden": "true" }, (username || "·")[0].toUpperCase());
  node.style.setProperty("--hue", String(hue(username)));
  return node;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** Show an ISO timestamp as local `HH:MM`, the full date on hover. */
export function setTime(node, iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return;
  node.dateTime = iso;
  node.textContent = clock.format(date);
  node.title = full.format(date);
}
