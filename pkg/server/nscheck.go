package server

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// nsChecks shares a namespace's check among the streams that arrive
// together: when every open page reconnects at once (serve restarted, a
// proxy dropped them), they cost the API server one GET, not one each. The
// check runs with the server's identity, so its answer is everyone's. The
// zero value is ready to use.
type nsChecks struct {
	group singleflight.Group
	// waiting counts the callers waiting for a check, the one that runs
	// it included, once they have joined it: how tests know that every
	// caller has arrived, without guessing with sleeps.
	waiting atomic.Int32
}

// do runs check for ns, or waits for the run already in flight.
func (c *nsChecks) do(ctx context.Context, ns string, check func(context.Context, string) *apiError) *apiError {
	result := c.group.DoChan(ns, func() (any, error) {
		// Not the first caller's context: its leaving must not fail the others.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return check(cctx, ns), nil
	})
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	select {
	case r := <-result:
		return r.Val.(*apiError)
	case <-ctx.Done():
		return errorf(http.StatusServiceUnavailable, "Canceled", "the request ended before namespace %q was checked", ns)
	}
}

// nsListTTL is how long GET /api/namespaces answers from its last list.
const nsListTTL = 5 * time.Second

// nsListCache shares GET /api/namespaces among clients: one list of the
// cluster's Deployments per nsListTTL, and one at a time. Errors are not
// kept. The zero value is ready to use.
type nsListCache struct {
	group singleflight.Group
	mu    sync.Mutex
	at    time.Time
	list  *namespaceList
	now   func() time.Time // nil: time.Now
}

func (c *nsListCache) get(ctx context.Context, list func(context.Context) (*namespaceList, *apiError)) (*namespaceList, *apiError) {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	c.mu.Lock()
	if c.list != nil && now().Sub(c.at) < nsListTTL {
		defer c.mu.Unlock()
		return c.list, nil
	}
	c.mu.Unlock()
	result := c.group.DoChan("", func() (any, error) {
		lctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		started := now()
		out, e := list(lctx)
		if e == nil {
			c.mu.Lock()
			c.list, c.at = out, started
			c.mu.Unlock()
		}
		return listResult{out, e}, nil
	})
	select {
	case r := <-result:
		res := r.Val.(listResult)
		return res.list, res.err
	case <-ctx.Done():
		return nil, errorf(http.StatusServiceUnavailable, "Canceled", "the request ended before the namespaces were listed")
	}
}

// forget drops the list kept, so the next get lists again.
func (c *nsListCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = nil
}

type listResult struct {
	list *namespaceList
	err  *apiError
}
