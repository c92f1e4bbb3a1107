// console/api.js: calls to grantd with the operator credential kept in
// sessionStorage (this tab only), sent as a bearer token.

const STORE_KEY = 'grantd.console.credential';

export const credential = {
  get: () => sessionStorage.getItem(STORE_KEY),
  set: (v) => sessionStorage.setItem(STORE_KEY, v),
  clear: () => sessionStorage.removeItem(STORE_KEY),
};

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// Listeners told when the credential is refused (401): the app signs out.
const unauthorized = new Set();
export function onUnauthorized(fn) { unauthorized.add(fn); }

// Calls `path` (absolute, same origin). Resolves with the parsed JSON (or
// the text when `text` is set); rejects with an ApiError.
export async function call(method, path, { body, text = false } = {}) {
  const headers = { Authorization: `Bearer ${credential.get() || ''}` };
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'NetworkError', `grantd did not answer: ${e.message}`);
  }
  const raw = await res.text();
  if (res.ok) {
    if (text) return raw;
    return raw ? JSON.parse(raw) : null;
  }
  let parsed = null;
  try { parsed = JSON.parse(raw); } catch { /* not JSON */ }
  const err = parsed && parsed.error ? parsed.error : {};
  if (res.status === 401) unauthorized.forEach((fn) => fn());
  throw new ApiError(res.status, err.code || `HTTP ${res.status}`,
    err.message || res.statusText || 'request failed', parsed);
}

// A path segment, encoded.
export const seg = (s) => encodeURIComponent(s);

// A query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const t = q.toString();
  return t ? `?${t}` : '';
}
