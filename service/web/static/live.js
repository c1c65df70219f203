// Keeping a page current: poll while the page is visible, back off while the service is away.

const EVERY_MS = 3000;
const MAX_BACKOFF_MS = 30000;

/**
 * Call `refresh({poll: true})` every few seconds (its reads then carry the poll
 * header); returns a function that stops it.
 */
export function keepCurrent(refresh, every = EVERY_MS) {
  let timer = null;
  let delay = every;
  let stopped = false;
  async function tick() {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await refresh({ poll: true });
        delay = every;
      } catch {
        delay = Math.min(delay * 2, MAX_BACKOFF_MS);
      }
    }
    timer = setTimeout(tick, delay);
  }
  timer = setTimeout(tick, delay);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !stopped) {
      clearTimeout(timer);
      tick();
    }
  });
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Update the "live" indicator in the header. */
export function showLive(ok, text) {
  const el = document.getElementById("live");
  if (!el) return;
  el.classList.toggle("offline", !ok);
  el.querySelector(".live-text").textContent = text;
}
