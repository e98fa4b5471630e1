package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/lru"
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
	// TokenReviewsPerSecond bounds the TokenReviews of every client
	// together (TokenReviewBurst at once): the wrong-token Budget is per
	// client, and many addresses would multiply it.
	TokenReviewsPerSecond = 20
	TokenReviewBurst      = 40
	// KnownGoodTTL is how long a token the API server accepted still lets
	// its client past a spent wrong-token budget (it is reviewed again):
	// the bad tokens of others at the same address lock nobody out.
	KnownGoodTTL = time.Hour
)

// Kube is the authentication and authorization of AuthKubernetes: each
// client sends its own Kubernetes token. The caches are keyed by a hash of
// the token, never the token.
type Kube struct {
	// Now is the clock of the caches and the tickets: time.Now, unless a
	// test moves it before the first request.
	Now func() time.Time

	client      kubernetes.Interface
	impersonate func(authenticationv1.UserInfo) (kubernetes.Interface, error)
	ticketAEAD  cipher.AEAD // seals the tickets
	tokens      *lru.Cache  // sha256(token) -> timed[UserInfo]
	knownGood   *lru.Cache  // sha256(token) -> time.Time it stops being so
	reviews     *rate.Limiter
	decisions   *lru.Cache // user and attributes -> timed[bool]
	group       singleflight.Group
}

type timed[T any] struct {
	v       T
	expires time.Time
}

// NewKube asks client (the server's identity) for the reviews, and makes
// the clients that act as a user with impersonate.
func NewKube(client kubernetes.Interface, impersonate func(authenticationv1.UserInfo) (kubernetes.Interface, error)) *Kube {
	key := make([]byte, 32)
	_, _ = rand.Read(key)          // crypto/rand does not fail on supported platforms
	block, _ := aes.NewCipher(key) // a 32-byte key: AES-256, no error
	aead, _ := cipher.NewGCM(block)
	return &Kube{
		client:      client,
		impersonate: impersonate,
		ticketAEAD:  aead,
		tokens:      lru.New(reviewEntries),
		knownGood:   lru.New(reviewEntries),
		reviews:     rate.NewLimiter(TokenReviewsPerSecond, TokenReviewBurst),
		decisions:   lru.New(reviewEntries),
		Now:         time.Now,
	}
}

// Unauthenticated is a token the API server does not accept.
type Unauthenticated struct{ reason string }

func (e *Unauthenticated) Error() string { return "token not accepted: " + e.reason }

// TooManyReviews is a token that would need a TokenReview while
// TokenReviewsPerSecond were spent: the client retries in a second.
type TooManyReviews struct{}

func (*TooManyReviews) Error() string {
	return fmt.Sprintf("more than %d new tokens a second to check", TokenReviewsPerSecond)
}

// KnownGood reports whether the API server accepted token within
// KnownGoodTTL.
func (k *Kube) KnownGood(token string) bool {
	v, ok := k.knownGood.Get(tokenKey(token))
	return ok && k.Now().Before(v.(time.Time))
}

func tokenKey(token string) string { // a token's cache key: its SHA-256, never the token
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Authenticate asks the API server who token belongs to (a TokenReview),
// or answers from a review at most TokenReviewTTL old. A rejected token
// (*Unauthenticated) is not kept: the wrong-token Budget bounds how often
// one is tried.
func (k *Kube) Authenticate(ctx context.Context, token string) (authenticationv1.UserInfo, error) {
	key := tokenKey(token)
	if v, ok := k.tokens.Get(key); ok {
		if t := v.(timed[authenticationv1.UserInfo]); k.Now().Before(t.expires) {
			return t.v, nil
		}
	}
	v, err, _ := k.group.Do("token/"+key, func() (any, error) {
		// Not the first caller's cancellation: the others share the answer.
		if !k.reviews.AllowN(k.Now(), 1) {
			return nil, &TooManyReviews{}
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reviewTimeout)
		defer cancel()
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
			return nil, &Unauthenticated{reason: reason}
		}
		k.tokens.Add(key, timed[authenticationv1.UserInfo]{v: review.Status.User, expires: k.Now().Add(TokenReviewTTL)})
		k.knownGood.Add(key, k.Now().Add(KnownGoodTTL))
		return review.Status.User, nil
	})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return v.(authenticationv1.UserInfo), nil
}

// Allowed asks the API server whether user may do a (a SubjectAccessReview),
// or answers from a decision at most AccessReviewTTL old; concurrent askers
// of the same question share one review.
func (k *Kube) Allowed(ctx context.Context, user authenticationv1.UserInfo, a Access) (bool, error) {
	key := decisionKey(user, a)
	if v, ok := k.decisions.Get(key); ok {
		if t := v.(timed[bool]); k.Now().Before(t.expires) {
			return t.v, nil
		}
	}
	v, err, _ := k.group.Do("sar/"+key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reviewTimeout)
		defer cancel()
		extra := map[string]authorizationv1.ExtraValue{}
		for name, values := range user.Extra {
			extra[name] = authorizationv1.ExtraValue(values)
		}
		attrs := a.attributes()
		review, err := k.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
				ResourceAttributes: &attrs,
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("checking permissions with a SubjectAccessReview: %w", err)
		}
		ok := review.Status.Allowed && !review.Status.Denied
		k.decisions.Add(key, timed[bool]{v: ok, expires: k.Now().Add(AccessReviewTTL)})
		return ok, nil
	})
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// decisionKey names a user (all of the identity a review sees) and a
// question: a hash, so the cache holds no identities in clear.
func decisionKey(user authenticationv1.UserInfo, a Access) string {
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

// Impersonate is a client that acts as user, so that the API server
// authorizes and audits the user.
func (k *Kube) Impersonate(user authenticationv1.UserInfo) (kubernetes.Interface, error) {
	return k.impersonate(user)
}

// A stream ticket of AuthKubernetes is the user's token and the ticket's
// expiry, sealed (AES-GCM) with this process's key: opaque, so the URL
// shows neither the token nor who the user is, and checked with a
// TokenReview (cached) at every use, so a ticket is good no longer than its
// token. It is good only on the replica that made it (deploy/ gives the
// Service session affinity for this).

// Ticket makes a stream ticket of token.
func (k *Kube) Ticket(token string) (string, time.Time) {
	exp := k.Now().Add(TicketTTL).Truncate(time.Second)
	plain := binary.BigEndian.AppendUint64(nil, uint64(exp.Unix()))
	plain = append(plain, token...)
	nonce := make([]byte, k.ticketAEAD.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(k.ticketAEAD.Seal(nonce, nonce, plain, nil)), exp
}

// TicketToken returns the token of a good, unexpired ticket; the caller
// authenticates it.
func (k *Kube) TicketToken(t string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	n := k.ticketAEAD.NonceSize()
	if err != nil || len(b) < n+8 {
		return "", false
	}
	plain, err := k.ticketAEAD.Open(nil, b[:n], b[n:], nil)
	if err != nil || len(plain) < 8 {
		return "", false
	}
	exp := binary.BigEndian.Uint64(plain[:8])
	if exp > math.MaxInt64 || !k.Now().Before(time.Unix(int64(exp), 0)) {
		return "", false
	}
	return string(plain[8:]), true
}
