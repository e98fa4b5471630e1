package cmd

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/deploywatch/kubectl-deploywatch/pkg/explain"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/kuberequests"
	"github.com/deploywatch/kubectl-deploywatch/pkg/memlimit"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
	"github.com/deploywatch/kubectl-deploywatch/pkg/version"
)

// ServeOptions are the options of `kubectl deploywatch serve`.
type ServeOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Address         string
	AllowedHosts    []string
	Namespaces      []string
	ReadOnly        bool
	TokenFile       string
	Auth            string
	ShutdownTimeout time.Duration
	ShutdownDelay   time.Duration
	Linger          time.Duration
	Heartbeat       time.Duration
	MaxStreamLife   time.Duration
	MaxStreams      int
	MaxConnections  int
	TrustedProxies  []string
	AllContexts     bool
	WatchScope      string
	LogRequests     bool
	notify          notifyOptions

	// Filled in by Complete.
	clients  *clients
	contexts []contextClients // several contexts (--context a,b, --all-contexts); nil for one
	token    string
	requests []*kuberequests.Counter // each context's clients' requests to its API server, for /metrics
}

// NewServeOptions returns ServeOptions with defaults.
func NewServeOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *ServeOptions {
	return &ServeOptions{
		configFlags: configFlags, IOStreams: streams,
		Address:         "127.0.0.1:8080",
		Auth:            server.AuthToken,
		ShutdownTimeout: 10 * time.Second,
		Linger:          hub.DefaultLinger,
		Heartbeat:       server.DefaultHeartbeat,
		MaxStreamLife:   server.DefaultMaxStreamLife,
		WatchScope:      server.ScopeAuto,
		notify:          newNotifyOptions(),
	}
}

