/**
 * The rooms page: online counts refreshed from /api/rooms/online/ every few seconds while the
 * tab is visible. Polling keeps the page independent of any socket: the counts come from the
 * same presence store the chat uses, so they agree with every room's "Online" list.
 */
const grid = document.getElementById("rooms");
const INTERVAL = 3000;
let timer = null;

function show(counts) {
  for (const badge of grid.querySelectorAll("[data-online]")) {
    const count = counts[badge.dataset.online] ?? 0;
    badge.querySelector(".online-count").textContent = String(count);
    badge.classList.toggle("is-active", count > 0);
  }
}

async function refresh() {
  try {
    const response = await fetch(grid.dataset.onlineUrl, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (response.ok) show((await response.json()).rooms);
  } catch {
    // The server is away; the next tick tries again.
  }
}

function schedule() {
  clearInterval(timer);
  timer = document.visibilityState === "visible" ? setInterval(refresh, INTERVAL) : null;
}

if (grid) {
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
    schedule();
  });
  schedule();
}
