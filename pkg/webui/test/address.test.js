import { test } from "node:test";
import assert from "node:assert/strict";
import { contextHash, namespaceHash, parseRoute, place, splitToken } from "../static/address.js";

const params = (r) => r.params && r.params.toString();

test("parseRoute with one context", () => {
  assert.deepEqual(parseRoute("", false), { view: "namespaces", ctx: null });
  assert.deepEqual(parseRoute("#/", false), { view: "namespaces", ctx: null });
  const r = parseRoute("#/ns/shop?sort=-status&q=api", false);
  assert.equal(r.view, "namespace");
  assert.equal(r.ns, "shop");
  assert.equal(r.params.get("sort"), "-status");
  assert.equal(r.params.get("q"), "api");
  assert.equal(params(parseRoute("#/ns/shop", false)), "");
  assert.equal(parseRoute("#/ns/a%2Fb", false).ns, "a/b");
  assert.equal(parseRoute("#/ns/shop/extra", false).view, "namespaces");
  assert.equal(parseRoute("#/c/east/ns/shop", false).view, "namespaces", "no contexts served: a context address is no view");
});

test("parseRoute with several contexts", () => {
  assert.deepEqual(parseRoute("#/", true), { view: "contexts", ctx: null });
  assert.deepEqual(parseRoute("#/ns/shop", true), { view: "contexts", ctx: null });
  assert.deepEqual(parseRoute("#/c/east", true), { view: "namespaces", ctx: "east" });
  assert.deepEqual(parseRoute("#/c/east/", true), { view: "namespaces", ctx: "east" });
  const r = parseRoute("#/c/kind%2Fa/ns/shop?q=web", true);
  assert.equal(r.view, "namespace");
  assert.equal(r.ctx, "kind/a");
  assert.equal(r.ns, "shop");
  assert.equal(r.params.get("q"), "web");
});

test("place: the API and address bases of a context", () => {
  assert.deepEqual(place(null), { ctx: null, api: "/api", hash: "#" });
  assert.deepEqual(place("kind/a"), { ctx: "kind/a", api: "/api/contexts/kind%2Fa", hash: "#/c/kind%2Fa" });
  assert.equal(contextHash("kind/a"), "#/c/kind%2Fa/");
});

test("namespaceHash leaves the defaults out and reads back as written", () => {
  assert.equal(namespaceHash(place(null), "shop"), "#/ns/shop");
  assert.equal(namespaceHash(place(null), "shop", { sort: "name", descending: false, query: "" }), "#/ns/shop");
  assert.equal(namespaceHash(place(null), "shop", { sort: "name", descending: true, query: "" }), "#/ns/shop?sort=-name");
  assert.equal(namespaceHash(place(null), "shop", { sort: "status", descending: false, query: "a b&c" }), "#/ns/shop?sort=status&q=a+b%26c");
  const hash = namespaceHash(place("east"), "shop", { sort: "last", descending: true, query: "web/1" });
  const r = parseRoute(hash, true);
  assert.deepEqual([r.view, r.ctx, r.ns, r.params.get("sort"), r.params.get("q")], ["namespace", "east", "shop", "-last", "web/1"]);
});

test("splitToken: the token leaves the address, the view it names stays", () => {
  const cases = [
    ["#token=abc", "abc", "#/"],
    ["#token=a%2Bb%3D", "a+b=", "#/"],
    ["#token=a+b", "a+b", "#/"],
    ["#/ns/shop?q=a+b&token=t", "t", "#/ns/shop?q=a+b"],
    ["#/?token=abc", "abc", "#/"],
    ["#/ns/shop?token=abc", "abc", "#/ns/shop"],
    ["#/ns/shop?sort=status&token=abc&q=api", "abc", "#/ns/shop?sort=status&q=api"],
    ["#/c/east/ns/shop?token=abc", "abc", "#/c/east/ns/shop"],
    ["#/ns/shop?sort=status", null, "#/ns/shop?sort=status"],
    ["", null, ""],
  ];
  for (const [hash, token, rest] of cases) {
    assert.deepEqual(splitToken(hash), { token, hash: rest }, hash);
  }
  // What is left routes to the namespace the link named.
  assert.equal(parseRoute(splitToken("#/ns/shop?token=abc").hash, false).ns, "shop");
});
