// Calls to the ReelRank API (same origin), with the signed-in account's tokens.

const TOKENS_KEY = "reelrank.tokens";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

export function savedTokens() {
  try {
    return JSON.parse(localStorage.getItem(TOKENS_KEY) || "null");
  } catch {
    return null;
  }
}

export function saveTokens(tokens) {
  if (tokens) localStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
  else localStorage.removeItem(TOKENS_KEY);
}

export function authHeaders() {
  const tokens = savedTokens();
  return tokens ? { Authorization: `Bearer ${tokens.access_token}` } : {};
}

/** Trade the refresh token for a new pair; false (and signed out) when it no longer works. */
export async function refreshTokens() {
  const tokens = savedTokens();
  if (!tokens || !tokens.refresh_token) return false;
  const response = await fetch("/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: tokens.refresh_token }),
  });
  if (!response.ok) {
    saveTokens(null);
    return false;
  }
  saveTokens(await response.json());
  return true;
}

async function send(path, options) {
  const headers = { ...authHeaders(), ...(options.headers || {}) };
  let body = options.body;
  if (body !== undefined && !(body instanceof URLSearchParams) && !(body instanceof FormData)) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  return fetch(path, { method: options.method || "GET", headers, body, keepalive: options.keepalive });
}

/** The JSON answer of ``path`` (null for 204); an ApiError with the API's detail otherwise. */
export async function api(path, options = {}) {
  let response = await send(path, options);
  if (response.status === 401 && savedTokens() && (await refreshTokens())) {
    response = await send(path, options);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, detail);
  }
  return response.status === 204 ? null : response.json();
}

/** A query string of the defined entries of ``params``. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
