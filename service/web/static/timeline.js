// The timeline drawn in SVG: status bands over valid time, and each event as a mark by type;
// above the bands, for a channel with an office on either side, who held each post when.

import { fill, h, s } from "./dom.js";
import { LANES, typeInfo } from "./events.js";
import { statusInfo } from "./status.js";
import { DAY, PRECISION, PRECISION_DAYS, atPrecision, human, instant } from "./time.js";

const TOP = 22;
const BAND_HEIGHT = 34;
const EDGE = 5;
const HOLDER_HEIGHT = 22;
const HOLDER_GAP = 4;
const LANE_GAP = 14; // between the status bands and the first lane of marks
const LANE_HEIGHT = 30;
const AXIS_HEIGHT = 26;
const MARK_GAP = 13;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * The valid-time span to draw: every event, every finite boundary and `as_of`, padded;
 * it reaches the later `handovers` (instants a post changed hands) up to now, so the
 * holders' row shows each change of hands since the channel's record began.
 */
function domain(intervals, events, asOf, handovers = []) {
  const times = [];
  for (const e of events) {
    const start = instant(e.occurred_at);
    times.push(start, start + (PRECISION_DAYS[e.precision] || 0) * DAY);
  }
  for (const i of intervals) {
    if (i.from) times.push(instant(i.from));
    if (i.to) times.push(instant(i.to));
  }
  if (asOf) times.push(asOf);
  if (!times.length) return [Date.now() - 30 * DAY, Date.now()];
  const lo = Math.min(...times);
  let hi = Math.max(...times);
  for (const t of handovers) if (t > lo && t <= Date.now()) hi = Math.max(hi, t);
  const pad = Math.max(2 * DAY, (hi - lo) * 0.05);
  return [lo - pad, hi + pad];
}

/** Tick instants and labels, as many as fit in `width` pixels. */
function ticks(lo, hi, width) {
  const most = Math.max(2, Math.floor(width / 72));
  const days = (hi - lo) / DAY;
  const dayStep = [1, 2, 7, 14].find((n) => days / n <= most);
  const out = [];
  if (dayStep) {
    let t = Math.ceil(lo / DAY) * DAY;
    if (dayStep >= 7) while (new Date(t).getUTCDay() !== 1) t += DAY; // Mondays
    for (; t <= hi; t += dayStep * DAY) {
      const d = new Date(t);
      out.push([t, `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`]);
    }
    if (out.length) out[0][1] += ` ${new Date(out[0][0]).getUTCFullYear()}`;
    return out;
  }
  const monthStep = [1, 2, 3, 6, 12, 24, 60].find((n) => days / (30.4 * n) <= most) || 120;
  const start = new Date(lo);
  const y = start.getUTCFullYear();
  let m = start.getUTCMonth() + 1;
  if (monthStep >= 12) m = 0;
  for (let t = Date.UTC(y, m, 1); t <= hi; ) {
    const d = new Date(t);
    if (t >= lo) {
      out.push([t, monthStep >= 12 ? `${d.getUTCFullYear()}` : `${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`]);
    }
    t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + monthStep, 1);
  }
  return out;
}

function shape(lane) {
  switch (lane) {
    case "contact":
      return s("circle", { class: "shape", r: 7.5 });
    case "request":
      return s("path", { class: "shape", d: "M-7,-8 L8,0 L-7,8 Z" });
    case "refusal":
      return s("rect", { class: "shape", x: -7, y: -7, width: 14, height: 14 });
    case "hotline":
      return s("circle", { class: "shape", r: 5.5 });
    default:
      return s("path", { class: "shape", d: "M0,-8 L8,0 L0,8 L-8,0 Z" });
  }
}

/** A small standalone glyph of a lane's mark, for legends and the event list. */
export function glyph(lane, retracted = false, evidence = false) {
  const size = evidence ? 22 : 18;
  return s(
    "svg",
    {
      class: `glyph mark lane-${lane}${retracted ? " retracted" : ""}`,
      width: size,
      height: size,
      viewBox: `${-size / 2} ${-size / 2} ${size} ${size}`,
      "aria-hidden": "true",
    },
    evidence ? s("circle", { class: "evidence-ring", r: 10 }) : null,
    shape(lane),
    retracted ? s("line", { class: "strike", x1: -9, y1: 0, x2: 9, y2: 0 }) : null,
  );
}

function describe(event, actors, decisive) {
  const info = typeInfo(event.type);
  const who = `${actors(event.actor)} to ${actors(event.counterpart)}`;
  const when = `${atPrecision(event.occurred_at, event.precision)} (${PRECISION[event.precision] || event.precision})`;
  const retracted = event.retractedNow ? ` Retracted: ${event.retracted.reason}.` : "";
  const sources = event.sources?.length ? ` ${event.sources.length} source(s).` : "";
  const behind = decisive ? " Behind the status." : "";
  return `${info.word}, ${when}, ${who}: ${event.summary || "no summary"}.${retracted}${sources}${behind}`;
}

