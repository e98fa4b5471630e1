package server

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// Authentication modes (Options.Auth).
const (
	// AuthToken: one shared token (Options.Token) for every client, who
	// then acts with the server's identity.
	AuthToken = "token"
	// AuthKubernetes: each client sends its own Kubernetes bearer token;
	// the server checks it with a TokenReview, authorizes every read,
	// stream and change for that user with SubjectAccessReviews, and makes
	// changes impersonating the user.
	AuthKubernetes = "kubernetes"
)

// authenticate wraps every /api/ route: every API request, reads included,
// needs a bearer token (the server's, or in AuthKubernetes mode the user's
// own), or a stream ticket for reads (package auth says why tickets). The
// page, the probes and the metrics stay open. A client that sent too many
// wrong tokens waits first.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		key := auth.ClientKey(r, s.opts.TrustedProxies)
		token, present := auth.BearerToken(r)
		// A token the API server accepted lately passes a spent budget
		// (it is still reviewed): others' wrong tokens from the same
		// address, a proxy's, lock no one out.
		knownGood := present && s.kube != nil && s.kube.KnownGood(token)
		if wait := s.budget.Throttled(key); wait > 0 && !knownGood {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.writeError(w, r, errorf(http.StatusTooManyRequests, "TooManyRequests",
				"too many requests with a wrong token from %s; wait %d s, then use the token serve was given", key, secs))
			return
		}
		switch {
		case present && s.kube != nil:
			s.authenticateUser(w, auth.WithBearer(r), key, token, next)
		case present && s.token.Matches(token):
			next.ServeHTTP(w, auth.WithBearer(r))
		case present:
			s.budget.Failed(key)
			s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
				"wrong token; use the one serve printed or the one in --token-file"))
		case (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has("ticket") && isStreamPath(r.URL.Path):
			s.ticketed(w, r, key, next)
		case r.URL.Query().Has("ticket"): // not counted: the ticket is not tried
			s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
				"a stream ticket opens streams only (GET .../deployments/stream); send the token in the header 'Authorization: Bearer <token>'"))
		case s.kube != nil: // no credentials guess nothing: not counted
			s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
				"the API needs your Kubernetes token in the header 'Authorization: Bearer <token>' (e.g. from 'kubectl create token SERVICEACCOUNT')"))
		default:
			s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
				"the API needs the header 'Authorization: Bearer <token>'; open the URL serve printed, which carries the token, or add #token=<the token in --token-file> to the page's address"))
		}
	})
}

// isStreamPath reports whether path is a namespace's stream, the only
// thing a ticket opens.
func isStreamPath(path string) bool {
	parts := strings.Split(path, "/") // "", api, namespaces, {ns}, deployments, stream
	return len(parts) == 6 && parts[1] == "api" && parts[2] == "namespaces" && parts[3] != "" &&
		parts[4] == "deployments" && parts[5] == "stream"
}

// authenticateUser is authenticate in AuthKubernetes mode: the user's own
// Kubernetes token (the header's, or a ticket's), checked with a
// TokenReview.
func (s *Server) authenticateUser(w http.ResponseWriter, r *http.Request, key, token string, next http.Handler) {
	user, err := s.kube.Authenticate(r.Context(), token)
	var bad *auth.Unauthenticated
	var busy *auth.TooManyReviews
	switch {
	case errors.As(err, &busy): // not the client's failure: not counted
		w.Header().Set("Retry-After", "1")
		s.writeError(w, r, errorf(http.StatusTooManyRequests, "TooManyRequests",
			"serve checks at most %d new tokens a second with the cluster; retry in a second", auth.TokenReviewsPerSecond))
	case errors.As(err, &bad):
		s.budget.Failed(key)
		s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
			"the cluster does not accept this token (wrong or expired); get one with 'kubectl create token SERVICEACCOUNT' or from your kubeconfig"))
	case err != nil && strings.HasSuffix(r.URL.Path, "/stream"):
		s.streamError(w, r, fromError(err)) // the API server down: a stream is told to retry
	case err != nil:
		s.writeError(w, r, fromError(err))
	default:
		next.ServeHTTP(w, auth.WithToken(auth.WithUser(r, user), token))
	}
}

// ticketed lets a stream with a good stream ticket through (in
// AuthKubernetes mode as the ticket's user); a wrong or expired ticket
// counts as a wrong token.
func (s *Server) ticketed(w http.ResponseWriter, r *http.Request, key string, next http.Handler) {
	t := r.URL.Query().Get("ticket")
	if s.kube != nil {
		if token, ok := s.kube.TicketToken(t); ok {
			s.authenticateUser(w, r, key, token, next) // a token since refused counts as wrong
			return
		}
	} else if s.token.ValidTicket(t) {
		next.ServeHTTP(w, r)
		return
	}
	s.budget.Failed(key)
	s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
		"the stream ticket is wrong or expired; get a new one with POST /api/tickets"))
}

// tickets answers POST /api/tickets with a stream ticket.
func (s *Server) tickets(w http.ResponseWriter, r *http.Request) {
	if !auth.HasBearer(r) {
		s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized", "a ticket needs the header 'Authorization: Bearer <token>'"))
		return
	}
	var t string
	var exp time.Time
	if s.kube != nil {
		token, _ := auth.TokenOf(r)
		t, exp = s.kube.Ticket(token)
	} else {
		t, exp = s.token.Ticket()
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"ticket": t, "expires": exp.UTC().Format(time.RFC3339)})
}
