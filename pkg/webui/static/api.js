// The server's API as the page calls it: the token, sent with every
// request (reads too), and failures thrown as the server's error objects.

import { splitToken } from "./address.js";

const TOKEN_KEY = "deploywatch.token";

// takeToken keeps the token of the address (#token=..., or a view's
// address with ?token=...), which browsers never send to servers, for this
// tab only, and removes it from the URL, which keeps the view it named.
export function takeToken() {
  const { token, hash } = splitToken(location.hash);
  if (token !== null) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", location.pathname + location.search + hash);
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
export const setToken = (t) => sessionStorage.setItem(TOKEN_KEY, t);

let refused = () => {};

// onRefused sets what happens when the server refuses this tab's token.
export function onRefused(f) { refused = f; }

// tokenRefused says the server no longer accepts this tab's token, as a
// stream's unauthorized event does.
export const tokenRefused = () => refused();

export async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (token()) opts.headers["Authorization"] = "Bearer " + token();
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    throw { status: 0, error: "cannot reach the deploywatch server: " + e.message, reason: "Offline" };
  }
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) {
    // The server's words are for scripts (they name a header); the page
    // says what a person can do instead, once, and stops asking.
    refused();
    throw { status: 401, reason: "TokenRefused", error: "this tab's token was not accepted" };
  }
  if (!resp.ok) throw Object.assign({ status: resp.status, error: resp.statusText }, data);
  return data;
}
