// Countries: a matrix of country pairs as of a date, each cell its channels' counts per
// status (from /v1/countries, over the whole pair); a cell opens the board filtered to it.

import { loadActors } from "./actors.js";
import { collect, explain } from "./api.js";
import { setupTokenDialog } from "./access.js";
import { alertMessage, fill, h } from "./dom.js";
import { typeInfo } from "./events.js";
import { followLog, showLive } from "./live.js";
import { legendItems, STATUSES } from "./status.js";
import { dayOf, fromLocalInput, human, toLocalInput, today } from "./time.js";
import { readView, refusedByService, showBanner, showProblems } from "./view.js";

const $ = (id) => document.getElementById(id);
const OFFICE = "office";

const page = { state: {}, problems: {}, countries: [], pairs: new Map(), signature: "", generation: 0 };

let regions = null;
try {
  regions = new Intl.DisplayNames(["en"], { type: "region" });
} catch {
  regions = null;
}

/** "Russia (RU)", or the code alone where the browser knows no name for it. */
function countryName(code) {
  let name = null;
  try {
    name = regions ? regions.of(code) : null;
  } catch {
    name = null;
  }
  return name && name !== code ? `${name} (${code})` : code;
}

// -- the URL carries the view ------------------------------------------------

function readState() {
  const { state, problems } = readView(new URLSearchParams(window.location.search));
  page.problems = problems;
  return state;
}

function writeState({ push = false } = {}) {
  const target = `${window.location.pathname}${viewQuery()}`;
  if (target === `${window.location.pathname}${window.location.search}`) return;
  if (push) window.history.pushState(null, "", target);
  else window.history.replaceState(null, "", target);
}

/** `?as_of=…&known_at=…` of the view (and `extra` first), or "". */
function viewQuery(extra = {}) {
  const query = new URLSearchParams(extra);
  if (page.state.as_of) query.set("as_of", page.state.as_of);
  if (page.state.known_at) query.set("known_at", page.state.known_at);
  const search = query.toString();
  return search ? `?${search}` : "";
}

// -- reading -------------------------------------------------------------------

async function load({ poll = false } = {}) {
  const generation = ++page.generation;
  const { as_of, known_at } = page.state;
  const [pairs, actors] = await Promise.all([
    collect("/v1/countries", { as_of, known_at }, { poll }),
    loadActors(),
  ]);
  if (generation !== page.generation) return;
  showLive(true, `Live · checked ${new Date().toLocaleTimeString("en-GB")}`);
  alertMessage(null);
  const countries = new Set(pairs.flatMap((p) => p.countries));
  for (const actor of actors.values()) if (actor.kind !== OFFICE) countries.add(actor.country);
  const signature = JSON.stringify([pairs, [...countries].sort()]);
  if (signature === page.signature) return;
  page.signature = signature;
  page.countries = [...countries].sort();
  page.pairs = new Map(pairs.map((p) => [p.pair, p]));
  render();
}

// -- drawing -------------------------------------------------------------------

function counts(pair) {
  return STATUSES.filter((info) => pair.counts[info.id]).map((info) =>
    h(
      "span",
      {
        class: `cell-count status-${info.id}`,
        dataset: { status: info.id },
        title: `${pair.counts[info.id]} ${info.word.toLowerCase()}`,
      },
      h("span", { class: "symbol", "aria-hidden": "true" }, info.symbol),
      h("span", { class: "n" }, String(pair.counts[info.id])),
      h("span", { class: "word" }, ` ${info.word.toLowerCase()}`),
    ),
  );
}

function cell(first, second) {
  const id = `${first}~${second}`;
  const pair = page.pairs.get(id);
  const label = `${countryName(first)} and ${countryName(second)}`;
  if (!pair) {
    return h(
      "td",
      { class: "pair empty-pair", dataset: { pair: id, channelCount: "0" } },
      h("span", { class: "none", title: `No channel between ${label}` }, "–"),
    );
  }
  const last = pair.last_contact;
  return h(
    "td",
    { class: "pair", dataset: { pair: id, channelCount: String(pair.channel_count) } },
    h(
      "a",
      {
        href: `/${viewQuery({ countries: `${first},${second}` })}`,
        class: "pair-link",
        "aria-label": `${label}: ${pair.channel_count} channel${pair.channel_count === 1 ? "" : "s"}`,
      },
      h("span", { class: "cell-counts" }, counts(pair)),
      h(
        "span",
        { class: "cell-last" },
        last ? [typeInfo(last.type).word, ", ", h("time", { datetime: last.occurred_at }, human(last.occurred_at))] : "no contact on record",
      ),
    ),
  );
}

