// The six statuses: their words, symbols and meaning. Colour is never the only cue.

import { h } from "./dom.js";

export const STATUSES = [
  { id: "refused", word: "Refused", symbol: "✕", hint: "a refusal since the last contact" },
  { id: "pending", word: "Pending", symbol: "…", hint: "a request since the last contact, unanswered" },
  { id: "open", word: "Open", symbol: "●", hint: "in contact within the window" },
  { id: "standby", word: "Standby", symbol: "◐", hint: "a standing line tested, not used" },
  { id: "dormant", word: "Dormant", symbol: "○", hint: "last contact older than the window" },
  { id: "no_contact", word: "No contact", symbol: "–", hint: "no contact on record" },
];

const BY_ID = new Map(STATUSES.map((s) => [s.id, s]));

export function statusInfo(id) {
  return BY_ID.get(id) || { id, word: id, symbol: "?", hint: "" };
}

/** Order of the board: what needs attention first. */
export function statusRank(id) {
  const i = STATUSES.findIndex((s) => s.id === id);
  return i < 0 ? STATUSES.length : i;
}

/** A status as a coloured chip with its symbol and word. */
export function badge(id) {
  const info = statusInfo(id);
  return h(
    "span",
    { class: `badge status-${info.id}` },
    h("span", { class: "symbol", "aria-hidden": "true" }, info.symbol),
    h("span", { class: "word" }, info.word),
  );
}

/** The legend: every status with its chip, meaning and, optionally, how many channels have it. */
export function legendItems(counts) {
  return STATUSES.map((info) =>
    h(
      "li",
      { class: "legend-item", dataset: { status: info.id } },
      badge(info.id),
      h("span", { class: "hint" }, info.hint),
      counts ? h("span", { class: "count" }, `${counts.get(info.id) || 0}`) : null,
    ),
  );
}