/** The details of one event (tooltip and list share it). */
export function eventDetails(event, actors) {
  const info = typeInfo(event.type);
  const summary = event.summary || "No summary.";
  return [
    h("h3", {}, info.word),
    h(
      "p",
      { class: "when" },
      h(
        "time",
        { class: "occurred", datetime: event.occurred_at, title: PRECISION[event.precision] || event.precision },
        atPrecision(event.occurred_at, event.precision),
      ),
      ` · ${actors(event.actor)} → ${actors(event.counterpart)}`,
    ),
    event.recorded_at
      ? h(
          "p",
          { class: "recorded" },
          "Recorded ",
          h("time", { datetime: event.recorded_at }, human(event.recorded_at)),
        )
      : null,
    h("p", { class: "summary-text" }, event.retractedNow ? h("del", {}, summary) : summary),
    event.retractedNow
      ? h(
          "p",
          { class: "retraction" },
          "Retracted on ",
          h("time", { datetime: event.retracted.at }, human(event.retracted.at)),
          `: ${event.retracted.reason}`,
        )
      : null,
    sourceList(event.sources),
  ];
}

function sourceList(sources) {
  if (!sources?.length) return h("p", { class: "when" }, "No source given.");
  return h(
    "ul",
    { class: "sources", "aria-label": "Sources" },
    sources.map((src) =>
      h(
        "li",
        {},
        src.url ? h("a", { href: src.url, target: "_blank", rel: "noopener noreferrer" }, src.name) : src.name,
        src.published_at ? [" — published ", h("time", { datetime: src.published_at }, human(src.published_at))] : null,
      ),
    ),
  );
}

/**
 * Draw the timeline into `wrap` (keeping its tooltip element `tip`).
 * `events` carry `retractedNow`; those in `evidence` (ids) decided the status and are
 * ringed; `onChoose(event)` runs when a mark is activated.
 */
