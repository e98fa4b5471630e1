package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the API server answered within readyTTL and the
// server's identity may list Deployments somewhere it serves, and not any
// more from the moment shutdown begins.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if e := s.readiness(r.Context()); e != nil {
		s.writeError(w, r, e)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// readiness is nil when this server is ready, as readyz says, else why not.
func (s *Server) readiness(ctx context.Context) *apiError {
	if s.draining.Load() {
		return errorf(http.StatusServiceUnavailable, "ShuttingDown", "shutting down")
	}
	// /version is readable by every user, even unauthenticated ones.
	_, e := s.ready.get(ctx, "", "the API server answered", func(ctx context.Context) (struct{}, *apiError) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := serverVersion(ctx, s.opts.Client); err != nil {
			return struct{}{}, errorf(http.StatusServiceUnavailable, "APIServerUnreachable", "the Kubernetes API server does not answer: %v", err)
		}
		return struct{}{}, nil
	})
	if e == nil {
		_, e = s.canRead.get(ctx, "", "whether this server may read Deployments was asked", s.mayListSomewhere)
	}
	return e
}

// mayListSomewhere is not ready when the server's identity may list
// Deployments in no namespace it serves: it would answer every viewer with
// an error (SelfSubjectAccessReviews, kept canReadTTL). An identity that
// may not ask is not held against it.
func (s *Server) mayListSomewhere(ctx context.Context) (struct{}, *apiError) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	where := s.opts.Namespaces
	if len(where) == 0 {
		where = []string{""} // every namespace, then the kubeconfig's
		if s.opts.DefaultNamespace != "" {
			where = append(where, s.opts.DefaultNamespace)
		}
	}
	for _, ns := range where {
		ok, err := auth.SelfAllowed(ctx, s.opts.Client.AuthorizationV1(), auth.Access{Namespace: ns, Verb: "list", Group: "apps", Resource: "deployments"})
		switch {
		case apierrors.IsForbidden(err):
			return struct{}{}, nil
		case err != nil:
			return struct{}{}, errorf(http.StatusServiceUnavailable, "APIServerUnreachable", "the Kubernetes API server does not answer: %v", err)
		case ok:
			return struct{}{}, nil
		}
	}
	places := "any namespace"
	if len(s.opts.Namespaces) > 0 {
		places = "namespaces " + strings.Join(s.opts.Namespaces, ", ")
	}
	return struct{}{}, errorf(http.StatusServiceUnavailable, "NoReadAccess",
		"this server's identity may not list deployments in %s it serves; grant it a Role that allows it (kubectl auth can-i list deployments)", places)
}

// canReadTTL is how long the answer of mayListSomewhere is kept: a
// RoleBinding granted shows soon, yet probes cost no review each.
const canReadTTL = 30 * time.Second

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
