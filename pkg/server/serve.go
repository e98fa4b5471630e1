package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

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
	conns := newConnCap(first.opts.MaxConns)
	srv := &http.Server{
		Handler:           conns.handler(first, handler),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    MaxHeaderBytes,
		// No WriteTimeout: it would cut every stream. Each response gets a
		// write deadline instead (connCap.handler), which a stream renews
		// before its writes (Options.WriteTimeout).
		ErrorLog:    slog.NewLogLogger(first.log.Handler(), slog.LevelWarn),
		ConnContext: conns.accepted,
		ConnState:   conns.state,
	}
	// Shutdown closes the listeners, then calls these: the streams end only
	// once no new one can start.
	for _, s := range servers {
		srv.RegisterOnShutdown(s.stopAll)
	}

	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(conns.listener(&smallSendBuffer{Listener: ln, size: first.opts.SendBuffer}))
	}()
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
	<-served //nolint:errcheck // http.ErrServerClosed, as Shutdown makes Serve return
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

// MaxHeaderBytes bounds a request's headers (net/http answers 431 beyond):
// at Go's default of 1 MiB, a few hundred connections sending headers cost
// hundreds of MiB.
const MaxHeaderBytes = 32 << 10

// ProbeConns are the connections kept beyond Options.MaxConns for the
// probes (and streams): on them only /healthz, /readyz and streams are
// answered, one request each, so a server whose connections are all taken
// still answers its health checks.
const ProbeConns = 8

// connCap counts the connections net/http holds (a stream's, once it left
// net/http, counts in --max-streams instead) and bounds them, so that
// clients that hold connections without reading cannot take every file
// descriptor. Beyond max, a connection serves one request, and only a
// probe or a stream (which leaves net/http, or is told at once to come
// back later); at max+ProbeConns, no connection is accepted until one
// closes: the next ones wait in the kernel's backlog, holding no
// descriptor of serve's.
type connCap struct {
	max   int           // 0: no bound
	open  atomic.Int64  // connections accepted and not yet closed or hijacked
	slots chan struct{} // one per connection open; nil without a bound
}

type spareConnKey struct{}

func newConnCap(max int) *connCap {
	c := &connCap{max: max}
	if max > 0 {
		c.slots = make(chan struct{}, max+ProbeConns)
	}
	return c
}

// listener waits for a place before each Accept.
func (c *connCap) listener(ln net.Listener) net.Listener {
	if c.slots == nil {
		return ln
	}
	return &capListener{Listener: ln, cap: c, closed: make(chan struct{})}
}

type capListener struct {
	net.Listener
	cap    *connCap
	closed chan struct{}
	once   sync.Once
}

func (l *capListener) Accept() (net.Conn, error) {
	select {
	case l.cap.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	conn, err := l.Listener.Accept()
	if err != nil {
		<-l.cap.slots
	}
	return conn, err
}

func (l *capListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// accepted marks a connection beyond max (http.Server.ConnContext).
func (c *connCap) accepted(ctx context.Context, _ net.Conn) context.Context {
	if n := c.open.Add(1); c.max > 0 && n > int64(c.max) {
		return context.WithValue(ctx, spareConnKey{}, true)
	}
	return ctx
}

// state gives a connection's place back when it closes or a stream takes
// it off net/http (http.Server.ConnState): each connection ends once, in
// one of the two.
func (c *connCap) state(_ net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	c.open.Add(-1)
	select {
	case <-c.slots:
	default: // none taken: no bound
	}
}

// handler gives every response a write deadline, so that a client that
// stops reading (pipelining requests it never reads, say) loses its
// connection within Options.WriteTimeout, and limits a connection beyond
// the cap to one probe or stream.
func (c *connCap) handler(s *Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		if spare, _ := r.Context().Value(spareConnKey{}).(bool); spare {
			w.Header().Set("Connection", "close") // one request: pipelining holds no spare place
			if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && !strings.HasSuffix(r.URL.Path, "/deployments/stream") {
				w.Header().Set("Retry-After", "1")
				// Not writeError: it logs every 5xx, and these come in floods.
				s.writeJSON(w, http.StatusServiceUnavailable, errorf(http.StatusServiceUnavailable, "TooManyConnections",
					"this server has %d connections open, its most (--max-connections); retry later", c.max))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
