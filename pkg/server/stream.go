package server

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
)

// reconnectEvent is the last event of a stream when the server shuts down.
const reconnectEvent = "reconnect"

// stream serves GET /api/namespaces/{ns}/deployments/stream as Server-Sent
// Events: a snapshot, then upserts and deletes, each with an id; a client
// that comes back with Last-Event-ID (or ?lastEventId=, for a client that
// reconnects by itself) gets what it missed, or a fresh snapshot.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	if s.draining.Load() {
		s.tellReconnect(w, r, "shutdown", "the server is shutting down; reconnect")
		return
	}
	// Counted before anything costs: at the cap, a stream is told to come
	// back later, and the descriptors left keep the probes answering.
	if !s.takeStreamPlace() {
		s.metrics.refused.Inc()
		s.streamError(w, r, errorf(http.StatusTooManyRequests, "TooManyStreams",
			"this server has %d streams open, its most (--max-streams); reconnect later", s.opts.MaxStreams))
		return
	}
	st, cancel := s.subscribe(w, r, ns)
	if st == nil {
		s.streams.Add(-1)
		return
	}
	defer cancel()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform") // no-transform: proxies must not compress
	h.Set("X-Accel-Buffering", "no")                 // nginx: do not buffer the stream
	hijack := canHijack(w, r)
	if hijack {
		// Unchunked, closed at its end (net/http's chunkWriter): the body
		// is then the bare connection's bytes, which the stream writes.
		h.Set("Transfer-Encoding", "identity")
	}
	w.WriteHeader(http.StatusOK)
	if hijack && s.hijack(w, st) {
		return // the stream goes on in a goroutine of its own
	}
	st.out = newSSEWriter(w, s.opts.WriteTimeout)
	s.follow(st)
}

// subscribe checks a stream's request and subscribes it to namespace ns,
// or answers the request itself and returns nil. cancel ends the context
// that bounds the subscription's start (and st.ctx).
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, ns string) (*follower, func()) {
	// The user's rights before anything else (AuthKubernetes): they decide
	// who may subscribe, not how many watches run.
	if e := s.may(r, readAccess(ns)...); e != nil {
		s.streamError(w, r, e)
		return nil, nil
	}
	check := s.serves(ns)
	if check == nil && !s.opts.Hub.Running(ns) {
		check = s.checks.do(r.Context(), ns, s.checkNamespace) // once per tracker, not per client
	}
	if check != nil {
		s.streamError(w, r, check)
		return nil, nil
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("lastEventId")
	}

	// The context bounds the subscription's start, and the stream while it
	// stays on net/http's connection.
	ctx, cancelCtx := context.WithCancel(r.Context())
	// Not a goroutine per stream waiting for the shutdown: with 10,000
	// streams their stacks cost tens of MB.
	stop := context.AfterFunc(s.stopCtx, cancelCtx)
	cancel := func() { stop(); cancelCtx() }
	sub, err := s.opts.Hub.Subscribe(ctx, ns, lastID)
	if err != nil {
		if s.isStopping() || errors.Is(err, hub.ErrClosed) {
			s.tellReconnect(w, r, "shutdown", "the server is shutting down; reconnect")
		} else if ctx.Err() == nil {
			s.streamError(w, r, fromError(err))
		}
		cancel()
		return nil, nil
	}
	st := &follower{s: s, ns: ns, sub: sub, ctx: ctx, lastSent: lastID, remote: r.RemoteAddr}
	if s.kube != nil {
		// The re-checks outlive the request's context, not its user.
		st.req = r.WithContext(context.WithoutCancel(r.Context()))
		st.recheck = s.kube.now().Add(AccessReviewTTL)
	}
	return st, cancel
}

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

// takeStreamPlace counts a new stream in MaxStreams, and reports false when
// there is no place, even after ending the streams whose client left.
func (s *Server) takeStreamPlace() bool {
	if s.opts.MaxStreams <= 0 {
		s.streams.Add(1)
		return true
	}
	max := int64(s.opts.MaxStreams)
	if s.streams.Add(1) <= max {
		return true
	}
	s.streams.Add(-1)
	if s.hijacked.reap(peerClosed) == 0 && s.streams.Load() >= max {
		return false
	}
	if s.streams.Add(1) <= max {
		return true
	}
	s.streams.Add(-1)
	return false
}

