package server

import (
	"context"
	"net"
	"sync"
)

// streamConns are the connections a Server's streams took off net/http
// (hijacked): http.Server.Shutdown no longer tracks them, so serve waits
// for them itself, and closes what is left when its time is up.
type streamConns struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool // shutdown began: no stream is added, and at its end those left are closed
	cut    bool // the time is up: closed at once
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

// track records the hijacked conn of a place added.
func (c *streamConns) track(conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		_ = conn.Close() // its stream ends at its first write
		return
	}
	if c.conns == nil {
		c.conns = map[net.Conn]struct{}{}
	}
	c.conns[conn] = struct{}{}
}

// done gives back a place added, and conn's (nil if never tracked).
func (c *streamConns) done(conn net.Conn) {
	c.mu.Lock()
	delete(c.conns, conn)
	c.mu.Unlock()
	c.wg.Done()
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
