// Package webui holds serve's web page: plain HTML, CSS and JavaScript
// modules, no build step and no CDN, embedded so that `go build` alone makes
// a binary whose page works offline. Handler serves them with headers that
// keep the page to its own origin.
package webui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// contentTypes are set here rather than looked up, so the type a browser
// checks a module script against does not depend on the machine's MIME
// tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// csp lets the page load scripts (module scripts included), styles and
// connections from this server only, and no other site frame it.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the page's files at the root of a path space ("/" is
// index.html). Every answer, a 404 included, carries the security headers.
func Handler() http.Handler {
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		// The file server answers a name fs.FS cannot hold (invalid UTF-8)
		// with 500; no such file is a 404.
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name != "" && !fs.ValidPath(name) {
			http.NotFound(w, r)
			return
		}
		if ct, ok := contentTypes[path.Ext(name)]; ok {
			h.Set("Content-Type", ct)
		}
		files.ServeHTTP(w, r)
	})
}
