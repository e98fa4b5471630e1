package server

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// readyTTL is how long one answer of the API server serves /readyz: probes
// (a kubelet's, a load balancer's, anyone's, since /readyz needs no token)
// cost the API server at most one request per readyTTL, however many come.
const readyTTL = time.Second

// readiness is whether the API server answered lately. The zero value is
// ready to use.
type readiness struct {
	mu     sync.Mutex
	at     time.Time // when the answer kept was asked for
	err    *apiError // the answer kept: nil when the API server answered
	asking sharedCalls[struct{}]
	now    func() time.Time // nil: time.Now
}

// check asks the API server with ask, or answers from an answer asked for
// less than readyTTL ago, or waits for the question in flight.
func (c *readiness) check(ctx context.Context, ask func(context.Context) error) *apiError {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	c.mu.Lock()
	if !c.at.IsZero() && now().Sub(c.at) < readyTTL {
		defer c.mu.Unlock()
		return c.err
	}
	c.mu.Unlock()
	_, e := c.asking.do(ctx, "", "the API server answered", func(ctx context.Context) (struct{}, *apiError) {
		started := now()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var e *apiError
		if err := ask(ctx); err != nil {
			e = errorf(http.StatusServiceUnavailable, "APIServerUnreachable", "the Kubernetes API server does not answer: %v", err)
		}
		c.mu.Lock()
		c.at, c.err = started, e
		c.mu.Unlock()
		return struct{}{}, e
	})
	return e
}
