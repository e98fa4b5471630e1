package server

import (
	"net/http"

	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// info tells the page how this server is set up.
func (s *Server) info(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{
		"readOnly":   s.opts.ReadOnly,
		"namespaces": s.opts.Namespaces,
		"version":    s.opts.Version,
		"auth":       AuthToken,
	}
	if len(s.opts.Contexts) > 0 {
		out["contexts"] = s.opts.Contexts
	}
	if user, ok := auth.UserOf(r); ok {
		out["auth"], out["user"] = AuthKubernetes, user.Username
	}
	s.writeJSON(w, http.StatusOK, out)
}
