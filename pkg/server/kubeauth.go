package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/lru"
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

// How long the API server's answers about a user are kept: briefly, so a
// revoked token or RoleBinding takes effect soon, yet a thousand viewers of
// one user cost one review per period, not one each.
const (
	TokenReviewTTL  = 10 * time.Second
	AccessReviewTTL = 10 * time.Second
	// reviewEntries bounds each cache (least recently used dropped first).
	reviewEntries = 8192
	reviewTimeout = 15 * time.Second
)

// kubeAuth is the authentication and authorization of AuthKubernetes. The
// caches are keyed by a hash of the token, never the token.
type kubeAuth struct {
	client      kubernetes.Interface
	impersonate func(authenticationv1.UserInfo) (kubernetes.Interface, error)
	ticketKey   []byte
	tokens      *lru.Cache // sha256(token) -> timed[UserInfo]
	decisions   *lru.Cache // user and attributes -> timed[bool]
	group       singleflight.Group
	now         func() time.Time

	tokenReviews  atomic.Int64
	accessReviews atomic.Int64
}

type timed[T any] struct {
	v       T
	expires time.Time
}

func newKubeAuth(client kubernetes.Interface, impersonate func(authenticationv1.UserInfo) (kubernetes.Interface, error)) *kubeAuth {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand does not fail on supported platforms
	return &kubeAuth{
		client:      client,
		impersonate: impersonate,
		ticketKey:   key,
		tokens:      lru.New(reviewEntries),
		decisions:   lru.New(reviewEntries),
		now:         time.Now,
	}
}

// errUnauthenticated is a token the API server does not accept.
type errUnauthenticated struct{ reason string }

func (e *errUnauthenticated) Error() string { return "token not accepted: " + e.reason }

// authenticate asks the API server who token belongs to (a TokenReview),
// or answers from a review at most TokenReviewTTL old. A rejected token is
// not kept: the wrong-token limiter bounds how often one is tried.
func (k *kubeAuth) authenticate(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	if v, ok := k.tokens.Get(key); ok {
		if t := v.(timed[authenticationv1.UserInfo]); k.now().Before(t.expires) {
			return t.v, nil
		}
	}
	v, err, _ := k.group.Do("token/"+key, func() (any, error) {
		// Not the first caller's cancellation: the others share the answer.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reviewTimeout)
		defer cancel()
		k.tokenReviews.Add(1)
		review, err := k.client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("checking the token with a TokenReview: %w", err)
		}
		if !review.Status.Authenticated {
			reason := review.Status.Error
			if reason == "" {
				reason = "not authenticated"
			}
			return nil, &errUnauthenticated{reason: reason}
		}
		k.tokens.Add(key, timed[authenticationv1.UserInfo]{v: review.Status.User, expires: k.now().Add(TokenReviewTTL)})
		return review.Status.User, nil
	})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return v.(authenticationv1.UserInfo), nil
}

// access is what a request asks to do.
type access struct {
	Namespace, Verb, Group, Resource, Subresource string
}

