// A namespace's live stream: Server-Sent Events read with EventSource,
// reconnected after a failure with backoff and jitter, resumed from the
// last event id.
import { api, tokenRefused } from "./api.js";
import { banner, setConn, isRefused } from "./frame.js";
import { streamDelay, retryText } from "./backoff.js";
import { endReason, reconnectText } from "./format.js";

// liveStream follows the Deployments under base (a namespace's deployments
// path) and hands what arrives to on: snapshot(events), upsert(event),
// remove(event), upstream(state of the server's watch) and serviceGaps(the
// gaps of Services that select no pod).
export function liveStream(base, on) {
  let es = null, timer = null, attempt = 0, lastId = "", closed = false, everOpened = false;

  function connect() {
    if (closed || isRefused()) return;
    setConn(attempt ? "reconnecting" : "connecting", attempt ? "reconnecting…" : "connecting…");
    // EventSource cannot send the token: trade it for a short-lived stream
    // ticket first, a new one for every connection.
    api("POST", "/api/tickets").then((t) => {
      if (closed) return;
      const q = "?ticket=" + encodeURIComponent(t.ticket) + (lastId ? "&lastEventId=" + encodeURIComponent(lastId) : "");
      openStream(base + "/stream" + q);
    }, (e) => {
      if (closed) return;
      if (e.status === 401) return; // the token banner says what to do
      if (e.status >= 400 && e.status < 500 && e.status !== 429) {
        setConn("error", "not connected");
        banner(e.error, true);
      } else schedule("cannot connect");
    });
  }

  function openStream(url) {
    es = new EventSource(url);
    let opened = false;
    // The backoff starts again only once the stream delivers: a refusal
    // (server busy, the API server unreachable) also opens, as a 200 that
    // holds only a reconnect event, and must not bring the page back at
    // once every time.
    es.onopen = () => { opened = everOpened = true; setConn("live", "live"); };
    es.addEventListener("snapshot", (e) => { attempt = 0; lastId = e.lastEventId; on.snapshot(JSON.parse(e.data)); });
    es.addEventListener("upsert", (e) => { attempt = 0; lastId = e.lastEventId; on.upsert(JSON.parse(e.data), true); });
    es.addEventListener("delete", (e) => { attempt = 0; lastId = e.lastEventId; on.remove(JSON.parse(e.data)); });
    es.addEventListener("reconnect", (e) => {
      const { reason } = endReason(e.data);
      if (reason === "Expired") {
        // The stream's planned end: back at once, resuming, with no
        // word of a failure.
        es.close(); es = null;
        connect();
        return;
      }
      retry(reconnectText(reason), false);
    });
    // The end of a stream whose user the server re-checked: the token is
    // no longer accepted (the token form asks for another), or the user
    // may no longer read the namespace (the banner says so). Retrying
    // cannot help either.
    es.addEventListener("unauthorized", () => {
      es.close(); es = null;
      tokenRefused();
    });
    es.addEventListener("forbidden", (e) => {
      es.close(); es = null;
      setConn("error", "not connected");
      banner(endReason(e.data).message || "you may no longer read this namespace", true);
    });
    // The server's own watch of the API server: while it is not live the
    // rows may be stale.
    es.addEventListener("upstream", (e) => { if (e.lastEventId) lastId = e.lastEventId; on.upstream(JSON.parse(e.data)); });
    // Services that select no pod and no Deployment: no row shows them.
    es.addEventListener("serviceGaps", (e) => { if (e.lastEventId) lastId = e.lastEventId; on.serviceGaps(JSON.parse(e.data)); });
    // EventSource retries by itself, without backoff or jitter, and gives
    // up for good on an HTTP error: handle every failure here instead.
    es.onerror = () => { retry(everOpened ? "connection lost" : "cannot connect", !opened); };
  }

  // retry waits, then connects again. A stream that did not even open may
  // have been refused for good (not served, not found, forbidden), which
  // EventSource does not tell: after the wait, a GET of the list tells.
  // Only after the wait, so that the pages of a restarted server do not
  // all ask at the same instant.
  function retry(why, probe) {
    if (es) { es.close(); es = null; }
    schedule(why, probe);
  }

  function probeThenConnect() {
    if (closed || isRefused()) return;
    api("GET", base).then(connect, (e) => {
      if (closed || e.status === 401) return; // the token banner says what to do
      if (e.status >= 400 && e.status < 500 && e.status !== 429) {
        setConn("error", "not connected");
        banner(e.error, true);
      } else schedule("cannot connect", true);
    });
  }

  function schedule(why, probe) {
    if (closed || timer || isRefused()) return;
    const delay = streamDelay(attempt);
    attempt++;
    setConn("reconnecting", retryText(why, delay));
    timer = setTimeout(() => { timer = null; if (probe) probeThenConnect(); else connect(); }, delay);
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (es) es.close();
    },
  };
}
