// A channel page: its status on a date, its timeline, and its events with their sources.

import { actorName } from "./actors.js";
import { collect, explain, getJSON } from "./api.js";
import { setupTokenDialog } from "./access.js";
import { alertMessage, fill, h } from "./dom.js";
import { LANES, typeInfo } from "./events.js";
import { keepCurrent, showLive } from "./live.js";
import { badge, legendItems, statusInfo } from "./status.js";
import { drawTimeline, eventDetails, glyph } from "./timeline.js";
import { DAY, fromLocalInput, human, instant, toLocalInput, today } from "./time.js";

const $ = (id) => document.getElementById(id);
const [, , first, second] = window.location.pathname.split("/").map(decodeURIComponent);

const page = {
  state: readState(),
  actors: new Map(),
  status: null,
  intervals: [],
  events: [],
  signature: "",
  generation: 0,
};

function readState() {
  const query = new URLSearchParams(window.location.search);
  return { as_of: query.get("as_of") || "", known_at: query.get("known_at") || "" };
}

function viewQuery() {
  const query = new URLSearchParams();
  for (const name of ["as_of", "known_at"]) if (page.state[name]) query.set(name, page.state[name]);
  const search = query.toString();
  return search ? `?${search}` : "";
}

function writeState() {
  const target = `${window.location.pathname}${viewQuery()}`;
  if (target !== `${window.location.pathname}${window.location.search}`) {
    window.history.pushState(null, "", target);
  }
  $("back").href = `/${viewQuery()}`;
}

const names = (id) => actorName(page.actors, id);

/** A channel opened by alias ("/channels/austin/shoygu") shows its ids in the address bar. */
function canonicalPath([a, b]) {
  const path = `/channels/${a}/${b}`;
  if (window.location.pathname !== path) {
    window.history.replaceState(null, "", `${path}${window.location.search}`);
  }
}

/** The API marks `retracted` only when the retraction was recorded by `known_at`. */
function withRetraction(events) {
  return events.map((e) => ({ ...e, retractedNow: Boolean(e.retracted) }));
}

async function load({ live = false } = {}) {
  const generation = ++page.generation;
  const { as_of, known_at } = page.state;
  const base = `/v1/channels/${encodeURIComponent(first)}/${encodeURIComponent(second)}`;
  const [status, timeline, events] = await Promise.all([
    getJSON(base, { as_of, known_at }),
    collect(`${base}/timeline`, { known_at }),
    collect(`${base}/events`, { known_at }),
  ]);
  if (generation !== page.generation) return;
  canonicalPath(status.actors);
  const missing = status.actors.filter((id) => !page.actors.has(id));
  for (const id of missing) page.actors.set(id, await getJSON(`/v1/actors/${encodeURIComponent(id)}`));
  const { as_of: _a, known_at: _k, ...lasting } = status;
  const signature = JSON.stringify([lasting, timeline, events]);
  showLive(true, `Live · checked ${new Date().toLocaleTimeString("en-GB")}`);
  alertMessage(null);
  if (live && signature === page.signature) return;
  page.signature = signature;
  page.status = status;
  page.intervals = timeline;
  page.events = withRetraction(events);
  render();
}

function whoList(counts) {
  const entries = Object.entries(counts || {});
  return entries.length ? entries.map(([id, n]) => `${names(id)} (${n})`).join(", ") : "—";
}

function renderHead() {
  const [a, b] = page.status.actors.map((id) => page.actors.get(id) || { id, name: id });
  $("channel-title").textContent = `${a.name} ~ ${b.name}`;
  $("channel-id").textContent = page.status.channel;
  fill(
    $("channel-actors"),
    h("span", { class: "country" }, a.country),
    ` ${a.role || a.kind} · `,
    h("span", { class: "country" }, b.country),
    ` ${b.role || b.kind}`,
  );
  document.title = `Backchannel — ${a.name} ~ ${b.name}`;
}