// NewCmdServe builds `kubectl deploywatch serve`.
func NewCmdServe(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewServeOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a live web view of Deployments",
		Long: `Serve a web page that shows the Deployments of every namespace live, and lets
you change their replicas and images, acting with your kubeconfig's identity.

Every open page shares the watches: one of all namespaces when serve's identity
may list and watch cluster-wide (see --watch-scope), else one per viewed namespace.
With --context a,b or --all-contexts it serves several clusters, each under
/api/contexts/NAME/. The server listens on loopback by default; every API
request, reads included, needs the token printed with the URL (or the one in
--token-file, or with --auth=kubernetes the user's own Kubernetes token), and
--read-only refuses all changes. Stop it with Ctrl-C or SIGTERM: it shuts down
gracefully within --shutdown-timeout.`,
		Example: `  # Serve on http://127.0.0.1:8080 and open the printed URL
  kubectl deploywatch serve

  # Two clusters of the kubeconfig on one page
  kubectl deploywatch serve --context staging,prod

  # Any free port, two namespaces, no changes allowed
  kubectl deploywatch serve --address 127.0.0.1:0 --namespaces shop,bank --read-only

  # Also post to Slack when a rollout fails or recovers (one replica of several sends)
  kubectl deploywatch serve --notify-webhook https://hooks.slack.com/services/T0/B0/XXXX --notify-format slack`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("serve takes no arguments, got %q; to serve only some namespaces use --namespaces %s", args, strings.Join(args, ","))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return run(cmd, args, o) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Address, "address", o.Address, "address to listen on, HOST:PORT; port 0 picks a free one. Anything but loopback exposes the page to the network")
	fs.StringSliceVar(&o.AllowedHosts, "allowed-hosts", o.AllowedHosts, "further host names that may reach the server (comma-separated), e.g. its Service's DNS name or an Ingress host; other Host headers are refused (DNS rebinding)")
	fs.StringSliceVar(&o.Namespaces, "namespaces", o.Namespaces, "serve only these namespaces (comma-separated); others are refused with 403")
	fs.BoolVar(&o.ReadOnly, "read-only", o.ReadOnly, "refuse every change (scale, image) with 403")
	fs.StringVar(&o.Auth, "auth", o.Auth, "who may use the API: token (one shared token; everyone acts as serve's identity) or kubernetes (each user sends their own Kubernetes token, checked with a TokenReview; reads and changes are authorized per user with SubjectAccessReviews and changes are made impersonating the user)")
	fs.StringVar(&o.TokenFile, "token-file", o.TokenFile, "file holding the token every API request needs (at least 32 random bytes, e.g. openssl rand -hex 32); without it a random token is made and printed")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "how long a graceful shutdown may take before connections are cut")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay", o.ShutdownDelay, "on SIGTERM, keep serving this long with /readyz failing before closing the listener, for load balancers that drain by health check; part of --shutdown-timeout, at most half of it")
	fs.DurationVar(&o.Linger, "linger", o.Linger, "how long a namespace's watch keeps running after its last viewer left (the cluster-wide watch: after the last viewer of any namespace); 0 stops it at once")
	fs.StringVar(&o.WatchScope, "watch-scope", o.WatchScope, "how the Deployments (and the diagnosis's ReplicaSets, Pods and Events) are watched: cluster (one watch per resource for all namespaces, whatever the number viewed; refuses to start if this identity may not list and watch them cluster-wide), namespace (one watch per resource and viewed namespace) or auto (cluster when the identity may and --namespaces is not set, else namespace), decided at start; serve exits if the watch of all namespaces loses a right it needs, so that it starts again per namespace")
	fs.IntVar(&o.MaxStreams, "max-streams", o.MaxStreams, "most event streams open at once; more are told to reconnect later. 0 takes it from the limits: open files less 128 kept for probes and the API server, and half the cgroup memory limit at 64 KiB a stream")
	fs.IntVar(&o.MaxConnections, "max-connections", o.MaxConnections, "most connections open at once that are not event streams (page, API, probes); beyond, 8 more serve one request each, a probe or a stream, and further ones wait in the backlog. 0 takes it from the open-file limit: what --max-streams and 40 kept for probes and the API server leave, at most 1024")
	fs.StringSliceVar(&o.TrustedProxies, "trusted-proxies", o.TrustedProxies, "proxies (CIDRs or addresses, comma-separated) in front of serve, e.g. an Ingress controller's pods or 127.0.0.1 for kubectl port-forward: a request from one is counted, for the wrong-token budget, as from the rightmost address in X-Forwarded-For that is not a trusted proxy. Without it, every client behind a proxy shares one budget")
	fs.BoolVar(&o.LogRequests, "log-requests", o.LogRequests, "log every request to stderr (method, path, status, duration, client); without it a request is logged only when it changes something, is refused for its Host or Origin, or fails on the server's side")
	fs.DurationVar(&o.Heartbeat, "heartbeat", o.Heartbeat, "idle time after which a stream gets a keep-alive comment")
	_ = fs.MarkHidden("heartbeat") // for tests; 15s suits every proxy
	fs.DurationVar(&o.MaxStreamLife, "max-stream-life", o.MaxStreamLife, "each event stream ends after this to twice this (at random), as the API server's watches do, with a reconnect event: its client comes back, resumes where it was and is checked afresh")
	fs.BoolVar(&o.AllContexts, "all-contexts", o.AllContexts, "serve every context of the kubeconfig (see --context a,b): each context's API is under /api/contexts/NAME/, the first context's also under /api/")
	o.notify.addFlags(cmd)
	return cmd
}

// Complete builds the clients and reads the token file.
func (o *ServeOptions) Complete(cmd *cobra.Command, args []string) error {
	if v, capped := capKlogV(serveKlogMaxV); capped {
		fmt.Fprintf(o.ErrOut, "warning: DEPLOYWATCH_KLOG_V=%d lowered to %d in serve: from 8, client-go logs request bodies, and a TokenReview's holds a user's token\n", v, serveKlogMaxV)
	}
	var err error
	if o.contexts, err = severalContexts(o.configFlags, o.AllContexts); err != nil {
		return err
	}
	var c *clients
	if o.contexts != nil {
		c = o.contexts[0].clients
	} else if c, err = newClients(o.configFlags); err != nil {
		return err
	}
	o.clients = c
	// Every client serve makes comes from these: informers, checks,
	// reviews, the notifier's and the impersonating ones all count, each
	// context's on its own.
	counted := []*clients{c}
	if o.contexts != nil {
		counted = counted[:0]
		for _, cc := range o.contexts {
			counted = append(counted, cc.clients)
		}
	}
	for _, cc := range counted {
		counter := kuberequests.New()
		if err := countRequests(cc, counter); err != nil {
			return err
		}
		o.requests = append(o.requests, counter)
	}
	o.notify.complete(cmd, c.Namespace)
	if o.TokenFile != "" && o.Auth != server.AuthKubernetes { // Validate refuses the pair
		b, err := os.ReadFile(o.TokenFile)
		if err != nil {
			return fmt.Errorf("cannot read --token-file: %w; check the path, or drop the flag to get a random token", err)
		}
		o.token = strings.TrimSpace(string(b))
		if err := checkToken(o.token); err != nil {
			return fmt.Errorf("--token-file %s %w: make a strong one with 'openssl rand -hex 32 > %s', or drop the flag to get a random one", o.TokenFile, err, o.TokenFile)
		}
	}
	return nil
}

