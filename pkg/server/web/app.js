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
  const b = $("banner");
  b.hidden = !text;
  b.textContent = text || "";
  b.classList.toggle("error", !!isError);
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
  if (resp.status === 401 && !token()) {
    data.error = "This tab has no token. Open the URL that 'kubectl deploywatch serve' printed (it ends in #token=…), add #token=<the token> to this page's address, or sign in below.";
  }
  if (resp.status === 401) signIn(data.error);
  if (!resp.ok) throw Object.assign({ status: resp.status, error: resp.statusText }, data);
  return data;
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

// ---- routing ----

function route() {
  if (view) view.close();
  view = null;
  banner("");
  const m = location.hash.match(/^#\/ns\/([^/]+)$/);
  if (m) view = namespaceView(decodeURIComponent(m[1]));
  else view = namespaceList();
}

// ---- the namespace list ----

function namespaceList() {
  let closed = false;
  $("crumbs").replaceChildren();
  setConn("idle");
  const main = $("main");
  main.replaceChildren(el("h1", {}, "Namespaces"), el("p", { class: "muted" }, "Loading…"));
  api("GET", "/api/namespaces").then((data) => {
    if (closed) return;
    if (data.warning) banner(data.warning);
    const rows = (data.namespaces || []).map((ns) => {
      const counts = el("div", { class: "counts" });
      for (const [status, n] of Object.entries(ns.deployments || {}).sort()) {
        counts.append(el("span", { class: "status s-" + status, title: status }, status + " " + n));
      }
      if (ns.error) counts.append(el("span", { class: "field-error" }, ns.error));
      else if (!ns.total) counts.append(el("span", { class: "muted" }, "no deployments"));
      return el("tr", { "data-namespace": ns.name },
        el("td", {}, el("a", { class: "ns", href: "#/ns/" + encodeURIComponent(ns.name) }, ns.name)),
        el("td", { class: "num" }, ns.error ? "?" : ns.total),
        el("td", {}, counts));
    });
    main.replaceChildren(el("h1", {}, "Namespaces"),
      rows.length ? el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Namespace"), el("th", {}, "Deployments"), el("th", {}, "By status"))), el("tbody", {}, rows))
        : el("div", { class: "empty" }, "No namespaces to show."));
  }).catch((e) => {
    if (!closed) main.replaceChildren(el("h1", {}, "Namespaces"), el("div", { class: "empty field-error" }, e.error || String(e)));
  });
  return { close() { closed = true; } };
}

// ---- one namespace, live ----

function namespaceView(ns) {
  const base = "/api/namespaces/" + encodeURIComponent(ns) + "/deployments";
  $("crumbs").replaceChildren(el("a", { href: "#/" }, "namespaces"), " / ", ns);
  const tbody = el("tbody");
  const empty = el("div", { class: "empty", hidden: true }, "No deployments in this namespace.");
  const table = el("table", { id: "deployments" },
    el("thead", {}, el("tr", {}, ["Name", "Status", "Ready", "Up-to-date", "Available", "Replicas", "Images", "Last change"].map((h) => el("th", {}, h)))),
    tbody);
  $("main").replaceChildren(el("h1", {}, ns), table, empty);
  const note = info.readOnly ? "This server is read-only (--read-only): changes are disabled." : "";
  banner(note);

  const rows = new Map(); // name -> {tr, event, cells}
  let es = null, timer = null, attempt = 0, lastId = "", closed = false, everOpened = false;

  const editable = () => !info.readOnly && !!token();
  // What the server's identity may do here (GET .../permissions, from
  // SelfSubjectAccessReviews): controls it may not use are not offered.
  let perms = { scale: false, patch: false, history: false };
  const can = (what) => editable() && !!perms[what];
  api("GET", "/api/namespaces/" + encodeURIComponent(ns) + "/permissions").then((p) => { perms = p; }, () => {})
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
    if (closed) return;
    setConn(attempt ? "reconnecting" : "connecting", attempt ? "reconnecting…" : "connecting…");
    // EventSource cannot send the token: trade it for a short-lived stream
    // ticket first, a new one for every connection.
    api("POST", "/api/tickets").then((t) => {
      if (closed) return;
      const q = "?ticket=" + encodeURIComponent(t.ticket) + (lastId ? "&lastEventId=" + encodeURIComponent(lastId) : "");
      openStream(base + "/stream" + q);
    }, (e) => {
      if (closed) return;
      if (e.status >= 400 && e.status < 500 && e.status !== 429) {
        setConn("error", "not connected");
        banner(e.error, true);
      } else schedule("cannot connect");
    });
  }

  function openStream(url) {
    es = new EventSource(url);
    es.onopen = () => { attempt = 0; everOpened = true; setConn("live", "live"); };
    es.addEventListener("snapshot", (e) => { lastId = e.lastEventId; snapshot(JSON.parse(e.data)); });
    es.addEventListener("upsert", (e) => { lastId = e.lastEventId; upsert(JSON.parse(e.data), true); });
    es.addEventListener("delete", (e) => { lastId = e.lastEventId; remove(JSON.parse(e.data)); });
    es.addEventListener("reconnect", (e) => {
      let reason = "";
      try { reason = JSON.parse(e.data).reason; } catch (_) { /* an older server */ }
      retry(reason === "TooManyStreams" ? "server busy" : reason === "APIServerUnreachable" ? "API server unreachable" : "server restarting");
    });
    // The server's own watch of the API server: while it is not live the
    // rows may be stale, and the page says so.
    es.addEventListener("upstream", (e) => { if (e.lastEventId) lastId = e.lastEventId; upstream(JSON.parse(e.data)); });
    // EventSource retries by itself, without backoff or jitter, and gives
    // up for good on an HTTP error: handle every failure here instead.
    es.onerror = () => { retry(everOpened ? "connection lost" : "cannot connect"); };
  }

  function retry(why) {
    if (es) { es.close(); es = null; }
    if (closed || timer) return;
    // A refusal that retrying cannot fix (not served, not found, forbidden)
    // is shown as it is and not retried.
    api("GET", base).then(() => schedule(why), (e) => {
      if (e.status >= 400 && e.status < 500 && e.status !== 429) {
        setConn("error", "not connected");
        banner(e.error, true);
      } else schedule(why);
    });
  }

  function schedule(why) {
    if (closed || timer) return;
    // Exponential backoff from 0.5 s to 30 s, with "equal jitter": half the
    // delay fixed, half random, so that clients of a restarted server do
    // not all come back at the same instant.
    const cap = Math.min(30000, 500 * 2 ** attempt);
    const delay = cap / 2 + Math.random() * cap / 2;
    attempt++;
    setConn("reconnecting", why + "; retrying in " + Math.ceil(delay / 1000) + "s");
    timer = setTimeout(() => { timer = null; connect(); }, delay);
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
    for (const ev of events) { seen.add(ev.name); upsert(ev, false); }
    for (const name of [...rows.keys()]) if (!seen.has(name)) remove({ name });
    sortRows();
  }

  function remove(ev) {
    const r = rows.get(ev.name);
    if (r) { r.tr.remove(); if (r.detail) r.detail.tr.remove(); rows.delete(ev.name); }
    empty.hidden = rows.size > 0;
  }

  function sortRows() {
    [...rows.keys()].sort().forEach((name) => {
      const r = rows.get(name);
      tbody.append(r.tr);
      if (r.detail) tbody.append(r.detail.tr);
    });
    empty.hidden = rows.size > 0;
  }

  function upsert(ev, flash) {
    let r = rows.get(ev.name);
    if (!r) {
      r = makeRow(ev.name);
      rows.set(ev.name, r);
      tbody.append(r.tr);
      sortRows();
    }
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
      name: el("td", {}, toggle), status: el("td", { class: "status-cell" }),
      ready: el("td", { class: "num ready" }), updated: el("td", { class: "num" }), available: el("td", { class: "num" }),
      replicas: el("td", {}), images: el("td", {}), last: el("td", { class: "muted last" }),
    };
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
        if (e.status === 401) { sessionStorage.removeItem(TOKEN_KEY); }
      }).finally(() => { busy = false; button.disabled = false; });
    }
    return {
      node, input,
      update(value) {
        live = value;
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
        if (e.status === 401) sessionStorage.removeItem(TOKEN_KEY);
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

// signIn asks for a token when the server refuses the one this tab has (or
// it has none): with --auth=kubernetes each user pastes their own
// Kubernetes token (kubectl create token ...), kept for this tab only.
function signIn(why) {
  if ($("signin")) return;
  if (view) { view.close(); view = null; }
  const input = el("input", { id: "signin-token", type: "password", autocomplete: "off", size: 60,
    placeholder: "token", "aria-label": "token" });
  const form = el("form", { id: "signin", onsubmit(ev) {
    ev.preventDefault();
    if (!input.value.trim()) return;
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    banner("");
    api("GET", "/api/info").then((i) => { info = i; route(); }, () => {});
  } },
  el("p", {}, "Sign in with your token: your own Kubernetes token (for example the output of 'kubectl create token NAME', or your kubeconfig's) when serve runs with --auth=kubernetes, else the token serve was given."),
  input, " ", el("button", { type: "submit" }, "Sign in"));
  $("crumbs").replaceChildren();
  setConn("idle");
  $("main").replaceChildren(el("h1", {}, "Sign in"), el("p", { class: "field-error" }, why || ""), form);
  input.focus();
}

window.addEventListener("hashchange", route);
api("GET", "/api/info").then((i) => { info = i; }, () => {}).finally(route);
