package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/utils/lru"
)

// Authentication: every /api/ request needs the server's token, reads
// included. The token comes as 'Authorization: Bearer <token>'. A browser's
// EventSource cannot send that header, so the page first trades its token
// for a stream ticket (POST /api/tickets) and opens the stream with
// ?ticket=: a ticket is an expiry signed with a key derived from the token,
// good for reads (GET) only and for TicketTTL. It is not a cookie because
// cookies are not isolated by port: every other server on localhost would
// receive it, and a cookie set by a POST would still be sent with requests
// other sites' pages make. Being derived from the token, a ticket made by
// one replica is good on every replica that shares the token file.

// Defaults of the authentication.
const (
	// TicketTTL is how long a stream ticket can open streams; an open
	// stream lasts as long as it likes.
	TicketTTL = time.Minute
	// failureBurst wrong tokens from one client address are answered at
	// once; beyond, one per failureEvery, and 429 meanwhile.
	failureBurst = 10
	failureEvery = 6 * time.Second
	// failureClients bounds the client addresses whose failures are
	// remembered (least recently failed forgotten first).
	failureClients = 4096
)

type ctxKey int

const bearerKey ctxKey = 0

// authn is the authentication of the whole API.
type authn struct {
	token     []byte
	ticketKey []byte
	failures  *lru.Cache // client address -> *rate.Limiter of wrong tokens
	now       func() time.Time
}

func newAuthn(token string) *authn {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("deploywatch stream ticket key"))
	return &authn{
		token:     []byte(token),
		ticketKey: mac.Sum(nil),
		failures:  lru.New(failureClients),
		now:       time.Now,
	}
}

// bearer reports whether r carries the token in its Authorization header.
func (a *authn) bearer(r *http.Request) (present, ok bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return false, false
	}
	return true, subtle.ConstantTimeCompare([]byte(strings.TrimSpace(token)), a.token) == 1
}

// ticket makes a stream ticket: the expiry and its signature.
func (a *authn) ticket() (string, time.Time) {
	exp := a.now().Add(TicketTTL).Truncate(time.Second)
	var b [8 + sha256.Size]byte
	binary.BigEndian.PutUint64(b[:8], uint64(exp.Unix()))
	copy(b[8:], a.sign(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:]), exp
}

func (a *authn) sign(exp []byte) []byte {
	mac := hmac.New(sha256.New, a.ticketKey)
	mac.Write(exp)
	return mac.Sum(nil)
}

// validTicket reports whether t is a ticket of this token, not expired.
func (a *authn) validTicket(t string) bool {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(b) != 8+sha256.Size {
		return false
	}
	if !hmac.Equal(b[8:], a.sign(b[:8])) {
		return false
	}
	exp := binary.BigEndian.Uint64(b[:8])
	return exp <= math.MaxInt64 && a.now().Before(time.Unix(int64(exp), 0))
}

// clientKey is whose failures a request counts towards: its address, or
// for IPv6 its /64, which one machine usually has whole.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String()
	}
	return ip.String()
}

// limiter is the wrong-token budget of a client.
func (a *authn) limiter(key string) *rate.Limiter {
	if l, ok := a.failures.Get(key); ok {
		return l.(*rate.Limiter)
	}
	l := rate.NewLimiter(rate.Every(failureEvery), failureBurst)
	a.failures.Add(key, l)
	return l
}

// throttled reports how long a client that spent its wrong-token budget
// must wait; 0 when it has some left. It is asked before the token is
// compared, so a throttled client learns nothing about its guesses.
func (a *authn) throttled(key string) time.Duration {
	l, ok := a.failures.Get(key)
	if !ok {
		return 0
	}
	tokens := l.(*rate.Limiter).TokensAt(a.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(failureEvery)) // until one is back
}

// failed spends one of the client's wrong-token budget.
func (a *authn) failed(key string) {
	a.limiter(key).AllowN(a.now(), 1)
}

