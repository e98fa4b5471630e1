package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	for _, q := range []struct {
		to                          *bool
		verb, resource, subresource string
	}{
		{&p.Scale, "update", "deployments", "scale"},
		{&p.Patch, "patch", "deployments", ""},
		{&p.History, "list", "replicasets", ""},
	} {
		allowed, err := auth.SelfAllowed(ctx, s.opts.Client.AuthorizationV1(), auth.Access{
			Namespace: ns, Verb: q.verb, Group: "apps", Resource: q.resource, Subresource: q.subresource,
		})
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
	for _, q := range []struct {
		to   *bool
		need []auth.Access
	}{
		{&p.Scale, scaleAccess(ns)},
		{&p.Patch, patchAccess(ns)},
		{&p.History, historyAccess(ns)},
	} {
		e := s.may(r, q.need...)
		if e != nil && e.Status != http.StatusForbidden {
			s.writeError(w, r, e)
			return
		}
		*q.to = e == nil
	}
	s.writeJSON(w, http.StatusOK, p)
}
