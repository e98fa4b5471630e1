package server

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// serves reports whether namespace ns may be served.
func (s *Server) serves(ns string) *apiError {
	if len(s.served) == 0 || s.served[ns] {
		return nil
	}
	names := slices.Sorted(maps.Keys(s.served))
	return errorf(http.StatusForbidden, "NamespaceNotServed",
		"namespace %q is not served; this server serves only %s (--namespaces)", ns, strings.Join(names, ", "))
}

// mayRead checks a read of namespace ns (a list, a stream, a history):
// the user's rights first (need, AuthKubernetes), so that whoever may not
// read a namespace does not learn whether it exists, and they, not how many
// watches run, decide who may read; then the namespace (checkWatched).
func (s *Server) mayRead(r *http.Request, ns string, need ...auth.Access) *apiError {
	if e := s.may(r, need...); e != nil {
		return e
	}
	return s.checkWatched(r.Context(), ns)
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

// checkNamespace refuses a served namespace that does not exist, or whose
// Deployments the server's identity may not watch, so that no informer
// starts for it. Without permission to get namespaces, existence
// cannot be told: only the namespaces the user named (--namespaces, the
// kubeconfig's) are served then, not any name a client makes up. With the
// hub's cluster-wide watches, serve may watch everywhere (asked at start),
// and while they run they tell which namespaces exist.
func (s *Server) checkNamespace(ctx context.Context, ns string) *apiError {
	if exists, _ := s.opts.Hub.NamespaceExists(ctx, ns); exists {
		return nil // from the cluster-wide watches, which this identity may run
	}
	_, getErr := s.opts.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(getErr):
		return errorf(http.StatusNotFound, "NotFound", "namespace %q not found", ns)
	case getErr != nil && !apierrors.IsForbidden(getErr):
		return fromError(getErr)
	case getErr == nil && s.opts.Hub.ClusterWide():
		return nil // serve may watch everywhere: asked once at start
	}
	allowed, err := auth.SelfAllowed(ctx, s.opts.Client.AuthorizationV1(), auth.Access{Namespace: ns, Verb: "watch", Group: "apps", Resource: "deployments"})
	switch {
	case err != nil && !apierrors.IsForbidden(err): // forbidden to ask: the tracker's first list still tells
		return fromError(err)
	case err == nil && !allowed:
		return errorf(http.StatusForbidden, "Forbidden", "this server's identity may not watch deployments in namespace %q", ns)
	case apierrors.IsForbidden(getErr) && !s.served[ns] && ns != s.opts.DefaultNamespace:
		return errorf(http.StatusForbidden, "NamespaceUnverified",
			"namespace %q cannot be checked: this server's identity may not get namespaces; name it with --namespaces to serve it", ns)
	}
	return nil
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
