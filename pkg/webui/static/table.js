// The live table of one namespace's workloads (Deployments, StatefulSets,
// DaemonSets): its rows, kept as the stream's events say, the sort and the
// filter.
import { el } from "./dom.js";
import { SORTS, compareRows } from "./sorting.js";
import { matches, filterText } from "./filter.js";
import { ago, changeTitle, changedAt, problemCount, problemText, servingText, warningCount, warningText } from "./format.js";
import { replicasEditor, replicasText, updateImages } from "./editors.js";
import { has, kindOf, rowKey, rowLabel, workloadPath } from "./kinds.js";
import { detailView } from "./details.js";

// COLUMNS are the table's columns. Their widths are fixed in style.css
// (col-KEY), so a long message or an error under a field wraps in its cell
// instead of widening its column and moving the others.
const COLUMNS = [
  { key: "name", head: "Name", sort: "name" },
  { key: "status", head: "Status", sort: "status" },
  { key: "ready", head: "Ready" },
  { key: "updated", head: "Up-to-date" },
  { key: "available", head: "Available" },
  { key: "serving", head: "Serving" },
  { key: "replicas", head: "Replicas" },
  { key: "images", head: "Images" },
  { key: "last", head: "Last change", sort: "last" },
];

const statusBadge = (status) => el("span", { class: "status s-" + status, "data-status": status }, status);