// Weak tokens are refused: anyone who can reach the server could guess one.
const (
	minTokenBytes = 32
	minTokenBits  = 96
)

// checkToken refuses a token that is short or predictable: by the
// frequency of its characters (a coarse upper bound of its randomness)
// in its shortest repeating unit, since a token that repeats a shorter one
// is no stronger than that one ('openssl rand -hex 32' gives about 250 bits
// by this measure; -hex 16 about 115, though now and then under 96; a
// word repeated to 32 characters and 0123456789abcdef twice under 90), or
// when most of it runs through
// consecutive characters (abcdef..., 0123..., 9876...): a random hex token
// has such a step one time in eight.
func checkToken(token string) error {
	if len(token) < minTokenBytes {
		if token == "" {
			return errors.New("is empty")
		}
		return fmt.Errorf("holds a token of %d bytes, fewer than %d", len(token), minTokenBytes)
	}
	if bits := tokenBits(token[:period(token)]); bits < minTokenBits {
		return fmt.Errorf("holds a predictable token (about %.0f bits by its characters' frequencies and repeats, fewer than %d)", bits, minTokenBits)
	}
	if steps := consecutiveSteps(token); steps*2 > len(token) {
		return fmt.Errorf("holds a predictable token (%d of its %d characters follow the one before, as in abcd or 0123)", steps, len(token))
	}
	return nil
}

// period is the length of the shortest unit that token repeats (the
// last repeat may be cut short); len(token) when it repeats none.
func period(token string) int {
	for p := 1; p <= len(token)/2; p++ {
		if token[p:] == token[:len(token)-p] {
			return p
		}
	}
	return len(token)
}

// consecutiveSteps counts the characters one above or below the one before.
func consecutiveSteps(token string) int {
	n := 0
	for i := 1; i < len(token); i++ {
		if d := int(token[i]) - int(token[i-1]); d == 1 || d == -1 {
			n++
		}
	}
	return n
}

// tokenBits is the Shannon entropy of the token's bytes times its length.
func tokenBits(token string) float64 {
	var counts [256]int
	for i := 0; i < len(token); i++ {
		counts[token[i]]++
	}
	n := float64(len(token))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h * n
}

