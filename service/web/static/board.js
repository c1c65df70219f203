// The board: every channel and its status as of a date, filtered, replayable, kept current.
// At /offices, the same board of the pairs of offices (GET /v1/channels?kind=office).

import { actorName, loadActors, matches } from "./actors.js";
import { collect, explain } from "./api.js";
import { setupTokenDialog } from "./access.js";
import { alertMessage, fill, h } from "./dom.js";
import { typeInfo } from "./events.js";
import { followLog, showLive } from "./live.js";
import { badge, legendItems, STATUSES, statusInfo, statusRank } from "./status.js";
import {
  addDays,
  dayOf,
  daysBetween,
  fromLocalInput,
  human,
  toLocalInput,
  today,
} from "./time.js";
import { readView, refusedByService, showBanner, showProblems } from "./view.js";

const PARAMS = ["as_of", "known_at", "countries", "q", "actor", "country", "status"];
// A country pair the service filters the board to (`RU,US`), as the countries page links it.
const COUNTRIES = /^([A-Za-z]{2}),([A-Za-z]{2})$/;
const FILTERS = ["q", "actor", "country", "status"];
const PLAY_STEP_MS = 350;
// The slider reaches this far beyond the first and the last event (never past today).
const SPAN_MARGIN_DAYS = 14;
const $ = (id) => document.getElementById(id);
// The Offices view: the pairs of offices, each with the events its holders' terms count.
const OFFICES = window.location.pathname.replace(/\/+$/, "") === "/offices";
const KIND = OFFICES ? "office" : "";
const NOUN = OFFICES ? { one: "pair of offices", many: "pairs of offices" } : { one: "channel", many: "channels" };

const page = {
  state: {},
  problems: {},
  actors: new Map(),
  channels: [],
  signature: "",
  previous: new Map(),
  generation: 0,
  earliest: addDays(today(), -365),
  latest: today(),
  eventDays: [],
  playing: false,
};

// -- the URL carries the view ------------------------------------------------

/** The view the address asks for; an unreadable `as_of` or `known_at` is left out, and said. */
function readState() {
  const query = new URLSearchParams(window.location.search);
  const { state, problems } = readView(query);
  page.problems = problems;
  const countries = query.get("countries") || "";
  const pair = OFFICES ? null : COUNTRIES.exec(countries);
  if (countries && OFFICES) {
    problems.countries = `The address's countries, “${countries.slice(0, 40)}”, do not apply to offices (a country pair leaves office channels out); showing every pair of offices instead.`;
  } else if (countries && !pair) {
    problems.countries = `The address's countries, “${countries.slice(0, 40)}”, cannot be read (two ISO codes, as in RU,US); showing every channel instead.`;
  }
  return {
    ...state,
    countries: pair ? `${pair[1]},${pair[2]}`.toUpperCase() : "",
    ...Object.fromEntries(FILTERS.map((name) => [name, query.get(name) || ""])),
  };
}

