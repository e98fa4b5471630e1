// A row's details: its last rollout's timeline (Deployments), its history
// with undo, restart, and pause and resume (Deployments).
import { el } from "./dom.js";
import { api } from "./api.js";
import { timelineChart } from "./chart.js";
import { has } from "./kinds.js";
import { ago, errorText, eventImages, historyImage, imageChanges, imagesOf, rolloutCostText, undoQuestion } from "./format.js";

// detailView shows row r's details under it. It reloads the history when
// the row changes; undo asks for confirmation naming each image before and
// after, and sends the resourceVersion the history was read at, so a
// change made meanwhile is refused (409). can says what this tab may do to
// the row's workload; each kind shows only the changes it has.
export function detailView(r, can) {
  const path = r.path;
  const box = el("div", { class: "rollout" });
  const tr = el("tr", { class: "detail", "data-detail-for": r.name, "data-detail-kind": r.kind }, el("td", { colspan: "9" }, box));
  r.tr.after(tr);
  let history = null, error = "", note = null, confirming = null, busy = false, reload = null, gone = false;
  let timeline = null, timelineError = "", chart = null;

  // load reads the history and the last rollout's timeline again.
  function load() {
    const t = !has(r.kind, "timeline") ? null : api("GET", path + "/timeline").then((t) => { timeline = t; timelineError = ""; }, (e) => { timelineError = errorText(e); });
    const h = api("GET", path + "/history").then((h) => { history = h; error = ""; }, (e) => { error = errorText(e); });
    return Promise.allSettled([t, h]).finally(() => { if (!gone) render(); });
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

  function confirmBox(rev) {
    const current = (history.revisions || []).find((x) => x.current);
    const from = current ? imagesOf(current) : eventImages(r.event);
    const lines = imageChanges(from, imagesOf(rev)).map((l) => el("li", { class: l.same ? "same" : "differs" }, l.text));
    return el("div", { class: "confirm", role: "dialog", "aria-label": "confirm undo" },
      el("p", {}, undoQuestion(r.label, rev, current)),
      el("ul", { class: "changes" }, lines),
      el("button", { type: "button", class: "control confirm-undo", disabled: busy,
        onclick: () => act("undo", { toRevision: rev.revision, resourceVersion: history.resourceVersion }, "rolled back to revision " + rev.revision) }, "Roll back"),
      " ",
      el("button", { type: "button", class: "cancel", onclick: () => { confirming = null; render(); } }, "Cancel"));
  }

  function render() {
    const paused = history ? !!history.paused : r.event.status === "Paused";
    const actions = el("div", { class: "actions" });
    if (can("patch")) {
      actions.append(
        el("button", { type: "button", class: "control restart", disabled: busy || paused, title: paused ? "resume it first" : "replace every pod",
          onclick: () => act("restart", {}, "restarted") }, "Restart"));
      if (has(r.kind, "pause")) {
        actions.append(paused ? el("button", { type: "button", class: "control resume", disabled: busy, onclick: () => act("resume", {}, "resumed") }, "Resume")
          : el("button", { type: "button", class: "control pause", disabled: busy, onclick: () => act("pause", {}, "paused") }, "Pause"));
      }
    }
    const parts = [actions];
    chart = timeline ? timelineChart(timeline) : null;
    if (chart) parts.push(chart);
    if (timelineError) parts.push(el("div", { class: "field-error timeline-error" }, "timeline: " + timelineError));
    if (note) parts.push(el("div", { class: note.ok ? "field-ok note" : "field-error note", role: "alert" }, note.text));
    if (error) parts.push(el("div", { class: "field-error" }, error));
    if (history) {
      const canUndo = can("patch") && can("history");
      const rows = (history.revisions || []).map((rev) => el("tr", { "data-revision": rev.revision, class: rev.current ? "current" : "" },
        el("td", { class: "num" }, rev.revision),
        el("td", {}, [...imagesOf(rev)].map(([k, v]) => el("div", { class: "img" }, historyImage(k, v)))),
        el("td", {}, rev.changeCause || el("span", { class: "muted" }, "none recorded")),
        el("td", { class: "muted" }, ago(rev.created)),
        el("td", { class: "num" }, rev.readyReplicas + "/" + rev.replicas),
        costCell(r.event.lastRollout, rev.revision),
        el("td", {}, rev.current ? el("span", { class: "muted" }, "current")
          : canUndo ? el("button", { type: "button", class: "control undo-to", "data-revision": rev.revision, disabled: busy,
            onclick: () => { confirming = rev.revision; note = null; render(); } }, "Undo to " + rev.revision) : "")));
      parts.push(el("table", { class: "history" },
        el("thead", {}, el("tr", {}, ["Revision", "Images", "Change cause", "Created", "Pods", "Last rollout", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows)));
      const rev = (history.revisions || []).find((x) => x.revision === confirming);
      if (rev && canUndo) parts.push(confirmBox(rev));
    } else if (!error) parts.push(el("p", { class: "muted" }, "Loading history…"));
    box.replaceChildren(...parts);
  }

  // While the rollout or one of its gaps is open, its right edge is now:
  // the chart moves on each second, even when no event comes.
  const tick = setInterval(() => {
    const r = timeline && timeline.rollout;
    if (!chart || !r || (r.end && !(r.gaps || []).some((g) => !g.end))) return;
    const next = timelineChart(timeline);
    chart.replaceWith(next);
    chart = next;
  }, 1000);

  load();
  return {
    tr, render,
    changed() { // the row changed: read the history again, at most every half second
      if (reload) return;
      reload = setTimeout(() => { reload = null; if (!gone) load(); }, 500);
    },
    close() { gone = true; clearTimeout(reload); clearInterval(tick); tr.remove(); },
  };
}

// costCell is what the last rollout deploywatch saw cost, on its revision's
// row; red when it had a serving gap.
function costCell(cost, revision) {
  if (!cost || String(cost.revision) !== String(revision)) return el("td", {});
  const c = rolloutCostText(cost);
  return el("td", { class: c.gap ? "cost gap" : "cost" }, c.text);
}
