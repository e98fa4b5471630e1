// The namespace list: each namespace with its Deployments counted by
// status, read again every 5 to 10 s (none while the tab is hidden).
import { $, el } from "./dom.js";
import { api } from "./api.js";
import { banner, setConn, isRefused } from "./frame.js";
import { namespaceHash } from "./address.js";
import { byStatus } from "./sorting.js";
import { listDelay } from "./backoff.js";
import { errorText } from "./format.js";

// namespaceList shows the namespaces of where; statuses is the server's
// status order.
export function namespaceList(where, statuses) {
  let closed = false, timer = null, failures = 0, shown = false;
  $("crumbs").replaceChildren(...(where.ctx === null ? [] : [el("a", { href: "#/" }, "contexts"), " / ", where.ctx]));
  setConn("idle");
  const main = $("main");
  const heading = where.ctx === null ? "Namespaces" : "Namespaces in " + where.ctx;
  const tbody = el("tbody");
  const table = el("table", { id: "namespaces" },
    el("thead", {}, el("tr", {}, el("th", {}, "Namespace"), el("th", { class: "num" }, "Deployments"), el("th", {}, "By status"))), tbody);
  const status = el("p", { class: "muted" }, "Loading…");
  main.replaceChildren(el("h1", {}, heading), status);

  function render(data) {
    banner(data.warning || "");
    const rows = (data.namespaces || []).map((ns) => {
      const counts = el("div", { class: "counts" });
      for (const [st, n] of byStatus(ns.deployments, statuses)) {
        counts.append(el("span", { class: "status s-" + st, "data-status": st, "data-count": n, title: st }, st + " " + n));
      }
      // Counted from the Deployments alone: a Progressing one may be Failing.
      if (ns.undiagnosed) {
        counts.append(el("span", { class: "muted undiagnosed", "data-undiagnosed": ns.undiagnosed,
          title: "counted from the Deployments alone, without their pods' diagnosis: a rollout counted Progressing may be failing; open the namespace to see" },
        ns.undiagnosed + " not diagnosed"));
      }
      if (ns.error) counts.append(el("span", { class: "field-error" }, ns.error));
      else if (!ns.total) counts.append(el("span", { class: "muted" }, "no deployments"));
      return el("tr", { "data-namespace": ns.name },
        el("td", {}, el("a", { class: "ns", href: namespaceHash(where, ns.name) }, ns.name)),
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
    if (closed || isRefused() || document.hidden) return;
    api("GET", where.api + "/namespaces").then((data) => {
      if (closed) return;
      failures = 0;
      render(data);
      schedule();
    }).catch((e) => {
      if (closed || e.status === 401) return; // the token banner says what to do
      failures++;
      const text = errorText(e);
      if (!shown) main.replaceChildren(el("h1", {}, heading), el("div", { class: "empty field-error" }, text));
      else { status.className = "field-error"; status.textContent = "not updated since the last success: " + text; }
      schedule();
    });
  }

  function schedule() {
    if (closed || timer) return;
    timer = setTimeout(load, listDelay(failures));
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
