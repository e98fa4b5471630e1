// The page's addresses, no DOM: #/ for the namespace list, #/ns/NAME?sort=
// status&q=web for a namespace, whose sort and filter live in the address
// so that a reload or a shared link keeps them. With several contexts (serve
// --context a,b) #/ lists them and every other view is of one context:
// #/c/CTX/ and #/c/CTX/ns/NAME, whose API is under /api/contexts/CTX/.

// parseRoute names the view an address shows: "contexts", "namespaces" or
// "namespace" (with ns and its params), and its context (null with one).
export function parseRoute(hash, withContexts) {
  let ctx = null;
  if (withContexts) {
    const c = hash.match(/^#\/c\/([^/?]+)(\/.*)?$/);
    if (!c) return { view: "contexts", ctx };
    ctx = decodeURIComponent(c[1]);
    hash = "#" + (c[2] || "/");
  }
  const m = hash.match(/^#\/ns\/([^/?]+)(?:\?(.*))?$/);
  if (m) return { view: "namespace", ctx, ns: decodeURIComponent(m[1]), params: new URLSearchParams(m[2] || "") };
  return { view: "namespaces", ctx };
}

// splitToken takes the token out of an address: the printed #token=T,
// or any view's address with a token parameter (#/ns/shop?token=T, which
// lands on namespace shop). hash is the address left, "#/" if none.
export function splitToken(hash) {
  if (hash.startsWith("#token=")) hash = "#/?" + hash.slice(1);
  const m = hash.match(/^([^?]*)\?(?:(.*)&)?token=([^&]*)(?:&(.*))?$/s);
  if (!m) return { token: null, hash };
  // The rest is kept as written (a filter's "+" stays a space), and the
  // token decoded as the server printed it (url.QueryEscape; a "+" in a
  // --token-file token pasted as is stays a "+").
  const rest = [m[2], m[4]].filter(Boolean).join("&");
  return { token: decodeURIComponent(m[3]), hash: (m[1] === "#" ? "#/" : m[1]) + (rest ? "?" + rest : "") };
}

// place is where a view is: its context, the base of its API paths and of
// its addresses.
export function place(ctx) {
  return {
    ctx,
    api: ctx === null ? "/api" : "/api/contexts/" + encodeURIComponent(ctx),
    hash: ctx === null ? "#" : "#/c/" + encodeURIComponent(ctx),
  };
}

export const contextHash = (name) => "#/c/" + encodeURIComponent(name) + "/";

// namespaceHash is a namespace's address; the default order (by name,
// ascending) and an empty filter are left out.
export function namespaceHash(where, ns, view) {
  const q = new URLSearchParams();
  if (view && (view.sort !== "name" || view.descending)) q.set("sort", (view.descending ? "-" : "") + view.sort);
  if (view && view.query) q.set("q", view.query);
  const qs = q.toString();
  return where.hash + "/ns/" + encodeURIComponent(ns) + (qs ? "?" + qs : "");
}
