// What every view shares around it: the connection badge, the banner, the
// token form, the context's breadcrumbs.
import { $, el } from "./dom.js";
import { setToken, token } from "./api.js";

// refused is set once the server refused this tab's token (401): every
// view stops its requests and disables its controls until a token is
// pasted or the link serve printed is opened again.
let refused = false;
export const isRefused = () => refused;

export function setConn(state, text) {
  const c = $("conn");
  c.dataset.state = state;
  c.textContent = text || "";
}

export function banner(text, isError) {
  if (refused) return; // the token banner stays until a token is given
  const b = $("banner");
  b.hidden = !text;
  b.className = "banner" + (isError ? " error" : "");
  b.textContent = text || "";
}

// refuse says the token was refused and offers a form for another one;
// restart starts the page again with it. shown says whether a view is on
// screen (else "Loading…" is cleared, not left forever).
export function refuse(restart, shown) {
  if (refused) return;
  refused = true;
  document.body.dataset.auth = "refused";
  setConn("error", "not signed in");
  const main = $("main");
  for (const c of main.querySelectorAll("input, button, select")) c.disabled = true;
  for (const t of main.querySelectorAll("table")) t.classList.add("stale");
  const input = el("input", { type: "password", id: "token-input", name: "token", autocomplete: "off", spellcheck: "false", placeholder: "paste the token", "aria-label": "token" });
  const form = el("form", { class: "token-form" }, input, el("button", { type: "submit" }, "Use this token"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) { input.focus(); return; }
    setToken(t);
    refused = false;
    delete document.body.dataset.auth;
    restart();
  });
  const text = token()
    ? "This server did not accept the token this tab has: it was probably restarted with a new one, or has expired. "
    : "This tab has no token. ";
  const b = $("banner");
  b.hidden = false;
  b.className = "banner error auth";
  b.replaceChildren(el("p", {}, text + "Open the link that kubectl deploywatch serve printed (it ends in #token=…), or paste the token below; with --token-file, it is that file's content; with --auth=kubernetes, your own Kubernetes token (kubectl create token NAME, or your kubeconfig's)."), form);
  if (!shown) main.replaceChildren();
  input.focus();
}

// contextCrumbs lead back to the context list and the context's
// namespaces (none with one context).
export const contextCrumbs = (where) => where.ctx === null ? []
  : [el("a", { href: "#/" }, "contexts"), " / ", el("a", { href: where.hash + "/" }, where.ctx), " / "];
