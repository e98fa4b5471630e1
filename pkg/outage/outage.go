// Package outage spaces out a process's attempts to reach an API server
// that does not answer.
//
// Every informer's reflector backs off on its own (0.8 s, doubling, with
// jitter), so a process with many informers (seven resources per
// namespace, times the namespaces serve watches one by one) sends as many
// connection attempts as it has informers in every step of that backoff,
// into an API server that is down or starting. A Breaker wraps the HTTP
// transport of a rest.Config and shares one backoff between all of them:
// after a request fails without an answer, requests in the next moment
// fail at once with the same error, without a connection attempt, and the
// moment doubles with each failure up to MaxDelay. The first answer (any
// HTTP status) closes it again. The errors are the transport's own, so
// what explains them (pkg/explain) and the watches' health see no
// difference.
package outage

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

const (
	// FirstDelay is how long requests are held back after the first
	// failure.
	FirstDelay = 100 * time.Millisecond
	// MaxDelay caps the hold-back. A reflector whose attempt falls in it
	// waits for its own next backoff step, so it is also the longest a
	// recovered API server goes unused because of the Breaker.
	MaxDelay = time.Second
)

// Breaker holds back requests to one API server while it does not answer.
// The zero value is ready to use.
type Breaker struct {
	now func() time.Time // time.Now when nil; tests set it

	mu       sync.Mutex
	failures int       // consecutive requests that got no answer
	until    time.Time // requests before this fail at once
	last     error     // the last failure, returned to held-back requests
	held     int64     // requests failed at once, for tests and metrics
}

// Install makes every client built from config from now on share b.
func (b *Breaker) Install(config *rest.Config) { config.Wrap(b.Wrap) }

// Wrap holds back the requests of rt while the API server does not answer.
func (b *Breaker) Wrap(rt http.RoundTripper) http.RoundTripper {
	return &roundTripper{next: rt, b: b}
}

// Held is how many requests the Breaker failed without sending them.
func (b *Breaker) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

func (b *Breaker) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// admit returns the error to fail a request with at once, or nil to send it.
func (b *Breaker) admit() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last != nil && b.clock().Before(b.until) {
		b.held++
		return b.last
	}
	return nil
}

// record notes a sent request's outcome.
func (b *Breaker) record(ctx context.Context, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.failures, b.last, b.until = 0, nil, time.Time{}
		return
	}
	// A request its caller gave up on says nothing about the server.
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return
	}
	b.failures++
	delay := FirstDelay << min(b.failures-1, 10)
	b.until = b.clock().Add(min(delay, MaxDelay))
	b.last = err
}

type roundTripper struct {
	next http.RoundTripper
	b    *Breaker
}

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.b.admit(); err != nil {
		// The transport must close a request's body, sent or not.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	t.b.record(req.Context(), err)
	return resp, err
}

// WrappedRoundTripper lets client-go's transport helpers see through the wrapper.
func (t *roundTripper) WrappedRoundTripper() http.RoundTripper { return t.next }
