package auth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
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
// for IPv6 its /64, which one machine usually has whole. When the address
// is one of the trusted proxies (an Ingress, a port-forward's), the client
// is the rightmost address of X-Forwarded-For that is not one of them, so
// that the clients behind a proxy are not one client: the hops a client
// wrote itself are left of those its proxies added, and never read.
func ClientKey(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if isTrusted(addr, trusted) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // unreadable: the last proxy answers for it
			}
			addr = hop.Unmap()
			if !isTrusted(addr, trusted) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.Addr().String()
	}
	return addr.String()
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
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