// follower is one open stream: what following it needs, kept small, as
// 10,000 of them live at once.
type follower struct {
	s        *Server
	ns       string
	sub      *hub.Subscription
	out      *sseWriter
	ctx      context.Context // ends the stream: the server's shutdown, or the request's
	req      *http.Request   // for the re-checks of AuthKubernetes; nil without
	remote   string
	lastSent string
	recheck  time.Time
	frames   [][]byte // one Wait's frames, reused
}

// follow writes st's stream until it ends: the client leaves or does not
// read, the user loses the right to read (AuthKubernetes), or the server
// shuts down. It releases the subscription and st's place in MaxStreams.
func (s *Server) follow(st *follower) {
	defer s.streams.Add(-1)
	defer st.sub.Close()
	out := st.out
	if out.send(retryFrame(s.opts.Retry)) != nil {
		return
	}
	s.log.Debug("stream opened", "namespace", st.ns, "lastEventID", st.lastSent, "remote", st.remote, "hijacked", out.conn != nil)

	// One timer per stream, reset after each write: the heartbeat costs no
	// allocation per message.
	beat := time.NewTimer(s.opts.Heartbeat)
	defer beat.Stop()
	for {
		// A revoked right ends the stream within about AccessReviewTTL;
		// between checks an event costs no review.
		if s.kube != nil && s.kube.now().After(st.recheck) {
			if e := s.may(st.req, readAccess(st.ns)...); e != nil && e.Status == http.StatusForbidden {
				data, _ := json.Marshal(map[string]string{"reason": e.Reason, "message": e.Message})
				_ = out.send(Frame("forbidden", st.lastSent, data))
				return
			}
			st.recheck = s.kube.now().Add(AccessReviewTTL)
		}
		msgs, err := st.sub.Wait(st.ctx, beat.C)
		switch {
		case err == nil:
			if out.gone(s.opts.Heartbeat) || !st.send(msgs) {
				s.log.Debug("stream dropped: the client left or does not read", "namespace", st.ns, "remote", st.remote)
				return
			}
		case errors.Is(err, hub.ErrIdle):
			if out.gone(s.opts.Heartbeat) || out.send(heartbeatFrame) != nil {
				s.log.Debug("stream dropped: the client left", "namespace", st.ns, "remote", st.remote)
				return
			}
		case s.isStopping() || errors.Is(err, hub.ErrClosed):
			// A new retry: first, so that EventSource clients, which all
			// got the same one when they connected, do not all come back
			// at the same instant.
			if out.send(retryFrame(s.spreadRetry()), Frame(reconnectEvent, st.lastSent, shutdownData)) == nil {
				s.metrics.sentOf(reconnectEvent).Inc()
			}
			return
		default:
			return // the client left
		}
		beat.Reset(s.opts.Heartbeat)
	}
}

// send writes msgs' frames, the hub's, shared by every stream, with one
// write (writev): never copied into a buffer of this stream's.
func (st *follower) send(msgs []hub.Message) bool {
	frames := st.frames[:0]
	for _, m := range msgs {
		frames = append(frames, frameOf(m))
	}
	err := st.out.send(frames...)
	clear(frames) // let go of the frames
	st.frames = frames[:0]
	if cap(frames) > maxKeptFrames {
		st.frames = nil // a snapshot's or a burst's length is not kept
	}
	if err != nil {
		return false
	}
	for _, m := range msgs {
		if m.ID != "" {
			st.lastSent = m.ID
		}
		st.s.metrics.sentOf(string(m.Kind)).Inc()
	}
	return true
}

// maxKeptFrames bounds the frame list a stream keeps between writes.
const maxKeptFrames = 16

var (
	heartbeatFrame = []byte(": heartbeat\n\n")
	shutdownData   = []byte(`{"reason":"shutdown","message":"the server is shutting down; reconnect"}`)
)