// Validate reports every problem with the flags at once.
func (o *ServeOptions) Validate() error {
	var problems []string
	if _, port, err := net.SplitHostPort(o.Address); err != nil {
		problems = append(problems, fmt.Sprintf("invalid --address %q: use HOST:PORT, e.g. 127.0.0.1:8080", o.Address))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		problems = append(problems, fmt.Sprintf("invalid port in --address %q: use a number from 0 (any free port) to 65535", o.Address))
	}
	for _, ns := range o.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("invalid namespace %q in --namespaces: %s", ns, errs[0]))
		}
	}
	for _, h := range o.AllowedHosts {
		if strings.ContainsAny(h, "/:@ ") && net.ParseIP(strings.Trim(h, "[]")) == nil || h == "" {
			problems = append(problems, fmt.Sprintf("invalid host %q in --allowed-hosts: give a bare host name or IP, e.g. deploywatch.example.com (no scheme, port or path)", h))
		}
	}
	if o.ShutdownTimeout <= 0 {
		problems = append(problems, fmt.Sprintf("--shutdown-timeout must be positive, got %s", o.ShutdownTimeout))
	}
	if o.ShutdownDelay < 0 || (o.ShutdownTimeout > 0 && o.ShutdownDelay >= o.ShutdownTimeout) {
		problems = append(problems, fmt.Sprintf("--shutdown-delay %s must be at least 0 and less than --shutdown-timeout %s, which it is part of", o.ShutdownDelay, o.ShutdownTimeout))
	}
	if o.Linger < 0 {
		problems = append(problems, fmt.Sprintf("--linger must not be negative, got %s", o.Linger))
	}
	for _, p := range o.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			problems = append(problems, fmt.Sprintf("invalid address %q in --trusted-proxies: give CIDRs or addresses, e.g. 10.0.0.0/8,127.0.0.1", p))
		}
	}
	if o.MaxConnections < 0 {
		problems = append(problems, fmt.Sprintf("--max-connections must not be negative, got %d; 0 takes it from the limits", o.MaxConnections))
	}
	if o.MaxStreams < 0 {
		problems = append(problems, fmt.Sprintf("--max-streams must not be negative, got %d; 0 takes it from the limits", o.MaxStreams))
	}
	switch o.WatchScope {
	case server.ScopeAuto, server.ScopeCluster, server.ScopeNamespace:
	default:
		problems = append(problems, fmt.Sprintf("invalid --watch-scope %q: use auto, cluster or namespace", o.WatchScope))
	}
	if o.Heartbeat <= 0 {
		problems = append(problems, fmt.Sprintf("--heartbeat must be positive, got %s", o.Heartbeat))
	}
	if o.MaxStreamLife <= 0 {
		problems = append(problems, fmt.Sprintf("--max-stream-life must be positive, got %s; e.g. --max-stream-life=30m", o.MaxStreamLife))
	}
	switch o.Auth {
	case server.AuthToken:
	case server.AuthKubernetes:
		if o.TokenFile != "" {
			problems = append(problems, "--token-file is for --auth=token; with --auth=kubernetes every user sends their own Kubernetes token: drop --token-file")
		}
	default:
		problems = append(problems, fmt.Sprintf("invalid --auth %q: use token or kubernetes", o.Auth))
	}
	problems = append(problems, o.notify.validate()...)
	if o.AllContexts && o.configFlags != nil && o.configFlags.Context != nil && *o.configFlags.Context != "" {
		problems = append(problems, "--all-contexts and --context exclude each other; use one of them")
	}
	if o.contexts != nil {
		if o.Auth == server.AuthKubernetes {
			problems = append(problems, "--auth=kubernetes serves one context: a user's Kubernetes token belongs to one cluster; give one --context, or use --auth=token")
		}
		if len(o.notify.Webhooks) > 0 {
			problems = append(problems, "--notify-webhook watches one context: give one --context, or run one serve per context for notifications")
		}
		for _, f := range perContextFlags(o.configFlags) {
			problems = append(problems, fmt.Sprintf("--%s applies to one context, and several are served, each with its own from the kubeconfig: drop --%s, or serve one context", f, f))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Run listens, prints the URL and serves until the command's context ends
// (SIGINT, SIGTERM), then shuts down gracefully.
func (o *ServeOptions) Run(ctx context.Context) error {
	ln, err := net.Listen(listenNetwork(o.Address), o.Address)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w; pick another address with --address, e.g. --address 127.0.0.1:0", o.Address, err)
	}
	defer ln.Close()
	if err := o.checkAPIServers(ctx, ln.Addr()); err != nil {
		return err
	}
	if o.token == "" && o.Auth == server.AuthToken {
		o.token = randomToken()
	}
	log := slog.New(slog.NewTextHandler(o.ErrOut, nil))
	notifier, waitNotifier, err := o.notify.start(ctx, o.clients, log)
	if err != nil {
		return err
	}
	defer waitNotifier() // after ctx ended: the Lease is released by then
	var collectors []prometheus.Collector
	if notifier != nil {
		collectors = notifier.Collectors()
	}
	// Said in the log and /metrics before an OOM kill would end serve.
	limit, limitFrom := memlimit.Limit(memoryLimit())
	memory := memlimit.New(limit, limitFrom, memlimit.InUse, log)
	collectors = append(collectors, memory.Collectors()...)
	memoryCtx, stopMemory := context.WithCancel(ctx)
	memoryDone := make(chan struct{})
	go func() { defer close(memoryDone); memory.Run(memoryCtx) }()
	defer func() { stopMemory(); <-memoryDone }()
	maxStreams := o.MaxStreams
	if maxStreams == 0 {
		maxStreams = defaultMaxStreams(fileLimit(), memoryLimit())
	}
	maxConns := o.MaxConnections
	if maxConns == 0 {
		maxConns = defaultMaxConns(fileLimit(), maxStreams)
	}
	var proxies []netip.Prefix
	for _, p := range o.TrustedProxies {
		prefix, _ := parsePrefix(p) // Validate checked them
		proxies = append(proxies, prefix)
	}
	contexts := o.contexts
	if contexts == nil {
		contexts = []contextClients{{clients: o.clients}}
	}
	var names []string
	for _, c := range contexts {
		if c.Name != "" {
			names = append(names, c.Name)
		}
	}
	// A context whose identity loses the rights of its watch of all
	// namespaces ends serve (serve_scope.go).
	ctx, endServe := context.WithCancelCause(ctx)
	defer endServe(nil)
	var streams atomic.Int64 // --max-streams bounds every context's together
	servers := make([]*server.Server, 0, len(contexts))
	for i, c := range contexts {
		clog := log
		if c.Name != "" {
			clog = log.With("context", c.Name)
		}
		scope, err := o.clusterWide(ctx, c.Kube, clog)
		if err != nil {
			return err
		}
		var guard *scopeGuard
		if scope != nil {
			guard = newScopeGuard(c.Kube.AuthorizationV1(), o.WatchScope, c.Name, clog, endServe)
			go guard.run(ctx)
		}
		h := hub.New(c.Kube.AppsV1(), hub.Options{
			ClusterWide: scope,
			Linger:      o.Linger,
			Frame:       server.Frame[hub.Kind], // each event framed once for every stream
			OnError: func(ns string, err error) {
				clog.Warn("lost the watch, retrying", "namespace", ns, "error", oneLine(err.Error()))
				guard.watchFailed(ns, err)
			},
			Diagnose: tracker.DiagnoseWith(c.Kube),
			OnDiagnosisOff: func(ns string, err error) {
				clog.Warn("not diagnosing rollouts", "namespace", ns, "error", oneLine(err.Error()))
			},
			OnServingOff: func(ns string, err error) {
				clog.Warn("serving unknown: cannot read what the Services serve", "namespace", ns, "error", oneLine(err.Error()))
			},
			// StatefulSets and DaemonSets beside Deployments, each where
			// the identity may list them.
			Workloads: c.Kube.AppsV1(),
			OnKindOff: func(ns, kind string, err error) {
				resource := strings.ToLower(kind) + "s"
				clog.Warn("not showing "+resource+": cannot list them", "namespace", ns, "error", oneLine(err.Error()),
					"fix", "ask for list and watch on "+resource)
			},
		})
		defer h.Close()
		opts := server.Options{
			Client:           c.Kube,
			Hub:              h,
			Auth:             o.Auth,
			Token:            o.token,
			Impersonate:      impersonator(c.Config),
			ReadOnly:         o.ReadOnly,
			Namespaces:       o.Namespaces,
			DefaultNamespace: c.Namespace,
			Addr:             ln.Addr(),
			AllowedHosts:     o.AllowedHosts,
			Heartbeat:        o.Heartbeat,
			MaxStreamLife:    o.MaxStreamLife,
			ShutdownDelay:    o.ShutdownDelay,
			MaxStreams:       maxStreams,
			MaxConns:         maxConns,
			TrustedProxies:   proxies,
			Logger:           clog,
			LogRequests:      o.LogRequests,
			Version:          version.Version,
			Contexts:         names,
			Streams:          &streams,
		}
		// With several contexts, /metrics labels each one's by its name.
		opts.Collectors = []prometheus.Collector{o.requests[i].Collector()}
		if i == 0 { // the notifier's: one context only
			opts.Collectors = append(opts.Collectors, collectors...)
		}
		srv, err := server.New(opts)
		if err != nil {
			return err
		}
		servers = append(servers, srv)
	}
	if !isLoopback(ln.Addr()) && o.Auth == server.AuthToken {
		fmt.Fprintf(o.ErrOut, "warning: listening on %s (%s), beyond loopback: anyone who can reach it and has the token can read what your kubeconfig can read\n", ln.Addr(), listensOn(ln.Addr()))
	}
	fmt.Fprintf(o.Out, "Serving Deployments on %s\n", o.pageURL(ln.Addr()))
	if names == nil {
		log.Info("serving", "address", ln.Addr().String(), "auth", o.Auth, "readOnly", o.ReadOnly, "namespaces", o.Namespaces, "cluster", o.clients.Config.Host, "maxStreams", maxStreams, "maxConnections", maxConns)
		return cmp.Or(servers[0].Serve(ctx, ln, o.ShutdownTimeout), scopeLost(ctx))
	}
	all, err := server.NewContexts(names, servers)
	if err != nil {
		return err
	}
	log.Info("serving", "address", ln.Addr().String(), "auth", o.Auth, "readOnly", o.ReadOnly, "namespaces", o.Namespaces, "contexts", names, "maxStreams", maxStreams, "maxConnections", maxConns)
	return cmp.Or(all.Serve(ctx, ln, o.ShutdownTimeout), scopeLost(ctx))
}

// checkAPIServers runs checkAPIServer for each served context.
func (o *ServeOptions) checkAPIServers(ctx context.Context, listening net.Addr) error {
	if o.contexts == nil {
		return checkAPIServer(ctx, o.clients, listening, o.Address)
	}
	for _, c := range o.contexts {
		if err := checkAPIServer(ctx, c.clients, listening, o.Address); err != nil {
			return fmt.Errorf("context %q: %w", c.Name, err)
		}
	}
	return nil
}

// clusterWide decides --watch-scope for one context: the hub's ClusterWide,
// or nil for a watch per namespace.
func (o *ServeOptions) clusterWide(ctx context.Context, kube kubernetes.Interface, log *slog.Logger) (*hub.ClusterWide, error) {
	if o.WatchScope == server.ScopeNamespace || (o.WatchScope == server.ScopeAuto && len(o.Namespaces) > 0) {
		log.Info("watching each viewed namespace on its own", "watchScope", o.WatchScope)
		return nil, nil
	}
	may, err := server.CheckClusterWatch(ctx, kube.AuthorizationV1(), true)
	if err != nil && !apierrors.IsForbidden(err) {
		// Not a refusal: a scope chosen now from a failed question would
		// stay for serve's life.
		return nil, fmt.Errorf("--watch-scope=%s: %w; try again, or choose with --watch-scope=namespace", o.WatchScope, err)
	}
	if err == nil && len(may.Missing) == 0 {
		cw := &hub.ClusterWide{}
		if may.Namespaces {
			cw.Namespaces = kube.CoreV1()
		}
		log.Info("watching all namespaces at once", "watchScope", o.WatchScope, "namespaceList", may.Namespaces)
		return cw, nil
	}
	why := err
	if err == nil {
		why = fmt.Errorf("this identity may not %s in all namespaces", strings.Join(may.Missing, ", "))
	}
	if o.WatchScope == server.ScopeCluster {
		return nil, fmt.Errorf("--watch-scope=cluster: %w; grant it (see deploy/), or use --watch-scope=auto to watch per namespace", why)
	}
	log.Info("watching each viewed namespace on its own", "watchScope", o.WatchScope, "reason", oneLine(why.Error()))
	return nil, nil
}

// pageURL is the address to open: on loopback when bound to every
// interface, with the token in the fragment, which browsers do not send. A
// token from a file is never printed (the output may be a pod's log): the
// URL says where it is instead.
func (o *ServeOptions) pageURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	host := addr.String()
	if ok {
		ip := tcp.IP
		if ip.IsUnspecified() {
			ip = net.IPv4(127, 0, 0, 1)
		}
		host = net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
	}
	u := "http://" + host + "/"
	// With -n (one context), the link opens that namespace's page; the
	// page takes the token out of the address and keeps the view.
	view, token := "", "#token="
	if o.contexts == nil && o.clients != nil && o.clients.ExplicitNamespace {
		view = "#/ns/" + url.PathEscape(o.clients.Namespace)
		token = "?token="
	}
	if o.Auth == server.AuthKubernetes {
		return u + view + " (sign in with your own Kubernetes token, e.g. from 'kubectl create token')"
	}
	if o.TokenFile != "" {
		return u + view + " (token from " + o.TokenFile + "; add " + token + "<it> to the address)"
	}
	return u + view + token + url.QueryEscape(o.token)
}

