// The context list, the first view with several contexts (serve --context a,b).
import { $, el } from "./dom.js";
import { setConn } from "./frame.js";
import { contextHash } from "./address.js";

export function contextList(contexts) {
  $("crumbs").replaceChildren();
  setConn("idle");
  const rows = contexts.map((name) => el("tr", { "data-context": name },
    el("td", {}, el("a", { class: "ctx", href: contextHash(name) }, name))));
  $("main").replaceChildren(el("h1", {}, "Contexts"),
    el("table", { id: "contexts" }, el("thead", {}, el("tr", {}, el("th", {}, "Context"))), el("tbody", {}, rows)));
  return { close() {} };
}
