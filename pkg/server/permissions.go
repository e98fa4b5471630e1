package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// Permissions says which changes the server's identity may make in a
// namespace, so the page offers only those. It is no security boundary:
// the API server decides every change.
type Permissions struct {
	// ReadOnly is --read-only: every change is refused.
	ReadOnly bool `json:"readOnly"`
	// Scale: update on deployments/scale.
	Scale bool `json:"scale"`
	// Patch: patch on deployments (set-image, restart, pause, resume).
	Patch bool `json:"patch"`
	// History: list on replicasets (the history; undo needs it and Patch).
	History bool `json:"history"`
	// StatefulSets and DaemonSets are the same of those kinds.
	StatefulSets KindPermissions `json:"statefulSets"`
	DaemonSets   KindPermissions `json:"daemonSets"`
}

// KindPermissions are the changes allowed on one kind other than
// Deployments, in the fields of Permissions' Deployments'.
type KindPermissions struct {
	// Scale: update on statefulsets/scale; always false for DaemonSets,
	// which have no scale.
	Scale bool `json:"scale"`
	// Patch: patch on the kind (set-image, restart).
	Patch bool `json:"patch"`
	// History: list on controllerrevisions (the history; undo needs it and
	// Patch).
	History bool `json:"history"`
}

// permission is one field of Permissions and what it asks of RBAC.
type permission struct {
	to   *bool
	need []auth.Access
}

// fields are p's permissions in namespace ns, with what each needs: one
// question each (history: list the revisions), or with whole all that the
// change's route asks (history also gets the workload). A change a kind
// does not have (a DaemonSet's scale) is not asked, so stays false.
func (p *Permissions) fields(ns string, whole bool) []permission {
	history := func(k operations.Kind) []auth.Access {
		if whole {
			return historyAccess(ns, k)
		}
		return historyAccess(ns, k)[1:]
	}
	out := []permission{
		{&p.Scale, scaleAccess(ns, operations.Deployment)},
		{&p.Patch, patchAccess(ns, operations.Deployment)},
		{&p.History, history(operations.Deployment)},
	}
	for _, kp := range []struct {
		k operations.Kind
		p *KindPermissions
	}{{operations.StatefulSet, &p.StatefulSets}, {operations.DaemonSet, &p.DaemonSets}} {
		if supports(kp.k, "scale") {
			out = append(out, permission{&kp.p.Scale, scaleAccess(ns, kp.k)})
		}
		out = append(out, permission{&kp.p.Patch, patchAccess(ns, kp.k)}, permission{&kp.p.History, history(kp.k)})
	}
	return out
}

// permissionsTTL is how long the answers of the API server about what the
// server's identity may do are kept: long enough that a page's views do not
// ask again and again, short enough that a new RoleBinding shows soon.
const permissionsTTL = 30 * time.Second

// maxKeptPermissions bounds the namespaces whose permissions are kept.
const maxKeptPermissions = 1024

// permissions answers GET /api/namespaces/{ns}/permissions by asking the API
// server with SelfSubjectAccessReviews, cached for permissionsTTL (for at
// most maxKeptPermissions namespaces) and asked once for the pages that ask
// together (a reload of every page).
func (s *Server) permissions(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	if e := s.serves(ns); e != nil {
		s.writeError(w, r, e)
		return
	}
	if s.opts.ReadOnly {
		s.writeJSON(w, http.StatusOK, Permissions{ReadOnly: true})
		return
	}
	if s.kube != nil {
		s.userPermissions(w, r, ns)
		return
	}
	p, ae := s.perms.get(r.Context(), ns, fmt.Sprintf("the permissions in namespace %q were read", ns), func(ctx context.Context) (Permissions, *apiError) {
		return s.askPermissions(ctx, ns)
	})
	if ae != nil {
		s.writeError(w, r, ae)
		return
	}
	s.writeJSON(w, http.StatusOK, p)
}

// askPermissions asks the API server what the server's identity may do in
// namespace ns.
func (s *Server) askPermissions(ctx context.Context, ns string) (Permissions, *apiError) {
	var p Permissions
	// A namespace that does not exist costs one GET, no review, and is not
	// kept: made-up names fill no cache. (An identity that may not get
	// namespaces asks the reviews.)
	if _, err := s.opts.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return p, errorf(http.StatusNotFound, "NotFound", "namespace %q not found", ns)
	}
	for _, q := range p.fields(ns, false) {
		allowed, err := auth.SelfAllowed(ctx, s.opts.Client.AuthorizationV1(), q.need[0])
		if err != nil {
			return Permissions{}, fromError(err)
		}
		*q.to = allowed
	}
	return p, nil
}

// userPermissions is permissions in AuthKubernetes mode: what the request's
// user may do, from the reviews' cache.
func (s *Server) userPermissions(w http.ResponseWriter, r *http.Request, ns string) {
	var p Permissions
	for _, q := range p.fields(ns, true) {
		e := s.may(r, q.need...)
		if e != nil && e.Status != http.StatusForbidden {
			s.writeError(w, r, e)
			return
		}
		*q.to = e == nil
	}
	s.writeJSON(w, http.StatusOK, p)
}
