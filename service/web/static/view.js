// The view a page's address asks for (`as_of`, `known_at`): checked as the API checks it,
// explained when refused, and announced in a banner when it is not the present.

import { fill, h } from "./dom.js";
import { human, timeProblem, today } from "./time.js";

const RULES = {
  as_of: { dates: true, instead: "showing the record as of today instead" },
  known_at: { dates: false, instead: "showing the record as known now instead" },
};

/** `{state, problems}`: the valid view times of `query`, and a message per refused one. */
export function readView(query) {
  const state = {};
  const problems = {};
  for (const [name, rule] of Object.entries(RULES)) {
    const value = query.get(name) || "";
    const problem = value ? timeProblem(value, rule) : null;
    state[name] = problem ? "" : value;
    if (problem) problems[name] = refusal(name, value, problem);
  }
  return { state, problems };
}

function refusal(name, value, why) {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return `The address's ${name}, “${shown}”, cannot be read (${why}); ${RULES[name].instead}.`;
}

/**
 * A view time the service refused (a 422 locating `as_of` or `known_at` in the
 * query): its name and message, or null for any other error.
 */
export function refusedByService(error, state) {
  const errors = error?.status === 422 ? error.problem?.errors || [] : [];
  for (const { loc, msg } of errors) {
    const [where, name] = loc || [];
    if (where === "query" && name in RULES && state[name]) {
      return { name, message: refusal(name, state[name], String(msg).replace(/^Value error, /, "")) };
    }
  }
  return null;
}

/** Show the refused view times in `el` (the page's `#view-problems`), or hide it. */
export function showProblems(el, problems) {
  const messages = Object.entries(problems).filter(([, text]) => text);
  el.hidden = messages.length === 0;
  fill(
    el,
    messages.map(([name, text]) => h("span", { class: "problem", dataset: { param: name } }, text, " ")),
  );
}

/** True when the view is not the present: a past `as_of`, or any `known_at`. */
export function isPast(state) {
  return Boolean((state.as_of && state.as_of.slice(0, 10) < today()) || state.known_at);
}

/** The "Viewing the record as of …" banner in `el`, with a button back to now; hidden at now. */
export function showBanner(el, state, backToNow) {
  el.hidden = !isPast(state);
  if (el.hidden) {
    el.replaceChildren();
    return;
  }
  const asOf = state.as_of && state.as_of.slice(0, 10) < today() ? state.as_of : "";
  fill(
    el,
    h(
      "p",
      { class: "viewing-text" },
      "Viewing the record as of ",
      asOf
        ? h("time", { datetime: asOf }, human(asOf))
        : h("time", { datetime: today() }, `today (${human(today())})`),
      state.known_at
        ? [", as known on ", h("time", { datetime: state.known_at }, human(state.known_at))]
        : null,
      ".",
    ),
    h("button", { type: "button", class: "back-to-now", onclick: backToNow }, "Back to now"),
  );
}
