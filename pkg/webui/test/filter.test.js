import { test } from "node:test";
import assert from "node:assert/strict";
import { filterText, matches } from "../static/filter.js";

test("matches: an empty or blank filter keeps every row", () => {
  assert.equal(matches("", "web", []), true);
  assert.equal(matches("   ", "web", undefined), true);
});

test("matches: a part of the name, in any case, trimmed", () => {
  assert.equal(matches("API", "checkout-api", ["nginx:1"]), true);
  assert.equal(matches("  out-a ", "checkout-api", []), true);
  assert.equal(matches("payments", "checkout-api", ["nginx:1"]), false);
});

test("matches: a part of any image, in any case", () => {
  const images = ["nginx:1.27", "registry.example.com/cart:Special-4.1"];
  assert.equal(matches("special", "web", images), true);
  assert.equal(matches("EXAMPLE.COM/", "web", images), true);
  assert.equal(matches("1.28", "web", images), false);
  assert.equal(matches("special", "web", undefined), false, "a row not yet filled has no images");
});

test("matches: a query is text, not a pattern", () => {
  assert.equal(matches(".*", "web", ["nginx"]), false);
  assert.equal(matches("a.c", "abc", []), false);
  assert.equal(matches("a.c", "a.c-thing", []), true);
});

test("filterText: the count only while filtering, and why nothing shows", () => {
  assert.deepEqual(filterText("", 3, 3), { shown: "", empty: "No deployments in this namespace." });
  assert.deepEqual(filterText("", 0, 0), { shown: "", empty: "No deployments in this namespace." });
  assert.deepEqual(filterText(" api ", 1, 3), { shown: "1 of 3 shown", empty: "No deployment matches \u201capi\u201d (Escape clears the filter)." });
  assert.deepEqual(filterText("x", 0, 0), { shown: "0 of 0 shown", empty: "No deployments in this namespace." });
});
