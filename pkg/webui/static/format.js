// The words and numbers the page shows, no DOM: ages, errors, problems,
// images.

// ago is how long before now t was: "42s ago", "3m5s ago", "2h7m ago",
// "4d ago"; a time in the future (another clock) is "0s ago".
export function ago(t, now = Date.now()) {
  const s = Math.max(0, Math.round((now - new Date(t).getTime()) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60 ? (s % 60) + "s" : "") + " ago";
  if (s < 86400) return Math.floor(s / 3600) + "h" + Math.floor((s % 3600) / 60) + "m ago";
  return Math.floor(s / 86400) + "d ago";
}

// errorText is the one line a failed request shows: the server's error,
// or its problems (a refused change's fields), and its hint if it does
// not already say it.
export function errorText(e) {
  let text = e.error || String(e);
  if (e.problems && e.problems.length) text = e.problems.map((p) => p.message).join("; ");
  if (e.hint && !text.includes(e.hint)) text += " (" + e.hint + ")";
  return text;
}

// problemText is one diagnosed problem of a new ReplicaSet: how many pods,
// the reason and message, and where (pod, container, node) with restarts
// and since when.
export function problemText(p) {
  const where = [p.pod && ("pod " + p.pod), p.container && ((p.init ? "init container " : "container ") + p.container), p.node && ("node " + p.node)].filter(Boolean).join(", ");
  const count = p.pods ? p.pods + (p.pods === 1 ? " pod " : " pods ") : "";
  const restarts = p.restarts ? ", " + p.restarts + " restarts" : "";
  const since = p.since ? ", since " + new Date(p.since).toLocaleTimeString() : "";
  return count + p.reason + ": " + (p.message || "") + (where ? " (" + where + restarts + since + ")" : "");
}

export const problemCount = (n) => n === 1 ? "1 problem" : n + " problems";

// changedAt is when a row last changed. A Deployment first seen dates from
// when it entered its state (since), not from when the server or this page
// first saw it.
export function changedAt(ev) {
  return ev.type === "ADDED" && ev.since && Date.parse(ev.since) < Date.parse(ev.time) ? ev.since : ev.time;
}

// changeTitle says what the last change was and when.
export function changeTitle(ev) {
  return ev.type + (ev.changed && ev.changed.length ? ": " + ev.changed.join(", ") : "") + " at " + new Date(ev.time).toLocaleString();
}

// reconnectText is why the server asked the page to come back later.
export function reconnectText(reason) {
  return reason === "TooManyStreams" ? "server busy" : reason === "APIServerUnreachable" ? "API server unreachable"
    : reason === "Expired" ? "stream renewed" : "server restarting";
}

// endReason reads the data of an event that ends a stream (reconnect,
// forbidden, unauthorized): {reason, message}, empty from an older server.
export function endReason(data) {
  try {
    const d = JSON.parse(data);
    return { reason: String(d.reason || ""), message: String(d.message || "") };
  } catch (_) {
    return { reason: "", message: "" };
  }
}

// upstreamText says that the server's watch of the API server is lost.
export function upstreamText(u) {
  return "API server " + u.state + " since " + new Date(u.since).toLocaleTimeString() + (u.error ? ": " + u.error : "") + "; rows may be stale";
}

// imagesOf is a history revision's images by "container NAME" and
// "init container NAME".
export function imagesOf(rev) {
  const m = new Map();
  for (const c of rev.initContainers || []) m.set("init container " + c.container, c.image);
  for (const c of rev.containers || []) m.set("container " + c.container, c.image);
  return m;
}

// eventImages are a live event's images, keyed as imagesOf's.
export function eventImages(ev) {
  const m = new Map();
  for (const c of ev.containers || []) m.set("container " + c.name, c.image);
  return m;
}

// imageTail fits an image reference into chars characters by cutting it
// from the left, so that the tag or digest, what tells two images apart,
// stays: "registry.example.com/team/api:v2" in 16 is "…/team/api:v2". The
// cut falls after a "/" when one is in what is kept.
export function imageTail(image, chars) {
  if (image.length <= chars) return image;
  if (chars < 2) return "\u2026";
  let keep = image.slice(image.length - (chars - 1));
  const slash = keep.indexOf("/");
  if (slash > 0 && slash < keep.length - 1) keep = keep.slice(slash);
  return "\u2026" + keep;
}

// historyImage is one image of a revision in the history table:
// "web=nginx:1.27", "init container setup=busybox:1".
export const historyImage = (key, image) => key.replace(/^container /, "") + "=" + image;

// imageChanges are the lines of an undo's confirmation: each container of
// either side, its image before and after ("none" where it has none).
export function imageChanges(from, to) {
  const lines = [];
  for (const k of new Set([...from.keys(), ...to.keys()])) {
    const a = from.get(k) || "none", b = to.get(k) || "none";
    lines.push({ same: a === b, text: k + ": " + a + (a === b ? " (unchanged)" : " \u2192 " + b) });
  }
  return lines;
}

// undoQuestion asks to confirm a rollback of name to rev from current.
export function undoQuestion(name, rev, current) {
  return "Roll " + name + " back to revision " + rev.revision + (current ? " (from revision " + current.revision + ")" : "") + "?";
}

// servingText is a row's Serving cell from its event, as the terminal
// table's SERVING: the worst Service's ready endpoints of all ("0/1"), or
// "name=0/0" for a Service that selects no pod any more, "?" when serving
// cannot be read, "<none>" (as kubectl prints an empty field) when no
// Service selects the pods. gap says a serving
// gap is open (the cell is red); title names every Service.
export function servingText(ev) {
  const gap = !!(ev.gaps && ev.gaps.length);
  if (ev.servingUnknown) return { text: "?", gap, title: "serving unknown: " + ev.servingUnknown };
  const sv = ev.serving || [];
  if (!sv.length) return gap ? { text: ev.gaps[0].service + "=0/0", gap, title: ev.gaps[0].service + " selects no pod" } : { text: "<none>", gap, title: "no Service selects its pods" };
  const rank = (s) => (s.ready === 0 ? 0 : s.own < s.floor ? 1 : 2);
  const count = (s) => s.ready + "/" + s.endpoints;
  const worst = sv.reduce((a, b) => (rank(b) - rank(a) || b.ready - a.ready) < 0 ? b : a);
  return { text: count(worst), gap, title: sv.map((s) => s.service + "=" + count(s)).join(", ") };
}

// serviceGapText is the line of a Service that selects no pod and no
// Deployment, as watch's title says it: "green-svc: selects no pod since
// 14:02:11" ("since before" when it was so when serve began watching).
export function serviceGapText(g) {
  return g.service + ": selects no pod " + (g.openAtStart ? "since before " : "since ") + new Date(g.start).toLocaleTimeString();
}

// warningText is one rollout-safety warning: its id, the container it is
// about, what is wrong, and the fix.
export function warningText(w) {
  return w.id + (w.container ? " (container " + w.container + ")" : "") + ": " + w.message + " Fix: " + w.fix;
}

export const warningCount = (n) => "\u26a0" + n + (n === 1 ? " warning" : " warnings");

// rolloutCostText is what a Deployment's last rollout cost, for its row in
// the history, as watch's line says it: "complete in 7.9s; serving gap
// 6.5s (api-svc 0 ready at the fewest)". gap says users may have noticed
// (the cell is red).
export function rolloutCostText(c) {
  const secs = (s) => (Math.round(s * 10) / 10) + "s";
  const parts = [(c.outcome === "failed" ? "failed after " : "complete in ") + secs(c.durationSeconds)];
  const gap = c.gapSeconds > 0;
  if (gap) {
    const worst = (c.services || []).filter((s) => s.gapSeconds > 0).map((s) => s.service + " " + s.fewest + " ready at the fewest");
    parts.push("serving gap " + secs(c.gapSeconds) + (c.gapOpen ? ", still open" : "") + (worst.length ? " (" + worst.join(", ") + ")" : ""));
  } else if ((c.services || []).length) {
    parts.push("no serving gap");
  }
  if (c.unseen) parts.push("serving not seen throughout");
  const hooks = (c.failedPreStopHooks || []).length;
  if (hooks) parts.push("FailedPreStopHook on " + hooks + (hooks === 1 ? " old pod" : " old pods"));
  return { text: parts.join("; "), gap };
}
