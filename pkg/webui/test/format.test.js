import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ago, changeTitle, changedAt, errorText, eventImages, historyImage, imageChanges, imagesOf, imageTail,
  endReason, problemCount, serviceGapText, problemText, reconnectText, rolloutCostText, undoQuestion, upstreamText,
} from "../static/format.js";

const now = Date.parse("2026-12-01T12:00:00Z");
const before = (s) => new Date(now - s * 1000).toISOString();

test("ago: seconds, minutes, hours, days at their edges", () => {
  const cases = [
    [0, "0s ago"], [59, "59s ago"], [60, "1m ago"], [61, "1m1s ago"], [3599, "59m59s ago"],
    [3600, "1h0m ago"], [3661, "1h1m ago"], [86399, "23h59m ago"], [86400, "1d ago"], [3 * 86400 + 7200, "3d ago"],
  ];
  for (const [s, want] of cases) assert.equal(ago(before(s), now), want, s + " s");
});

test("ago: rounds to the second; a time ahead of this clock is now", () => {
  assert.equal(ago(new Date(now - 59500).toISOString(), now), "1m ago");
  assert.equal(ago(new Date(now - 59499).toISOString(), now), "59s ago");
  assert.equal(ago(before(-30), now), "0s ago");
});

test("errorText: the error, or the problems, with a hint not already said", () => {
  assert.equal(errorText({ error: "not found" }), "not found");
  assert.equal(errorText({ error: "refused", hint: "use --namespaces" }), "refused (use --namespaces)");
  assert.equal(errorText({ error: "refused; use --namespaces", hint: "use --namespaces" }), "refused; use --namespaces");
  assert.equal(errorText({ error: "invalid", problems: [{ message: "image is empty" }, { message: "no such container" }] }), "image is empty; no such container");
  assert.equal(errorText({ error: "invalid", problems: [] }), "invalid");
  assert.equal(errorText("boom"), "boom");
});

test("problemText: count, reason, message and where", () => {
  assert.equal(problemText({ reason: "ImagePullBackOff", message: "no such image", pods: 2, pod: "web-1", container: "web", node: "n1", since: undefined }),
    "2 pods ImagePullBackOff: no such image (pod web-1, container web, node n1)");
  assert.equal(problemText({ reason: "CrashLoopBackOff", message: "exit 1", pods: 1, pod: "web-1", container: "setup", init: true, restarts: 4 }),
    "1 pod CrashLoopBackOff: exit 1 (pod web-1, init container setup, 4 restarts)");
  assert.equal(problemText({ reason: "FailedCreate", message: "exceeded quota" }), "FailedCreate: exceeded quota");
  assert.equal(problemText({ reason: "Unschedulable" }), "Unschedulable: ");
  const since = problemText({ reason: "X", message: "y", pod: "p", since: "2026-12-01T10:00:00Z" });
  assert.match(since, /^X: y \(pod p, since .+\)$/);
});

test("problemCount", () => {
  assert.equal(problemCount(1), "1 problem");
  assert.equal(problemCount(3), "3 problems");
});

test("changedAt: a Deployment first seen dates from its state's since, if earlier", () => {
  const t = "2026-12-01T12:00:00Z", since = "2026-12-01T11:00:00Z";
  assert.equal(changedAt({ type: "ADDED", time: t, since }), since);
  assert.equal(changedAt({ type: "ADDED", time: t }), t);
  assert.equal(changedAt({ type: "ADDED", time: since, since: t }), since, "a since after the event is not used");
  assert.equal(changedAt({ type: "MODIFIED", time: t, since }), t);
});

test("changeTitle names what changed", () => {
  assert.match(changeTitle({ type: "MODIFIED", changed: ["image", "replicas"], time: "2026-12-01T12:00:00Z" }), /^MODIFIED: image, replicas at .+/);
  assert.match(changeTitle({ type: "ADDED", changed: [], time: "2026-12-01T12:00:00Z" }), /^ADDED at .+/);
});

test("reconnectText and upstreamText", () => {
  assert.equal(reconnectText("TooManyStreams"), "server busy");
  assert.equal(reconnectText("APIServerUnreachable"), "API server unreachable");
  assert.equal(reconnectText(""), "server restarting");
  assert.equal(reconnectText("shutdown"), "server restarting");
  assert.equal(reconnectText("Expired"), "stream renewed", "a stream at its longest life is not a restart");
  assert.match(upstreamText({ state: "reconnecting", since: "2026-12-01T12:00:00Z", error: "connection refused" }),
    /^API server reconnecting since .+: connection refused; rows may be stale$/);
  assert.match(upstreamText({ state: "relisting", since: "2026-12-01T12:00:00Z" }), /^API server relisting since [^:]+(:\d\d)+( [AP]M)?; rows may be stale$/);
});