export function drawTimeline(
  wrap,
  tip,
  { intervals, events, asOf, evidence = new Set(), actors, onChoose, holders = [] },
) {
  const width = Math.max(300, wrap.clientWidth);
  const narrow = width < 560;
  const left = narrow ? 8 : 86;
  const right = 12;
  const lanes = LANES.filter((lane) => events.some((e) => typeInfo(e.type).lane === lane.id));
  const laneHeight = narrow ? LANE_HEIGHT + 10 : LANE_HEIGHT;
  const bandTop = TOP + holders.length * (HOLDER_HEIGHT + HOLDER_GAP) + (holders.length ? HOLDER_GAP : 0);
  const laneTop = bandTop + BAND_HEIGHT + EDGE + LANE_GAP;
  const height = laneTop + lanes.length * laneHeight + AXIS_HEIGHT;
  const handovers = holders.flatMap((row) =>
    row.terms.flatMap((term) => [term.from, term.to].filter(Boolean).map(instant)),
  );
  const [lo, hi] = domain(intervals, events, asOf, handovers);
  const x = (t) => left + ((t - lo) / (hi - lo)) * (width - left - right);
  const clampX = (t) => Math.min(width - right, Math.max(left, x(t)));

  const svg = s("svg", {
    id: "timeline",
    class: "timeline",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "group",
    "aria-label": `Timeline from ${human(new Date(lo).toISOString().slice(0, 10))} to ${human(new Date(hi).toISOString().slice(0, 10))}: status bands and ${events.length} events`,
  });
  svg.append(
    s(
      "defs",
      {},
      s(
        "pattern",
        { id: "hatch", width: 8, height: 8, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
        s("rect", { width: 8, height: 8, fill: "#f4f5f7" }),
        s("line", { x1: 0, y1: 0, x2: 0, y2: 8, stroke: "#d0d7de", "stroke-width": 3 }),
      ),
    ),
  );

  // Grid and axis.
  const axis = s("g", { class: "axis", "aria-hidden": "true" });
  for (const [t, label] of ticks(lo, hi, width - left - right)) {
    const tx = x(t);
    svg.append(s("line", { class: "grid-line", x1: tx, x2: tx, y1: TOP, y2: height - AXIS_HEIGHT }));
    axis.append(s("line", { x1: tx, x2: tx, y1: height - AXIS_HEIGHT, y2: height - AXIS_HEIGHT + 5 }));
    if (tx < width - right - label.length * 3.5) {
      axis.append(s("text", { x: tx, y: height - 6, "text-anchor": "middle" }, label));
    }
  }
  axis.append(s("line", { x1: left, x2: width - right, y1: height - AXIS_HEIGHT, y2: height - AXIS_HEIGHT }));
  svg.append(axis);

  // Who held each post: a row per office side, a band per term, clipped to the span.
  holders.forEach((row, index) => {
    svg.append(holderRow(row, TOP + index * (HOLDER_HEIGHT + HOLDER_GAP), { lo, hi, clampX, narrow }));
  });

  // Status bands.
  const bands = s("g", { class: "bands" });
  if (!narrow) bands.append(s("text", { class: "lane-label", x: 4, y: bandTop + BAND_HEIGHT / 2 + 4 }, "Status"));
  for (const interval of intervals) {
    const from = interval.from ? instant(interval.from) : lo;
    const to = interval.to ? instant(interval.to) : hi;
    if (to < lo || from > hi) continue;
    const x1 = clampX(from);
    const x2 = clampX(to);
    const info = statusInfo(interval.status);
    const span = `${info.word} from ${interval.from ? human(interval.from) : "the start"} to ${interval.to ? human(interval.to) : "now"}`;
    const band = s(
      "g",
      {
        class: `band-group status-${info.id}`,
        dataset: { status: interval.status, from: interval.from || "", to: interval.to || "" },
      },
      s("title", {}, span),
      s("rect", { class: `band status-${info.id}`, x: x1, y: bandTop, width: Math.max(1, x2 - x1), height: BAND_HEIGHT }),
      s("rect", { class: `band-edge status-${info.id}`, x: x1, y: bandTop + BAND_HEIGHT, width: Math.max(1, x2 - x1), height: EDGE }),
    );
    const label = `${info.symbol} ${info.word}${interval.to ? "" : " →"}`;
    if (x2 - x1 > label.length * 7.5 + 8) {
      band.append(s("text", { class: "band-label", x: x1 + 6, y: bandTop + BAND_HEIGHT / 2 + 4 }, label));
    }
    bands.append(band);
  }
  svg.append(bands);

  // The date the status is read at.
  if (asOf && asOf >= lo && asOf <= hi) {
    const ax = x(asOf);
    svg.append(
      s("line", { class: "as-of-line", x1: ax, x2: ax, y1: TOP - 4, y2: height - AXIS_HEIGHT }),
      s(
        "text",
        { class: "as-of-label", x: ax, y: TOP - 8, "text-anchor": ax > width - 90 ? "end" : ax < left + 60 ? "start" : "middle" },
        `as of ${human(new Date(asOf).toISOString().slice(0, 10))}`,
      ),
    );
  }

  // Lanes and marks, in time order so Tab walks through time.
  const marks = [];
  lanes.forEach((lane, index) => {
    const y = laneTop + index * laneHeight + laneHeight / 2;
    svg.append(s("line", { class: "grid-line", x1: left, x2: width - right, y1: y, y2: y }));
    svg.append(
      s("text", narrow ? { class: "lane-label", x: left, y: y - 12 } : { class: "lane-label", x: 4, y: y + 4 }, lane.label),
    );
    let lastX = -Infinity;
    for (const event of events.filter((e) => typeInfo(e.type).lane === lane.id)) {
      const start = instant(event.occurred_at);
      const trueX = x(start);
      const mx = Math.max(trueX, lastX + MARK_GAP);
      lastX = mx;
      const spanDays = PRECISION_DAYS[event.precision] || 0;
      const decisive = evidence.has(event.id);
      const mark = s(
        "g",
        {
          class: `mark lane-${lane.id}${event.retractedNow ? " retracted" : ""}${decisive ? " evidence" : ""}`,
          transform: `translate(${mx},${y})`,
          tabindex: 0,
          role: "button",
          "aria-label": describe(event, actors, decisive),
          dataset: {
            event: event.id,
            type: event.type,
            occurredAt: event.occurred_at,
            retracted: event.retractedNow ? "true" : "false",
            evidence: decisive ? "true" : "false",
          },
        },
        spanDays > 1
          ? s("line", { class: "whisker", x1: trueX - mx, x2: x(start + spanDays * DAY) - mx, y1: 0, y2: 0 })
          : null,
        decisive ? s("circle", { class: "evidence-ring", r: 13 }) : null,
        s("circle", { class: "hit", r: 11 }),
        s("circle", { class: "ring", r: 11 }),
        shape(lane.id),
        event.retractedNow ? s("line", { class: "strike", x1: -11, y1: 0, x2: 11, y2: 0 }) : null,
      );
      marks.push({ mark, event, x: mx, y, start });
    }
  });
  marks.sort((p, q) => p.start - q.start || p.y - q.y);
  for (const m of marks) svg.append(m.mark);

  const old = wrap.querySelector("svg.timeline");
  if (old) old.replaceWith(svg);
  else wrap.prepend(svg);
  wireMarks(wrap, tip, marks, width, actors, onChoose);
  return svg;
}

const SUFFIX = /^(Jr\.?|Sr\.?|I{2,3}|IV)$/;

/** The longest of a name's forms ("Lloyd Austin", "Austin") that fits `room` pixels, or "". */
function fitting(name, room) {
  const words = String(name).split(/\s+/).filter(Boolean);
  const surname = words.filter((word) => !SUFFIX.test(word)).pop() || "";
  for (const form of [words.join(" "), surname]) {
    if (form && form.length * 6.6 + 10 <= room) return form;
  }
  return "";
}

/**
 * One office's holders as a row of bands: `row` is `{office: {id, name, country}, terms:
 * [{id, person, name, from, to}]}`, the terms in `from` order (retracted ones left out).
 * A band that began before the drawn span starts at its left edge, marked "←".
 */
function holderRow(row, top, { lo, hi, clampX, narrow }) {
  const { office } = row;
  const group = s("g", {
    class: "holders",
    role: "list",
    "aria-label": `Holders of ${office.name}`,
    dataset: { office: office.id },
  });
  if (!narrow) {
    group.append(
      s("text", { class: "lane-label", x: 4, y: top + HOLDER_HEIGHT / 2 + 4 }, `${office.country || ""} post`.trim()),
    );
  }
  row.terms.forEach((term, index) => {
    const from = instant(term.from);
    const to = term.to ? instant(term.to) : hi;
    if (to < lo || from > hi) return;
    const x1 = clampX(from);
    const x2 = clampX(to);
    const span = `${term.name}, ${office.name}, from ${human(term.from)} to ${term.to ? human(term.to) : "now"}`;
    const band = s(
      "g",
      {
        class: `holder shade-${index % 2}`,
        role: "listitem",
        "aria-label": span,
        dataset: { term: term.id, person: term.person, name: term.name, from: term.from, to: term.to || "" },
      },
      s("title", {}, span),
      s("rect", { class: "holder-band", x: x1, y: top, width: Math.max(1, x2 - x1), height: HOLDER_HEIGHT, rx: 3 }),
    );
    const earlier = from < lo ? "← " : "";
    const label = fitting(term.name, x2 - x1 - earlier.length * 8);
    if (label) {
      band.append(s("text", { class: "holder-label", x: x1 + 5, y: top + HOLDER_HEIGHT / 2 + 4 }, `${earlier}${label}`));
    }
    group.append(band);
  });
  return group;
}

function wireMarks(wrap, tip, marks, width, actors, onChoose) {
  let hideTimer = null;
  const below = wrap.querySelector("svg.timeline").getAttribute("height");
  const show = ({ event, x, mark }) => {
    clearTimeout(hideTimer);
    for (const other of marks) other.mark.classList.toggle("active", other.mark === mark);
    fill(tip, eventDetails(event, actors));
    tip.hidden = false;
    const tipWidth = tip.offsetWidth;
    tip.style.left = `${Math.max(0, Math.min(width - tipWidth, x - tipWidth / 2))}px`;
    tip.style.top = `${Number(below) + 4}px`;
  };
  const hide = () => {
    tip.hidden = true;
    for (const m of marks) m.mark.classList.remove("active");
  };
  // Leaving a mark returns the tooltip to the mark that has the keyboard focus, if any.
  const hideSoon = () => {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(() => {
      const focused = marks.find((m) => m.mark === document.activeElement);
      if (focused) show(focused);
      else hide();
    }, 250);
  };
  tip.onmouseenter = () => clearTimeout(hideTimer);
  tip.onmouseleave = hideSoon;
  tip.hidden = true;
  marks.forEach((m, index) => {
    m.mark.addEventListener("mouseenter", () => show(m));
    m.mark.addEventListener("mouseleave", hideSoon);
    m.mark.addEventListener("focus", () => show(m));
    m.mark.addEventListener("blur", hideSoon);
    m.mark.addEventListener("click", () => onChoose(m.event));
    m.mark.addEventListener("keydown", (key) => {
      if (key.key === "Enter" || key.key === " ") {
        key.preventDefault();
        onChoose(m.event);
      } else if (key.key === "Escape") {
        hide();
      } else if (key.key === "ArrowRight" || key.key === "ArrowLeft") {
        key.preventDefault();
        const next = marks[index + (key.key === "ArrowRight" ? 1 : -1)];
        if (next) next.mark.focus();
      }
    });
  });
}
