package server

import (
	"log/slog"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// routes builds the mux. Every API route also has a method-less pattern
// that answers 405 in JSON (the mux's own 405 is plain text).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(method, path string, h http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, s.validNames(h))
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			allow := method
			if method == http.MethodGet {
				allow = "GET, HEAD"
			}
			w.Header().Set("Allow", allow)
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not allowed on %s; use %s", r.Method, r.URL.Path, method))
		})
	}
	// Every endpoint, grouped by the file that holds its handler.
	handle(http.MethodPost, "/api/tickets", s.tickets)                        // auth.go
	handle(http.MethodGet, "/api/info", s.info)                               // info.go
	handle(http.MethodGet, "/api/namespaces", s.listNamespaces)               // namespaces.go
	handle(http.MethodGet, "/api/namespaces/{ns}/permissions", s.permissions) // permissions.go
	// deployments.go
	handle(http.MethodGet, "/api/namespaces/{ns}/deployments", s.listDeployments)
	// stream.go
	handle(http.MethodGet, "/api/namespaces/{ns}/deployments/stream", s.stream)
	// The changes of each kind of workload (kinds.go), with the same rules
	// (change.go): scale and image (deployments.go), the history, undo,
	// restart, pause and resume (rollout.go). A change a kind does not
	// have is refused with 422 NotSupported.
	for _, k := range kinds {
		base := "/api/namespaces/{ns}/" + k.Resource() + "/{name}/"
		for _, c := range []struct {
			method, op string
			h          http.HandlerFunc
		}{
			{http.MethodPut, "scale", s.scale(k)},
			{http.MethodPut, "image", s.setImage(k)},
			{http.MethodGet, "history", s.history(k)},
			{http.MethodPost, "undo", s.undo(k)},
			{http.MethodPost, "restart", s.restart(k)},
			{http.MethodPost, "pause", s.pauseOrResume(true)},
			{http.MethodPost, "resume", s.pauseOrResume(false)},
		} {
			h := c.h
			if !supports(k, c.op) {
				h = s.unsupported(k, c.op)
			}
			handle(c.method, base+c.op, h)
		}
	}
	// timeline.go: a Deployment's last rollout, for the page's drawing.
	handle(http.MethodGet, "/api/namespaces/{ns}/deployments/{name}/timeline", s.timeline)
	mux.HandleFunc("/api/contexts/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, "ContextNotServed",
			"no served context at %s; the served contexts are listed by GET /api/info (serve --context)", r.URL.Path))
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusNotFound, "NotFound", "no API at %s", r.URL.Path))
	})
	// Outside /api/, needing no token: the probes (probes.go), the metrics
	// (metrics.go) and the page (page.go).
	handle(http.MethodGet, "/healthz", s.healthz)
	handle(http.MethodGet, "/readyz", s.readyz)
	handle(http.MethodGet, "/metrics", s.metrics.handler(s.registry).ServeHTTP)
	page := s.page()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.writeError(w, r, errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not allowed on %s; use GET", r.Method, r.URL.Path))
			return
		}
		page.ServeHTTP(w, r)
	})
	// Authentication wraps the whole mux, so every /api/ route, present or
	// added later, needs the token.
	return s.middleware(s.authenticate(mux))
}

// middleware applies the origin check to everything and logs requests.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		if e := s.sameOrigin(r); e != nil {
			s.log.Warn("refused", "method", r.Method, "path", r.URL.Path, "host", r.Host, "origin", r.Header.Get("Origin"), "reason", e.Reason)
			s.writeError(rec, r, e)
		} else {
			next.ServeHTTP(rec, r)
		}
		level := slogLevel(rec.status, r.URL.Path, s.opts.LogRequests)
		s.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

// slogLevel keeps requests out of the default (INFO) log unless asked
// (Options.LogRequests), and probes and scrapes out of it always; a
// server-side failure is an error whatever was asked.
func slogLevel(status int, path string, logRequests bool) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case !logRequests, path == "/healthz" || path == "/readyz" || path == "/metrics":
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// validNames refuses a request whose {ns} or {name} is not a valid
// Kubernetes name (400) before anything else sees it: client-go cannot put
// "../b" in a path and would fail with an error that reads as the server's.
func (s *Server) validNames(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ns := r.PathValue("ns"); ns != "" {
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				s.writeError(w, r, errorf(http.StatusBadRequest, "BadRequest", "invalid namespace %q: %s", ns, errs[0]))
				return
			}
		}
		if name := r.PathValue("name"); name != "" {
			if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
				s.writeError(w, r, errorf(http.StatusBadRequest, "BadRequest", "invalid %s name %q: %s", kindOfRoute(r), name, errs[0]))
				return
			}
		}
		next(w, r)
	}
}

// statusRecorder remembers the status for the log; Unwrap lets
// http.ResponseController reach the connection (Flush, write deadlines).
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
