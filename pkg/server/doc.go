// Package server is the HTTP side of `kubectl deploywatch serve`: a JSON API,
// a Server-Sent Events stream per namespace fed by the hub, the embedded web
// page, and the operational endpoints (/healthz, /readyz, /metrics).
//
// It is safe by default: it refuses requests whose Host or Origin is not
// its own (DNS rebinding, cross-site requests), every API request (reads
// too) needs the token, changes are refused entirely in read-only mode, and
// request bodies are small.
// It acts with the identity of its Kubernetes client and never more; with
// AuthKubernetes each request carries its user's own Kubernetes token, is
// authorized for that user, and changes impersonate the user.
//
// Where each concern lives:
//
//   - server.go: Options, the Server and New.
//   - serve.go: Serve: the http.Server and its limits, the graceful
//     shutdown.
//   - routes.go: every endpoint, and the middleware around them (logging,
//     names in paths); contexts.go: several kubeconfig contexts behind one
//     listener, under /api/contexts/{name}/.
//   - origin.go: the Host and Origin checks (DNS rebinding, cross-site).
//   - auth.go: who a request is (the token or, with AuthKubernetes, the
//     user's own Kubernetes token; a stream ticket; the wrong-token
//     budget) and POST /api/tickets; access.go: what the user may do, and
//     what each endpoint needs. The mechanisms behind both (tickets,
//     reviews and their caches, the budget, who a client is) are in
//     package auth.
//   - errors.go: the JSON error body, the mapping of errors to statuses,
//     and JSON answers.
//   - info.go: GET /api/info, how this server is set up.
//   - namespaces.go: GET /api/namespaces, the namespaces a user sees and
//     their counts by status; nscheck.go: whether a namespace is served
//     and may be read, checked before a watch of it starts.
//   - deployments.go: a namespace's Deployment summaries, and scale and
//     image; rollout.go: history, undo, restart, pause, resume;
//     change.go: the checks every change goes through (read-only, the
//     token, the body, the namespace, the user's rights);
//     timeline.go: a Deployment's last rollout as the page draws it;
//     permissions.go: which changes the page offers.
//   - stream.go: the event streams, from their checks to their end (a
//     user's right re-checked, a shutdown); sse.go: their wire format and
//     writer, with its write deadlines; hijack.go: streams taken off
//     net/http's connections, and --max-streams' sweep.
//   - probes.go: /healthz and /readyz; metrics.go: /metrics.
//   - shared.go: calls to the API server shared by the callers that arrive
//     together, and answers kept for a while.
//   - scope.go: whether serve may watch cluster-wide (--watch-scope).
//   - page.go: the embedded page.
package server
