// What changed: the transitions of a week or a range (valid time), and the revisions since
// a moment (record time), each linking to its channel and its evidence.

import { collect, explain } from "./api.js";
import { setupTokenDialog } from "./access.js";
import { alertMessage, fill, h } from "./dom.js";
import { badge } from "./status.js";
import { addDays, fromLocalInput, human, toLocalInput } from "./time.js";

const $ = (id) => document.getElementById(id);
const WEEK = /^(\d{4})-W(\d{2})$/;

/** The Monday of ISO week `text` (2022-W08) as a date, or null. */
function mondayOf(text) {
  const match = WEEK.exec(text || "");
  if (!match) return null;
  const [year, week] = [Number(match[1]), Number(match[2])];
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const monday1 = Date.UTC(year, 0, 4) - ((jan4.getUTCDay() + 6) % 7) * 86400000;
  return new Date(monday1 + (week - 1) * 7 * 86400000).toISOString().slice(0, 10);
}

function readState() {
  const query = new URLSearchParams(window.location.search);
  const state = { week: query.get("week") || "", from: query.get(`from`) || "", to: query.get(`to`) || "" };
  state.since = query.get("since") || "";
  const monday = mondayOf(state.week);
  if (monday) {
    state.from = addDays(monday, -1); // after the end of Sunday: from Monday 00:00 on
    state.to = addDays(monday, 6);
  }
  return state;
}

function syncControls(state) {
  $("week").value = state.week;
  $("start").value = state.from;
  $("end").value = state.to;
  $("since").value = toLocalInput(state.since);
}

function channelLink(channel) {
  return h("a", { href: `/channels/${channel}`, class: "channel-link" }, channel);
}

function evidenceLinks(ids) {
  return ids.map((id) => h("a", { href: `/v1/events/${id}`, class: "evidence" }, id.slice(0, 8)));
}

async function loadTransitions(state) {
  const params = {};
  if (state.from) params.from = state.from;
  if (state.to) params.to = state.to;
  const items = await collect("/v1/transitions", params);
  $("transitions-range").textContent = state.from || state.to
    ? `after ${state.from ? human(state.from) : "seven days before"} up to ${state.to ? human(state.to) : "now"}`
    : "in the last seven days";
  $("transitions-summary").textContent = `${items.length} change${items.length === 1 ? "" : "s"} of status`;
  fill(
    $("transitions"),
    items.map((t) =>
      h(
        "li",
        { class: "change", dataset: { channel: t.channel, at: t.at, before: t.before, after: t.after } },
        h("time", { datetime: t.at }, human(t.at)),
        " ",
        channelLink(t.channel),
        " ",
        badge(t.before),
        " → ",
        badge(t.after),
        h("span", { class: "evidence-list" }, " evidence: ", evidenceLinks(t.evidence)),
      ),
    ),
  );
}

async function loadRevisions(state) {
  if (!state.since) {
    $("revisions-range").textContent = "";
    $("revisions-summary").textContent = "Pick a moment to see what the record learned since.";
    fill($("revisions"));
    return;
  }
  const items = await collect("/v1/revisions", { since: state.since });
  $("revisions-range").textContent = `since ${human(state.since)}`;
  $("revisions-summary").textContent = `${items.length} channel${items.length === 1 ? "" : "s"} revised`;
  fill(
    $("revisions"),
    items.map((r) =>
      h(
        "li",
        { class: "change", dataset: { channel: r.channel, before: r.before.status, after: r.after.status } },
        channelLink(r.channel),
        " ",
        badge(r.before.status),
        " → ",
        badge(r.after.status),
        h("span", { class: "evidence-list" }, " recorded: ", evidenceLinks(r.recorded)),
        r.retracted.length ? h("span", { class: "evidence-list" }, " retracted: ", evidenceLinks(r.retracted)) : null,
      ),
    ),
  );
}

async function load() {
  const state = readState();
  syncControls(state);
  try {
    await Promise.all([loadTransitions(state), loadRevisions(state)]);
    alertMessage(null);
  } catch (error) {
    alertMessage(explain(error));
  }
}

function setupControls() {
  $("week").addEventListener("change", () => {
    const monday = mondayOf($("week").value);
    if (monday) {
      $("start").value = addDays(monday, -1);
      $("end").value = addDays(monday, 6);
    }
  });
  $("range").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    const week = $("week").value;
    const monday = mondayOf(week);
    if (monday && $("start").value === addDays(monday, -1) && $("end").value === addDays(monday, 6)) {
      query.set("week", week);
    } else {
      if ($("start").value) query.set(`from`, $("start").value);
      if ($("end").value) query.set(`to`, $("end").value);
    }
    const since = fromLocalInput($("since").value);
    if (since) query.set("since", since);
    history.replaceState(null, "", `${window.location.pathname}?${query}`);
    load();
  });
}

setupControls();
setupTokenDialog(load);
load();
