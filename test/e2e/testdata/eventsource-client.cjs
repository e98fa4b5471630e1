// A standard EventSource client, the npm eventsource package (which follows
// the WHATWG spec: it retries after a dropped connection and gives up for
// good on any answer but 200), as scripts and dashboards use it. It follows
// one stream of `kubectl deploywatch serve` and prints what it sees as JSON
// lines. Usage: EVENTSOURCE_MODULE=<dir>/node_modules/eventsource
// DEPLOYWATCH_TOKEN=<token> node eventsource-client.cjs <stream URL>
"use strict";
const { EventSource } = require(process.env.EVENTSOURCE_MODULE);

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const es = new EventSource(process.argv[2], {
  // Outside a browser the token goes in a header.
  fetch: (input, init) => {
    const headers = new Headers(init && init.headers);
    headers.set("Authorization", "Bearer " + process.env.DEPLOYWATCH_TOKEN);
    return fetch(input, { ...init, headers });
  },
});
es.onopen = () => out({ type: "open" });
es.onerror = (e) => out({ type: "error", code: e.code ?? null, message: e.message ?? "", readyState: es.readyState });
for (const name of ["snapshot", "upsert", "delete", "reconnect"]) {
  es.addEventListener(name, (e) => out({ type: name, id: e.lastEventId, data: e.data }));
}