// listenNetwork keeps an IPv4 address to IPv4: Go would listen on every
// IPv6 address too for 0.0.0.0, which the user did not name.
func listenNetwork(address string) string {
	host, _, err := net.SplitHostPort(address)
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.To4() != nil {
		return "tcp4"
	}
	return "tcp"
}

// listensOn says in words which addresses a listener covers.
func listensOn(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	switch {
	case !ok:
		return addr.String()
	case tcp.IP.Equal(net.IPv4zero):
		return "every IPv4 address of this machine, no IPv6; --address [::]:PORT adds IPv6"
	case tcp.IP.Equal(net.IPv6unspecified):
		return "every address of this machine, IPv6 and IPv4"
	}
	return "this address only"
}

// Figures for the default --max-streams.
const (
	// reservedFiles are kept for what is not a stream: probes, the page,
	// the API server's connections, the notifier.
	reservedFiles = 128
	// streamBytes is a stream's cost with room to spare (about 24 KiB
	// measured: buffers, a goroutine, its queue).
	streamBytes = 64 << 10
	// noLimitStreams is the bound when neither limit is known.
	noLimitStreams = 10000
)

// defaultMaxStreams bounds the streams so that the probes still get a file
// descriptor (openFiles, 0 if unknown) and half the memory limit (bytes, 0
// if none) is never passed by streams alone.
func defaultMaxStreams(openFiles uint64, memory int64) int {
	n := noLimitStreams
	if openFiles > 0 {
		byFiles := int(openFiles) - reservedFiles
		if openFiles < 2*reservedFiles {
			byFiles = int(openFiles) / 2
		}
		n = min(n, byFiles)
	}
	if memory > 0 {
		n = min(n, int(memory/2/streamBytes))
	}
	return max(n, 1)
}

