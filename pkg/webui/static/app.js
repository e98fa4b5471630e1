// deploywatch's page: a namespace list and a live table per namespace, fed
// by the server's Server-Sent Events. Plain JavaScript modules, no
// dependencies and no build step:
//   app.js        this entry: the token, the server's setup, the router's start
//   api.js        requests to the server's API, with the token
//   router.js     the view the address names; address.js reads and writes addresses
//   frame.js      the connection badge, the banner, the token form
//   contexts.js   the context list (serve --context a,b)
//   namespaces.js the namespace list
//   namespace.js  one namespace, live: table.js (rows, sort, filter),
//                 stream.js (the EventSource stream, reconnects with backoff),
//                 editors.js (scale, image), details.js (history, undo, restart, pause,
//                 and the last rollout's timeline, drawn by chart.js)
// and, with no DOM and unit tests (pkg/webui/test): sorting.js (the status
// order, the sorts), filter.js, backoff.js, format.js, timeline.js (the
// timeline's series and SVG geometry).
import { api, onRefused, takeToken } from "./api.js";
import { refuse, isRefused } from "./frame.js";
import { route, hasView } from "./router.js";

takeToken();

// info is how the server is set up (GET /api/info): read-only, contexts,
// the status order.
let info = { readOnly: false };

// start reads how the server is set up, then shows the view the address
// names; again after a token is pasted.
function start() {
  api("GET", "/api/info").then((i) => { info = i; }, () => {}).finally(() => { if (!isRefused()) route(info); });
}

onRefused(() => refuse(start, hasView()));
window.addEventListener("hashchange", () => route(info));
start();
