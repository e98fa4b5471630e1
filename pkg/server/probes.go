package server

import (
	"context"
	"net/http"
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
	_, e := s.ready.get(r.Context(), "", "the API server answered", func(ctx context.Context) (struct{}, *apiError) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := serverVersion(ctx, s.opts.Client); err != nil {
			return struct{}{}, errorf(http.StatusServiceUnavailable, "APIServerUnreachable", "the Kubernetes API server does not answer: %v", err)
		}
		return struct{}{}, nil
	})
	if e != nil {
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

// readyTTL is how long one answer of the API server serves /readyz, a
// failure as well as a success: probes (a kubelet's, a load balancer's,
// anyone's, since /readyz needs no token) cost the API server at most one
// request per readyTTL, however many come.
const readyTTL = time.Second
