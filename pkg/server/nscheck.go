package server

import (
	"context"
	"net/http"
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
