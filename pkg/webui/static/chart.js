// A rollout's timeline drawn as SVG, from timeline.js's geometry.
import { el } from "./dom.js";
import { geometry, gapText, noRolloutText, rolloutText, seriesOf } from "./timeline.js";

const NS = "http://www.w3.org/2000/svg";

// svg makes an SVG element; attrs as dom.js's el, children nodes or text.
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// timelineChart is the figure of GET .../timeline's answer t: the chart,
// its legend, and a line per gap (none: "no serving gap").
export function timelineChart(t, now = Date.now()) {
  const r = t.rollout;
  if (!r) return el("div", { class: "timeline", "data-rollout": "none" }, el("p", { class: "muted" }, noRolloutText(t)));
  const s = seriesOf(r, now);
  const g = geometry(s);
  const title = rolloutText(r, now);
  const fmt = (ms) => new Date(ms).toLocaleTimeString();
  const chart = svg("svg", { class: "timeline-chart", viewBox: "0 0 " + g.width + " " + g.height, role: "img", "aria-label": title },
    ...g.unknown.map((u) => svg("rect", { class: "unknown", x: u.x, y: g.plot.y, width: u.width, height: g.plot.height }, svg("title", {}, "serving unknown"))),
    ...g.gaps.map((x) => svg("rect", { class: "gap" + (x.open ? " open" : ""), "data-service": x.service, x: x.x, y: g.plot.y, width: x.width, height: g.plot.height })),
    svg("line", { class: "axis", x1: g.plot.x, y1: g.yZero, x2: g.plot.x + g.plot.width, y2: g.yZero }),
    svg("text", { class: "tick", x: g.plot.x - 4, y: g.yTop + 4, "text-anchor": "end" }, String(g.max)),
    svg("text", { class: "tick", x: g.plot.x - 4, y: g.yZero + 4, "text-anchor": "end" }, "0"),
    ...g.services.map((v, i) => svg("path", { class: "endpoints e" + (i % 4), "data-service": v.service, d: v.d })),
    svg("path", { class: "pods", d: g.pods }),
    // The red bar on the axis stays on top of the lines at zero.
    ...g.gaps.map((x) => svg("line", { class: "gap-bar", x1: x.x, y1: g.yZero, x2: x.x + x.width, y2: g.yZero })),
    svg("line", { class: "mark start", x1: g.start, y1: g.plot.y, x2: g.start, y2: g.yZero }),
    svg("text", { class: "tick", x: g.start, y: g.height - 4, "text-anchor": "start" }, (r.startUnseen ? "seen " : "start ") + fmt(s.start)),
    g.end === null ? null : svg("line", { class: "mark end " + r.outcome, x1: g.end, y1: g.plot.y, x2: g.end, y2: g.yZero }),
    g.end === null ? null : svg("text", { class: "tick", x: g.end, y: g.height - 4, "text-anchor": "end" }, r.outcome + " " + fmt(s.end)));
  const legend = el("ul", { class: "timeline-legend" },
    el("li", { class: "pods" }, "ready pods"),
    s.services.map((v, i) => el("li", { class: "endpoints e" + (i % 4) }, v.service + " ready endpoints")),
    s.gaps.length ? el("li", { class: "gap" }, "serving gap") : null);
  const gaps = (r.gaps || []).length
    ? el("ul", { class: "timeline-gaps" }, r.gaps.map((x) => el("li", { class: "gap", "data-service": x.service }, gapText(x, now))))
    : el("p", { class: "timeline-gaps none" }, s.services.length ? "No serving gap." : "No Service selects its pods.");
  return el("div", { class: "timeline", "data-rollout": r.revision, "data-gaps": (r.gaps || []).length },
    el("p", { class: "timeline-title" }, title + (r.thinned ? " (every other point of a long rollout shown)" : "")),
    chart, legend, gaps);
}
