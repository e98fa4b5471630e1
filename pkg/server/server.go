// Package server is the HTTP side of `kubectl deploywatch serve`: a JSON API,
// a Server-Sent Events stream per namespace fed by the hub, the embedded web
// page, and the operational endpoints (/healthz, /readyz, /metrics).
//
// It is safe by default: it refuses requests whose Host or Origin is not
// its own (DNS rebinding, cross-site requests), every API request (reads
// too) needs the token, changes are refused entirely in read-only mode, and
// request bodies are small.
// It acts with the identity of its Kubernetes client and never more; with
// AuthKubernetes each request carries its user's own Kubernetes token, is
// authorized for that user, and changes impersonate the user.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
)

// Defaults of Options.
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultRetry        = 2 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultMaxBodyBytes = 64 << 10
	DefaultSendBuffer   = 64 << 10
)

// Options configure a Server.
type Options struct {
	// Client talks to the API server with the user's identity.
	Client kubernetes.Interface
	// Hub feeds the streams; the caller closes it after Serve returns.
	Hub *hub.Hub
	// Auth is AuthToken (the default) or AuthKubernetes.
	Auth string
	// Token authenticates every API request (Authorization: Bearer
	// <token>, or a stream ticket made with it). Required with AuthToken.
	Token string
	// Impersonate makes a client that acts as the given user, for the
	// changes and per-user reads of AuthKubernetes. Required with it.
	Impersonate func(authenticationv1.UserInfo) (kubernetes.Interface, error)
	// ReadOnly refuses every change with 403.
	ReadOnly bool
	// Namespaces restricts what is served; empty serves every namespace the
	// user can read.
	Namespaces []string
	// DefaultNamespace is listed when the user may not list namespaces and
	// Namespaces is empty: the kubeconfig's namespace.
	DefaultNamespace string
	// Addr is the address the server listens on: its host decides which
	// Host headers are its own.
	Addr net.Addr
	// AllowedHosts are further host names (no port) that reach this server,
	// e.g. a Service's DNS name or an Ingress host.
	AllowedHosts []string
	// Heartbeat is the idle time after which a stream gets a comment line.
	Heartbeat time.Duration
	// Retry is the reconnection delay the streams advise (SSE retry:).
	Retry time.Duration
	// WriteTimeout bounds each write to a client, so a client that stopped
	// reading is dropped instead of holding its stream forever; the stream
	// as a whole has no time limit. A write gets at least WriteTimeout and at
	// most twice that: the deadline is re-armed only when it comes closer
	// than WriteTimeout, not before every write.
	WriteTimeout time.Duration
	// ShutdownDelay is how long, once shutdown begins, the server goes on
	// serving with /readyz failing and new streams refused, so a load
	// balancer's health check takes it out before its listener closes. It
	// counts within Serve's shutdownTimeout and takes at most half of it,
	// so the streams still have time to be told to reconnect.
	ShutdownDelay time.Duration
	// MaxBodyBytes bounds request bodies (413 beyond).
	MaxBodyBytes int64
	// MaxStreams bounds the streams open at once; one more is told to
	// reconnect later. Zero means no bound.
	MaxStreams int
	// SendBuffer is the kernel's send buffer per connection. Left to
	// autotuning, a client that stops reading could hold megabytes there;
	// kept small, a stalled stream backs up into the hub, whose queue
	// coalesces.
	SendBuffer int
	// Logger gets structured logs; nil discards them.
	Logger *slog.Logger
	// Version is reported by /api/info.
	Version string
	// Collectors are further metrics for /metrics (e.g. the notifier's).
	Collectors []prometheus.Collector
	// Contexts are the kubeconfig contexts served behind one listener
	// (see Contexts), listed by /api/info; empty for one context.
	Contexts []string
	// Streams counts the open streams against MaxStreams; the Servers of
	// several contexts share one, so MaxStreams bounds them together. Nil
	// gives the Server its own.
	Streams *atomic.Int64
}

