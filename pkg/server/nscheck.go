package server

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// nsChecks shares a namespace's check among the streams that arrive
// together: when every open page reconnects at once (serve restarted, a
// proxy dropped them), they cost the API server one GET, not one each. The
// check runs with the server's identity, so its answer is everyone's. The
// zero value is ready to use.
type nsChecks struct {
	mu       sync.Mutex
	inFlight map[string]*nsCheck
}

type nsCheck struct {
	done chan struct{}
	err  *apiError // written before done is closed
}

// do runs check for ns, or waits for the run already in flight.
func (c *nsChecks) do(ctx context.Context, ns string, check func(context.Context, string) *apiError) *apiError {
	c.mu.Lock()
	run, ok := c.inFlight[ns]
	if !ok {
		if c.inFlight == nil {
			c.inFlight = map[string]*nsCheck{}
		}
		run = &nsCheck{done: make(chan struct{})}
		c.inFlight[ns] = run
		go func() {
			// Not the first caller's context: its leaving must not fail the others.
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			run.err = check(cctx, ns)
			c.mu.Lock()
			delete(c.inFlight, ns)
			c.mu.Unlock()
			close(run.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-run.done:
		return run.err
	case <-ctx.Done():
		return errorf(http.StatusServiceUnavailable, "Canceled", "the request ended before namespace %q was checked", ns)
	}
}