// deploymentTable makes the table. nsPath is the namespace's API path
// (its workloads' are under it); view is the sort and filter to start with
// ({sort, descending, query}), and remember(view) is called when the user
// changes them; statuses is the server's status order; can(what, kind)
// says what this tab may do to a workload of kind. It returns its nodes,
// what the stream feeds it, and close().
export function deploymentTable({ nsPath, view, remember, statuses, can }) {
  let sortKey = view.sort, descending = view.descending, query = view.query;

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

  const changed = () => remember({ sort: sortKey, descending, query });
  filter.addEventListener("input", () => { query = filter.value; changed(); applyFilter(); });
  filter.addEventListener("keydown", (e) => { if (e.key === "Escape") { filter.value = ""; query = ""; changed(); applyFilter(); } });
  sortSelect.addEventListener("change", () => setSort(sortSelect.value, false));
  // "/" starts a filter, as in k9s and less.
  const slash = (e) => {
    if (e.key === "/" && !e.ctrlKey && !e.metaKey && !/^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) { e.preventDefault(); filter.focus(); }
  };
  document.addEventListener("keydown", slash);

  function setSort(key, desc) {
    sortKey = key; descending = desc; sortSelect.value = key;
    changed();
    sortRows();
  }

  const rows = new Map(); // kind/name -> {kind, name, label, path, can, tr, cells, event, time, replicas, images, detail}
  // prefixed: more than one kind is present, so each row's name shows its
  // kind ("sts/db"), as the terminal table's do.
  let prefixed = false;
  // relabel names the rows anew when a kind comes or goes, and filters
  // and sorts them by their new names.
  function relabel() {
    const now = new Set([...rows.values()].map((r) => r.kind)).size > 1;
    if (now === prefixed) return;
    prefixed = now;
    for (const r of rows.values()) label(r);
    applyFilter();
    if (!inSnapshot) sortRows(); // snapshot() sorts once at its end
  }
  function label(r) {
    r.label = rowLabel(r.kind, r.name, prefixed);
    r.toggle.textContent = r.label;
  }

  function applyFilter() {
    let n = 0;
    for (const r of rows.values()) applyFilterTo(r) && n++;
    showCount(n);
  }

  function applyFilterTo(r) {
    const ok = matches(query, r.label, r.event && r.event.containers.map((c) => c.image));
    r.tr.hidden = !ok;
    if (r.detail) r.detail.tr.hidden = !ok;
    return ok;
  }

  function showCount(n) {
    if (n === undefined) n = [...rows.values()].filter((r) => !r.tr.hidden).length;
    const t = filterText(query, n, rows.size);
    shownCount.textContent = t.shown;
    empty.textContent = t.empty;
    empty.hidden = n > 0;
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
    const order = [...rows.values()].sort(compareRows(sortKey, descending, statuses));
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
    let r = rows.get(rowKey(ev));
    if (!r) {
      r = makeRow(kindOf(ev), ev.name);
      rows.set(rowKey(ev), r);
      tbody.append(r.tr);
    }
    const moved = !r.event || r.event.status !== ev.status || sortKey === "last";
    r.event = ev;
    r.status = ev.status;
    const c = r.cells, rep = ev.replicas;
    c.status.replaceChildren(statusBadge(ev.status), ev.message ? el("span", { class: "message" }, ev.message) : "", problemList(ev.problems), warningList(ev.warnings));
    const sv = servingText(ev);
    c.serving.textContent = sv.text;
    c.serving.title = sv.title;
    c.serving.classList.toggle("gap", sv.gap);
    c.ready.textContent = rep.ready + "/" + rep.desired;
    c.updated.textContent = rep.updated;
    c.available.textContent = rep.available;
    r.replicas.update(String(rep.desired));
    updateImages(r, ev, r.can);
    r.time = changedAt(ev);
    c.last.dataset.time = r.time;
    c.last.textContent = ago(r.time);
    c.last.title = changeTitle(ev);
    r.tr.dataset.status = ev.status;
    if (flash) { r.tr.classList.remove("flash"); void r.tr.offsetWidth; r.tr.classList.add("flash"); }
    if (r.detail) r.detail.changed();
    relabel();
    applyFilterTo(r);
    if (inSnapshot) return; // snapshot() sorts once at its end
    if (moved) sortRows();
    else showCount();
  }

  function remove(ev) {
    const r = rows.get(rowKey(ev));
    if (r) { r.tr.remove(); if (r.detail) r.detail.tr.remove(); rows.delete(rowKey(ev)); relabel(); }
    showCount();
  }

  // snapshot makes the rows what events say: every workload there is.
  function snapshot(events) {
    const seen = new Set();
    inSnapshot = true;
    try { for (const ev of events) { seen.add(rowKey(ev)); upsert(ev, false); } } finally { inSnapshot = false; }
    for (const [key, r] of [...rows]) if (!seen.has(key)) remove({ kind: r.kind, name: r.name });
    sortRows();
  }

  // problemList shows every diagnosed problem of the new ReplicaSet, one
  // line each, behind a click: which pod, container and node, since when.
  function problemList(problems) {
    if (!problems || !problems.length) return "";
    const items = problems.map((p) => el("li", { class: "problem" }, problemText(p)));
    return el("details", { class: "problems" }, el("summary", {}, problemCount(problems.length)), el("ul", {}, ...items));
  }

  // warningList marks a row whose Deployment has rollout-safety warnings,
  // and lists them behind a click: what is wrong, where, and the fix.
  function warningList(warnings) {
    if (!warnings || !warnings.length) return "";
    const items = warnings.map((w) => el("li", { class: "warning w-" + w.level, "data-warning": w.id }, warningText(w)));
    return el("details", { class: "warnings" }, el("summary", {}, warningCount(warnings.length)), el("ul", {}, ...items));
  }

  function makeRow(kind, name) {
    const toggle = el("button", { type: "button", class: "toggle", "aria-expanded": "false", title: "history and rollout controls" }, name);
    const cells = {
      name: el("td", { class: "name-cell" }, toggle), status: el("td", { class: "status-cell" }),
      ready: el("td", { class: "num ready" }), updated: el("td", { class: "num updated" }), available: el("td", { class: "num available" }),
      serving: el("td", { class: "num serving" }),
      replicas: el("td", { class: "replicas-cell" }), images: el("td", { class: "images-cell" }), last: el("td", { class: "muted last" }),
    };
    // On a phone the table is a list of cards: each cell names itself.
    for (const c of COLUMNS) cells[c.key].dataset.label = c.head;
    const tr = el("tr", { "data-name": name, "data-kind": kind }, Object.values(cells));
    // can is what this tab may do to this row's workload.
    const r = { kind, name, path: workloadPath(nsPath, kind, name), can: (what) => can(what, kind), tr, toggle, cells, images: new Map(), detail: null };
    label(r);
    toggle.addEventListener("click", () => {
      if (r.detail) { r.detail.close(); r.detail = null; }
      else r.detail = detailView(r, r.can);
      toggle.setAttribute("aria-expanded", String(!!r.detail));
    });
    // A DaemonSet runs a pod per node it selects: no scale to edit.
    r.replicas = has(kind, "scale") ? replicasEditor(r.path, r.can) : replicasText();
    cells.replicas.append(r.replicas.node);
    return r;
  }

  // permissionsLoaded enables what this tab may use, once it is known.
  function permissionsLoaded() {
    table.dataset.permissions = "loaded";
    for (const r of rows.values()) {
      if (r.replicas.input) r.replicas.input.disabled = !r.can("scale");
      for (const ed of r.images.values()) ed.input.disabled = !r.can("patch");
      if (r.detail) r.detail.render();
    }
  }

  const tick = setInterval(() => {
    for (const r of rows.values()) r.cells.last.textContent = ago(r.time);
  }, 5000);

  return {
    nodes: [toolbar, table, empty],
    snapshot, upsert, remove, permissionsLoaded,
    stale(lost) { table.classList.toggle("stale", lost); },
    close() {
      document.removeEventListener("keydown", slash);
      clearInterval(tick);
      for (const r of rows.values()) if (r.detail) r.detail.close();
    },
  };
}