// Frame encodes one Server-Sent Event: its id (none when empty), its name
// and its data, JSON, which holds no newline. serve's hub calls it once per
// event (hub.Options.Frame), so every stream writes the same bytes.
func Frame[K ~string](name K, id string, data []byte) []byte {
	n := len("id: \nevent: \ndata: \n\n") + len(id) + len(name) + len(data)
	b := make([]byte, 0, n)
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// frameOf is m's shared frame, or one made now for a hub without Frame.
func frameOf(m hub.Message) []byte {
	if m.Frame != nil {
		return m.Frame
	}
	return Frame(m.Kind, m.ID, m.Data)
}

func (s *Server) isStopping() bool { return s.stopCtx.Err() != nil }

// streamError answers a stream that cannot start. A standard EventSource
// gives up for good on any answer but 200, so what retrying can fix (the
// API server down, the server busy or shutting down: 5xx, 429) is answered
// with 200, a retry delay and a reconnect event, then the end of the
// stream, which every EventSource client follows by reconnecting. What
// retrying cannot fix (not found, forbidden, bad request) keeps its status,
// so such clients stop.
func (s *Server) streamError(w http.ResponseWriter, r *http.Request, e *apiError) {
	if e.Status >= 500 || e.Status == http.StatusTooManyRequests {
		if e.Status >= 500 {
			s.log.Warn("stream refused for now", "path", r.URL.Path, "reason", e.Reason, "error", e.Message)
		}
		s.tellReconnect(w, r, e.Reason, e.Message)
		return
	}
	s.writeError(w, r, e)
}

// tellReconnect answers a stream with only a reconnect event, advising a
// delay of Options.Retry up to twice that, so that clients told together
// do not all come back at the same instant.
func (s *Server) tellReconnect(w http.ResponseWriter, r *http.Request, reason, message string) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Connection", "close") // its descriptor is free at once
	w.WriteHeader(http.StatusOK)
	out := newSSEWriter(w, s.opts.WriteTimeout)
	data, _ := json.Marshal(map[string]string{"reason": reason, "message": message})
	if out.send(retryFrame(s.spreadRetry()), Frame(reconnectEvent, "", data)) == nil {
		s.metrics.sentOf(reconnectEvent).Inc()
	}
}

// spreadRetry is a reconnection delay from Options.Retry to twice that, at
// random, for clients told to reconnect together.
func (s *Server) spreadRetry() time.Duration { return s.opts.Retry + rand.N(s.opts.Retry+1) }

// retryFrame advises an SSE client to wait d before reconnecting.
func retryFrame(d time.Duration) []byte {
	return []byte("retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n\n")
}

// sseWriter writes frames to a stream: through net/http's ResponseWriter,
// or on the bare connection once hijacked. It keeps no buffer of its own
// (the ResponseWriter's is small and fixed), and it arms the connection's
// write deadline only when the one armed before is within timeout of
// running out: every write still has at least timeout, at most twice that,
// to go through, and a stream that keeps up sets it once per timeout
// instead of per write.
type sseWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	conn     net.Conn    // the hijacked connection, written directly; nil on net/http's
	bufs     net.Buffers // one send's frames, for writev
	timeout  time.Duration
	deadline time.Time // the one armed
	checked  time.Time // when gone last looked at the connection
	err      error     // the first write's error; the stream is done
}

func newSSEWriter(w http.ResponseWriter, timeout time.Duration) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func newConnWriter(conn net.Conn, timeout time.Duration) *sseWriter {
	return &sseWriter{conn: conn, timeout: timeout, checked: time.Now()}
}

func (o *sseWriter) arm() {
	if now := time.Now(); o.deadline.Sub(now) < o.timeout {
		o.deadline = now.Add(2 * o.timeout)
		if o.conn != nil {
			_ = o.conn.SetWriteDeadline(o.deadline)
		} else {
			_ = o.rc.SetWriteDeadline(o.deadline)
		}
	}
}

// send writes frames and makes them reach the client: on a hijacked
// connection all of them with one system call (writev), none copied.
func (o *sseWriter) send(frames ...[]byte) error {
	if o.err != nil {
		return o.err
	}
	o.arm()
	if o.conn != nil {
		o.bufs = frames
		_, o.err = o.bufs.WriteTo(o.conn) // consumes o.bufs, not frames
		o.bufs = nil
		return o.err
	}
	for _, f := range frames {
		if _, o.err = o.w.Write(f); o.err != nil { // a large frame may go out before Flush
			return o.err
		}
	}
	o.err = o.rc.Flush()
	return o.err
}

// gone reports whether the client of a hijacked connection has left,
// looking at most once per every: net/http's background read, which
// noticed it for net/http's connections, ended with the hijack, and a
// goroutine per connection to read instead would cost its stack. A write to
// a connection the client closed still succeeds once, so without this a
// stream would outlive its client by up to two heartbeats.
func (o *sseWriter) gone(every time.Duration) bool {
	if o.conn == nil || o.err != nil {
		return o.err != nil
	}
	if now := time.Now(); now.Sub(o.checked) >= every {
		o.checked = now
		if peerClosed(o.conn) {
			o.err = net.ErrClosed
		}
	}
	return o.err != nil
}
