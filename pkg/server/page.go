package server

import (
	"net/http"

	"github.com/deploywatch/kubectl-deploywatch/pkg/webui"
)

// page serves the web page (package webui); its files need no token, as
// they hold no data.
func (s *Server) page() http.Handler { return webui.Handler() }
