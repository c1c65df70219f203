// The board: every channel and its status as of a date, filtered, replayable, kept current.

import { actorName, loadActors, matches } from "./actors.js";
import { collect, explain, getJSON } from "./api.js";
import { setupTokenDialog } from "./access.js";
import { alertMessage, fill, h } from "./dom.js";
import { typeInfo } from "./events.js";
import { keepCurrent, showLive } from "./live.js";
import { badge, legendItems, STATUSES, statusInfo, statusRank } from "./status.js";
import {
  addDays,
  daysBetween,
  fromLocalInput,
  human,
  toLocalInput,
  today,
} from "./time.js";

const PARAMS = ["as_of", "known_at", "q", "actor", "country", "status"];
const PLAY_STEP_MS = 350;
const $ = (id) => document.getElementById(id);

const page = {
  state: readState(),
  actors: new Map(),
  channels: [],
  signature: "",
  previous: new Map(),
  generation: 0,
  earliest: addDays(today(), -365),
  playing: false,
};

// -- the URL carries the view ------------------------------------------------

function readState() {
  const query = new URLSearchParams(window.location.search);
  return Object.fromEntries(PARAMS.map((name) => [name, query.get(name) || ""]));
}

function writeState({ push = false } = {}) {
  const query = new URLSearchParams();
  for (const name of PARAMS) if (page.state[name]) query.set(name, page.state[name]);
  const search = query.toString();
  const target = `${window.location.pathname}${search ? `?${search}` : ""}`;
  if (target === `${window.location.pathname}${window.location.search}`) return;
  if (push) window.history.pushState(null, "", target);
  else window.history.replaceState(null, "", target);
}

function viewQuery() {
  const query = new URLSearchParams();
  if (page.state.as_of) query.set("as_of", page.state.as_of);
  if (page.state.known_at) query.set("known_at", page.state.known_at);
  const search = query.toString();
  return search ? `?${search}` : "";
}

// -- reading -------------------------------------------------------------------

/** Fetch the board for the current (as_of, known_at); `live` marks what changed since. */
async function load({ live = false } = {}) {
  const generation = ++page.generation;
  const { as_of, known_at } = page.state;
  const channels = await collect("/v1/channels", { as_of, known_at });
  if (generation !== page.generation) return;
  const unknown = channels.some((c) => c.actors.some((id) => !page.actors.has(id)));
  if (unknown) {
    page.actors = await loadActors();
    fillActorFilters();
  }
  const signature = JSON.stringify(channels.map(({ as_of: _a, known_at: _k, ...rest }) => rest));
  showLive(true, `Live · checked ${new Date().toLocaleTimeString("en-GB")}`);
  alertMessage(null);
  if (live && signature === page.signature) return;
  page.signature = signature;
  page.channels = channels;
  render({ live });
}

async function loadEarliest() {
  try {
    const first = await getJSON("/v1/events", { limit: 1 });
    const when = first.items?.[0]?.occurred_at;
    if (when) page.earliest = addDays(when.slice(0, 10), -30);
  } catch {
    // Keep the default span; the date input still reaches any day.
  }
  setupRange();
}

// -- drawing -------------------------------------------------------------------

function passes(channel) {
  const { q, actor, country, status } = page.state;
  const [a, b] = channel.actors.map((id) => page.actors.get(id) || { id, name: id, aliases: [] });
  if (status && channel.status !== status) return false;
  if (actor && !channel.actors.includes(actor)) return false;
  if (country && a.country !== country && b.country !== country) return false;
  if (q && !matches(a, q) && !matches(b, q)) return false;
  return true;
}

function byAttention(x, y) {
  return statusRank(x.status) - statusRank(y.status) || x.channel.localeCompare(y.channel);
}

function whoList(counts) {
  const entries = Object.entries(counts || {});
  if (!entries.length) return "—";
  return entries.map(([id, n]) => `${actorName(page.actors, id)} (${n})`).join(", ");
}

function recentText(recent) {
  const entries = Object.entries(recent || {}).filter(([, n]) => n > 0);
  return entries.map(([type, n]) => `${n} × ${typeInfo(type).word.toLowerCase()}`).join(", ");
}