// allowed asks the API server whether user may do a (a SubjectAccessReview),
// or answers from a decision at most AccessReviewTTL old; concurrent askers
// of the same question share one review.
func (k *kubeAuth) allowed(ctx context.Context, user authenticationv1.UserInfo, a access) (bool, error) {
	key := decisionKey(user, a)
	if v, ok := k.decisions.Get(key); ok {
		if t := v.(timed[bool]); k.now().Before(t.expires) {
			return t.v, nil
		}
	}
	v, err, _ := k.group.Do("sar/"+key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reviewTimeout)
		defer cancel()
		k.accessReviews.Add(1)
		extra := map[string]authorizationv1.ExtraValue{}
		for name, values := range user.Extra {
			extra[name] = authorizationv1.ExtraValue(values)
		}
		review, err := k.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: a.Namespace, Verb: a.Verb, Group: a.Group, Resource: a.Resource, Subresource: a.Subresource,
				},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("checking permissions with a SubjectAccessReview: %w", err)
		}
		ok := review.Status.Allowed && !review.Status.Denied
		k.decisions.Add(key, timed[bool]{v: ok, expires: k.now().Add(AccessReviewTTL)})
		return ok, nil
	})
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// decisionKey names a user (all of the identity a review sees) and a
// question: a hash, so the cache holds no identities in clear.
func decisionKey(user authenticationv1.UserInfo, a access) string {
	extra := make([]string, 0, len(user.Extra))
	for k, v := range user.Extra {
		extra = append(extra, k+"="+strings.Join(v, ","))
	}
	slices.Sort(extra)
	groups := slices.Sorted(slices.Values(user.Groups))
	b, _ := json.Marshal([]any{user.Username, user.UID, groups, extra, a})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// userTicket is a stream ticket bound to a user: the expiry and the
// identity the TokenReview gave, signed with this process's key. It is
// good only on the replica that made it (deploy/ gives the Service
// session affinity for this).
type userTicket struct {
	Expires int64                     `json:"exp"`
	User    authenticationv1.UserInfo `json:"user"`
}

func (k *kubeAuth) ticket(user authenticationv1.UserInfo) (string, time.Time) {
	exp := k.now().Add(TicketTTL).Truncate(time.Second)
	body, _ := json.Marshal(userTicket{Expires: exp.Unix(), User: user})
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(k.sign(payload)), exp
}

func (k *kubeAuth) sign(payload string) []byte {
	mac := hmac.New(sha256.New, k.ticketKey)
	mac.Write([]byte(payload))
	return mac.Sum(nil)
}

// validTicket returns the user of a good, unexpired ticket.
func (k *kubeAuth) validTicket(t string) (authenticationv1.UserInfo, bool) {
	payload, sig, ok := strings.Cut(t, ".")
	if !ok {
		return authenticationv1.UserInfo{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, k.sign(payload)) {
		return authenticationv1.UserInfo{}, false
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	var ut userTicket
	if err != nil || json.Unmarshal(body, &ut) != nil || !k.now().Before(time.Unix(ut.Expires, 0)) {
		return authenticationv1.UserInfo{}, false
	}
	return ut.User, true
}

const userKey ctxKey = 1

// userOf is the Kubernetes user a request was authenticated as, in
// AuthKubernetes mode.
func userOf(r *http.Request) (authenticationv1.UserInfo, bool) {
	u, ok := r.Context().Value(userKey).(authenticationv1.UserInfo)
	return u, ok
}

func withUser(r *http.Request, u authenticationv1.UserInfo) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), userKey, u))
}

// may checks, in AuthKubernetes mode, that the request's user may do every
// one of as: 403 naming the first that is refused, 503 when the API server
// cannot be asked. In token mode everyone who has the token may.
func (s *Server) may(r *http.Request, as ...access) *apiError {
	if s.kube == nil {
		return nil
	}
	user, ok := userOf(r)
	if !ok {
		return errorf(http.StatusUnauthorized, "Unauthorized", "the API needs your Kubernetes token: 'Authorization: Bearer <token>'")
	}
	for _, a := range as {
		ok, err := s.kube.allowed(r.Context(), user, a)
		if err != nil {
			return fromError(err)
		}
		if !ok {
			res := a.Resource
			if a.Subresource != "" {
				res += "/" + a.Subresource
			}
			return errorf(http.StatusForbidden, "Forbidden", "user %q may not %s %s in namespace %q; ask for a Role that allows it (kubectl auth can-i %s %s -n %s --as %s)",
				user.Username, a.Verb, res, a.Namespace, a.Verb, res, a.Namespace, user.Username)
		}
	}
	return nil
}

// actingClient is the client a request's changes and own reads go
// through: in AuthKubernetes mode the server's, impersonating the user
// (so the API server authorizes and audits the user), else the server's.
func (s *Server) actingClient(r *http.Request) (kubernetes.Interface, *apiError) {
	if s.kube == nil {
		return s.opts.Client, nil
	}
	user, ok := userOf(r)
	if !ok {
		return nil, errorf(http.StatusUnauthorized, "Unauthorized", "the API needs your Kubernetes token: 'Authorization: Bearer <token>'")
	}
	c, err := s.kube.impersonate(user)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "InternalError", "cannot act as user %q: %v", user.Username, err)
	}
	return c, nil
}
