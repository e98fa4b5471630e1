package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