// authenticate wraps every /api/ route: the bearer token, or a ticket for
// reads. The page, the probes and the metrics stay open.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		key := clientKey(r)
		if wait := s.auth.throttled(key); wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.writeError(w, r, errorf(http.StatusTooManyRequests, "TooManyRequests",
				"too many requests with a wrong token from %s; wait %d s, then use the token serve was given", key, secs))
			return
		}
		if s.kube != nil {
			s.authenticateUser(w, r, key, next)
			return
		}
		present, ok := s.auth.bearer(r)
		switch {
		case ok:
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bearerKey, true)))
			return
		case !present && (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has("ticket"):
			if s.auth.validTicket(r.URL.Query().Get("ticket")) {
				next.ServeHTTP(w, r)
				return
			}
			s.badTicket(w, r, key)
			return
		case present:
			s.auth.failed(key)
			s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
				"wrong token; use the one serve printed or the one in --token-file"))
			return
		}
		// No credentials guess nothing: not counted.
		s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
			"the API needs the header 'Authorization: Bearer <token>'; open the URL serve printed, which carries the token, or add #token=<the token in --token-file> to the page's address"))
	})
}

// authenticateUser is authenticate in AuthKubernetes mode: the user's own
// Kubernetes token (checked with a TokenReview), or a ticket bound to the
// user for reads.
func (s *Server) authenticateUser(w http.ResponseWriter, r *http.Request, key string, next http.Handler) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	present := strings.EqualFold(scheme, "Bearer") && token != ""
	switch {
	case present:
		user, err := s.kube.authenticate(r.Context(), token)
		var bad *errUnauthenticated
		switch {
		case errors.As(err, &bad):
			s.auth.failed(key)
			s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
				"the cluster does not accept this token (wrong or expired); get one with 'kubectl create token SERVICEACCOUNT' or from your kubeconfig"))
		case err != nil && strings.HasSuffix(r.URL.Path, "/stream"):
			s.streamError(w, r, fromError(err)) // the API server down: a stream is told to retry
		case err != nil:
			s.writeError(w, r, fromError(err))
		default:
			r = r.WithContext(context.WithValue(r.Context(), bearerKey, true))
			next.ServeHTTP(w, withUser(r, user))
		}
		return
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has("ticket"):
		if user, ok := s.kube.validTicket(r.URL.Query().Get("ticket")); ok {
			next.ServeHTTP(w, withUser(r, user))
			return
		}
		s.badTicket(w, r, key)
		return
	}
	s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
		"the API needs your Kubernetes token in the header 'Authorization: Bearer <token>' (e.g. from 'kubectl create token SERVICEACCOUNT')"))
}

// badTicket answers a wrong or expired ticket, which counts as a wrong token.
func (s *Server) badTicket(w http.ResponseWriter, r *http.Request, key string) {
	s.auth.failed(key)
	s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized",
		"the stream ticket is wrong or expired; get a new one with POST /api/tickets"))
}

// hasBearer reports whether the request was authenticated with the token
// itself, not a ticket: only such requests may change anything.
func hasBearer(r *http.Request) bool {
	ok, _ := r.Context().Value(bearerKey).(bool)
	return ok
}

// tickets answers POST /api/tickets with a stream ticket.
func (s *Server) tickets(w http.ResponseWriter, r *http.Request) {
	if !hasBearer(r) {
		s.writeError(w, r, errorf(http.StatusUnauthorized, "Unauthorized", "a ticket needs the header 'Authorization: Bearer <token>'"))
		return
	}
	if s.kube != nil {
		user, _ := userOf(r)
		t, exp := s.kube.ticket(user)
		s.writeJSON(w, http.StatusOK, map[string]any{"ticket": t, "expires": exp.UTC().Format(time.RFC3339)})
		return
	}
	t, exp := s.auth.ticket()
	s.writeJSON(w, http.StatusOK, map[string]any{"ticket": t, "expires": exp.UTC().Format(time.RFC3339)})
}
