import { test } from "node:test";
import assert from "node:assert/strict";
import { gapText, geometry, noRolloutText, rolloutText, seconds, seriesOf } from "../static/timeline.js";

const T = Date.parse("2026-12-07T14:02:00Z");
const at = (s) => new Date(T + s * 1000).toISOString();
const point = (s, ready, endpoints, extra) => ({ time: at(s), desired: 1, ready, updated: ready, serving: endpoints === null ? undefined : [{ service: "web-svc", ready: endpoints, own: endpoints }], ...extra });

// Issue 26's case (a) as serve records it: 1 replica, maxSurge 0, the pod
// goes at :11, its replacement is ready at :17, its endpoint at :18.
const slow = {
  revision: 2, fromRevision: 1, start: at(10), end: at(17), outcome: "complete",
  points: [point(10, 1, 1), point(11, 0, 0), point(17, 1, 0), point(18, 1, 1)],
  gaps: [{ service: "web-svc", kind: "no-ready-endpoint", start: at(11), end: at(18), revision: "2" }],
};

test("seriesOf: steps of ready pods and of each Service's endpoints, the gap, start and end", () => {
  const s = seriesOf(slow, T + 60e3);
  assert.equal(s.t0, T + 10e3);
  assert.equal(s.t1, T + 18e3, "an ended rollout ends at its last point, not now");
  assert.equal(s.start, T + 10e3);
  assert.equal(s.end, T + 17e3);
  assert.equal(s.max, 1);
  assert.deepEqual(s.pods.map((p) => p.v), [1, 0, 1, 1]);
  assert.deepEqual(s.services.map((v) => v.service), ["web-svc"]);
  assert.deepEqual(s.services[0].steps.map((p) => p.v), [1, 0, 0, 1]);
  assert.equal(s.gaps.length, 1);
  assert.deepEqual([s.gaps[0].from, s.gaps[0].to, s.gaps[0].open], [T + 11e3, T + 18e3, false]);
});

test("seriesOf: an open rollout and an open gap run to now; a gap begun before is clipped to the start", () => {
  const r = { revision: 3, fromRevision: 2, start: at(0), points: [point(0, 2, 2), point(1, 1, 0)],
    gaps: [{ service: "web-svc", kind: "no-ready-endpoint", start: at(-30) }] };
  const s = seriesOf(r, T + 5e3);
  assert.equal(s.t1, T + 5e3);
  assert.deepEqual([s.gaps[0].from, s.gaps[0].to, s.gaps[0].open], [T, T + 5e3, true]);
  assert.equal(s.max, 2);
});

test("seriesOf: serving unknown breaks the Service's line and is a span of its own; a rollout of no length gets a second", () => {
  const r = { revision: 2, fromRevision: 1, start: at(0), end: at(0), outcome: "complete",
    points: [point(0, 1, 1), point(0, 1, null, { servingUnknown: true })] };
  const s = seriesOf(r, T);
  assert.equal(s.t1, T + 1000);
  assert.deepEqual(s.services[0].steps.map((p) => p.v), [1, null]);
  assert.deepEqual(s.unknown, [{ from: T, to: T + 1000 }]);
  const r2 = { revision: 2, fromRevision: 1, start: at(0), end: at(4), outcome: "complete",
    points: [point(0, 1, null, { servingUnknown: true }), point(2, 1, null, { servingUnknown: true }), point(4, 1, 1)] };
  assert.deepEqual(seriesOf(r2, T).unknown, [{ from: T, to: T + 4000 }], "adjacent unknown points make one span");
});

test("geometry: steps as path data, the gap and the marks at their times, values on the y scale", () => {
  const g = geometry(seriesOf(slow, T + 60e3), 600, 120, { left: 20, right: 0, top: 10, bottom: 10 });
  // 8 s over 580 units: 72.5 per second; y: 1 at 10, 0 at 110.
  const x = (s) => 20 + (s - 10) * 72.5;
  assert.equal(g.pods, `M${x(10)} 10H${x(11)}V110H${x(17)}V10H${x(18)}V10H${x(18)}`);
  assert.equal(g.services[0].d, `M${x(10)} 10H${x(11)}V110H${x(17)}V110H${x(18)}V10H${x(18)}`);
  assert.deepEqual(g.gaps, [{ x: x(11), width: x(18) - x(11), service: "web-svc", open: false }]);
  assert.equal(g.start, x(10));
  assert.equal(g.end, x(17));
  assert.equal(g.yZero, 110);
  assert.equal(g.yTop, 10);
});

test("geometry: a null value lifts the pen; a gap of no length is still a unit wide; an open rollout has no end mark", () => {
  const s = { t0: 0, t1: 100, start: 0, end: null, max: 2, unknown: [],
    pods: [{ t: 0, v: 2 }, { t: 50, v: null }, { t: 75, v: 1 }],
    services: [], gaps: [{ service: "a", from: 40, to: 40, open: true }] };
  const g = geometry(s, 100, 20, { left: 0, right: 0, top: 0, bottom: 0 });
  assert.equal(g.pods, "M0 0H50M75 10H100");
  assert.deepEqual(g.gaps, [{ x: 40, width: 1, service: "a", open: true }]);
  assert.equal(g.end, null);
});

test("words: the gap's length and revision, the rollout's revisions and outcome, why nothing is drawn", () => {
  assert.equal(gapText(slow.gaps[0]), "web-svc had no ready endpoint for 7s during revision 2");
  assert.equal(gapText({ service: "b", kind: "selects-no-pod", start: at(0) }, T + 3500), "b selects no pod, so far 3.5s");
  assert.match(gapText({ service: "c", kind: "below-floor", start: at(0), end: at(75), unseen: true }), /^c had fewer .* for 1m15s \(its end was not seen\)$/);
  assert.match(rolloutText(slow), /^Rollout, revision 1 → 2: started .*, complete after 7s$/);
  assert.match(rolloutText({ revision: 4, fromRevision: 0, start: at(0), startUnseen: true }, T + 12e3), /^Rollout, revision 4: under way when serve began following it at .*, under way for 12s$/);
  assert.equal(seconds(400), "0.4s");
  assert.equal(seconds(60e3), "1m");
  assert.equal(noRolloutText({ following: false }), "No rollout seen: serve is not following this namespace.");
  assert.match(noRolloutText({ following: true, since: at(0) }), /^No rollout seen since /);
});
