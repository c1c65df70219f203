// A channel page: its status on a date, its timeline, and its events with their sources;
// for a channel with an office on either side, who held each post along the timeline.

import { actorName } from "./actors.js";
import { collect, explain, getJSON } from "./api.js";
import { setupTokenDialog } from "./access.js";
import { alertMessage, fill, h } from "./dom.js";
import { LANES, typeInfo } from "./events.js";
import { followLog, showLive } from "./live.js";
import { badge, legendItems, statusInfo } from "./status.js";
import { drawTimeline, eventDetails, glyph } from "./timeline.js";
import { DAY, dayOf, fromLocalInput, human, instant, toLocalInput, today } from "./time.js";
import { readView, refusedByService, showBanner, showProblems } from "./view.js";

const $ = (id) => document.getElementById(id);
const [first, second] = actorsOfPath(window.location.pathname);

const page = {
  state: {},
  problems: {},
  actors: new Map(),
  status: null,
  intervals: [],
  events: [],
  holders: [],
  evidence: new Set(),
  signature: "",
  generation: 0,
};

/** The two actors of "/channels/{a}/{b}" or of "/channels/{a}~{b}" (the channel's id). */
function actorsOfPath(pathname) {
  const [, , one, two] = pathname.split("/").map(decodeURIComponent);
  return two === undefined ? one.split("~") : [one, two];
}

/** The view the address asks for; an unreadable `as_of` or `known_at` is left out, and said. */
function readState() {
  const { state, problems } = readView(new URLSearchParams(window.location.search));
  page.problems = problems;
  return state;
}

/** The analyst chose a view time: what the address had wrong about it no longer applies. */
function settle(name) {
  if (!page.problems[name]) return;
  delete page.problems[name];
  showProblems($("view-problems"), page.problems);
}

function viewQuery() {
  const query = new URLSearchParams();
  for (const name of ["as_of", "known_at"]) if (page.state[name]) query.set(name, page.state[name]);
  const search = query.toString();
  return search ? `?${search}` : "";
}

function writeState({ replace = false } = {}) {
  const target = `${window.location.pathname}${viewQuery()}`;
  if (target !== `${window.location.pathname}${window.location.search}`) {
    if (replace) window.history.replaceState(null, "", target);
    else window.history.pushState(null, "", target);
  }
  $("back").href = `/${viewQuery()}`;
  $("to-offices").href = `/offices${viewQuery()}`;
  showBanner($("viewing"), page.state, backToNow);
}

const names = (id) => actorName(page.actors, id);
const isOffice = (id) => page.actors.get(id)?.kind === "office";

/** Actors by id into `page.actors`, each read once. */
async function remember(ids, poll) {
  const missing = [...new Set(ids)].filter((id) => !page.actors.has(id));
  const found = await Promise.all(
    missing.map((id) => getJSON(`/v1/actors/${encodeURIComponent(id)}`, {}, { poll })),
  );
  for (const actor of found) page.actors.set(actor.id, actor);
}

/**
 * Who held each office side of the channel, as the record stood at `known_at`: a row
 * per office, `{office, terms: [{id, person, name, from, to}]}` by `from`; retracted
 * terms left out. A side that is not an office, or an office without a known holder,
 * has no row.
 */
async function loadHolders(sides, known_at, poll) {
  const offices = sides.filter(isOffice);
  const lists = await Promise.all(
    offices.map((id) => getJSON(`/v1/actors/${encodeURIComponent(id)}/terms`, { known_at }, { poll })),
  );
  const kept = lists.map((list) => (list.items || []).filter((term) => !term.retracted));
  await remember(kept.flat().map((term) => term.person), poll);
  const rows = offices.map((id, index) => {
    const { name, country } = page.actors.get(id);
    const terms = kept[index].map(({ id: term, person, from, to }) => ({ id: term, person, name: names(person), from, to }));
    return { office: { id, name, country }, terms };
  });
  return rows.filter((row) => row.terms.length > 0);
}

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

/** Read the channel at the view's times; `poll` marks the page's periodic re-read. */
async function load({ live = false, poll = false } = {}) {
  const generation = ++page.generation;
  const { as_of, known_at } = page.state;
  const base = `/v1/channels/${encodeURIComponent(first)}/${encodeURIComponent(second)}`;
  const [status, timeline, events] = await Promise.all([
    getJSON(base, { as_of, known_at }, { poll }),
    collect(`${base}/timeline`, { known_at }, { poll }),
    collect(`${base}/events`, { known_at }, { poll }),
  ]);
  if (generation !== page.generation) return;
  canonicalPath(status.actors);
  await remember(status.actors, poll);
  const holders = await loadHolders(status.actors, known_at, poll);
  if (generation !== page.generation) return;
  const { as_of: _a, known_at: _k, ...lasting } = status;
  const signature = JSON.stringify([lasting, timeline, events, holders]);
  showLive(true, `Live · checked ${new Date().toLocaleTimeString("en-GB")}`);
  alertMessage(null);
  if (live && signature === page.signature) return;
  page.signature = signature;
  page.status = status;
  page.evidence = new Set(status.evidence || []);
  page.intervals = timeline;
  page.events = withRetraction(events);
  page.holders = holders;
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
      h("dt", {}, "Decided by"),
      h("dd", { class: "evidence-count" }, evidenceText(page.evidence.size)),
    ),
  );
}

