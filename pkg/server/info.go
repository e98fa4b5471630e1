package server

import (
	"net/http"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// info tells the page how this server is set up.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{
		"readOnly":   s.opts.ReadOnly,
		"namespaces": s.opts.Namespaces,
		"version":    s.opts.Version,
		"auth":       AuthToken,
		"statuses":   deployment.Statuses(), // the page's order, the worst first
	}
	if len(s.opts.Contexts) > 0 {
		out["contexts"] = s.opts.Contexts
	}
	if user, ok := auth.UserOf(r); ok {
		out["auth"], out["user"] = AuthKubernetes, user.Username
	}
	s.writeJSON(w, http.StatusOK, out)
}
