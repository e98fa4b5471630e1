import { test } from "node:test";
import assert from "node:assert/strict";
import { allowed, has, kindOf, rowKey, rowLabel, workloadPath } from "../static/kinds.js";

test("rowKey: a Deployment and a StatefulSet of one name are two rows; no kind is a Deployment", () => {
  assert.notEqual(rowKey({ kind: "Deployment", name: "web" }), rowKey({ kind: "StatefulSet", name: "web" }));
  assert.equal(rowKey({ name: "web" }), rowKey({ kind: "Deployment", name: "web" }));
  assert.equal(kindOf({ name: "web" }), "Deployment");
});

test("rowLabel: kubectl's short names only when asked (more than one kind present)", () => {
  assert.equal(rowLabel("StatefulSet", "db", false), "db");
  assert.equal(rowLabel("Deployment", "web", true), "deploy/web");
  assert.equal(rowLabel("StatefulSet", "db", true), "sts/db");
  assert.equal(rowLabel("DaemonSet", "agent", true), "ds/agent");
});

test("workloadPath: each kind under its resource, the name escaped", () => {
  assert.equal(workloadPath("/api/namespaces/shop", "StatefulSet", "db"), "/api/namespaces/shop/statefulsets/db");
  assert.equal(workloadPath("/api/namespaces/shop", "DaemonSet", "a.b"), "/api/namespaces/shop/daemonsets/a.b");
  assert.equal(workloadPath("/c/x/api/namespaces/shop", "Deployment", "w b"), "/c/x/api/namespaces/shop/deployments/w%20b");
});

test("has: no scale for a DaemonSet, pause and the timeline for Deployments alone", () => {
  assert.equal(has("DaemonSet", "scale"), false);
  assert.equal(has("StatefulSet", "scale"), true);
  assert.equal(has("StatefulSet", "pause"), false);
  assert.equal(has("DaemonSet", "pause"), false);
  assert.equal(has("Deployment", "pause"), true);
  assert.equal(has("StatefulSet", "timeline"), false);
  for (const kind of ["Deployment", "StatefulSet", "DaemonSet"]) {
    assert.equal(has(kind, "patch"), true);
    assert.equal(has(kind, "history"), true);
  }
});

test("allowed: each kind's permissions where the server keeps them", () => {
  const perms = { scale: false, patch: true, history: true,
    statefulSets: { scale: true, patch: false, history: true }, daemonSets: { scale: true, patch: true, history: false } };
  assert.equal(allowed(perms, "Deployment", "scale"), false);
  assert.equal(allowed(perms, "Deployment", "patch"), true);
  assert.equal(allowed(perms, "StatefulSet", "scale"), true);
  assert.equal(allowed(perms, "StatefulSet", "patch"), false);
  assert.equal(allowed(perms, "DaemonSet", "scale"), false, "a DaemonSet has no scale, whatever the answer");
  assert.equal(allowed(perms, "DaemonSet", "history"), false);
  assert.equal(allowed({ scale: true, patch: true, history: true }, "StatefulSet", "patch"), false, "an older server's answer allows no other kind");
  assert.equal(allowed(null, "Deployment", "patch"), false);
});
