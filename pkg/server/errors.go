package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// apiError is the JSON body of every error response:
// {"error": "...", "reason": "...", "hint": "...", "problems": [...]}.
type apiError struct {
	Status   int                  `json:"-"`
	Message  string               `json:"error"`
	Reason   string               `json:"reason"`
	Hint     string               `json:"hint,omitempty"`
	Problems []operations.Problem `json:"problems,omitempty"`
}

func errorf(status int, reason, format string, args ...any) *apiError {
	return &apiError{Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// fromError maps an error of the operations package or of the API server to
// a response.
func fromError(err error) *apiError {
	var op *operations.Error
	if errors.As(err, &op) {
		e := &apiError{Reason: string(op.Reason), Message: op.Error(), Hint: op.Hint, Problems: op.Problems}
		switch op.Reason {
		case operations.BadRequest:
			e.Status = http.StatusBadRequest
		case operations.NotFound:
			e.Status = http.StatusNotFound
		case operations.Forbidden:
			e.Status = http.StatusForbidden
		case operations.Conflict:
			e.Status = http.StatusConflict
		case operations.Invalid:
			e.Status = http.StatusUnprocessableEntity
		default:
			e.Status = http.StatusInternalServerError
		}
		return e
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := int(status.Status().Code)
		if code < 400 || code > 599 {
			code = http.StatusBadGateway
		}
		return &apiError{Status: code, Reason: string(apierrors.ReasonForError(err)), Message: status.Status().Message}
	}
	var urlErr *url.Error
	var netErr net.Error
	if errors.As(err, &urlErr) || errors.As(err, &netErr) {
		return errorf(http.StatusServiceUnavailable, "APIServerUnreachable", "cannot reach the Kubernetes API server: %v", err)
	}
	return errorf(http.StatusInternalServerError, "InternalError", "%v", err)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.Status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "error", e.Message)
	}
	s.writeJSON(w, e.Status, e)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	jsonHeaders(w.Header())
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client left: nothing to do
}

// jsonHeaders are the headers of every JSON answer: never kept by a cache.
func jsonHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
}
