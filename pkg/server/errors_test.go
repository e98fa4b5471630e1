package server

import (
	"errors"
	"fmt"
	"net"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

func TestFromError(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	tests := []struct {
		err    error
		status int
		reason string
	}{
		{&operations.Error{Reason: operations.BadRequest, Problems: []operations.Problem{{Field: "replicas", Message: "bad"}}}, 400, "BadRequest"},
		{&operations.Error{Reason: operations.NotFound, Message: "no"}, 404, "NotFound"},
		{&operations.Error{Reason: operations.Forbidden, Message: "no"}, 403, "Forbidden"},
		{&operations.Error{Reason: operations.Conflict, Message: "no"}, 409, "Conflict"},
		{&operations.Error{Reason: operations.Invalid, Message: "no"}, 422, "Invalid"},
		{fmt.Errorf("watching: %w", apierrors.NewForbidden(gr, "", errors.New("no"))), 403, "Forbidden"},
		{apierrors.NewNotFound(gr, "web"), 404, "NotFound"},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, 503, "APIServerUnreachable"},
		{errors.New("odd"), 500, "InternalError"},
	}
	for _, tt := range tests {
		e := fromError(tt.err)
		if e.Status != tt.status || e.Reason != tt.reason || e.Message == "" {
			t.Errorf("fromError(%v) = %d %q %q, want %d %q", tt.err, e.Status, e.Reason, e.Message, tt.status, tt.reason)
		}
	}
	if e := fromError(&operations.Error{Reason: operations.BadRequest, Problems: []operations.Problem{{Field: "replicas", Message: "bad"}}}); len(e.Problems) != 1 || e.Problems[0].Field != "replicas" {
		t.Errorf("problems lost: %+v", e)
	}
}