function evidenceText(n) {
  if (!n) return "no event (nothing on record)";
  return `${n} event${n === 1 ? "" : "s"}, marked ★ below`;
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
    evidence: page.evidence,
    actors: names,
    onChoose: choose,
    holders: page.holders,
  });
  renderHolders();
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

/** The holders' bands as a table too, for reading without the drawing; hidden without offices. */
function renderHolders() {
  $("holders-box").hidden = page.holders.length === 0;
  fill(
    $("holders"),
    page.holders.flatMap(({ office, terms }) =>
      terms.map((term) =>
        h(
          "tr",
          { dataset: { office: office.id, person: term.person, from: term.from, to: term.to || "" } },
          h("td", {}, office.name),
          h("td", {}, term.name),
          h("td", {}, h("time", { datetime: term.from }, human(term.from))),
          h("td", {}, term.to ? h("time", { datetime: term.to }, human(term.to)) : "still in office"),
        ),
      ),
    ),
  );
}

function renderEvents() {
  const list = page.events.map((event) => {
    const lane = typeInfo(event.type).lane;
    const decisive = page.evidence.has(event.id);
    return h(
      "li",
      {
        id: `event-${event.id}`,
        class: `event${event.retractedNow ? " retracted" : ""}${decisive ? " evidence" : ""}`,
        tabindex: -1,
        dataset: {
          type: event.type,
          retracted: event.retractedNow ? "true" : "false",
          evidence: decisive ? "true" : "false",
        },
      },
      h(
        "div",
        { class: "meta" },
        h("span", { class: "type" }, glyph(lane, event.retractedNow), typeInfo(event.type).word),
        decisive ? h("span", { class: "evidence-tag" }, "★ Behind the status") : null,
      ),
      h("div", { class: "body" }, eventDetails(event, names).slice(1)),
    );
  });
  fill($("events"), list.length ? list : h("li", { class: "empty" }, "No events on record."));
}

function render() {
  const download = new URL(
    `/v1/channels/${encodeURIComponent(first)}/${encodeURIComponent(second)}/timeline`,
    window.location.origin,
  );
  download.searchParams.set("format", "timelinejs");
  if (page.state.known_at) download.searchParams.set("known_at", page.state.known_at);
  $("download-timelinejs").href = download.pathname + download.search;
  renderHead();
  renderNow();
  renderTimeline();
  renderEvents();
}

function syncControls() {
  showBanner($("viewing"), page.state, backToNow);
  $("as-of-date").value = page.state.as_of ? dayOf(page.state.as_of) : today();
  $("as-of-date").max = today();
  $("known-at").value = toLocalInput(page.state.known_at);
  $("back").href = `/${viewQuery()}`;
  $("to-offices").href = `/offices${viewQuery()}`;
}

function showError(error) {
  showLive(false, "Not connected");
  alertMessage(explain(error));
}

/** A view time the service refused (422): say so, drop it, read again at now. */
function dropRefused(error) {
  const refused = refusedByService(error, page.state);
  if (!refused) return false;
  page.problems[refused.name] = refused.message;
  page.state[refused.name] = "";
  showProblems($("view-problems"), page.problems);
  syncControls();
  writeState({ replace: true });
  return true;
}

function refresh() {
  return load().catch((error) => (dropRefused(error) ? refresh() : showError(error)));
}

/** The banner's way back: today's status, as known now. */
function backToNow() {
  page.state.as_of = "";
  page.state.known_at = "";
  settle("as_of");
  settle("known_at");
  syncControls();
  writeState();
  return refresh();
}

function setupControls() {
  fill($("status-legend"), legendItems());
  fill(
    $("mark-legend"),
    LANES.map((lane) => h("li", {}, glyph(lane.id), lane.label)),
    h("li", {}, glyph("contact", true), "Retracted"),
    h("li", {}, glyph("contact", false, true), "Behind the status (★)"),
  );
  $("controls").addEventListener("submit", (event) => event.preventDefault());
  $("as-of-date").addEventListener("change", (event) => {
    const value = event.target.value;
    page.state.as_of = value && value < today() ? value : "";
    settle("as_of");
    writeState();
    refresh();
  });
  $("today").addEventListener("click", () => {
    page.state.as_of = "";
    settle("as_of");
    syncControls();
    writeState();
    refresh();
  });
  $("known-at").addEventListener("change", (event) => {
    page.state.known_at = fromLocalInput(event.target.value);
    settle("known_at");
    writeState();
    refresh();
  });
  $("known-now").addEventListener("click", () => {
    page.state.known_at = "";
    settle("known_at");
    syncControls();
    writeState();
    refresh();
  });
  window.addEventListener("popstate", () => {
    page.state = readState();
    showProblems($("view-problems"), page.problems);
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
  page.state = readState();
  showProblems($("view-problems"), page.problems);
  setupControls();
  setupTokenDialog(refresh);
  syncControls();
  await refresh();
  // An office side counts its holders' events, recorded under their own channel: follow
  // every entry of the log then, not only the channel's own.
  const sides = page.status ? page.status.actors : [];
  const params = sides.some(isOffice) ? {} : { channel: `${first}~${second}` };
  followLog(
    ({ poll }) =>
      load({ live: true, poll }).catch((error) => {
        if (dropRefused(error)) return refresh();
        showError(error);
        throw error;
      }),
    params,
  );
}

start().catch(showError);
