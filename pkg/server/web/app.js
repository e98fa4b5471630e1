// deploywatch's page: a namespace list and a live table per namespace, fed by
// the server's Server-Sent Events. Plain JavaScript, no dependencies.
"use strict";

const TOKEN_KEY = "deploywatch.token";
const $ = (id) => document.getElementById(id);

// The token arrives in the URL fragment (#token=...), which browsers never
// send to servers; it is kept for this tab only and removed from the URL.
(function takeToken() {
  const m = location.hash.match(/(?:^#|&)token=([^&]*)/);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search + "#/");
  }
})();
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

let info = { readOnly: false };
let view = null; // the current view, with a close() method

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function setConn(state, text) {
  const c = $("conn");
  c.dataset.state = state;
  c.textContent = text || "";
}

function banner(text, isError) {
  if (refused) return; // the token banner stays until a token is given
  const b = $("banner");
  b.hidden = !text;
  b.className = "banner" + (isError ? " error" : "");
  b.textContent = text || "";
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  // Every API request needs the token, reads too.
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
    tokenRefused();
    throw { status: 401, reason: "TokenRefused", error: "this tab's token was not accepted" };
  }
  if (!resp.ok) throw Object.assign({ status: resp.status, error: resp.statusText }, data);
  return data;
}

// refused is set once the server refused this tab's token (401): every
// view stops its requests and disables its controls until a token is
// pasted or the link serve printed is opened again.
let refused = false;

function tokenRefused() {
  if (refused) return;
  refused = true;
  document.body.dataset.auth = "refused";
  setConn("error", "not signed in");
  const main = $("main");
  for (const c of main.querySelectorAll("input, button, select")) c.disabled = true;
  for (const t of main.querySelectorAll("table")) t.classList.add("stale");
  const input = el("input", { type: "password", id: "token-input", name: "token", autocomplete: "off", spellcheck: "false", placeholder: "paste the token", "aria-label": "token" });
  const form = el("form", { class: "token-form" }, input, el("button", { type: "submit" }, "Use this token"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) { input.focus(); return; }
    sessionStorage.setItem(TOKEN_KEY, t);
    refused = false;
    delete document.body.dataset.auth;
    start();
  });
  const text = token()
    ? "This server did not accept the token this tab has: it was probably restarted with a new one, or has expired. "
    : "This tab has no token. ";
  const b = $("banner");
  b.hidden = false;
  b.className = "banner error auth";
  b.replaceChildren(el("p", {}, text + "Open the link that kubectl deploywatch serve printed (it ends in #token=…), or paste the token below; with --token-file, it is that file's content; with --auth=kubernetes, your own Kubernetes token (kubectl create token NAME, or your kubeconfig's)."), form);
  if (!view) main.replaceChildren(); // refused before anything was shown: no "Loading…" forever
  input.focus();
}

function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60 ? (s % 60) + "s" : "") + " ago";
  if (s < 86400) return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m ago";
  return Math.floor(s / 86400) + "d ago";
}

function statusBadge(status) {
  return el("span", { class: "status s-" + status, "data-status": status }, status);
}

// STATUS_ORDER sorts what needs attention first, as an on-call reads it.
const STATUS_ORDER = ["Failed", "Failing", "Degraded", "Deleting", "Paused", "Progressing", "Scaling", "ScaledToZero", "Running"];
const statusRank = (s) => { const i = STATUS_ORDER.indexOf(s); return i < 0 ? STATUS_ORDER.length : i; };

// jittered is a delay between half and all of ms, so that the pages of
// many viewers spread their requests instead of arriving together.
const jittered = (ms) => ms / 2 + Math.random() * ms / 2;

// ---- routing ----
// #/ for the namespace list, #/ns/NAME?sort=status&q=web for a namespace:
// the sort and filter live in the address, so a reload or a shared link
// keeps them. With several contexts (serve --context a,b) #/ lists them and
// every other view is of one context: #/c/CTX/ and #/c/CTX/ns/NAME, whose
// API is under /api/contexts/CTX/.

let ctx = null; // the context of the view, null with one context
const apiBase = () => ctx === null ? "/api" : "/api/contexts/" + encodeURIComponent(ctx);
const hashBase = () => ctx === null ? "#" : "#/c/" + encodeURIComponent(ctx);

