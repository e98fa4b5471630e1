package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// sharedCalls runs a call to the API server once for every caller of the
// same key that arrives while it is in flight, under a context of its own:
// when every open page reconnects or reloads at once (serve restarted, a
// proxy dropped them), they cost the API server one call, not one each.
// The zero value is ready to use.
type sharedCalls[T any] struct {
	group singleflight.Group
	// waiting counts the callers waiting for a call, the one that runs it
	// included, once they have joined it: how tests know that every caller
	// has arrived, without guessing with sleeps.
	waiting atomic.Int32
}

// do runs call for key, or waits for the run already in flight; what says
// what the call is for when the caller leaves first.
func (c *sharedCalls[T]) do(ctx context.Context, key, what string, call func(context.Context) (T, *apiError)) (T, *apiError) {
	result := c.group.DoChan(key, func() (any, error) {
		// Not the first caller's context: its leaving must not fail the others.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		v, e := call(cctx)
		return sharedResult[T]{v, e}, nil
	})
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	select {
	case r := <-result:
		res := r.Val.(sharedResult[T])
		return res.v, res.err
	case <-ctx.Done():
		var zero T
		return zero, errorf(http.StatusServiceUnavailable, "Canceled", "the request ended before %s", what)
	}
}

type sharedResult[T any] struct {
	v   T
	err *apiError
}

// nsChecks shares a namespace's check among the callers that arrive
// together. The check runs with the server's identity, so its answer is
// everyone's.
type nsChecks struct{ sharedCalls[struct{}] }

// do runs check for ns, or waits for the run already in flight.
func (c *nsChecks) do(ctx context.Context, ns string, check func(context.Context, string) *apiError) *apiError {
	_, e := c.sharedCalls.do(ctx, ns, fmt.Sprintf("namespace %q was checked", ns), func(ctx context.Context) (struct{}, *apiError) {
		return struct{}{}, check(ctx, ns)
	})
	return e
}

// checkWatched checks namespace ns before it is read as a stream does: not
// at all while its shared watch runs (it was checked when that started,
// and the watch itself now says what there is), else once for all the
// callers arriving together. So the REST calls of a page that reconnects
// or reloads are answered without asking the API server.
func (s *Server) checkWatched(ctx context.Context, ns string) *apiError {
	if e := s.serves(ns); e != nil {
		return e
	}
	if s.opts.Hub.Running(ns) {
		return nil
	}
	return s.checks.do(ctx, ns, s.checkNamespace)
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
