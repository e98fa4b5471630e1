package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// change runs the checks every change shares, in the order that tells the
// least to whoever may not change anything: the token first, then the body,
// then the namespace, then (AuthKubernetes) the user's rights, need: a
// user without them gets 403 and the API server sees no change request.
// do makes the change to the workload of kind k with client, which
// impersonates the user in AuthKubernetes mode.
func (s *Server) change(w http.ResponseWriter, r *http.Request, k operations.Kind, body any, need func(string, operations.Kind) []auth.Access,
	do func(ctx context.Context, client kubernetes.Interface, ns, name string) (operations.Result, error)) {
	if e := s.authorize(r); e != nil {
		s.writeError(w, r, e)
		return
	}
	if e := s.decode(w, r, body); e != nil {
		s.writeError(w, r, e)
		return
	}
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if e := s.serves(ns); e != nil {
		s.writeError(w, r, e)
		return
	}
	if e := s.may(r, named(need(ns, k), name)...); e != nil {
		s.writeError(w, r, e)
		return
	}
	client, e := s.actingClient(r)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	res, err := do(r.Context(), client, ns, name)
	if err != nil {
		s.writeError(w, r, fromError(err))
		return
	}
	args := []any{"namespace", ns, k.Noun(), name, "changed", res.Changed, "changes", res.Changes}
	if user, ok := auth.UserOf(r); ok {
		args = append(args, "user", user.Username)
	}
	s.log.Info("changed", args...)
	s.writeJSON(w, http.StatusOK, res)
}

// authorize lets a change through: not read-only, and the token itself
// (authenticate checked it for every API route; a ticket is for reads).
func (s *Server) authorize(r *http.Request) *apiError {
	if s.opts.ReadOnly {
		return errorf(http.StatusForbidden, "ReadOnly", "this server is read-only (--read-only): changes are refused")
	}
	if !auth.HasBearer(r) {
		return errorf(http.StatusUnauthorized, "Unauthorized",
			"changes need the header 'Authorization: Bearer <token>'; open the URL serve printed, which carries the token")
	}
	return nil
}

// decode reads a JSON body of at most MaxBodyBytes into v. It is strict,
// so that what the server acts on is what the client meant: the media type
// is parsed (application/json, in UTF-8 if a charset is named), names match
// the fields exactly (encoding/json's case-insensitive matching would take
// {"REPLICAS": 2} as replicas), and unknown names, a name given twice (which
// one wins differs between parsers) and trailing data are refused. The
// JSON v2 decoder does all of this by default or by option.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		media, params, err := mime.ParseMediaType(ct)
		if charset, ok := params["charset"]; err != nil || media != "application/json" || ok && !strings.EqualFold(charset, "utf-8") {
			return errorf(http.StatusUnsupportedMediaType, "UnsupportedMediaType", "send the body as application/json (UTF-8), not %q", ct)
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "request body larger than %d bytes", tooLarge.Limit)
	case err != nil:
		return errorf(http.StatusBadRequest, "BadRequest", "reading the request body: %v", err)
	case len(bytes.TrimSpace(data)) == 0:
		return errorf(http.StatusBadRequest, "BadRequest", "empty request body: send a JSON object")
	}
	if err := jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return errorf(http.StatusBadRequest, "BadRequest", "invalid JSON body: %v", err)
	}
	return nil
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