// ctxCrumbs lead back to the context list and the context's namespaces.
const ctxCrumbs = () => ctx === null ? [] : [el("a", { href: "#/" }, "contexts"), " / ", el("a", { href: hashBase() + "/" }, ctx), " / "];

function route() {
  if (view) view.close();
  view = null;
  banner("");
  let hash = location.hash;
  ctx = null;
  if (info.contexts && info.contexts.length) {
    const c = hash.match(/^#\/c\/([^/?]+)(\/.*)?$/);
    if (!c) { view = contextList(); return; }
    ctx = decodeURIComponent(c[1]);
    hash = "#" + (c[2] || "/");
  }
  const m = hash.match(/^#\/ns\/([^/?]+)(?:\?(.*))?$/);
  if (m) view = namespaceView(decodeURIComponent(m[1]), new URLSearchParams(m[2] || ""));
  else view = namespaceList();
}

// ---- the context list (several contexts) ----

function contextList() {
  $("crumbs").replaceChildren();
  setConn("idle");
  const rows = info.contexts.map((name) => el("tr", { "data-context": name },
    el("td", {}, el("a", { class: "ctx", href: "#/c/" + encodeURIComponent(name) + "/" }, name))));
  $("main").replaceChildren(el("h1", {}, "Contexts"),
    el("table", { id: "contexts" }, el("thead", {}, el("tr", {}, el("th", {}, "Context"))), el("tbody", {}, rows)));
  return { close() {} };
}

// ---- the namespace list ----

// NS_POLL is how often the list is read again. The server answers every
// viewer from one shared list (at most one list of the cluster per 5 s,
// however many pages ask), each page waits a jittered delay, and a hidden
// tab does not ask at all.
const NS_POLL = 10000;

function namespaceList() {
  let closed = false, timer = null, failures = 0, shown = false;
  $("crumbs").replaceChildren(...(ctx === null ? [] : [el("a", { href: "#/" }, "contexts"), " / ", ctx]));
  setConn("idle");
  const main = $("main");
  const heading = ctx === null ? "Namespaces" : "Namespaces in " + ctx;
  const tbody = el("tbody");
  const table = el("table", { id: "namespaces" },
    el("thead", {}, el("tr", {}, el("th", {}, "Namespace"), el("th", { class: "num" }, "Deployments"), el("th", {}, "By status"))), tbody);
  const status = el("p", { class: "muted" }, "Loading…");
  main.replaceChildren(el("h1", {}, heading), status);

  function render(data) {
    banner(data.warning || "");
    const rows = (data.namespaces || []).map((ns) => {
      const counts = el("div", { class: "counts" });
      const byStatus = Object.entries(ns.deployments || {}).sort((a, b) => statusRank(a[0]) - statusRank(b[0]));
      for (const [st, n] of byStatus) {
        counts.append(el("span", { class: "status s-" + st, "data-status": st, "data-count": n, title: st }, st + " " + n));
      }
      if (ns.error) counts.append(el("span", { class: "field-error" }, ns.error));
      else if (!ns.total) counts.append(el("span", { class: "muted" }, "no deployments"));
      return el("tr", { "data-namespace": ns.name },
        el("td", {}, el("a", { class: "ns", href: hashBase() + "/ns/" + encodeURIComponent(ns.name) }, ns.name)),
        el("td", { class: "num" }, ns.error ? "?" : ns.total),
        el("td", {}, counts));
    });
    tbody.replaceChildren(...rows);
    if (!shown) main.replaceChildren(el("h1", {}, heading), table, status);
    shown = true;
    table.hidden = !rows.length;
    status.className = rows.length ? "muted updated" : "empty";
    status.textContent = rows.length ? "updated " + new Date().toLocaleTimeString() : "No namespaces to show.";
    table.dataset.updated = String(Date.now());
  }

  function load() {
    timer = null;
    if (closed || refused || document.hidden) return;
    api("GET", apiBase() + "/namespaces").then((data) => {
      if (closed) return;
      failures = 0;
      render(data);
      schedule(NS_POLL);
    }).catch((e) => {
      if (closed || e.status === 401) return; // the token banner says what to do
      failures++;
      const text = errorText(e);
      if (!shown) main.replaceChildren(el("h1", {}, heading), el("div", { class: "empty field-error" }, text));
      else { status.className = "field-error"; status.textContent = "not updated since the last success: " + text; }
      // Back off to a minute when it keeps failing.
      schedule(Math.min(60000, NS_POLL * 2 ** Math.min(failures, 3)));
    });
  }

  function schedule(ms) {
    if (closed || timer) return;
    timer = setTimeout(load, jittered(ms));
  }

  // A tab in the background does not poll; back in view it reads the
  // list again within a second.
  function visibility() {
    if (document.hidden) { clearTimeout(timer); timer = null; }
    else if (!timer) timer = setTimeout(load, Math.random() * 1000);
  }
  document.addEventListener("visibilitychange", visibility);

  load();
  return { close() { closed = true; clearTimeout(timer); document.removeEventListener("visibilitychange", visibility); } };
}

// ---- one namespace, live ----

// SORTS are the orders of the table, as k9s offers them: by name, by
// status with what needs attention first (then by name), by last change
// with the most recent first.
const SORTS = {
  name: { label: "Name", cmp: (a, b) => 0 },
  status: { label: "Status (failed first)", cmp: (a, b) => statusRank(a.event.status) - statusRank(b.event.status) },
  last: { label: "Last change (recent first)", cmp: (a, b) => Date.parse(b.cells.last.dataset.time) - Date.parse(a.cells.last.dataset.time) },
};

// COLUMNS are the table's columns. Their widths are fixed in style.css
// (col-KEY), so a long message or an error under a field wraps in its cell
// instead of widening its column and moving the others.
const COLUMNS = [
  { key: "name", head: "Name", sort: "name" },
  { key: "status", head: "Status", sort: "status" },
  { key: "ready", head: "Ready" },
  { key: "updated", head: "Up-to-date" },
  { key: "available", head: "Available" },
  { key: "replicas", head: "Replicas" },
  { key: "images", head: "Images" },
  { key: "last", head: "Last change", sort: "last" },
];

function namespaceView(ns, params) {
  const base = apiBase() + "/namespaces/" + encodeURIComponent(ns) + "/deployments";
  $("crumbs").replaceChildren(...ctxCrumbs(), el("a", { href: hashBase() + "/" }, "namespaces"), " / ", ns);
  let sortKey = SORTS[(params.get("sort") || "").replace(/^-/, "")] ? params.get("sort").replace(/^-/, "") : "name";
  let descending = (params.get("sort") || "").startsWith("-");
  let query = params.get("q") || "";

  const filter = el("input", { type: "search", id: "filter", name: "filter", value: query, placeholder: "filter by name or image ( / )", "aria-label": "filter by name or image", autocomplete: "off", spellcheck: "false" });
  const sortSelect = el("select", { id: "sort", name: "sort", "aria-label": "sort by" },
    Object.entries(SORTS).map(([k, v]) => el("option", { value: k, selected: k === sortKey }, v.label)));
  const shownCount = el("span", { class: "muted shown", role: "status" });
  const toolbar = el("div", { class: "toolbar" }, filter, el("label", { class: "sort" }, "Sort ", sortSelect), shownCount);
  const heads = COLUMNS.map((c) => c.sort
    ? el("th", { "data-col": c.key }, el("button", { type: "button", class: "sort-head", "data-sort": c.sort, onclick: () => setSort(c.sort, c.sort === sortKey ? !descending : false) }, c.head))
    : el("th", { "data-col": c.key }, c.head));
  const tbody = el("tbody");
  const empty = el("div", { class: "empty", hidden: true }, "No deployments in this namespace.");
  const table = el("table", { id: "deployments" },
    el("colgroup", {}, COLUMNS.map((c) => el("col", { class: "col-" + c.key }))),
    el("thead", {}, el("tr", {}, heads)),
    tbody);
  $("main").replaceChildren(el("h1", {}, ns), toolbar, table, empty);

  filter.addEventListener("input", () => { query = filter.value; remember(); applyFilter(); });
  filter.addEventListener("keydown", (e) => { if (e.key === "Escape") { filter.value = ""; query = ""; remember(); applyFilter(); } });
  sortSelect.addEventListener("change", () => setSort(sortSelect.value, false));
  // "/" starts a filter, as in k9s and less.
  const slash = (e) => {
    if (e.key === "/" && !e.ctrlKey && !e.metaKey && !/^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) { e.preventDefault(); filter.focus(); }
  };
  document.addEventListener("keydown", slash);

  function setSort(key, desc) {
    sortKey = key; descending = desc; sortSelect.value = key;
    remember();
    sortRows();
  }

  // remember keeps the sort and filter in the address without adding to
  // the history (replaceState fires no hashchange).
  function remember() {
    const q = new URLSearchParams();
    if (sortKey !== "name" || descending) q.set("sort", (descending ? "-" : "") + sortKey);
    if (query) q.set("q", query);
    const qs = q.toString();
    history.replaceState(null, "", location.pathname + location.search + hashBase() + "/ns/" + encodeURIComponent(ns) + (qs ? "?" + qs : ""));
  }

  function matches(r) {
    const q = query.trim().toLowerCase();
    if (!q) return true;
    if (r.name.toLowerCase().includes(q)) return true;
    return !!r.event && r.event.containers.some((c) => c.image.toLowerCase().includes(q));
  }

  function applyFilter() {
    let n = 0;
    for (const r of rows.values()) applyFilterTo(r) && n++;
    showCount(n);
  }

  function applyFilterTo(r) {
    const ok = matches(r);
    r.tr.hidden = !ok;
    if (r.detail) r.detail.tr.hidden = !ok;
    return ok;
  }

  function showCount(n) {
    if (n === undefined) n = [...rows.values()].filter((r) => !r.tr.hidden).length;
    shownCount.textContent = query.trim() ? n + " of " + rows.size + " shown" : "";
    empty.textContent = query.trim() && rows.size ? "No deployment matches \u201c" + query.trim() + "\u201d (Escape clears the filter)." : "No deployments in this namespace.";
    empty.hidden = n > 0;
  }
  const note = info.readOnly ? "This server is read-only (--read-only): changes are disabled." : "";
  banner(note);

  const rows = new Map(); // name -> {tr, event, cells}
  let es = null, timer = null, attempt = 0, lastId = "", closed = false, everOpened = false;

  const editable = () => !info.readOnly && !!token() && !refused;
  // What the server's identity may do here (GET .../permissions, from
  // SelfSubjectAccessReviews): controls it may not use are not offered.
  let perms = { scale: false, patch: false, history: false };
  const can = (what) => editable() && !!perms[what];
  api("GET", apiBase() + "/namespaces/" + encodeURIComponent(ns) + "/permissions").then((p) => { perms = p; }, () => {})
    .finally(() => {
      if (closed) return;
      table.dataset.permissions = "loaded";
      for (const r of rows.values()) applyPermissions(r);
    });

  function applyPermissions(r) {
    r.replicas.input.disabled = !can("scale");
    for (const ed of r.images.values()) ed.input.disabled = !can("patch");
    if (r.detail) r.detail.render();
  }

  function connect() {
    if (closed || refused) return;
    setConn(attempt ? "reconnecting" : "connecting", attempt ? "reconnecting…" : "connecting…");
    // EventSource cannot send the token: trade it for a short-lived stream
    // ticket first, a new one for every connection.
    api("POST", "/api/tickets").then((t) => {
      if (closed) return;
      const q = "?ticket=" + encodeURIComponent(t.ticket) + (lastId ? "&lastEventId=" + encodeURIComponent(lastId) : "");
      openStream(base + "/stream" + q);
    }, (e) => {
      if (closed) return;
      if (e.status === 401) return; // the token banner says what to do
      if (e.status >= 400 && e.status < 500 && e.status !== 429) {
        setConn("error", "not connected");
        banner(e.error, true);
      } else schedule("cannot connect");
    });
  }

  function openStream(url) {
    es = new EventSource(url);
    let opened = false;
    // The backoff starts again only once the stream delivers: a refusal
    // (server busy, the API server unreachable) also opens, as a 200 that
    // holds only a reconnect event, and must not bring the page back at
    // once every time.
    es.onopen = () => { opened = everOpened = true; setConn("live", "live"); };
    es.addEventListener("snapshot", (e) => { attempt = 0; lastId = e.lastEventId; snapshot(JSON.parse(e.data)); });
    es.addEventListener("upsert", (e) => { attempt = 0; lastId = e.lastEventId; upsert(JSON.parse(e.data), true); });
    es.addEventListener("delete", (e) => { attempt = 0; lastId = e.lastEventId; remove(JSON.parse(e.data)); });
    es.addEventListener("reconnect", (e) => {
      let reason = "";
      try { reason = JSON.parse(e.data).reason; } catch (_) { /* an older server */ }
      retry(reason === "TooManyStreams" ? "server busy" : reason === "APIServerUnreachable" ? "API server unreachable" : "server restarting", false);
    });
    // The server's own watch of the API server: while it is not live the
    // rows may be stale, and the page says so.
    es.addEventListener("upstream", (e) => { if (e.lastEventId) lastId = e.lastEventId; upstream(JSON.parse(e.data)); });
    // EventSource retries by itself, without backoff or jitter, and gives
    // up for good on an HTTP error: handle every failure here instead.
    es.onerror = () => { retry(everOpened ? "connection lost" : "cannot connect", !opened); };
  }

  // retry waits, then connects again. A stream that did not even open may
  // have been refused for good (not served, not found, forbidden), which
  // EventSource does not tell: after the wait, a GET of the list tells.
  // Only after the wait, so that the pages of a restarted server do not
  // all ask at the same instant.
  function retry(why, probe) {
    if (es) { es.close(); es = null; }
    schedule(why, probe);
  }

  function probeThenConnect() {
    if (closed || refused) return;
    api("GET", base).then(connect, (e) => {
      if (closed || e.status === 401) return; // the token banner says what to do
      if (e.status >= 400 && e.status < 500 && e.status !== 429) {
        setConn("error", "not connected");
        banner(e.error, true);
      } else schedule("cannot connect", true);
    });
  }

  function schedule(why, probe) {
    if (closed || timer || refused) return;
    // Exponential backoff from 0.5 s to 30 s, with "equal jitter": half the
    // delay fixed, half random, so that clients of a restarted server do
    // not all come back at the same instant.
    const cap = Math.min(30000, 500 * 2 ** attempt);
    const delay = cap / 2 + Math.random() * cap / 2;
    attempt++;
    setConn("reconnecting", why + "; retrying in " + Math.ceil(delay / 1000) + "s");
    timer = setTimeout(() => { timer = null; if (probe) probeThenConnect(); else connect(); }, delay);
  }

  function upstream(u) {
    const lost = u.state !== "live";
    table.classList.toggle("stale", lost);
    if (lost) setConn("upstream", "API server " + u.state + " since " + new Date(u.since).toLocaleTimeString() + (u.error ? ": " + u.error : "") + "; rows may be stale");
    else setConn("live", "live");
  }

  function snapshot(events) {
    banner(note); // clears an error shown while disconnected
    upstream({ state: "live" }); // an upstream event follows if the watch is lost
    const seen = new Set();
    inSnapshot = true;
    try { for (const ev of events) { seen.add(ev.name); upsert(ev, false); } } finally { inSnapshot = false; }
    for (const name of [...rows.keys()]) if (!seen.has(name)) remove({ name });
    sortRows();
  }

  function remove(ev) {
    const r = rows.get(ev.name);
    if (r) { r.tr.remove(); if (r.detail) r.detail.tr.remove(); rows.delete(ev.name); }
    showCount();
  }

  // sortRows puts the rows in the chosen order, moving only those out of
  // place. While the user types in a row's field the order waits for the
  // field to lose focus: moving a row would take the focus away.
  let sortPending = false, inSnapshot = false;
  function sortRows() {
    if (tbody.contains(document.activeElement) && document.activeElement.matches("input, select")) {
      if (!sortPending) {
        sortPending = true;
        tbody.addEventListener("focusout", () => { sortPending = false; setTimeout(sortRows, 0); }, { once: true });
      }
      return;
    }
    const cmp = SORTS[sortKey].cmp, sign = descending ? -1 : 1;
    const order = [...rows.values()].sort((a, b) => sign * (cmp(a, b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
    let at = tbody.firstElementChild;
    for (const r of order) {
      for (const tr of r.detail ? [r.tr, r.detail.tr] : [r.tr]) {
        if (at === tr) at = at.nextElementSibling;
        else tbody.insertBefore(tr, at);
      }
    }
    for (const h of table.querySelectorAll("button.sort-head")) {
      h.parentElement.setAttribute("aria-sort", h.dataset.sort === sortKey ? (descending ? "descending" : "ascending") : "none");
    }
    showCount();
  }

  function upsert(ev, flash) {
    let r = rows.get(ev.name);
    if (!r) {
      r = makeRow(ev.name);
      rows.set(ev.name, r);
      tbody.append(r.tr);
    }
    const moved = !r.event || r.event.status !== ev.status || sortKey === "last";
    r.event = ev;
    const c = r.cells, rep = ev.replicas;
    c.status.replaceChildren(statusBadge(ev.status), ev.message ? el("span", { class: "message" }, ev.message) : "", problemList(ev.problems));
    c.ready.textContent = rep.ready + "/" + rep.desired;
    c.updated.textContent = rep.updated;
    c.available.textContent = rep.available;
    r.replicas.update(String(rep.desired));
    updateImages(r, ev);
    // A row first seen dates from when it entered its state (since), not
    // from when the server or this page first saw it.
    const changedAt = ev.type === "ADDED" && ev.since && Date.parse(ev.since) < Date.parse(ev.time) ? ev.since : ev.time;
    c.last.dataset.time = changedAt;
    c.last.textContent = ago(changedAt);
    c.last.title = ev.type + (ev.changed && ev.changed.length ? ": " + ev.changed.join(", ") : "") + " at " + new Date(ev.time).toLocaleString();
    r.tr.dataset.status = ev.status;
    if (flash) { r.tr.classList.remove("flash"); void r.tr.offsetWidth; r.tr.classList.add("flash"); }
    if (r.detail) r.detail.changed();
    applyFilterTo(r);
    if (inSnapshot) return; // snapshot() sorts once at its end
    if (moved) sortRows();
    else showCount();
  }

  // problemList shows every diagnosed problem of the new ReplicaSet, one
  // line each, behind a click: which pod, container and node, since when.
  function problemList(problems) {
    if (!problems || !problems.length) return "";
    const items = problems.map((p) => {
      const where = [p.pod && ("pod " + p.pod), p.container && ((p.init ? "init container " : "container ") + p.container), p.node && ("node " + p.node)].filter(Boolean).join(", ");
      const count = p.pods ? p.pods + (p.pods === 1 ? " pod " : " pods ") : "";
      const restarts = p.restarts ? ", " + p.restarts + " restarts" : "";
      const since = p.since ? ", since " + new Date(p.since).toLocaleTimeString() : "";
      return el("li", { class: "problem" }, count + p.reason + ": " + (p.message || "") + (where ? " (" + where + restarts + since + ")" : ""));
    });
    return el("details", { class: "problems" }, el("summary", {}, problems.length === 1 ? "1 problem" : problems.length + " problems"), el("ul", {}, ...items));
  }

  function makeRow(name) {
    const toggle = el("button", { type: "button", class: "toggle", "aria-expanded": "false", title: "history and rollout controls" }, name);
    const cells = {
      name: el("td", { class: "name-cell" }, toggle), status: el("td", { class: "status-cell" }),
      ready: el("td", { class: "num ready" }), updated: el("td", { class: "num updated" }), available: el("td", { class: "num available" }),
      replicas: el("td", { class: "replicas-cell" }), images: el("td", { class: "images-cell" }), last: el("td", { class: "muted last" }),
    };
    // On a phone the table is a list of cards: each cell names itself.
    for (const c of COLUMNS) cells[c.key].dataset.label = c.head;
    const tr = el("tr", { "data-name": name }, Object.values(cells));
    const r = { name, tr, cells, images: new Map(), detail: null };
    toggle.addEventListener("click", () => {
      if (r.detail) { r.detail.close(); r.detail = null; }
      else r.detail = detailView(r);
      toggle.setAttribute("aria-expanded", String(!!r.detail));
    });
    r.replicas = editor({
      label: null, type: "number", cls: "replicas", name: "replicas", allowed: () => can("scale"),
      save: (value, baseValue) => {
        if (!/^\d+$/.test(value.trim())) return Promise.reject({ error: "replicas must be a whole number, 0 or more" });
        return api("PUT", base + "/" + encodeURIComponent(name) + "/scale",
          { replicas: Number(value), currentReplicas: Number(baseValue) });
      },
    });
    cells.replicas.append(r.replicas.node);
    return r;
  }

  function updateImages(r, ev) {
    const names = new Set(ev.containers.map((c) => c.name));
    for (const [cname, ed] of r.images) if (!names.has(cname)) { ed.node.remove(); r.images.delete(cname); }
    for (const c of ev.containers) {
      let ed = r.images.get(c.name);
      if (!ed) {
        ed = editor({
          label: c.name, type: "text", cls: "image", name: "image-" + c.name, allowed: () => can("patch"),
          save: (value) => api("PUT", base + "/" + encodeURIComponent(ev.name) + "/image", { container: c.name, image: value.trim() }),
        });
        r.images.set(c.name, ed);
        r.cells.images.append(ed.node);
      }
      ed.update(c.image);
    }
  }

  // editor is an input that shows the live value until the user edits it,
  // then offers Save; Enter saves, Escape reverts. The server's error is
  // shown next to it.
  function editor({ label, type, cls, name, save, allowed }) {
    const input = el("input", { type, class: cls, name, min: type === "number" ? "0" : null, "aria-label": label || name, autocomplete: "off", spellcheck: "false" });
    const button = el("button", { type: "button", hidden: true }, "Save");
    const msg = el("span", { class: "field-error", hidden: true, role: "alert" });
    const node = el("div", { class: "edit" }, label ? el("label", {}, label) : null, input, button, msg);
    let live = "", dirty = false, baseValue = "", busy = false;
    input.disabled = !allowed();
    const setDirty = (d) => { dirty = d; input.classList.toggle("dirty", d); button.hidden = !d; };
    const clearMsg = () => { msg.hidden = true; msg.textContent = ""; msg.className = "field-error"; };
    input.addEventListener("input", () => {
      if (!dirty) baseValue = live;
      setDirty(input.value !== live);
      clearMsg();
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") submit();
      if (e.key === "Escape") { input.value = live; setDirty(false); clearMsg(); }
    });
    button.addEventListener("click", submit);
    function submit() {
      if (!dirty || busy) return;
      busy = true;
      button.disabled = true;
      clearMsg();
      save(input.value, baseValue).then((res) => {
        setDirty(false);
        msg.hidden = false;
        if (res && res.warning) {
          // Saved, but an autoscaler will undo it: say so until the next edit.
          msg.className = "field-warning"; msg.textContent = "saved; warning: " + res.warning;
          return;
        }
        msg.className = "field-ok"; msg.textContent = "saved";
        setTimeout(() => { if (msg.className === "field-ok") clearMsg(); }, 2000);
      }, (e) => {
        msg.hidden = false;
        msg.textContent = errorText(e);
      }).finally(() => { busy = false; button.disabled = false; });
    }
    return {
      node, input,
      update(value) {
        live = value;
        input.title = value; // the whole of a long image, where the field is narrow
        if (!dirty) input.value = value; // never overwrite what the user types
      },
    };
  }

  // detailView is a row's history with undo, restart, pause and resume. It
  // reloads the history when the row changes; undo asks for confirmation
  // naming each image before and after, and sends the resourceVersion the
  // history was read at, so a change made meanwhile is refused (409).
  function detailView(r) {
    const path = base + "/" + encodeURIComponent(r.name);
    const box = el("div", { class: "rollout" });
    const tr = el("tr", { class: "detail", "data-detail-for": r.name }, el("td", { colspan: "8" }, box));
    r.tr.after(tr);
    let history = null, error = "", note = null, confirming = null, busy = false, reload = null, gone = false;

    function load() {
      return api("GET", path + "/history").then((h) => { history = h; error = ""; }, (e) => { error = errorText(e); })
        .finally(() => { if (!gone) render(); });
    }

    function act(what, body, done) {
      busy = true; note = null; render();
      api("POST", path + "/" + what, body).then((res) => {
        note = { ok: true, text: res.changed ? done : "unchanged: it already was so" };
        confirming = null;
      }, (e) => {
        note = { ok: false, text: errorText(e) };
        if (e.status === 409) confirming = null; // changed meanwhile: look again
      }).finally(() => { busy = false; load(); });
    }

    function imagesOf(rev) {
      const m = new Map();
      for (const c of rev.initContainers || []) m.set("init container " + c.container, c.image);
      for (const c of rev.containers || []) m.set("container " + c.container, c.image);
      return m;
    }

    function confirmBox(rev) {
      const before = new Map();
      for (const c of r.event.containers || []) before.set("container " + c.name, c.image);
      const current = (history.revisions || []).find((x) => x.current);
      const from = current ? imagesOf(current) : before;
      const to = imagesOf(rev);
      const lines = [];
      for (const k of new Set([...from.keys(), ...to.keys()])) {
        const a = from.get(k) || "none", b = to.get(k) || "none";
        lines.push(el("li", { class: a === b ? "same" : "differs" }, k + ": " + a + (a === b ? " (unchanged)" : " → " + b)));
      }
      return el("div", { class: "confirm", role: "dialog", "aria-label": "confirm undo" },
        el("p", {}, "Roll " + r.name + " back to revision " + rev.revision + (current ? " (from revision " + current.revision + ")" : "") + "?"),
        el("ul", { class: "changes" }, lines),
        el("button", { type: "button", class: "control confirm-undo", disabled: busy,
          onclick: () => act("undo", { toRevision: rev.revision, resourceVersion: history.resourceVersion }, "rolled back to revision " + rev.revision) }, "Roll back"),
        " ",
        el("button", { type: "button", class: "cancel", onclick: () => { confirming = null; render(); } }, "Cancel"));
    }

    function render() {
      const paused = history ? history.paused : r.event.status === "Paused";
      const actions = el("div", { class: "actions" });
      if (can("patch")) {
        actions.append(
          el("button", { type: "button", class: "control restart", disabled: busy || paused, title: paused ? "resume it first" : "replace every pod",
            onclick: () => act("restart", {}, "restarted") }, "Restart"),
          paused ? el("button", { type: "button", class: "control resume", disabled: busy, onclick: () => act("resume", {}, "resumed") }, "Resume")
            : el("button", { type: "button", class: "control pause", disabled: busy, onclick: () => act("pause", {}, "paused") }, "Pause"));
      }
      const parts = [actions];
      if (note) parts.push(el("div", { class: note.ok ? "field-ok note" : "field-error note", role: "alert" }, note.text));
      if (error) parts.push(el("div", { class: "field-error" }, error));
      if (history) {
        const canUndo = can("patch") && perms.history;
        const rows = (history.revisions || []).map((rev) => el("tr", { "data-revision": rev.revision, class: rev.current ? "current" : "" },
          el("td", { class: "num" }, rev.revision),
          el("td", {}, [...imagesOf(rev)].map(([k, v]) => el("div", { class: "img" }, k.replace(/^container /, "") + "=" + v))),
          el("td", {}, rev.changeCause || el("span", { class: "muted" }, "none recorded")),
          el("td", { class: "muted" }, ago(rev.created)),
          el("td", { class: "num" }, rev.readyReplicas + "/" + rev.replicas),
          el("td", {}, rev.current ? el("span", { class: "muted" }, "current")
            : canUndo ? el("button", { type: "button", class: "control undo-to", "data-revision": rev.revision, disabled: busy,
              onclick: () => { confirming = rev.revision; note = null; render(); } }, "Undo to " + rev.revision) : "")));
        parts.push(el("table", { class: "history" },
          el("thead", {}, el("tr", {}, ["Revision", "Images", "Change cause", "Created", "Pods", ""].map((h) => el("th", {}, h)))),
          el("tbody", {}, rows)));
        const rev = (history.revisions || []).find((x) => x.revision === confirming);
        if (rev && canUndo) parts.push(confirmBox(rev));
      } else if (!error) parts.push(el("p", { class: "muted" }, "Loading history…"));
      box.replaceChildren(...parts);
    }

    load();
    return {
      tr, render,
      changed() { // the row changed: read the history again, at most every half second
        if (reload) return;
        reload = setTimeout(() => { reload = null; if (!gone) load(); }, 500);
      },
      close() { gone = true; clearTimeout(reload); tr.remove(); },
    };
  }

  const tick = setInterval(() => {
    for (const r of rows.values()) r.cells.last.textContent = ago(r.cells.last.dataset.time);
  }, 5000);

  connect();
  return {
    close() {
      closed = true;
      document.removeEventListener("keydown", slash);
      clearInterval(tick);
      clearTimeout(timer);
      for (const r of rows.values()) if (r.detail) r.detail.close();
      if (es) es.close();
      setConn("idle");
    },
  };
}

function errorText(e) {
  let text = e.error || String(e);
  if (e.problems && e.problems.length) text = e.problems.map((p) => p.message).join("; ");
  if (e.hint && !text.includes(e.hint)) text += " (" + e.hint + ")";
  return text;
}

// start reads how the server is set up, then shows the view the address
// names; again after a token is pasted.
function start() {
  api("GET", "/api/info").then((i) => { info = i; }, () => {}).finally(() => { if (!refused) route(); });
}

window.addEventListener("hashchange", route);
start();