// Server serves the API, the streams and the page.
type Server struct {
	opts     Options
	hosts    map[string]bool // host names (no port) that are this server's
	served   map[string]bool // Options.Namespaces as a set; empty serves all
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics
	handler  http.Handler

	draining atomic.Bool     // readiness fails from the start of shutdown
	stopCtx  context.Context // done when streams must end
	stopAll  context.CancelFunc
	checks   nsChecks // namespace checks shared by streams that arrive together
	perms    permissionsCache
	auth     *authn        // AuthToken; the wrong-token limiter in both modes
	kube     *kubeAuth     // AuthKubernetes
	streams  *atomic.Int64 // streams open, for MaxStreams
	nsList   nsListCache   // GET /api/namespaces, shared by every client for a moment
	ready    readiness     // /readyz: one question to the API server per readyTTL
	hijacked streamConns   // streams off net/http, which serve waits for
	lists    listCache     // each namespace's encoded list, per state
}

// New checks opts and builds a Server.
func New(opts Options) (*Server, error) {
	if opts.Client == nil || opts.Hub == nil || opts.Addr == nil {
		return nil, errors.New("server: Client, Hub and Addr are required")
	}
	switch opts.Auth {
	case "", AuthToken:
		if opts.Token == "" {
			return nil, errors.New("server: a token is required")
		}
	case AuthKubernetes:
		if opts.Impersonate == nil {
			return nil, errors.New("server: Impersonate is required with AuthKubernetes")
		}
	default:
		return nil, fmt.Errorf("server: unknown Auth %q", opts.Auth)
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Retry <= 0 {
		opts.Retry = DefaultRetry
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.SendBuffer <= 0 {
		opts.SendBuffer = DefaultSendBuffer
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Streams == nil {
		opts.Streams = new(atomic.Int64)
	}
	s := &Server{
		streams:  opts.Streams,
		opts:     opts,
		hosts:    ownHosts(opts.Addr, opts.AllowedHosts),
		served:   map[string]bool{},
		log:      opts.Logger,
		registry: prometheus.NewRegistry(),
		// With AuthKubernetes only its wrong-token limiter is used.
		auth: newAuthn(opts.Token),
	}
	if opts.Auth == AuthKubernetes {
		s.kube = newKubeAuth(opts.Client, opts.Impersonate)
	}
	s.stopCtx, s.stopAll = context.WithCancel(context.Background())
	for _, ns := range opts.Namespaces {
		s.served[ns] = true
	}
	s.metrics = newMetrics(s.registry, opts.Hub)
	for _, c := range opts.Collectors {
		if err := s.registry.Register(c); err != nil {
			return nil, fmt.Errorf("server: registering a collector: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

// Handler is the server's whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves on ln until ctx ends, then shuts down gracefully within
// shutdownTimeout: /readyz fails and new streams are refused (for
// Options.ShutdownDelay while the listener stays open, so a health check can
// see it), then the listener closes, every stream gets a last event telling
// its client to reconnect, and requests in flight finish. Connections still
// open after the timeout are closed.
func (s *Server) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	return serve(ctx, ln, shutdownTimeout, s.handler, []*Server{s})
}

// serve serves handler on ln until ctx ends, then shuts down every one of
// servers (the first one's options and logger apply) as Server.Serve says.
func serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration, handler http.Handler, servers []*Server) error {
	first := servers[0]
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: it would cut every stream. Each write to a stream
		// has its own deadline instead (Options.WriteTimeout).
		ErrorLog: slog.NewLogLogger(first.log.Handler(), slog.LevelWarn),
	}
	// Shutdown closes the listeners, then calls these: the streams end only
	// once no new one can start.
	for _, s := range servers {
		srv.RegisterOnShutdown(s.stopAll)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(&smallSendBuffer{Listener: ln, size: first.opts.SendBuffer}) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	for _, s := range servers {
		s.draining.Store(true)
	}
	first.log.Info("shutting down", "timeout", shutdownTimeout, "delay", first.opts.ShutdownDelay)
	deadline := time.Now().Add(shutdownTimeout)
	if d := min(first.opts.ShutdownDelay, shutdownTimeout/2); d > 0 {
		select {
		case <-time.After(d):
		case err := <-served:
			return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
		}
	}
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		first.log.Warn("shutdown timed out; closing the connections left", "error", err)
		_ = srv.Close()
	}
	// Shutdown does not wait for the streams that left net/http's
	// connections (hijacked); they end with their reconnect event, as
	// stopAll told them.
	for _, s := range servers {
		if !s.hijacked.shutdown(sctx) {
			first.log.Warn("shutdown timed out; closed the streams left")
		}
	}
	<-served // http.ErrServerClosed
	first.log.Info("stopped")
	return nil
}

// smallSendBuffer sets the kernel send buffer of every accepted TCP
// connection (see Options.SendBuffer).
type smallSendBuffer struct {
	net.Listener
	size int
}

func (l *smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(l.size) // best effort: the default only costs memory
	}
	return c, err
}

// ownHosts are the host names that reach this server: the loopback names,
// the allowed ones, the address it is bound to and, bound to every
// interface, the machine's addresses and name. Any other Host header means
// DNS rebinding.
func ownHosts(addr net.Addr, allowed []string) map[string]bool {
	hosts := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	for _, h := range allowed {
		hosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	if ip != nil && !ip.IsUnspecified() {
		hosts[ip.String()] = true
		return hosts
	}
	if ifaces, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifaces {
			if n, ok := a.(*net.IPNet); ok {
				hosts[n.IP.String()] = true
			}
		}
	}
	if name, err := os.Hostname(); err == nil {
		hosts[strings.ToLower(name)] = true
	}
	return hosts
}

// sameOrigin refuses a request whose Host is not one of the server's names
// (DNS rebinding), or whose Origin, when the browser sends one, is not the
// server itself (a cross-site page), or that a browser marks cross-site.
// The Host check ignores the port: a port-forward or proxy may change it,
// and rebinding is about names. The Origin check compares it with the Host
// header, port included: both come from the address the browser shows, and
// another port on the same host is another site's page (another server on
// localhost must not call this API). One cross-site request is let through:
// a top-level navigation to the page (a link from a wiki or a chat), which
// carries no token and whose page holds no data.
func (s *Server) sameOrigin(r *http.Request) *apiError {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if !s.hosts[host] {
		return errorf(http.StatusForbidden, "ForeignHost",
			"host %q is not this server's; open the address serve printed (DNS rebinding is refused)", r.Host)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
			return errorf(http.StatusForbidden, "ForeignOrigin",
				"cross-origin request from %q refused; use the page this server serves", origin)
		}
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" && !pageNavigation(r) {
		return errorf(http.StatusForbidden, "ForeignOrigin", "cross-site request refused; use the page this server serves")
	}
	return nil
}

// pageNavigation reports whether r is a browser opening the page itself:
// a GET of a page path as a top-level navigation.
func pageNavigation(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		!strings.HasPrefix(r.URL.Path, "/api/") &&
		r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") != "iframe"
}

// authorize lets a change through: not read-only, and the token itself
// (authenticate checked it for every API route; a ticket is for reads).
func (s *Server) authorize(r *http.Request) *apiError {
	if s.opts.ReadOnly {
		return errorf(http.StatusForbidden, "ReadOnly", "this server is read-only (--read-only): changes are refused")
	}
	if !hasBearer(r) {
		return errorf(http.StatusUnauthorized, "Unauthorized",
			"changes need the header 'Authorization: Bearer <token>'; open the URL serve printed, which carries the token")
	}
	return nil
}

// serves reports whether namespace ns may be served.
func (s *Server) serves(ns string) *apiError {
	if len(s.served) == 0 || s.served[ns] {
		return nil
	}
	names := slices.Sorted(maps.Keys(s.served))
	return errorf(http.StatusForbidden, "NamespaceNotServed",
		"namespace %q is not served; this server serves only %s (--namespaces)", ns, strings.Join(names, ", "))
}
