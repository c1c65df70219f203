// Dates and instants as the API writes them: "YYYY-MM-DD" or UTC datetimes.

export const DAY = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
// What the API accepts (RFC 3339): a date, or a datetime with its offset.
const RFC3339_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const RFC3339_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

function isLeap(year) {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** True if year-month-day names a day of the calendar (30 February does not). */
function isCalendarDay(year, month, day) {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const length = [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return day <= length;
}

/**
 * Why the API would refuse `text` as a time, or null if it accepts it: a date
 * (when `dates`) or a datetime with its offset, on a day of the calendar.
 */
export function timeProblem(text, { dates = true } = {}) {
  const day = dates ? RFC3339_DATE.exec(text) : null;
  const moment = RFC3339_DATETIME.exec(text);
  const wanted = dates ? "a date (2022-03-24) or a datetime" : "a datetime";
  if (!day && !moment) return `must be ${wanted} with its offset (2022-03-24T10:00:00Z)`;
  const [, y, m, d, hh, mm, ss, , , oh, om] = (day || moment).map((part) => part && Number(part));
  if (!isCalendarDay(y, m, d)) return `${text.slice(0, 10)} is not a day of the calendar`;
  if (moment && (hh > 23 || mm > 59 || ss > 59)) return `${text.slice(11, 19)} is not a time of day`;
  if (moment && oh !== undefined && (oh > 23 || om > 59)) return "its offset is not a valid one";
  return null;
}

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

/** The day ("YYYY-MM-DD", UTC) a date or datetime falls on. */
export function dayOf(text) {
  return DATE_ONLY.test(text) ? text : isoDate(instant(text));
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
const monthFormat = new Intl.DateTimeFormat("en-GB", {
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

/** "18 Feb 2022", or with the time (UTC) for datetimes; text it cannot read, as given. */
export function human(text) {
  if (!text) return "—";
  const ms = instant(text);
  if (Number.isNaN(ms)) return String(text);
  if (DATE_ONLY.test(text)) return dayFormat.format(ms);
  return `${timeFormat.format(ms)} UTC`;
}

/**
 * A date read at the precision it is known to: "Mar 2022" (month), "week of
 * 21 Feb 2022" (week), "2022" (year), "1 Mar 2022" (day), the time too (exact).
 */
export function atPrecision(text, precision) {
  const ms = instant(text);
  if (!text || Number.isNaN(ms)) return human(text);
  switch (precision) {
    case "year":
      return String(new Date(ms).getUTCFullYear());
    case "month":
      return monthFormat.format(ms);
    case "week":
      return `week of ${dayFormat.format(ms)}`;
    case "day":
      return dayFormat.format(ms);
    default:
      return human(text);
  }
}

/** How well an event's date is known, in words (for screen readers and tooltips). */
export const PRECISION = {
  exact: "exact time",
  day: "known to the day",
  week: "known to the week",
  month: "known to the month",
  year: "known to the year",
};

/** The valid-time span a precision covers, in days, for drawing its uncertainty. */
export const PRECISION_DAYS = { exact: 0, day: 1, week: 7, month: 30, year: 365 };

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
