// The router: the view the address names, one at a time.
import { banner } from "./frame.js";
import { parseRoute, place } from "./address.js";
import { contextList } from "./contexts.js";
import { namespaceList } from "./namespaces.js";
import { namespaceView } from "./namespace.js";

let view = null; // the current view, with a close() method

export const hasView = () => view !== null;

// route closes the current view and shows the one location.hash names;
// info is the server's GET /api/info.
export function route(info) {
  if (view) view.close();
  view = null;
  banner("");
  const r = parseRoute(location.hash, !!(info.contexts && info.contexts.length));
  if (r.view === "contexts") view = contextList(info.contexts);
  else if (r.view === "namespace") view = namespaceView(place(r.ctx), info, r.ns, r.params);
  else view = namespaceList(place(r.ctx), info.statuses || []);
}
