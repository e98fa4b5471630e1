package server

import (
	"context"
	"net/http"
	"strconv"

	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// history answers GET .../history with the revisions of a workload of
// kind k, newest first (operations.History).
func (s *Server) history(k operations.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ns, name := r.PathValue("ns"), r.PathValue("name")
		if e := s.mayRead(r, ns, named(historyAccess(ns, k), name)...); e != nil {
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
		h, err := operations.GetHistory(r.Context(), client.AppsV1(), operations.HistoryRequest{Kind: k, Namespace: ns, Name: name, Revision: rev})
		if err != nil {
			s.writeError(w, r, fromError(err))
			return
		}
		s.writeJSON(w, http.StatusOK, h)
	}
}

// undoBody is the body of POST .../undo.
type undoBody struct {
	// ToRevision is the revision to go back to; 0 or absent is the
	// previous one.
	ToRevision int64 `json:"toRevision,omitempty"`
	// ResourceVersion is an optional precondition: the undo is refused
	// (409) unless the workload is still at this version.
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

func (s *Server) undo(k operations.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body undoBody
		s.change(w, r, k, &body, undoAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
			return operations.Undo(ctx, client.AppsV1(), operations.UndoRequest{
				Kind: k, Namespace: ns, Name: name, ToRevision: body.ToRevision, ResourceVersion: body.ResourceVersion,
			})
		})
	}
}

// preconditionBody is the optional body of POST .../restart, .../pause and
// .../resume.
type preconditionBody struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

func (s *Server) restart(k operations.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body preconditionBody
		s.change(w, optionalBody(r), k, &body, patchAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
			return operations.Restart(ctx, client.AppsV1(), operations.RestartRequest{
				Kind: k, Namespace: ns, Name: name, ResourceVersion: body.ResourceVersion,
			})
		})
	}
}

// pauseOrResume answers POST .../pause and .../resume of a Deployment
// (routes.go refuses them for the other kinds).
func (s *Server) pauseOrResume(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body preconditionBody
		s.change(w, optionalBody(r), operations.Deployment, &body, patchAccess, func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error) {
			return operations.SetPaused(ctx, client.AppsV1(), operations.PauseRequest{
				Namespace: ns, Name: name, Paused: paused, ResourceVersion: body.ResourceVersion,
			})
		})
	}
}