// parsePrefix reads a CIDR, or an address as a prefix of itself alone.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// serveKlogMaxV caps client-go's logging in serve (DEPLOYWATCH_KLOG_V): from
// 8 it logs request bodies, and with --auth=kubernetes a TokenReview's body
// is a user's token. At 7, headers are logged with Authorization masked.
const serveKlogMaxV = 7

// capKlogV lowers klog's verbosity to max; it returns the verbosity found
// and whether it was above.
func capKlogV(max int) (int, bool) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	v, err := strconv.Atoi(fs.Lookup("v").Value.String())
	if err != nil || v <= max {
		return v, false
	}
	_ = fs.Set("v", strconv.Itoa(max))
	return v, true
}

// Figures for the default --max-connections.
const (
	// otherFiles are kept beyond the streams and the connections: the
	// probes' places (server.ProbeConns), the API server's connections,
	// the listener, the log.
	otherFiles = 32 + server.ProbeConns
	// noLimitConns bounds the connections when the file limit is not known
	// or high; each costs tens of KiB while it sends its headers.
	noLimitConns = 1024
)

// defaultMaxConns bounds the connections that are not streams so that,
// with every stream open as well, descriptors are left for the probes.
func defaultMaxConns(openFiles uint64, maxStreams int) int {
	n := noLimitConns
	if openFiles > 0 {
		n = min(n, int(openFiles)-maxStreams-otherFiles)
	}
	return max(n, 1)
}

