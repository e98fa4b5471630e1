import { test } from "node:test";
import assert from "node:assert/strict";
import { LIST_POLL, jittered, listDelay, retryText, streamDelay } from "../static/backoff.js";

const low = () => 0, high = () => 1;

test("jittered: between half and all of the delay", () => {
  assert.equal(jittered(1000, low), 500);
  assert.equal(jittered(1000, high), 1000);
  assert.equal(jittered(1000, () => 0.5), 750);
  for (let i = 0; i < 1000; i++) {
    const d = jittered(1000);
    assert.ok(d >= 500 && d <= 1000, d);
  }
});

test("streamDelay: doubles from 0.5 s with equal jitter", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((a) => streamDelay(a, high)), [500, 1000, 2000, 4000, 8000, 16000]);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((a) => streamDelay(a, low)), [250, 500, 1000, 2000, 4000, 8000]);
});

test("streamDelay: capped at 30 s, however many failures", () => {
  assert.equal(streamDelay(6, high), 30000); // 32 s uncapped
  assert.equal(streamDelay(6, low), 15000);
  assert.equal(streamDelay(100, high), 30000);
  assert.equal(streamDelay(5000, high), 30000); // 2 ** 5000 is Infinity
  assert.equal(streamDelay(5000, low), 15000);
});

test("listDelay: 5 to 10 s after a success, doubling per failure up to a minute", () => {
  assert.equal(LIST_POLL, 10000);
  assert.deepEqual([0, 1, 2, 3, 4, 50].map((f) => listDelay(f, high)), [10000, 20000, 40000, 60000, 60000, 60000]);
  assert.deepEqual([0, 1, 2, 3, 4, 50].map((f) => listDelay(f, low)), [5000, 10000, 20000, 30000, 30000, 30000]);
});

test("retryText: the wait in whole seconds, rounded up", () => {
  assert.equal(retryText("server busy", 250), "server busy; retrying in 1s");
  assert.equal(retryText("connection lost", 2000), "connection lost; retrying in 2s");
  assert.equal(retryText("cannot connect", 2001), "cannot connect; retrying in 3s");
});