function card(channel, changed) {
  const [a, b] = channel.actors.map((id) => page.actors.get(id) || { id, name: id });
  const info = statusInfo(channel.status);
  const last = channel.last_contact;
  const recent = recentText(channel.recent);
  return h(
    "li",
    {
      class: `card status-${info.id}${changed ? " changed" : ""}`,
      dataset: { channel: channel.channel, status: channel.status },
    },
    h(
      "h3",
      {},
      h(
        "a",
        { href: `/channels/${a.id}/${b.id}${viewQuery()}` },
        h("span", { class: "name" }, a.name),
        h("span", { class: "sep", "aria-label": "and" }, " ~ "),
        h("span", { class: "name" }, b.name),
      ),
    ),
    h(
      "p",
      { class: "who" },
      h("span", { class: "country" }, a.country || "?"),
      ` ${a.role || a.kind || ""} · `,
      h("span", { class: "country" }, b.country || "?"),
      ` ${b.role || b.kind || ""}`,
    ),
    h(
      "p",
      { class: "status-line" },
      badge(channel.status),
      " ",
      channel.since
        ? h("span", {}, "since ", h("time", { datetime: channel.since }, human(channel.since)))
        : h("span", {}, "from the start of the record"),
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Last contact"),
      h(
        "dd",
        {},
        last
          ? [typeInfo(last.type).word, ", ", h("time", { datetime: last.occurred_at }, human(last.occurred_at))]
          : "none on record",
      ),
      h("dt", {}, "Requesting"),
      h("dd", { class: "requesting" }, whoList(channel.requests_since_contact)),
      h("dt", {}, "Refusing"),
      h("dd", { class: "refusing" }, whoList(channel.refusals_since_contact)),
      recent ? [h("dt", {}, "Recently"), h("dd", {}, recent)] : null,
      h("dt", {}, "Events"),
      h("dd", {}, `${channel.event_count}`),
    ),
  );
}

function render({ live = false } = {}) {
  const counts = new Map();
  for (const c of page.channels) counts.set(c.status, (counts.get(c.status) || 0) + 1);
  fill($("legend"), legendItems(counts));

  const shown = page.channels.filter(passes).sort(byAttention);
  const changes = [];
  const cards = shown.map((channel) => {
    const before = page.previous.get(channel.channel);
    const changed = live && before !== channel.status;
    if (changed) changes.push(`${channel.channel} is now ${statusInfo(channel.status).word.toLowerCase()}`);
    return card(channel, changed);
  });
  page.previous = new Map(page.channels.map((c) => [c.channel, c.status]));
  fill(
    $("board"),
    cards.length ? cards : h("li", { class: "empty" }, "No channel matches these filters on this date."),
  );

  const total = page.channels.length;
  const filtered = shown.length === total ? `${total} channels` : `${shown.length} of ${total} channels`;
  $("board-summary").textContent = changes.length ? `${filtered}. Updated: ${changes.join("; ")}.` : `${filtered}.`;
  renderTitle();
}

function renderTitle() {
  const date = page.state.as_of || today();
  $("board-date").dateTime = date;
  $("board-date").textContent = page.state.as_of ? human(date) : `today (${human(date)})`;
  $("board-known").textContent = page.state.known_at ? `, as known on ${human(page.state.known_at)}` : "";
  document.title = `Backchannel — the board as of ${date}`;
}

function fillActorFilters() {
  const actorSelect = $("actor");
  const countrySelect = $("country");
  const actors = [...page.actors.values()].sort((x, y) => x.name.localeCompare(y.name));
  fill(
    actorSelect,
    h("option", { value: "" }, "All actors"),
    actors.map((a) => h("option", { value: a.id }, `${a.name} (${a.country})`)),
  );
  const countries = [...new Set(actors.map((a) => a.country))].sort();
  fill(
    countrySelect,
    h("option", { value: "" }, "All countries"),
    countries.map((c) => h("option", { value: c }, c)),
  );
  syncControls();
}

// -- controls --------------------------------------------------------------------

function setupRange() {
  const range = $("as-of-range");
  range.min = "0";
  range.max = String(Math.max(daysBetween(page.earliest, today()), 1));
  $("as-of-date").max = today();
  range.dataset.earliest = page.earliest;
  syncControls();
}

function syncControls() {
  const date = page.state.as_of || today();
  $("as-of-date").value = date;
  $("as-of-range").value = String(daysBetween(page.earliest, date));
  $("as-of-range").setAttribute("aria-valuetext", human(date));
  $("known-at").value = toLocalInput(page.state.known_at);
  for (const name of ["q", "actor", "country", "status"]) {
    if ($(name).value !== page.state[name]) $(name).value = page.state[name];
  }
}

function showError(error) {
  showLive(false, "Not connected");
  alertMessage(explain(error));
}

