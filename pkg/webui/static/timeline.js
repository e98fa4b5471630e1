// A Deployment's last rollout as a small timeline, no DOM: the series the
// server's GET .../timeline gives (points at each event, gaps, start and
// end) made into step lines, red gap spans and markers in an SVG's
// coordinates, and the words under it. chart.js draws what this returns.

// seriesOf turns a rollout into step series over [t0, t1] (milliseconds):
// ready pods, and each Service's ready endpoints; the gaps and the spans
// where serving was unknown, clipped to [t0, t1]. An open rollout (and an
// open gap) runs to now. Each step series is [{t, v}], a value held until
// the next.
export function seriesOf(rollout, now = Date.now()) {
  const ms = (s) => Date.parse(s);
  const points = rollout.points || [];
  const start = ms(rollout.start);
  const end = rollout.end ? ms(rollout.end) : null;
  const gaps = rollout.gaps || [];
  const open = end === null || gaps.some((g) => !g.end);
  let t0 = start, t1 = open ? now : end;
  for (const p of points) { t0 = Math.min(t0, ms(p.time)); t1 = Math.max(t1, ms(p.time)); }
  for (const g of gaps) if (g.end) t1 = Math.max(t1, ms(g.end));
  if (t1 <= t0) t1 = t0 + 1000;

  const pods = points.map((p) => ({ t: ms(p.time), v: p.ready }));
  const names = [];
  for (const p of points) for (const s of p.serving || []) if (!names.includes(s.service)) names.push(s.service);
  const services = names.map((service) => ({
    service,
    // A point without the Service (it stopped selecting the pods, or
    // serving was unknown) breaks its line: v null.
    steps: points.map((p) => {
      const s = !p.servingUnknown && (p.serving || []).find((x) => x.service === service);
      return { t: ms(p.time), v: s ? s.ready : null };
    }),
  }));
  const unknown = [];
  points.forEach((p, i) => {
    if (!p.servingUnknown) return;
    const to = i + 1 < points.length ? ms(points[i + 1].time) : t1;
    const last = unknown[unknown.length - 1];
    if (last && last.to === ms(p.time)) last.to = to; else unknown.push({ from: ms(p.time), to });
  });
  let max = 1;
  for (const p of points) {
    max = Math.max(max, p.desired, p.ready);
    for (const s of p.serving || []) max = Math.max(max, s.ready);
  }
  return {
    t0, t1, start, end, max, pods, services, unknown,
    gaps: gaps.map((g) => ({ service: g.service, kind: g.kind, revision: g.revision, from: Math.max(t0, ms(g.start)), to: g.end ? ms(g.end) : now, open: !g.end, gap: g })),
  };
}

// geometry places a series in a box of width by height (viewBox units),
// the plot inside pad: steps as SVG path data (a null value lifts the
// pen), gaps and unknown spans as x ranges, the start and end as x.
export function geometry(s, width = 600, height = 120, pad = { left: 28, right: 8, top: 8, bottom: 18 }) {
  const w = width - pad.left - pad.right, h = height - pad.top - pad.bottom;
  const x = (t) => round(pad.left + (Math.min(Math.max(t, s.t0), s.t1) - s.t0) / (s.t1 - s.t0) * w);
  const y = (v) => round(pad.top + h - v / s.max * h);
  const path = (steps) => {
    let d = "", pen = false;
    steps.forEach((p, i) => {
      const next = i + 1 < steps.length ? steps[i + 1].t : s.t1;
      if (p.v === null) { pen = false; return; }
      d += (pen ? "V" + y(p.v) : "M" + x(p.t) + " " + y(p.v)) + "H" + x(next);
      pen = true;
    });
    return d;
  };
  const span = (a) => ({ x: x(a.from), width: Math.max(1, x(a.to) - x(a.from)) });
  return {
    width, height, plot: { x: pad.left, y: pad.top, width: w, height: h },
    yTop: y(s.max), yZero: y(0), max: s.max,
    pods: path(s.pods),
    services: s.services.map((v) => ({ service: v.service, d: path(v.steps) })),
    gaps: s.gaps.map((g) => ({ ...span(g), service: g.service, open: g.open })),
    unknown: s.unknown.map(span),
    start: x(s.start),
    end: s.end === null ? null : x(s.end),
  };
}

const round = (n) => Math.round(n * 10) / 10;

// seconds says a length in milliseconds as "7s", "1m5s", "0.4s".
export function seconds(ms) {
  const s = ms / 1000;
  if (s < 10) return (Math.round(s * 10) / 10) + "s";
  const r = Math.round(s);
  return r < 60 ? r + "s" : Math.floor(r / 60) + "m" + (r % 60 ? (r % 60) + "s" : "");
}

// gapText is one gap of the rollout, as the legend lists it:
// "web-svc had no ready endpoint for 6.2s during revision 2".
export function gapText(g, now = Date.now()) {
  const what = g.kind === "selects-no-pod" ? "selected no pod" : g.kind === "below-floor" ? "had fewer of this deployment's endpoints ready than its strategy keeps"
    : "had no ready endpoint";
  const len = (g.end ? Date.parse(g.end) : now) - Date.parse(g.start);
  return g.service + " " + (g.end ? what : what.replace(/^had/, "has").replace(/^selected/, "selects")) +
    (g.end ? " for " : ", so far ") + seconds(len) + (g.revision ? " during revision " + g.revision : "") + (g.unseen ? " (its end was not seen)" : "");
}

// rolloutText is the timeline's title: which revision, since when, how it
// ended and how long it took.
export function rolloutText(r, now = Date.now()) {
  // Under way when serve first saw it: the revision before is unknown (0).
  const from = !r.startUnseen && r.revision > r.fromRevision;
  const rev = from ? "revision " + r.fromRevision + " \u2192 " + r.revision : "revision " + r.revision;
  const at = new Date(r.start).toLocaleTimeString();
  const began = r.startUnseen ? "under way when serve began following it at " + at : "started " + at;
  if (!r.end) return "Rollout, " + rev + ": " + began + ", under way for " + seconds(now - Date.parse(r.start));
  return "Rollout, " + rev + ": " + began + ", " + r.outcome + " after " + seconds(Date.parse(r.end) - Date.parse(r.start));
}

// noRolloutText says why there is nothing to draw.
export function noRolloutText(t) {
  if (!t.following) return "No rollout seen: serve is not following this namespace.";
  return "No rollout seen since " + new Date(t.since).toLocaleTimeString() + " (serve records rollouts while it follows the namespace).";
}
