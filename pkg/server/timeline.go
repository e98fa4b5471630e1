package server

import (
	"net/http"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/timeline"
)

// timelineBody is GET .../deployments/{name}/timeline's answer.
type timelineBody struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Following: serve follows the namespace now (a stream of it is open,
	// or was within the linger; with the cluster-wide watch, a stream of
	// any namespace); Since is from when. Rollouts before Since, or while it is not followed, are
	// not known.
	Following bool      `json:"following"`
	Since     time.Time `json:"since,omitzero"`
	// Rollout is the Deployment's last rollout seen; null when none was.
	Rollout *timeline.Rollout `json:"rollout"`
}

// timeline serves a Deployment's last rollout, as the page draws it, from
// what the namespace's tracker saw (hub.Timeline). It starts no tracker:
// one started now would know no rollout.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("ns"), r.PathValue("name")
	if e := s.mayRead(r, ns, readAccess(ns)...); e != nil {
		s.writeError(w, r, e)
		return
	}
	body := timelineBody{Namespace: ns, Name: name}
	body.Rollout, body.Since, body.Following = s.opts.Hub.Timeline(ns, name)
	if !body.Since.IsZero() {
		body.Since = body.Since.UTC()
	}
	s.writeJSON(w, http.StatusOK, body)
}