function renderNow() {
  const status = page.status;
  const info = statusInfo(status.status);
  const last = status.last_contact;
  const box = $("now");
  box.className = `now-box card status-${info.id}`;
  box.dataset.status = status.status;
  fill(
    box,
    h(
      "p",
      { class: "status-line" },
      page.state.as_of ? `As of ${human(page.state.as_of)}: ` : "Today: ",
      badge(status.status),
      status.since ? [" since ", h("time", { datetime: status.since }, human(status.since))] : " from the start of the record",
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Last contact"),
      h("dd", {}, last ? `${typeInfo(last.type).word}, ${human(last.occurred_at)}` : "none on record"),
      h("dt", {}, "Requesting"),
      h("dd", {}, whoList(status.requests_since_contact)),
      h("dt", {}, "Refusing"),
      h("dd", {}, whoList(status.refusals_since_contact)),
      h("dt", {}, "Events"),
      h("dd", {}, `${status.event_count}`),
    ),
  );
}

function choose(event) {
  const item = document.getElementById(`event-${event.id}`);
  if (!item) return;
  for (const other of document.querySelectorAll(".event.active")) other.classList.remove("active");
  item.classList.add("active");
  item.scrollIntoView({ block: "center", behavior: "smooth" });
  item.focus({ preventScroll: true });
}

function renderTimeline() {
  const asOf = page.state.as_of ? instant(page.state.as_of) + DAY - 1 : null;
  drawTimeline($("timeline-wrap"), $("tip"), {
    intervals: page.intervals,
    events: page.events,
    asOf,
    actors: names,
    onChoose: choose,
  });
  fill(
    $("intervals"),
    page.intervals.map((i) =>
      h(
        "tr",
        { dataset: { status: i.status } },
        h("td", {}, badge(i.status)),
        h("td", {}, i.from ? human(i.from) : "the start"),
        h("td", {}, i.to ? human(i.to) : "now"),
      ),
    ),
  );
}

function renderEvents() {
  const list = page.events.map((event) => {
    const lane = typeInfo(event.type).lane;
    return h(
      "li",
      {
        id: `event-${event.id}`,
        class: `event${event.retractedNow ? " retracted" : ""}`,
        tabindex: -1,
        dataset: { type: event.type, retracted: event.retractedNow ? "true" : "false" },
      },
      h(
        "div",
        { class: "meta" },
        h("span", { class: "type" }, glyph(lane, event.retractedNow), typeInfo(event.type).word),
      ),
      h("div", { class: "body" }, eventDetails(event, names).slice(1)),
    );
  });
  fill($("events"), list.length ? list : h("li", { class: "empty" }, "No events on record."));
}

function render() {
  renderHead();
  renderNow();
  renderTimeline();
  renderEvents();
}

function syncControls() {
  $("as-of-date").value = page.state.as_of || today();
  $("as-of-date").max = today();
  $("known-at").value = toLocalInput(page.state.known_at);
  $("back").href = `/${viewQuery()}`;
}

function showError(error) {
  showLive(false, "Not connected");
  alertMessage(explain(error));
}

function refresh() {
  return load().catch(showError);
}

function setupControls() {
  fill($("status-legend"), legendItems());
  fill(
    $("mark-legend"),
    LANES.map((lane) => h("li", {}, glyph(lane.id), lane.label)),
    h("li", {}, glyph("contact", true), "Retracted"),
  );
  $("controls").addEventListener("submit", (event) => event.preventDefault());
  $("as-of-date").addEventListener("change", (event) => {
    const value = event.target.value;
    page.state.as_of = value && value < today() ? value : "";
    writeState();
    refresh();
  });
  $("today").addEventListener("click", () => {
    page.state.as_of = "";
    syncControls();
    writeState();
    refresh();
  });
  $("known-at").addEventListener("change", (event) => {
    page.state.known_at = fromLocalInput(event.target.value);
    writeState();
    refresh();
  });
  $("known-now").addEventListener("click", () => {
    page.state.known_at = "";
    syncControls();
    writeState();
    refresh();
  });
  window.addEventListener("popstate", () => {
    page.state = readState();
    syncControls();
    refresh();
  });
  let lastWidth = 0;
  new ResizeObserver(() => {
    const width = $("timeline-wrap").clientWidth;
    if (page.status && Math.abs(width - lastWidth) > 4) renderTimeline();
    lastWidth = width;
  }).observe($("timeline-wrap"));
}

async function start() {
  setupControls();
  setupTokenDialog(refresh);
  syncControls();
  await refresh();
  keepCurrent(() => load({ live: true }).catch((error) => {
    showError(error);
    throw error;
  }));
}

start();
