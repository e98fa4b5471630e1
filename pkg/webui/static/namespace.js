// One namespace, live: the table (table.js) fed by the stream (stream.js),
// with what this tab may change.
import { $, el } from "./dom.js";
import { api, token } from "./api.js";
import { banner, contextCrumbs, isRefused, setConn } from "./frame.js";
import { namespaceHash } from "./address.js";
import { parseSort } from "./sorting.js";
import { serviceGapText, upstreamText } from "./format.js";
import { deploymentTable } from "./table.js";
import { allowed } from "./kinds.js";
import { liveStream } from "./stream.js";

// namespaceView shows namespace ns of where; params are its address's
// (sort, q); info is the server's GET /api/info.
export function namespaceView(where, info, ns, params) {
  const nsPath = where.api + "/namespaces/" + encodeURIComponent(ns);
  const base = nsPath + "/deployments"; // the list and the stream, of every kind
  $("crumbs").replaceChildren(...contextCrumbs(where), el("a", { href: where.hash + "/" }, "namespaces"), " / ", ns);
  let closed = false;

  const editable = () => !info.readOnly && !!token() && !isRefused();
  // What the server's identity may do here (GET .../permissions, from
  // SelfSubjectAccessReviews): controls it may not use are not offered.
  // Each kind's are its own (kinds.js).
  let perms = null;
  const can = (what, kind) => editable() && allowed(perms, kind, what);

  const sort = parseSort(params.get("sort"));
  const table = deploymentTable({
    nsPath, can, statuses: info.statuses || [],
    view: { sort: sort.key, descending: sort.descending, query: params.get("q") || "" },
    // The sort and filter are kept in the address without adding to the
    // history (replaceState fires no hashchange).
    remember: (view) => history.replaceState(null, "", location.pathname + location.search + namespaceHash(where, ns, view)),
  });
  // The gaps of Services that select no pod and no Deployment, which no
  // row shows, under the title as in watch's.
  const serviceGaps = el("ul", { class: "service-gaps", role: "status", hidden: true });
  const showServiceGaps = (gaps) => {
    serviceGaps.replaceChildren(...gaps.map((g) => el("li", { "data-service": g.service }, serviceGapText(g))));
    serviceGaps.hidden = !gaps.length;
  };
  $("main").replaceChildren(el("h1", {}, ns), serviceGaps, ...table.nodes);

  const note = info.readOnly ? "This server is read-only (--read-only): changes are disabled." : "";
  banner(note);

  api("GET", nsPath + "/permissions").then((p) => { perms = p; }, () => {})
    .finally(() => { if (!closed) table.permissionsLoaded(); });

  function upstream(u) {
    const lost = u.state !== "live";
    table.stale(lost);
    if (lost) setConn("upstream", upstreamText(u));
    else setConn("live", "live");
  }

  const stream = liveStream(base, {
    snapshot(events) {
      banner(note); // clears an error shown while disconnected
      upstream({ state: "live" }); // an upstream event follows if the watch is lost
      showServiceGaps([]); // a serviceGaps event follows if a Service selects no pod
      table.snapshot(events);
    },
    upsert: table.upsert,
    remove: table.remove,
    upstream,
    serviceGaps: showServiceGaps,
  });

  return {
    close() {
      closed = true;
      table.close();
      stream.close();
      setConn("idle");
    },
  };
}
