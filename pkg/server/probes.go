package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the API server answered within readyTTL, and not
// any more from the moment shutdown begins.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, "ShuttingDown", "shutting down"))
		return
	}
	// /version is readable by every user, even unauthenticated ones.
	if e := s.ready.check(r.Context(), func(ctx context.Context) error {
		_, err := serverVersion(ctx, s.opts.Client)
		return err
	}); e != nil {
		s.writeError(w, r, e)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// serverVersion asks the API server for its version, with ctx when the
// client allows it.
func serverVersion(ctx context.Context, client kubernetes.Interface) (*version.Info, error) {
	if d, ok := client.Discovery().(interface {
		ServerVersionWithContext(context.Context) (*version.Info, error)
	}); ok {
		return d.ServerVersionWithContext(ctx)
	}
	return client.Discovery().ServerVersion()
}

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