function render() {
  const totals = new Map();
  for (const pair of page.pairs.values()) {
    for (const [status, n] of Object.entries(pair.counts)) totals.set(status, (totals.get(status) || 0) + n);
  }
  fill($("legend"), legendItems(totals));
  const codes = page.countries;
  const head = h(
    "thead",
    {},
    h(
      "tr",
      {},
      h("td", { class: "corner" }),
      codes.map((code) => h("th", { scope: "col", title: countryName(code) }, code)),
    ),
  );
  const rows = codes.map((row, i) =>
    h(
      "tr",
      {},
      h("th", { scope: "row", title: countryName(row) }, row),
      // A pair is unordered: each appears once, above the diagonal (or on it, for two
      // actors of one country); the cells below it mirror nothing.
      codes.map((column, j) => (j < i ? h("td", { class: "mirror", "aria-hidden": "true" }) : cell(row, column))),
    ),
  );
  fill(
    $("matrix"),
    h("caption", {}, "Rows and columns are countries; each pair once, above the diagonal"),
    head,
    h("tbody", {}, rows),
  );
  const channels = [...page.pairs.values()].reduce((sum, p) => sum + p.channel_count, 0);
  $("matrix-summary").textContent = page.pairs.size
    ? `${page.pairs.size} pair${page.pairs.size === 1 ? "" : "s"} of countries, ${channels} channel${channels === 1 ? "" : "s"}.`
    : "No channel on the board on this date.";
  renderTitle();
}

function renderTitle() {
  const date = page.state.as_of || today();
  $("matrix-date").dateTime = date;
  $("matrix-date").textContent = page.state.as_of ? human(date) : `today (${human(date)})`;
  $("matrix-known").textContent = page.state.known_at ? `, as known on ${human(page.state.known_at)}` : "";
  document.title = `Backchannel — countries as of ${date}`;
  $("to-board").href = `/${viewQuery()}`;
  $("to-offices").href = `/offices${viewQuery()}`;
  showBanner($("viewing"), page.state, backToNow);
}

// -- controls --------------------------------------------------------------------

function syncControls() {
  $("as-of-date").value = page.state.as_of ? dayOf(page.state.as_of) : today();
  $("as-of-date").max = today();
  $("known-at").value = toLocalInput(page.state.known_at);
}

function showError(error) {
  showLive(false, "Not connected");
  alertMessage(explain(error));
}

/** A view time the service refused is said and dropped, as on the board; true if one was. */
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

function change(name, value) {
  page.state[name] = value;
  delete page.problems[name];
  showProblems($("view-problems"), page.problems);
  syncControls();
  renderTitle();
  writeState({ push: true });
  return refresh();
}

function backToNow() {
  page.state.known_at = "";
  delete page.problems.known_at;
  return change("as_of", "");
}

function setupControls() {
  $("controls").addEventListener("submit", (event) => event.preventDefault());
  $("as-of-date").addEventListener("change", (event) => {
    const date = event.target.value;
    if (date) change("as_of", date < today() ? date : "");
  });
  $("today").addEventListener("click", () => change("as_of", ""));
  $("known-at").addEventListener("change", (event) => change("known_at", fromLocalInput(event.target.value)));
  $("known-now").addEventListener("click", () => change("known_at", ""));
  window.addEventListener("popstate", () => {
    page.state = readState();
    showProblems($("view-problems"), page.problems);
    syncControls();
    renderTitle();
    refresh();
  });
}

async function start() {
  page.state = readState();
  showProblems($("view-problems"), page.problems);
  setupControls();
  setupTokenDialog(() => refresh());
  syncControls();
  renderTitle();
  fill($("legend"), legendItems(new Map()));
  await refresh();
  followLog(
    ({ poll }) =>
      load({ poll }).catch((error) => {
        if (dropRefused(error)) return refresh();
        showError(error);
        throw error;
      }),
    {},
  );
}

start().catch(showError);
