package outage

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// refusing is a transport whose server is down: every request it sends is
// counted and refused.
type refusing struct {
	sent atomic.Int64
	down atomic.Bool
}

func (r *refusing) RoundTrip(req *http.Request) (*http.Response, error) {
	r.sent.Add(1)
	if r.down.Load() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func get(t *testing.T, rt http.RoundTripper) error {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://api.example:6443/api/v1/pods", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// TestManyWatchersOneBackoff: forty reflectors retrying every 100 ms into
// a server that is down for 3 s send a few attempts, not forty per step;
// the first request after the server is back gets through within MaxDelay.
func TestManyWatchersOneBackoff(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	server := &refusing{}
	server.down.Store(true)
	b := &Breaker{now: clock.now}
	rt := b.Wrap(server)

	const watchers = 40
	outage := 3 * time.Second
	for elapsed := time.Duration(0); elapsed < outage; elapsed += 100 * time.Millisecond {
		for range watchers {
			if err := get(t, rt); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("at %s: error %v, want the server's connection refused", elapsed, err)
			}
		}
		clock.advance(100 * time.Millisecond)
	}
	// Held back at 100, 200, 400, 800 ms, then each second: about 6
	// windows in 3 s, one attempt each.
	if sent := server.sent.Load(); sent > 8 {
		t.Errorf("%d requests reached a server that was down for %s (%d watchers retrying every 100ms); want one per backoff step", sent, outage, watchers)
	}
	if held := b.Held(); held != watchers*30-server.sent.Load() {
		t.Errorf("held %d requests, want every one not sent (%d)", held, watchers*30-server.sent.Load())
	}

	server.down.Store(false)
	clock.advance(MaxDelay)
	if err := get(t, rt); err != nil {
		t.Fatalf("first request %s after the server came back: %v", MaxDelay, err)
	}
	before := server.sent.Load()
	for range watchers {
		if err := get(t, rt); err != nil {
			t.Fatalf("after the server answered: %v", err)
		}
	}
	if got := server.sent.Load() - before; got != watchers {
		t.Errorf("after the server answered, %d of %d requests were sent", got, watchers)
	}
}

// TestCanceledRequestIsNoFailure: a caller that gives up says nothing about
// the server, so the next request is sent.
func TestCanceledRequestIsNoFailure(t *testing.T) {
	b := &Breaker{}
	rt := b.Wrap(roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example/version", nil)
	if _, err := rt.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if err := b.admit(); err != nil {
		t.Errorf("a canceled request held back the next one: %v", err)
	}
}

// TestHeldRequestClosesBody: a RoundTripper closes the body of a request it
// does not send, as net/http requires.
func TestHeldRequestClosesBody(t *testing.T) {
	server := &refusing{}
	server.down.Store(true)
	b := &Breaker{}
	rt := b.Wrap(server)
	_ = get(t, rt)
	body := &closeCounter{Reader: strings.NewReader(`{"spec":{"replicas":3}}`)}
	req, _ := http.NewRequest(http.MethodPatch, "https://api.example/apis/apps/v1/namespaces/a/deployments/b", body)
	if _, err := rt.RoundTrip(req); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("error %v, want the held-back connection refused", err)
	}
	if server.sent.Load() != 1 || !body.closed {
		t.Errorf("sent %d (want 1), body closed %v (want true)", server.sent.Load(), body.closed)
	}
}

// TestRealRefusal: through a real client and a port nobody listens on, the
// error a held-back request gets is the dial's own, as errors.Is sees it.
func TestRealRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	url := srv.URL
	srv.Close()
	frozen := time.Now()
	b := &Breaker{now: func() time.Time { return frozen }}
	client := &http.Client{Transport: b.Wrap(http.DefaultTransport.(*http.Transport).Clone())}
	var errs []error
	for range 3 {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			t.Fatal("a closed server answered")
		}
		errs = append(errs, err)
	}
	for i, err := range errs {
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("request %d: %v, want connection refused", i, err)
		}
	}
	if b.Held() < 1 {
		t.Errorf("no request was held back after a refusal")
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type closeCounter struct {
	io.Reader
	closed bool
}

func (c *closeCounter) Close() error { c.closed = true; return nil }
