package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// Defaults of Options.
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultRetry        = 2 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultMaxBodyBytes = 64 << 10
	DefaultSendBuffer   = 64 << 10
	// DefaultMaxStreamLife: 30 to 60 minutes, as the API server's watches.
	DefaultMaxStreamLife = 30 * time.Minute
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
	// reading is dropped instead of holding its stream forever (the stream
	// as a whole ends after MaxStreamLife). A write gets at least WriteTimeout and at
	// most twice that: the deadline is re-armed only when it comes closer
	// than WriteTimeout, not before every write.
	WriteTimeout time.Duration
	// MaxStreamLife bounds a stream's life: each ends after MaxStreamLife
	// to twice that (at random), with a reconnect event, so that its
	// client comes back, resumes where it was, and is checked afresh.
	MaxStreamLife time.Duration
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
	// MaxConns bounds the connections net/http holds at once, streams
	// excepted (MaxStreams); ProbeConns more serve a probe or a stream
	// each. 0: no bound.
	MaxConns int
	// TrustedProxies are the addresses of proxies (an Ingress, a
	// port-forward) whose X-Forwarded-For names the client, for the
	// wrong-token budget; nil trusts none.
	TrustedProxies []netip.Prefix
	// Logger gets structured logs; nil discards them.
	Logger *slog.Logger
	// LogRequests logs every request at INFO. Without it requests are
	// logged at DEBUG, except those that failed on the server's side
	// (5xx), so the log keeps what needs attention (and the page's URL
	// stays in sight).
	LogRequests bool
	// Version is reported by /api/info.
	Version string
	// Collectors are further metrics for /metrics (e.g. the notifier's);
	// with several contexts, labelled with this one's name.
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
	hosts    map[string]bool // host names (no port) that are this server's (origin.go)
	served   map[string]bool // Options.Namespaces as a set; empty serves all
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics
	handler  http.Handler

	// Authentication (auth.go, access.go, package auth).
	token  *auth.Token  // AuthToken; nil with AuthKubernetes
	kube   *auth.Kube   // AuthKubernetes; nil with AuthToken
	budget *auth.Budget // wrong tokens, in both modes; the contexts share one

	// Answers shared by the clients that ask together (shared.go).
	checks nsChecks                  // namespace checks (nscheck.go)
	nsList keptCalls[*namespaceList] // GET /api/namespaces, for nsListTTL
	perms  keptCalls[Permissions]    // GET .../permissions, per namespace, for permissionsTTL
	ready  keptCalls[struct{}]       // /readyz: one question to the API server per readyTTL
	// /readyz: whether the identity may list Deployments, per canReadTTL
	canRead keptCalls[struct{}]
	lists   listCache // each namespace's encoded list, per state (deployments.go)

	// Streams and shutdown (stream.go, hijack.go, serve.go).
	draining atomic.Bool     // readiness fails from the start of shutdown
	stopCtx  context.Context // done when streams must end
	stopAll  context.CancelFunc
	streams  *atomic.Int64 // streams open, for MaxStreams
	hijacked streamConns   // streams off net/http, which serve waits for
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
	if opts.MaxStreamLife <= 0 {
		opts.MaxStreamLife = DefaultMaxStreamLife
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
		ready:    keptCalls[struct{}]{ttl: readyTTL, keepFailures: true},
		canRead:  keptCalls[struct{}]{ttl: canReadTTL, keepFailures: true},
		nsList:   keptCalls[*namespaceList]{ttl: nsListTTL},
		perms:    keptCalls[Permissions]{ttl: permissionsTTL, max: maxKeptPermissions},
		budget:   auth.NewBudget(),
	}
	if opts.Auth == AuthKubernetes {
		s.kube = auth.NewKube(opts.Client, opts.Impersonate)
	} else {
		s.token = auth.NewToken(opts.Token)
	}
	s.stopCtx, s.stopAll = context.WithCancel(context.Background())
	for _, ns := range opts.Namespaces {
		s.served[ns] = true
	}
	var err error
	if s.metrics, err = newMetrics(s.registry, opts.Hub, opts.Collectors); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler is the server's whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }
