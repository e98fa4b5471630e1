package testutil

import (
	"net"
	"sync"
	"sync/atomic"
)

// StalledConn is a client connection whose reads can be paused: a client
// that stops reading, as a frozen browser tab does.
type StalledConn struct {
	net.Conn
	paused atomic.Bool
	resume chan struct{}
	once   sync.Once
}

// NewStalledConn wraps c (which may be set later, through the Conn field,
// before the first Read).
func NewStalledConn(c net.Conn) *StalledConn {
	return &StalledConn{Conn: c, resume: make(chan struct{})}
}

// Read waits while the connection is stalled, then reads.
func (c *StalledConn) Read(b []byte) (int, error) {
	if c.paused.Load() {
		<-c.resume
	}
	return c.Conn.Read(b)
}

// Stall makes every Read from now on wait for Resume.
func (c *StalledConn) Stall() { c.paused.Store(true) }

// Resume lets reads go on, for good; calling it again does nothing.
func (c *StalledConn) Resume() {
	c.paused.Store(false)
	c.once.Do(func() { close(c.resume) })
}