test("endReason: the reason and message of a stream's last event, empty from an older server", () => {
  assert.deepEqual(endReason('{"reason":"Forbidden","message":"user x may not watch deployments in shop"}'),
    { reason: "Forbidden", message: "user x may not watch deployments in shop" });
  assert.deepEqual(endReason('{"reason":"Expired"}'), { reason: "Expired", message: "" });
  assert.deepEqual(endReason(""), { reason: "", message: "" });
  assert.deepEqual(endReason("null"), { reason: "", message: "" });
});

test("serviceGapText: the Service, since when, and 'since before' when it was so at the start", () => {
  const start = "2026-12-01T12:00:00Z", at = new Date(start).toLocaleTimeString();
  assert.equal(serviceGapText({ service: "green-svc", kind: "selects-no-pod", start }), "green-svc: selects no pod since " + at);
  assert.equal(serviceGapText({ service: "typo", kind: "selects-no-pod", start, openAtStart: true }), "typo: selects no pod since before " + at);
});

test("imagesOf and historyImage: containers and init containers apart", () => {
  const rev = { initContainers: [{ container: "setup", image: "busybox:1" }], containers: [{ container: "web", image: "nginx:1.27" }, { container: "log", image: "fluent:2" }] };
  const m = imagesOf(rev);
  assert.deepEqual([...m], [["init container setup", "busybox:1"], ["container web", "nginx:1.27"], ["container log", "fluent:2"]]);
  assert.deepEqual([...m].map(([k, v]) => historyImage(k, v)), ["init container setup=busybox:1", "web=nginx:1.27", "log=fluent:2"]);
  assert.deepEqual([...imagesOf({})], []);
  assert.deepEqual([...eventImages({ containers: [{ name: "web", image: "nginx:1.27" }] })], [["container web", "nginx:1.27"]]);
});

test("imageChanges: each container once, before and after, none where missing", () => {
  const from = new Map([["container web", "nginx:1.27"], ["container log", "fluent:2"]]);
  const to = new Map([["container web", "nginx:1.25"], ["container log", "fluent:2"], ["init container setup", "busybox:1"]]);
  assert.deepEqual(imageChanges(from, to), [
    { same: false, text: "container web: nginx:1.27 \u2192 nginx:1.25" },
    { same: true, text: "container log: fluent:2 (unchanged)" },
    { same: false, text: "init container setup: none \u2192 busybox:1" },
  ]);
  assert.deepEqual(imageChanges(new Map([["container web", "a@sha256:1"]]), new Map()), [{ same: false, text: "container web: a@sha256:1 \u2192 none" }]);
});

test("undoQuestion", () => {
  assert.equal(undoQuestion("web", { revision: 2 }, { revision: 5 }), "Roll web back to revision 2 (from revision 5)?");
  assert.equal(undoQuestion("web", { revision: 2 }, undefined), "Roll web back to revision 2?");
});

test("imageTail: a long image is cut from the left, so its tag stays", () => {
  const image = "registry.testbed.invalid/faulty/app:v2";
  assert.equal(imageTail(image, 100), image);
  assert.equal(imageTail(image, image.length), image);
  assert.equal(imageTail(image, 16), "\u2026/faulty/app:v2");
  assert.equal(imageTail(image, 8), "\u2026/app:v2");
  // No "/" in what is kept: the cut falls where it must.
  assert.equal(imageTail(image, 5), "\u2026p:v2");
  assert.equal(imageTail("nginx@sha256:" + "a".repeat(60) + "1234", 10), "\u2026aaaaa1234");
  assert.equal(imageTail(image, 1), "\u2026");
  for (const n of [4, 5, 8, 16, 30]) {
    const got = imageTail(image, n);
    assert.ok(got.length <= n, n + ": " + got);
    assert.ok(got.endsWith(":v2"), n + ": " + got);
  }
});

test("rolloutCostText: a gap names its Services, a clean rollout says so, hooks and unseen serving are told", () => {
  assert.deepEqual(rolloutCostText({ outcome: "complete", durationSeconds: 7.94, gapSeconds: 6.53,
    services: [{ service: "api-svc", fewest: 0, gapSeconds: 6.53 }, { service: "web-svc", fewest: 2, gapSeconds: 0 }] }),
  { text: "complete in 7.9s; serving gap 6.5s (api-svc 0 ready at the fewest)", gap: true });
  assert.deepEqual(rolloutCostText({ outcome: "complete", durationSeconds: 12, gapSeconds: 0, services: [{ service: "safe-svc", fewest: 1, gapSeconds: 0 }] }),
    { text: "complete in 12s; no serving gap", gap: false });
  assert.deepEqual(rolloutCostText({ outcome: "failed", durationSeconds: 600, gapSeconds: 3, gapOpen: true, unseen: true,
    services: [{ service: "a", fewest: 0, gapSeconds: 3 }], failedPreStopHooks: [{ pod: "x" }, { pod: "y" }] }),
  { text: "failed after 600s; serving gap 3s, still open (a 0 ready at the fewest); serving not seen throughout; FailedPreStopHook on 2 old pods", gap: true });
  assert.deepEqual(rolloutCostText({ outcome: "complete", durationSeconds: 1, gapSeconds: 0 }), { text: "complete in 1s", gap: false });
});
