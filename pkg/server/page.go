package server

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// web holds the page: plain HTML, CSS and JavaScript, no build step and no
// CDN, so `go build` alone makes a binary whose page works offline.
//
//go:embed web
var web embed.FS

// page serves the embedded files with headers that keep the page to its own
// origin: scripts, styles and connections from this server only, and no
// framing by other sites.
func (s *Server) page() http.Handler {
	root, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		// The file server answers a name fs.FS cannot hold (invalid UTF-8)
		// with 500; no such file is a 404.
		if name := strings.TrimPrefix(path.Clean(r.URL.Path), "/"); name != "" && !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}
