package server

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// canHijack reports whether the stream can leave net/http's connection:
// HTTP/1 on a connection that can be hijacked (not HTTP/2, not a test's
// recorder).
func canHijack(w http.ResponseWriter, r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	for {
		switch t := w.(type) {
		case http.Hijacker:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return false
		}
	}
}

// hijack takes st's connection off net/http and follows the stream in a
// goroutine of its own, so that net/http's connection goroutine, its
// buffers and its background read end with the handler: at 10,000 streams
// they were most of serve's memory. It reports false when the connection
// stayed net/http's, to be followed there.
func (s *Server) hijack(w http.ResponseWriter, st *follower) bool {
	if !s.hijacked.add() {
		return false
	}
	conn, _, err := http.NewResponseController(w).Hijack() // flushes the headers
	if err != nil {
		s.hijacked.done(nil)
		return false
	}
	// The bufio.ReadWriter is dropped: what a client sends after its
	// request is not read, and the buffers go with the handler.
	ctx, cancel := context.WithCancel(s.stopCtx) // a sweep (reap) may end it
	s.hijacked.track(conn, cancel)
	st.out = newConnWriter(conn, s.opts.WriteTimeout)
	st.ctx = ctx
	go func() {
		defer s.hijacked.done(conn)
		defer cancel()
		defer conn.Close()
		s.follow(st)
	}()
	return true
}

// streamConns are the connections a Server's streams took off net/http
// (hijacked): http.Server.Shutdown no longer tracks them, so serve waits
// for them itself, and closes what is left when its time is up.
type streamConns struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]*hijackedStream
	closed bool // shutdown began: no stream is added, and at its end those left are closed
	cut    bool // the time is up: closed at once

	// One sweep for dead streams at a time (reap); the callers that waited
	// for it use its result instead of sweeping again.
	reapMu   sync.Mutex
	reapGen  uint64 // sweeps done; guarded by mu
	lastReap time.Time
}

// hijackedStream is what a sweep needs to end a stream whose client left.
type hijackedStream struct {
	cancel context.CancelFunc // ends the stream's context: its Wait returns
	ended  chan struct{}      // closed when its goroutine has given its place back
}

// add reserves a place for a stream about to be hijacked; false once the
// shutdown began (the stream stays net/http's).
func (c *streamConns) add() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// track records the hijacked conn of a place added, and cancel, which
// ends its stream.
func (c *streamConns) track(conn net.Conn, cancel context.CancelFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		_ = conn.Close() // its stream ends at its first write
		return
	}
	if c.conns == nil {
		c.conns = map[net.Conn]*hijackedStream{}
	}
	c.conns[conn] = &hijackedStream{cancel: cancel, ended: make(chan struct{})}
}

// done gives back a place added, and conn's (nil if never tracked). The
// stream's place in MaxStreams is given back before.
func (c *streamConns) done(conn net.Conn) {
	c.mu.Lock()
	if hs := c.conns[conn]; hs != nil {
		close(hs.ended)
		delete(c.conns, conn)
	}
	c.mu.Unlock()
	c.wg.Done()
}

// reapEvery bounds how often a full server sweeps for streams whose client
// left: a sweep looks at every connection, one system call each.
const reapEvery = 100 * time.Millisecond

// reap ends the streams whose client left (closed reports it) and waits
// until they have given their places back; it returns how many ended.
// Without it, such a stream holds its place until its next heartbeat (the
// look of sseWriter.gone): when every client reconnects at once (a network
// blip), the old streams would fill --max-streams and the new ones be told
// to come back later, again and again, for up to a heartbeat. Callers that
// arrive during a sweep wait for it and take its result; a sweep runs at
// most every reapEvery.
func (c *streamConns) reap(closed func(net.Conn) bool) int {
	c.mu.Lock()
	gen := c.reapGen
	c.mu.Unlock()
	c.reapMu.Lock()
	defer c.reapMu.Unlock()
	c.mu.Lock()
	if c.reapGen != gen || time.Since(c.lastReap) < reapEvery {
		c.mu.Unlock()
		return 0 // swept meanwhile, or just now: the caller counts again
	}
	all := make(map[net.Conn]*hijackedStream, len(c.conns))
	for conn, hs := range c.conns {
		all[conn] = hs
	}
	c.mu.Unlock()
	var dead []*hijackedStream
	for conn, hs := range all {
		if closed(conn) {
			hs.cancel()
			_ = conn.Close() // a stream blocked writing to it returns too
			dead = append(dead, hs)
		}
	}
	for _, hs := range dead {
		<-hs.ended
	}
	c.mu.Lock()
	c.reapGen++
	c.lastReap = time.Now()
	c.mu.Unlock()
	return len(dead)
}

// shutdown waits until every stream has ended, or ctx ends; then it closes
// the connections left and waits for their streams, which end at their next
// write. It reports whether all ended in time.
func (c *streamConns) shutdown(ctx context.Context) bool {
	c.mu.Lock()
	c.closed = true // no Add after this: Wait may begin
	c.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return true
	case <-ctx.Done():
	}
	c.mu.Lock()
	c.cut = true
	for conn := range c.conns {
		_ = conn.Close()
	}
	c.mu.Unlock()
	<-ended
	return false
}
