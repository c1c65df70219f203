// Keeping a page current: follow the log's stream (/v1/stream), or poll while the page is
// visible when the stream is not there, backing off while the service is away.

import { token } from "./api.js";

const EVERY_MS = 3000;
const MAX_BACKOFF_MS = 30000;
const STREAM_RETRY_MS = 10000;
const STREAM_KINDS = ["event", "retraction", "actor", "term"];

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

/**
 * Call `refresh({poll: true})` whenever the log's stream says something new was projected
 * (and once each time the stream opens, for whatever came before it); while the stream is
 * broken, poll instead (`keepCurrent`) and try the stream again now and then. With a read
 * token set the page polls: a browser's EventSource cannot send one. `params` narrow the
 * stream (`channel`, `actor`). `document.body.dataset.live` says which is in use.
 */
export function followLog(refresh, params = {}, every = EVERY_MS) {
  if (!("EventSource" in window) || token()) {
    document.body.dataset.live = "polling";
    return keepCurrent(refresh, every);
  }
  const address = new URL("/v1/stream", window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value) address.searchParams.set(name, value);
  }
  let source = null;
  let stopPolling = null;
  let running = false;
  let again = false;
  let retry = null;
  async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await refresh({ poll: true });
    } catch {
      // the page shows the failure; the next message or poll tries again
    } finally {
      running = false;
      if (again) {
        again = false;
        run();
      }
    }
  }
  function open() {
    retry = null;
    source = new EventSource(address);
    source.onopen = () => {
      if (stopPolling) {
        stopPolling();
        stopPolling = null;
      }
      document.body.dataset.live = "stream";
      run();
    };
    for (const kind of STREAM_KINDS) source.addEventListener(kind, run);
    source.onerror = () => {
      source.close();
      source = null;
      if (!stopPolling) stopPolling = keepCurrent(refresh, every);
      document.body.dataset.live = "polling";
      retry = setTimeout(open, STREAM_RETRY_MS);
    };
  }
  open();
  return () => {
    if (source) source.close();
    if (stopPolling) stopPolling();
    if (retry) clearTimeout(retry);
  };
}
