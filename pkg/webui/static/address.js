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
