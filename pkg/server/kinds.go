package server

import (
	"net/http"
	"strings"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// kinds are the kinds of workload whose changes the API offers, each under
// its resource's path: /api/namespaces/{ns}/deployments/{name}/...,
// .../statefulsets/{name}/..., .../daemonsets/{name}/....
var kinds = []operations.Kind{operations.Deployment, operations.StatefulSet, operations.DaemonSet}

// supports reports whether kind k has the change op, as kubectl has it: a
// DaemonSet has no scale, and only a Deployment pauses and resumes.
func supports(k operations.Kind, op string) bool {
	switch op {
	case "scale":
		return k != operations.DaemonSet
	case "pause", "resume":
		return k == operations.Deployment
	}
	return true
}

// unsupported answers a change kind k does not have (supports), once the
// token lets changes through: 422 NotSupported, in the words of the
// command line's refusal, which say what to do instead. Nothing is read.
func (s *Server) unsupported(k operations.Kind, op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e := s.authorize(r); e != nil {
			s.writeError(w, r, e)
			return
		}
		ns, name := r.PathValue("ns"), r.PathValue("name")
		var err error
		if op == "scale" {
			err = operations.ScaleRequest{Kind: k, Namespace: ns, Name: name}.Validate()
		} else {
			err = operations.PauseRequest{Kind: k, Namespace: ns, Name: name, Paused: op == "pause"}.Validate()
		}
		msg := k.Noun() + "s have no " + op
		for _, p := range operations.ProblemsOf(err) {
			if p.Field == "kind" {
				msg = p.Message
			}
		}
		s.writeError(w, r, errorf(http.StatusUnprocessableEntity, "NotSupported", "%s", msg))
	}
}

// kindOfRoute is the kind whose resource the request's route names; a
// Deployment for routes of no workload.
func kindOfRoute(r *http.Request) operations.Kind {
	for _, k := range kinds {
		if strings.Contains(r.Pattern, "/"+k.Resource()+"/") {
			return k
		}
	}
	return operations.Deployment
}
