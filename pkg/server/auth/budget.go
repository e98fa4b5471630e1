package auth

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/utils/lru"
)

// Limits of the wrong-token budget.
const (
	// FailureBurst wrong tokens from one client are answered at once;
	// beyond, one per failureEvery, and 429 meanwhile.
	FailureBurst = 10
	failureEvery = 6 * time.Second
	// failureClients bounds the clients whose failures are remembered
	// (least recently failed forgotten first).
	failureClients = 4096
)

// Budget is each client's budget of wrong tokens (and wrong tickets): a
// client that spent it waits before its next try, so guessing the token
// takes forever. It is safe for concurrent use.
type Budget struct {
	failures *lru.Cache // client key -> *rate.Limiter of wrong tokens
	now      func() time.Time
}

// NewBudget makes an empty Budget.
func NewBudget() *Budget {
	return &Budget{failures: lru.New(failureClients), now: time.Now}
}

// ClientKey is whose failures a request counts towards: its address, or
// for IPv6 its /64, which one machine usually has whole.
func ClientKey(r *http.Request) string {
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
func (b *Budget) limiter(key string) *rate.Limiter {
	if l, ok := b.failures.Get(key); ok {
		return l.(*rate.Limiter)
	}
	l := rate.NewLimiter(rate.Every(failureEvery), FailureBurst)
	b.failures.Add(key, l)
	return l
}

// Throttled reports how long a client that spent its wrong-token budget
// must wait; 0 when it has some left. It is asked before the token is
// compared, so a throttled client learns nothing about its guesses.
func (b *Budget) Throttled(key string) time.Duration {
	l, ok := b.failures.Get(key)
	if !ok {
		return 0
	}
	tokens := l.(*rate.Limiter).TokensAt(b.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(failureEvery)) // until one is back
}

// Failed spends one of the client's wrong-token budget.
func (b *Budget) Failed(key string) {
	b.limiter(key).AllowN(b.now(), 1)
}
