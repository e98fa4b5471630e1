package server

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNamespaceCheckSharedByStreamsArrivingTogether: many streams that
// arrive while a check is in flight wait for it instead of each asking the
// API server.
func TestNamespaceCheckSharedByStreamsArrivingTogether(t *testing.T) {
	var c nsChecks
	var calls atomic.Int32
	release := make(chan struct{})
	check := func(ctx context.Context, ns string) *apiError {
		calls.Add(1)
		<-release
		if ns == "missing" {
			return errorf(404, "NotFound", "namespace %q not found", ns)
		}
		return nil
	}
	const callers = 50
	var wg sync.WaitGroup
	errs := make([]*apiError, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.do(context.Background(), "missing", check)
		}()
	}
	waitWaiting(t, &c, callers) // every caller has joined the one check in flight
	close(release)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Errorf("%d checks for %d callers arriving together, want 1", got, callers)
	}
	for i, e := range errs {
		if e == nil || e.Status != 404 {
			t.Fatalf("caller %d got %v, want the shared 404", i, e)
		}
	}
	// Once done, the next caller checks again: a namespace may be created
	// or deleted since.
	if e := c.do(context.Background(), "shop", check); e != nil {
		t.Fatalf("a later check of another namespace: %v", e)
	}
	if e := c.do(context.Background(), "missing", check); e == nil || calls.Load() != 3 {
		t.Fatalf("a later check: %v after %d calls, want a fresh 404 (3 calls)", e, calls.Load())
	}
}

// TestNamespaceCheckCallerLeaving: a caller whose request ends stops
// waiting, and the check still answers the others. The check honours its
// context, as the real one (a GET) does: were it run under the first
// caller's context, that caller's leaving would fail the one that stayed.
func TestNamespaceCheckCallerLeaving(t *testing.T) {
	var c nsChecks
	release := make(chan struct{})
	check := func(ctx context.Context, ns string) *apiError {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return errorf(503, "Canceled", "the check of namespace %q was canceled", ns)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan *apiError)
	go func() { first <- c.do(ctx, "shop", check) }()
	waitWaiting(t, &c, 1) // the first caller runs the check
	second := make(chan *apiError)
	go func() { second <- c.do(context.Background(), "shop", check) }()
	waitWaiting(t, &c, 2) // the second has joined it
	cancel()
	if e := <-first; e == nil {
		t.Fatal("the caller that left got no error")
	}
	close(release)
	if e := <-second; e != nil {
		t.Fatalf("the caller that stayed got %v, want the check's answer", e)
	}
}

// waitWaiting waits until n callers wait for a check.
func waitWaiting(t *testing.T, c *nsChecks, n int32) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for c.waiting.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait for the check after 30s, want %d", c.waiting.Load(), n)
		}
		runtime.Gosched()
	}
}
