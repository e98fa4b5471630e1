package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// contextsPrefix starts the paths of a context's API when several
// contexts are served: /api/contexts/{context}/namespaces/... is that
// context's /api/namespaces/....
const contextsPrefix = "/api/contexts/"

// Contexts serves several kubeconfig contexts behind one listener, one
// Server (with its own client and hub) each. /api/contexts/{name}/X goes to
// context name's Server as /api/X; /readyz and /metrics cover every
// context; every other path, and an unknown context, goes to the first
// (default) context's Server, so the paths of a single context keep working.
// Each Server applies its own Host, Origin and token checks to what it
// gets, so every path is checked.
type Contexts struct {
	names   []string
	servers map[string]*Server
	all     []*Server
	handler http.Handler
	// Every context's /readyz and /metrics (contexts_health.go).
	readyzHandler, metricsHandler http.Handler
}

// NewContexts routes to servers, which serve the contexts names, in order;
// the first is the default.
func NewContexts(names []string, servers []*Server) (*Contexts, error) {
	if len(names) == 0 || len(names) != len(servers) {
		return nil, errors.New("server: one Server per context is required")
	}
	c := &Contexts{names: names, servers: map[string]*Server{}, all: servers}
	for i, name := range names {
		if _, dup := c.servers[name]; dup {
			return nil, fmt.Errorf("server: context %q given twice", name)
		}
		s := servers[i]
		if s.opts.Auth != servers[0].opts.Auth || s.opts.Token != servers[0].opts.Token {
			return nil, errors.New("server: every context needs the same Auth and Token")
		}
		// One wrong-token budget per client across the contexts: a guesser
		// gets no more tries for each context served.
		s.budget = servers[0].budget
		c.servers[name] = s
	}
	if err := c.newHealth(); err != nil {
		return nil, fmt.Errorf("server: the contexts' metrics: %w", err)
	}
	c.handler = http.HandlerFunc(c.route)
	return c, nil
}

// Handler is the whole HTTP handler.
func (c *Contexts) Handler() http.Handler { return c.handler }

// route strips /api/contexts/{name} from a served context's paths. The
// name is one escaped path segment: kubeconfig context names may hold a
// slash (EKS ARNs), sent as %2F.
//
// An API path with "..", "." or "//" is refused: the mux would answer it
// with a redirect to its cleaned path, which is the default context's once
// the prefix is stripped (or another context's), and a client that follows
// redirects would act there with that context's identity.
func (c *Contexts) route(w http.ResponseWriter, r *http.Request) {
	if h := c.healthHandler(r); h != nil {
		h.ServeHTTP(w, r)
		return
	}
	escaped := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(escaped, contextsPrefix); ok {
		seg, tail, _ := strings.Cut(rest, "/")
		name, err := url.PathUnescape(seg)
		if s, served := c.servers[name]; err == nil && served {
			rawPath := "/api/" + tail
			path, err := url.PathUnescape(rawPath)
			if err == nil && cleanPath(path) {
				r2 := r.Clone(r.Context())
				r2.URL.Path, r2.URL.RawPath = path, rawPath
				r2.RequestURI = r2.URL.RequestURI()
				s.handler.ServeHTTP(w, r2)
				return
			}
			c.refuseUnclean(w, r)
			return
		}
	}
	if strings.HasPrefix(r.URL.Path, "/api/") && !cleanPath(r.URL.Path) {
		c.refuseUnclean(w, r)
		return
	}
	c.all[0].handler.ServeHTTP(w, r)
}

// refuseUnclean answers 400 to an API path with an empty, "." or ".."
// segment, with the default context's checks and log.
func (c *Contexts) refuseUnclean(w http.ResponseWriter, r *http.Request) {
	s := c.all[0]
	s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errorf(http.StatusBadRequest, "BadRequest",
			"the path %s has an empty, '.' or '..' segment; send it without them", r.URL.EscapedPath()))
	})).ServeHTTP(w, r)
}

// cleanPath reports whether an unescaped path has no empty, "." or ".."
// segment (a trailing slash is fine): a path the mux serves without a
// redirect to its cleaned form.
func cleanPath(p string) bool {
	c := path.Clean(p)
	return c == p || c+"/" == p
}

// Serve serves every context on ln until ctx ends, then shuts all of them
// down as Server.Serve does (the default context's options apply).
func (c *Contexts) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	return serve(ctx, ln, shutdownTimeout, c.handler, c.all)
}
