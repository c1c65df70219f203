// Dates and instants as the API writes them: "YYYY-MM-DD" or UTC datetimes.

export const DAY = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** Milliseconds since the epoch; a bare date is the start of that day, UTC. */
export function instant(text) {
  if (DATE_ONLY.test(text)) {
    const [y, m, d] = text.split("-").map(Number);
    return Date.UTC(y, m - 1, d);
  }
  return Date.parse(text);
}

/** "YYYY-MM-DD" of an instant, in UTC. */
export function isoDate(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

export function today() {
  return isoDate(Date.now());
}

export function addDays(date, n) {
  return isoDate(instant(date) + n * DAY);
}

export function daysBetween(a, b) {
  return Math.round((instant(b) - instant(a)) / DAY);
}

const dayFormat = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "short",
  year: "numeric",
  timeZone: "UTC",
});
const timeFormat = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZone: "UTC",
});

/** "18 Feb 2022", or with the time (UTC) for datetimes. */
export function human(text) {
  if (!text) return "—";
  if (DATE_ONLY.test(text)) return dayFormat.format(instant(text));
  return `${timeFormat.format(instant(text))} UTC`;
}

/** How an event's precision reads next to its date. */
export const PRECISION = {
  exact: "exact time",
  day: "to the day",
  week: "within the week",
  month: "within the month",
};

/** The valid-time span a precision covers, in days, for drawing its uncertainty. */
export const PRECISION_DAYS = { exact: 0, day: 1, week: 7, month: 30 };

/** A datetime-local input's value (read as UTC) from an API instant, and back. */
export function toLocalInput(text) {
  if (!text) return "";
  const ms = instant(text);
  return Number.isNaN(ms) ? "" : new Date(ms).toISOString().slice(0, 19);
}

export function fromLocalInput(value) {
  if (!value) return "";
  return `${value.length === 16 ? `${value}:00` : value}Z`;
}
