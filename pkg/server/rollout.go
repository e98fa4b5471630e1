package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// rolloutRoutes are the endpoints of issue 16: a Deployment's history, and
// undo, restart, pause and resume, with the same rules as scale and image.
func (s *Server) rolloutRoutes(handle func(method, path string, h http.HandlerFunc)) {
	const d = "/api/namespaces/{ns}/deployments/{name}/"
	handle(http.MethodGet, d+"history", s.history)
	handle(http.MethodPost, d+"undo", s.undo)
	handle(http.MethodPost, d+"restart", s.restart)
	handle(http.MethodPost, d+"pause", s.pauseOrResume(true))
	handle(http.MethodPost, d+"resume", s.pauseOrResume(false))
	handle(http.MethodGet, "/api/namespaces/{ns}/permissions", s.permissions)
}

// undoBody is the body of POST .../undo.
type undoBody struct {
	// ToRevision is the revision to go back to; 0 or absent is the
	// previous one.
	ToRevision int64 `json:"toRevision,omitempty"`
	// ResourceVersion is an optional precondition: the undo is refused
	// (409) unless the Deployment is still at this version.
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// preconditionBody is the optional body of POST .../restart, .../pause and
// .../resume.
type preconditionBody struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// history answers GET .../history with the Deployment's revisions, newest
// first (operations.History).
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if e := s.may(r, historyAccess(ns)...); e != nil {
		s.writeError(w, r, e)
		return
	}
	if e := s.checkWatched(r.Context(), ns); e != nil {
		s.writeError(w, r, e)
		return
	}
	var rev int64
	if v := r.URL.Query().Get("revision"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			s.writeError(w, r, &apiError{Status: http.StatusBadRequest, Reason: string(operations.BadRequest),
				Message:  "revision must be a positive number, got " + strconv.Quote(v),
				Problems: []operations.Problem{{Field: "revision", Message: "revision must be a positive number"}}})
			return
		}
		rev = n
	}
	client, e := s.actingClient(r)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	h, err := operations.GetHistory(r.Context(), client.AppsV1(), operations.HistoryRequest{Namespace: ns, Name: name, Revision: rev})
	if err != nil {
		s.writeError(w, r, fromError(err))
		return
	}
	s.writeJSON(w, http.StatusOK, h)
}

func (s *Server) undo(w http.ResponseWriter, r *http.Request) {
	var body undoBody
	s.change(w, r, &body, undoAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
		return operations.Undo(ctx, client.AppsV1(), operations.UndoRequest{
			Namespace: ns, Name: name, ToRevision: body.ToRevision, ResourceVersion: body.ResourceVersion,
		})
	})
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	var body preconditionBody
	s.change(w, optionalBody(r), &body, patchAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
		return operations.Restart(ctx, client.AppsV1(), operations.RestartRequest{
			Namespace: ns, Name: name, ResourceVersion: body.ResourceVersion,
		})
	})
}

func (s *Server) pauseOrResume(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body preconditionBody
		s.change(w, optionalBody(r), &body, patchAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
			return operations.SetPaused(ctx, client.AppsV1(), operations.PauseRequest{
				Namespace: ns, Name: name, Paused: paused, ResourceVersion: body.ResourceVersion,
			})
		})
	}
}

// optionalBody lets a request without a body through decode as "{}": restart,
// pause and resume need nothing but the optional precondition.
func optionalBody(r *http.Request) *http.Request {
	if r.ContentLength != 0 {
		return r
	}
	r2 := r.Clone(r.Context())
	r2.Body, r2.ContentLength = io.NopCloser(strings.NewReader("{}")), 2
	return r2
}

// permissionsTTL is how long the answers of the API server about what the
// server's identity may do are kept: long enough that a page's views do not
// ask again and again, short enough that a new RoleBinding shows soon.
const permissionsTTL = 30 * time.Second

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

type permissionsCache struct {
	mu      sync.Mutex
	entries map[string]permissionsEntry
	asking  sharedCalls[Permissions] // pages that ask together share the reviews
}

type permissionsEntry struct {
	p       Permissions
	expires time.Time
}

// permissions answers GET /api/namespaces/{ns}/permissions by asking the API
// server with SelfSubjectAccessReviews, cached for permissionsTTL and asked
// once for the pages that ask together (a reload of every page).
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
	c := &s.perms
	c.mu.Lock()
	e, ok := c.entries[ns]
	c.mu.Unlock()
	if ok && time.Now().Before(e.expires) {
		s.writeJSON(w, http.StatusOK, e.p)
		return
	}
	p, ae := c.asking.do(r.Context(), ns, fmt.Sprintf("the permissions in namespace %q were read", ns), func(ctx context.Context) (Permissions, *apiError) {
		return s.askPermissions(ctx, ns)
	})
	if ae != nil {
		s.writeError(w, r, ae)
		return
	}
	s.writeJSON(w, http.StatusOK, p)
}

// askPermissions asks the API server what the server's identity may do in
// namespace ns, and keeps the answer for permissionsTTL.
func (s *Server) askPermissions(ctx context.Context, ns string) (Permissions, *apiError) {
	var p Permissions
	for _, q := range []struct {
		to                          *bool
		verb, resource, subresource string
	}{
		{&p.Scale, "update", "deployments", "scale"},
		{&p.Patch, "patch", "deployments", ""},
		{&p.History, "list", "replicasets", ""},
	} {
		review, err := s.opts.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: q.verb, Group: "apps", Resource: q.resource, Subresource: q.subresource,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return Permissions{}, fromError(err)
		}
		*q.to = review.Status.Allowed
	}
	c := &s.perms
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[string]permissionsEntry{}
	}
	c.entries[ns] = permissionsEntry{p: p, expires: time.Now().Add(permissionsTTL)}
	c.mu.Unlock()
	return p, nil
}

// historyAccess is what a Deployment's revisions need of the user: the
// Deployment and its ReplicaSets.
func historyAccess(ns string) []access {
	return []access{
		{Namespace: ns, Verb: "get", Group: "apps", Resource: "deployments"},
		{Namespace: ns, Verb: "list", Group: "apps", Resource: "replicasets"},
	}
}

// undoAccess: the patch, and the ReplicaSets it reads the revision from.
func undoAccess(ns string) []access {
	return append(patchAccess(ns), access{Namespace: ns, Verb: "list", Group: "apps", Resource: "replicasets"})
}

// userPermissions is permissions in AuthKubernetes mode: what the request's
// user may do, from the reviews' cache.
func (s *Server) userPermissions(w http.ResponseWriter, r *http.Request, ns string) {
	var p Permissions
	for _, q := range []struct {
		to   *bool
		need []access
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
