import { test } from "node:test";
import assert from "node:assert/strict";
import { byStatus, compareRows, parseSort, statusRank } from "../static/sorting.js";

// The order GET /api/info serves (deployment.Statuses).
const ORDER = ["Failed", "Failing", "Degraded", "Deleting", "Paused", "Progressing", "Scaling", "ScaledToZero", "Running"];

const names = (rows) => rows.map((r) => r.name).join(",");

test("statusRank: the server's order, a status it does not list last", () => {
  assert.equal(statusRank(ORDER, "Failed"), 0);
  assert.equal(statusRank(ORDER, "Running"), 8);
  assert.equal(statusRank(ORDER, "Unknown"), 9);
  assert.equal(statusRank([], "Failed"), 0, "no order (GET /api/info failed): all alike");
});

test("byStatus: a namespace's counts worst first, unknown ones last in their own order", () => {
  const counts = { Running: 3, Zebra: 1, ScaledToZero: 1, Paused: 2, Failing: 1, Alpha: 4 };
  assert.deepEqual(byStatus(counts, ORDER).map(([s]) => s), ["Failing", "Paused", "ScaledToZero", "Running", "Zebra", "Alpha"]);
  assert.deepEqual(byStatus(counts, ORDER).find(([s]) => s === "Paused"), ["Paused", 2]);
  assert.deepEqual(byStatus(undefined, ORDER), []);
});

test("parseSort: known keys, a leading '-' reverses, anything else is by name", () => {
  assert.deepEqual(parseSort(null), { key: "name", descending: false });
  assert.deepEqual(parseSort(""), { key: "name", descending: false });
  assert.deepEqual(parseSort("status"), { key: "status", descending: false });
  assert.deepEqual(parseSort("-last"), { key: "last", descending: true });
  assert.deepEqual(parseSort("-bogus"), { key: "name", descending: true });
  assert.deepEqual(parseSort("--status"), { key: "name", descending: true });
  // An object's inherited names are no sort.
  assert.deepEqual(parseSort("toString"), { key: "name", descending: false });
  assert.deepEqual(parseSort("constructor"), { key: "name", descending: false });
});

const rows = [
  { name: "web", status: "Running", time: "2026-12-01T10:00:05Z" },
  { name: "api", status: "Running", time: "2026-12-01T10:00:09Z" },
  { name: "pull", status: "Failing", time: "2026-12-01T10:00:01Z" },
  { name: "cart", status: "Paused", time: "2026-12-01T10:00:09Z" },
  { name: "b", status: "Failing", time: "2026-12-01T10:00:03Z" },
  { name: "zero", status: "ScaledToZero", time: "2026-12-01T10:00:02Z" },
];

test("compareRows by name, either way", () => {
  assert.equal(names([...rows].sort(compareRows("name", false, ORDER))), "api,b,cart,pull,web,zero");
  assert.equal(names([...rows].sort(compareRows("name", true, ORDER))), "zero,web,pull,cart,b,api");
});

test("compareRows by status: worst first, ties by name; reversed, ties reversed too", () => {
  assert.equal(names([...rows].sort(compareRows("status", false, ORDER))), "b,pull,cart,zero,api,web");
  assert.equal(names([...rows].sort(compareRows("status", true, ORDER))), "web,api,zero,cart,pull,b");
});

test("compareRows by status with no order from the server is by name", () => {
  assert.equal(names([...rows].sort(compareRows("status", false, []))), "api,b,cart,pull,web,zero");
});

test("compareRows by last change: most recent first, ties by name", () => {
  assert.equal(names([...rows].sort(compareRows("last", false, ORDER))), "api,cart,web,b,zero,pull");
  assert.equal(names([...rows].sort(compareRows("last", true, ORDER))), "pull,zero,b,web,cart,api");
});

test("compareRows: names compare by code point, as the server sorts them", () => {
  const r = [{ name: "b" }, { name: "B" }, { name: "a-b" }, { name: "a" }].map((x) => ({ ...x, status: "Running" }));
  assert.equal(names(r.sort(compareRows("name", false, ORDER))), "B,a,a-b,b");
});

test("compareRows: ties by the name shown, so deploy/web and sts/web keep one order", () => {
  const rows = [{ name: "web", label: "sts/web", status: "Running" }, { name: "web", label: "deploy/web", status: "Running" }, { name: "db", label: "sts/db", status: "Running" }];
  assert.deepEqual(rows.sort(compareRows("status", false, ["Running"])).map((r) => r.label), ["deploy/web", "sts/db", "sts/web"]);
});
