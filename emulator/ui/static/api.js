// The control API, as the dashboard calls it: JSON in and out, the admin token (when the
// person gave one) in the Authorization header and nowhere else. The token lives in this
// module and in sessionStorage (gone when the tab closes), never in a URL.

const TOKEN_KEY = "task-emulator.admin-token";
const TIMEOUT_MS = 10000;
// The page is served at <prefix>/_emulator/ui/, so the control API is one folder up.
const BASE = new URL("../", document.baseURI);

let token = readStoredToken();

function readStoredToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the token is kept in memory only
  }
}

export class AuthNeeded extends Error {}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function setToken(value) {
  token = value || null;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // memory only
  }
}

export function hasToken() {
  return token !== null;
}

export async function call(method, path, { query = {}, body } = {}) {
  const url = new URL(path, BASE);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      signal: controller.signal,
    });
  } catch (error) {
    throw new ApiError(0, error.name === "AbortError" ? "the emulator did not answer in time" : "the emulator cannot be reached");
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.status === 401) throw new AuthNeeded((data && data.error) || "the control API needs the admin token");
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || `HTTP ${response.status}`);
  return data;
}

export const get = (path, query) => call("GET", path, { query });
export const post = (path, body) => call("POST", path, { body });
export const del = (path) => call("DELETE", path);