// memoryLimit is the cgroup's memory limit in bytes, 0 if none is known.
func memoryLimit() int64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && n < 1<<50 { // cgroup v1 says "no limit" with a huge number
			return n
		}
		return 0
	}
	return 0
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// randomToken makes 256 random bits, URL-safe.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// countRequests rebuilds c's clients so that each request they send to the
// API server is counted by counter.
func countRequests(c *clients, counter *kuberequests.Counter) error {
	config := rest.CopyConfig(c.Config)
	counter.Instrument(config)
	kube, err := kubernetes.NewForConfig(config)
	if err != nil {
		return explain.Config(err)
	}
	c.Config, c.Kube = config, kube
	return nil
}

// impersonator makes clients that act as a user with serve's credentials
// and Impersonate-* headers (--auth=kubernetes): the API server authorizes
// and audits the user. Clients share the transport of config, which
// client-go caches by TLS settings.
func impersonator(config *rest.Config) func(authenticationv1.UserInfo) (kubernetes.Interface, error) {
	return func(u authenticationv1.UserInfo) (kubernetes.Interface, error) {
		c := rest.CopyConfig(config)
		c.Impersonate = rest.ImpersonationConfig{UserName: u.Username, UID: u.UID, Groups: u.Groups}
		if len(u.Extra) > 0 {
			c.Impersonate.Extra = make(map[string][]string, len(u.Extra))
			for k, v := range u.Extra {
				c.Impersonate.Extra[k] = v
			}
		}
		return kubernetes.NewForConfig(c)
	}
}
