// Reading the JSON API (v1), as any client would; an optional bearer token for reads.

const TOKEN_KEY = "backchannel.token";
const PAGE_LIMIT = 1000;
const MAX_PAGES = 1000;
// Marks the page's periodic re-reads, so the service can log them quietly.
export const POLL_HEADER = "X-Backchannel-Poll";

export function token() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(value) {
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage may be disabled; the token then lasts for no request.
  }
}

/** An answer other than 2xx, with the problem document (RFC 9457) when there is one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

function url(path, params) {
  const u = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") u.searchParams.set(name, value);
  }
  return u;
}

/** GET a JSON document; `poll` marks a periodic re-read (the X-Backchannel-Poll header). */
export async function getJSON(path, params = {}, { poll = false } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (poll) headers[POLL_HEADER] = "1";
  const response = await fetch(url(path, params), { headers, cache: "no-store" });
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    throw new ApiError(response.status, problem);
  }
  return response.json();
}

/** Every item of a paginated list: follows `next_cursor` to the end. */
export async function collect(path, params = {}, options = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const answer = await getJSON(path, { ...params, limit: PAGE_LIMIT, cursor }, options);
    items.push(...(answer.items || []));
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/** What to tell the analyst when a read fails. */
export function explain(error) {
  if (error instanceof ApiError) {
    if (error.status === 401 || error.status === 403) {
      return "This service needs a read token: set one with the Token button.";
    }
    return `The service answered ${error.status}: ${error.message}`;
  }
  return `The service cannot be reached (${error.message}). Retrying…`;
}
