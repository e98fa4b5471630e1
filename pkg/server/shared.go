package server

import (
	"context"
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

// keptCalls are sharedCalls whose answers are kept, per key, for ttl from
// when they were asked for: within it a caller gets the last answer and
// the API server is not asked at all. A failure is kept only with
// keepFailures; else the next caller asks again.
type keptCalls[T any] struct {
	ttl          time.Duration
	keepFailures bool
	max          int // most answers kept; 0: no bound

	now    func() time.Time // nil: time.Now
	asking sharedCalls[T]

	mu   sync.Mutex
	kept map[string]keptAnswer[T]
}

type keptAnswer[T any] struct {
	v   T
	err *apiError
	at  time.Time // when it was asked for
}

// get answers from the answer kept for key, or runs call as sharedCalls.do
// does and keeps its answer.
func (c *keptCalls[T]) get(ctx context.Context, key, what string, call func(context.Context) (T, *apiError)) (T, *apiError) {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	c.mu.Lock()
	a, ok := c.kept[key]
	c.mu.Unlock()
	if ok && now().Sub(a.at) < c.ttl {
		return a.v, a.err
	}
	return c.asking.do(ctx, key, what, func(ctx context.Context) (T, *apiError) {
		started := now()
		v, e := call(ctx)
		if e == nil || c.keepFailures {
			c.mu.Lock()
			if c.kept == nil {
				c.kept = map[string]keptAnswer[T]{}
			}
			if _, ok := c.kept[key]; !ok && c.max > 0 && len(c.kept) >= c.max {
				c.evictLocked(now())
			}
			c.kept[key] = keptAnswer[T]{v: v, err: e, at: started}
			c.mu.Unlock()
		}
		return v, e
	})
}

// evictLocked makes room for one answer: drops those past ttl, or if none
// is, any one (it is one question away from coming back).
func (c *keptCalls[T]) evictLocked(now time.Time) {
	for k, a := range c.kept {
		if now.Sub(a.at) >= c.ttl {
			delete(c.kept, k)
		}
	}
	if len(c.kept) < c.max {
		return
	}
	for k := range c.kept {
		delete(c.kept, k)
		return
	}
}

// forget drops the answer kept for key, so the next get asks again.
func (c *keptCalls[T]) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.kept, key)
}