function refresh(options) {
  return load(options).catch(showError);
}

/** Move the board to `date` ("" for now); `push` adds a history entry. */
function setAsOf(date, { push = true, fetch = true } = {}) {
  const clamped = date && date < today() ? date : "";
  page.state.as_of = clamped;
  syncControls();
  renderTitle();
  writeState({ push });
  if (fetch) return refresh();
  return Promise.resolve();
}

function step(days) {
  stopPlaying();
  setAsOf(addDays(page.state.as_of || today(), days));
}

let rangeTimer = null;
function onRangeInput() {
  const date = addDays(page.earliest, Number($("as-of-range").value));
  stopPlaying();
  page.state.as_of = date < today() ? date : "";
  $("as-of-date").value = date;
  $("as-of-range").setAttribute("aria-valuetext", human(date));
  renderTitle();
  clearTimeout(rangeTimer);
  rangeTimer = setTimeout(() => {
    writeState();
    refresh();
  }, 120);
}

function stopPlaying() {
  page.playing = false;
  $("play").setAttribute("aria-pressed", "false");
  $("play").textContent = "Play";
}

async function play() {
  if (page.playing) {
    stopPlaying();
    writeState({ push: true });
    return;
  }
  page.playing = true;
  $("play").setAttribute("aria-pressed", "true");
  $("play").textContent = "Pause";
  if (!page.state.as_of) await setAsOf(page.earliest, { push: true });
  while (page.playing && page.state.as_of) {
    await new Promise((resolve) => setTimeout(resolve, PLAY_STEP_MS));
    if (!page.playing) break;
    await setAsOf(addDays(page.state.as_of, 1), { push: false });
  }
  if (page.playing) stopPlaying();
}

function setFilter(name, value, { push = true } = {}) {
  page.state[name] = value;
  writeState({ push });
  render();
}

/** On a phone the filters fold away (unless one is set), so the channels come first. */
function foldFiltersOnPhones() {
  const narrow = window.matchMedia("(max-width: 520px)");
  const apply = () => {
    const active = ["q", "actor", "country", "status"].some((name) => page.state[name]);
    $("filters-box").open = !narrow.matches || active;
  };
  apply();
  narrow.addEventListener("change", apply);
}

function setupControls() {
  foldFiltersOnPhones();
  const statusSelect = $("status");
  for (const info of STATUSES) statusSelect.append(h("option", { value: info.id }, info.word));

  $("controls").addEventListener("submit", (event) => event.preventDefault());
  $("as-of-date").addEventListener("change", (event) => {
    stopPlaying();
    if (event.target.value) setAsOf(event.target.value);
  });
  $("as-of-range").addEventListener("input", onRangeInput);
  $("as-of-range").addEventListener("change", () => writeState({ push: true }));
  $("week-back").addEventListener("click", () => step(-7));
  $("day-back").addEventListener("click", () => step(-1));
  $("day-forward").addEventListener("click", () => step(1));
  $("week-forward").addEventListener("click", () => step(7));
  $("today").addEventListener("click", () => {
    stopPlaying();
    setAsOf("");
  });
  $("play").addEventListener("click", play);
  $("known-at").addEventListener("change", (event) => {
    page.state.known_at = fromLocalInput(event.target.value);
    writeState({ push: true });
    renderTitle();
    refresh();
  });
  $("known-now").addEventListener("click", () => {
    page.state.known_at = "";
    syncControls();
    writeState({ push: true });
    refresh();
  });
  $("q").addEventListener("input", (event) => setFilter("q", event.target.value.trim(), { push: false }));
  for (const name of ["actor", "country", "status"]) {
    $(name).addEventListener("change", (event) => setFilter(name, event.target.value));
  }
  $("clear-filters").addEventListener("click", () => {
    for (const name of ["q", "actor", "country", "status"]) page.state[name] = "";
    syncControls();
    writeState({ push: true });
    render();
  });
  window.addEventListener("popstate", () => {
    stopPlaying();
    page.state = readState();
    syncControls();
    refresh();
  });
}

async function start() {
  setupControls();
  setupTokenDialog(() => startReads());
  syncControls();
  renderTitle();
  await startReads();
  keepCurrent(() => load({ live: true }).catch((error) => {
    showError(error);
    throw error;
  }));
}

async function startReads() {
  try {
    page.actors = await loadActors();
    fillActorFilters();
    await Promise.all([load(), loadEarliest()]);
  } catch (error) {
    showError(error);
  }
}

start();