/** The analyst chose a view time: what the address had wrong about it no longer applies. */
function settle(name) {
  if (!page.problems[name]) return;
  delete page.problems[name];
  showProblems($("view-problems"), page.problems);
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

/**
 * Fetch the board for the current (as_of, known_at); `live` marks what changed
 * since, `poll` marks its requests as the page's periodic re-read.
 */
async function load({ live = false, poll = false } = {}) {
  const generation = ++page.generation;
  const { as_of, known_at, countries } = page.state;
  const channels = await collect("/v1/channels", { as_of, known_at, countries, kind: KIND }, { poll });
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
  const news = live && page.signature !== "";
  page.signature = signature;
  page.channels = channels;
  render({ live });
  if (news) loadSpan(); // a new event may lie outside the slider's span
}

/** The slider's span: the record's own dates, its first event to its last, with a margin. */
async function loadSpan() {
  try {
    const events = await collect("/v1/events");
    const days = [...new Set(events.map((e) => dayOf(e.occurred_at)))].sort();
    if (days.length) {
      page.eventDays = days;
      page.earliest = addDays(days[0], -SPAN_MARGIN_DAYS);
      const end = addDays(days[days.length - 1], SPAN_MARGIN_DAYS);
      page.latest = end < today() ? end : today();
    }
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
    cards.length ? cards : h("li", { class: "empty" }, `No ${NOUN.one} matches these filters on this date.`),
  );

  const total = page.channels.length;
  const noun = total === 1 ? NOUN.one : NOUN.many;
  const filtered = shown.length === total ? `${total} ${noun}` : `${shown.length} of ${total} ${noun}`;
  $("board-summary").textContent = changes.length ? `${filtered}. Updated: ${changes.join("; ")}.` : `${filtered}.`;
  renderTitle();
}

function renderTitle() {
  const date = page.state.as_of || today();
  $("board-date").dateTime = date;
  $("board-date").textContent = page.state.as_of ? human(date) : `today (${human(date)})`;
  $("board-known").textContent = page.state.known_at ? `, as known on ${human(page.state.known_at)}` : "";
  document.title = OFFICES ? `Backchannel — offices as of ${date}` : `Backchannel — the board as of ${date}`;
  const download = new URLSearchParams({ format: "csv" });
  if (KIND) download.set("kind", KIND);
  if (page.state.as_of) download.set("as_of", page.state.as_of);
  if (page.state.known_at) download.set("known_at", page.state.known_at);
  if (page.state.countries) download.set("countries", page.state.countries);
  $("download-csv").href = `/v1/channels?${download}`;
  $("to-countries").href = `/countries${viewQuery()}`;
  $("to-board").href = `/${viewQuery()}`;
  $("to-offices").href = `/offices${viewQuery()}`;
  renderPairFilter();
  showBanner($("viewing"), page.state, backToNow);
}

/** Which country pair the board shows, when the address names one, and the way to all. */
function renderPairFilter() {
  const el = $("pair-filter");
  el.hidden = !page.state.countries;
  if (el.hidden) {
    el.replaceChildren();
    return;
  }
  const [a, b] = page.state.countries.split(",");
  fill(
    el,
    "Only the channels between ",
    h("strong", { class: "pair", dataset: { countries: page.state.countries } }, `${a} and ${b}`),
    " (office channels left out). ",
    h("button", { type: "button", id: "all-countries", onclick: showAllCountries }, "Show every channel"),
  );
}

function showAllCountries() {
  page.state.countries = "";
  delete page.problems.countries;
  showProblems($("view-problems"), page.problems);
  writeState({ push: true });
  renderTitle();
  return refresh();
}

function fillActorFilters() {
  const actorSelect = $("actor");
  const countrySelect = $("country");
  const actors = [...page.actors.values()]
    .filter((a) => !OFFICES || a.kind === "office")
    .sort((x, y) => x.name.localeCompare(y.name));
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

/** The slider over [earliest, latest], a day a step, with a tick on each day with an event. */
function setupRange() {
  const range = $("as-of-range");
  const length = Math.max(daysBetween(page.earliest, page.latest), 1);
  range.min = "0";
  range.max = String(length);
  range.dataset.earliest = page.earliest;
  range.dataset.latest = page.latest;
  $("as-of-date").max = today();
  const inside = page.eventDays.filter((day) => day >= page.earliest && day <= page.latest);
  fill(
    $("event-days"),
    inside.map((day) => h("option", { value: daysBetween(page.earliest, day), label: human(day) })),
  );
  fill(
    $("range-ticks"),
    inside.map((day) => {
      const tick = h("span", { class: "tick", dataset: { date: day } });
      tick.style.setProperty("--at", String(daysBetween(page.earliest, day) / length));
      return tick;
    }),
  );
  syncControls();
}

function syncControls() {
  const date = page.state.as_of ? dayOf(page.state.as_of) : today();
  $("as-of-date").value = date;
  $("as-of-range").value = String(daysBetween(page.earliest, date));
  $("as-of-range").setAttribute("aria-valuetext", human(date));
  $("known-at").value = toLocalInput(page.state.known_at);
  for (const name of FILTERS) {
    if ($(name).value !== page.state[name]) $(name).value = page.state[name];
  }
}

function showError(error) {
  showLive(false, "Not connected");
  alertMessage(explain(error));
}

/**
 * When the service refuses the view's `as_of` or `known_at` (a 422 locating it),
 * say so and drop it, so the board reads again at now. True if it did.
 */
function dropRefused(error) {
  const refused = refusedByService(error, page.state);
  if (!refused) return false;
  page.problems[refused.name] = refused.message;
  page.state[refused.name] = "";
  showProblems($("view-problems"), page.problems);
  syncControls();
  renderTitle();
  writeState();
  return true;
}

function refresh(options) {
  return load(options).catch((error) => (dropRefused(error) ? refresh(options) : showError(error)));
}

/** Move the board to `date` ("" for now); `push` adds a history entry. */
function setAsOf(date, { push = true, fetch = true } = {}) {
  const clamped = date && date < today() ? date : "";
  page.state.as_of = clamped;
  settle("as_of");
  syncControls();
  renderTitle();
  writeState({ push });
  if (fetch) return refresh();
  return Promise.resolve();
}

/** The banner's way back: today's board, as known now. */
function backToNow() {
  stopPlaying();
  page.state.known_at = "";
  settle("known_at");
  return setAsOf("");
}

function step(days) {
  stopPlaying();
  setAsOf(addDays(page.state.as_of ? dayOf(page.state.as_of) : today(), days));
}

let rangeTimer = null;
function onRangeInput() {
  const date = addDays(page.earliest, Number($("as-of-range").value));
  stopPlaying();
  page.state.as_of = date < today() ? date : "";
  settle("as_of");
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
  // Day by day through the record's span, to its end.
  while (page.playing && page.state.as_of && dayOf(page.state.as_of) < page.latest) {
    await new Promise((resolve) => setTimeout(resolve, PLAY_STEP_MS));
    if (!page.playing) break;
    await setAsOf(addDays(dayOf(page.state.as_of), 1), { push: false });
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
    const active = FILTERS.some((name) => page.state[name]);
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
    settle("known_at");
    writeState({ push: true });
    renderTitle();
    refresh();
  });
  $("known-now").addEventListener("click", () => {
    page.state.known_at = "";
    settle("known_at");
    syncControls();
    renderTitle();
    writeState({ push: true });
    refresh();
  });
  $("q").addEventListener("input", (event) => setFilter("q", event.target.value.trim(), { push: false }));
  for (const name of ["actor", "country", "status"]) {
    $(name).addEventListener("change", (event) => setFilter(name, event.target.value));
  }
  $("clear-filters").addEventListener("click", () => {
    for (const name of FILTERS) page.state[name] = "";
    syncControls();
    if (page.state.countries) {
      showAllCountries();
      return;
    }
    writeState({ push: true });
    render();
  });
  window.addEventListener("popstate", () => {
    stopPlaying();
    page.state = readState();
    showProblems($("view-problems"), page.problems);
    syncControls();
    renderTitle();
    refresh();
  });
}

/** The page as the Offices view: its title, headings and navigation say so. */
function setupView() {
  const current = $(OFFICES ? "to-offices" : "to-board");
  current.setAttribute("aria-current", "page");
  if (!OFFICES) return;
  document.body.classList.add("offices-view");
  $("board-title").firstChild.textContent = "Pairs of offices as of ";
  $("download-csv").textContent = "Download the pairs of offices as CSV";
  $("offices-note").hidden = false;
  $("skip").textContent = "Skip to the pairs of offices";
}

async function start() {
  setupView();
  page.state = readState();
  showProblems($("view-problems"), page.problems);
  setupControls();
  setupTokenDialog(() => startReads());
  syncControls();
  renderTitle();
  await startReads();
  followLog(
    ({ poll }) =>
      load({ live: true, poll }).catch((error) => {
        if (dropRefused(error)) return refresh();
        showError(error);
        throw error;
      }),
    {},
  );
}

async function startReads() {
  try {
    page.actors = await loadActors();
    fillActorFilters();
    await Promise.all([refresh(), loadSpan()]);
  } catch (error) {
    showError(error);
  }
}

start().catch(showError);
