// Package auth holds the mechanisms behind serve's authentication and
// authorization, without HTTP answers (package server words those):
//
//   - token.go: the shared token of AuthToken mode and the stream tickets
//     made from it;
//   - budget.go: each client's budget of wrong tokens, and who a client is;
//   - kube.go: AuthKubernetes, each user's own Kubernetes token checked
//     with TokenReviews, their rights with SubjectAccessReviews (both
//     cached briefly), tickets that seal the user's token, and
//     impersonation;
//   - access.go: what a request asks to do, and whether the server's own
//     identity may do it;
//   - request.go: the credentials a request carries, and what
//     authentication found, kept in its context.
//
// A stream ticket exists because a browser's EventSource cannot send an
// Authorization header: the page trades its token for a ticket
// (POST /api/tickets) and opens the stream with ?ticket=. A ticket is good
// for streams only and for TicketTTL. It is not a cookie because cookies are
// not isolated by port: every other server on localhost would receive it,
// and a cookie set by a POST would still be sent with requests other
// sites' pages make.
package auth
