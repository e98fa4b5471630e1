import { test } from "node:test";
import assert from "node:assert/strict";
import { servingText, warningText, warningCount } from "../static/format.js";

test("servingText shows the worst Service, red while a gap is open", () => {
  const ev = {
    serving: [
      { service: "web", ready: 3, endpoints: 3, own: 3, floor: 2 },
      { service: "api", ready: 2, endpoints: 3, own: 1, floor: 2 },
      { service: "admin", ready: 1, endpoints: 1, own: 1, floor: 1 },
    ],
  };
  assert.deepEqual(servingText(ev), { text: "2/3", gap: false, title: "web=3/3, api=2/3, admin=1/1" });
  ev.serving[2].ready = 0;
  ev.gaps = [{ service: "admin" }];
  assert.equal(servingText(ev).text, "0/1");
  assert.equal(servingText(ev).gap, true);
});

test("servingText without Services, unknown, and a Service that selects no pod", () => {
  assert.deepEqual(servingText({}), { text: "<none>", gap: false, title: "no Service selects its pods" });
  assert.equal(servingText({ servingUnknown: "cannot list services: forbidden" }).text, "?");
  assert.deepEqual(servingText({ gaps: [{ service: "typo" }] }), { text: "typo=0/0", gap: true, title: "typo selects no pod" });
});

test("warningText and warningCount", () => {
  assert.equal(warningText({ id: "no-prestop", container: "web", message: "no preStop.", fix: "add one" }),
    "no-prestop (container web): no preStop. Fix: add one");
  assert.equal(warningText({ id: "no-pdb", message: "m", fix: "f" }), "no-pdb: m Fix: f");
  assert.equal(warningCount(1), "\u26a01 warning");
  assert.equal(warningCount(3), "\u26a03 warnings");
});
