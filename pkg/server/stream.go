package server

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/server/auth"
)

// stream serves GET /api/namespaces/{ns}/deployments/stream as Server-Sent
// Events: a snapshot, then upserts and deletes, each with an id; a client
// that comes back with Last-Event-ID (or ?lastEventId=, for a client that
// reconnects by itself) gets what it missed, or a fresh snapshot.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	if r.Method == http.MethodHead {
		s.streamHead(w, r, ns)
		return
	}
	if s.draining.Load() {
		s.tellReconnect(w, r, "shutdown", shutdownMessage)
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
	sseHeaders(h)
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

// streamHead answers HEAD on a stream as GET would begin, checks included,
// but with no body: no stream place, no subscription, and the connection
// stays fit for the next request.
func (s *Server) streamHead(w http.ResponseWriter, r *http.Request, ns string) {
	if e := s.mayRead(r, ns, readAccess(ns)...); e != nil {
		s.writeError(w, r, e)
		return
	}
	sseHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
}

// subscribe checks a stream's request and subscribes it to namespace ns,
// or answers the request itself and returns nil. cancel ends the context
// that bounds the subscription's start (and st.ctx).
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, ns string) (*follower, func()) {
	if e := s.mayRead(r, ns, readAccess(ns)...); e != nil {
		s.streamError(w, r, e)
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
			s.tellReconnect(w, r, "shutdown", shutdownMessage)
		} else if ctx.Err() == nil {
			s.streamError(w, r, fromError(err))
		}
		cancel()
		return nil, nil
	}
	st := &follower{s: s, ns: ns, sub: sub, ctx: ctx, lastSent: lastID, remote: r.RemoteAddr, end: time.Now().Add(s.streamLife())}
	if s.kube != nil {
		// The re-checks outlive the request's context, not its user.
		st.req = r.WithContext(context.WithoutCancel(r.Context()))
		st.recheck = s.kube.Now().Add(auth.AccessReviewTTL)
	}
	req := r
	if st.req != nil {
		req = st.req // its kinds are asked as events come, after the request
	}
	st.view = s.viewOf(req, ns)
	return st, cancel
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
	end      time.Time // the stream's longest life (Options.MaxStreamLife)
	frames   [][]byte  // one Wait's frames, reused
	// view is what the user may see (AuthKubernetes): the events go
	// without what was read from Pods and Events, or without the kinds
	// hidden, when the user may not list those.
	view userView
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
	// allocation per message. It also wakes the stream for its re-check
	// and its end, which then come on time however quiet the stream.
	beat := time.NewTimer(st.idle())
	defer beat.Stop()
	for {
		if st.revoked() {
			return
		}
		if !time.Now().Before(st.end) {
			// Like the API server's watches: a stream ends in time, and
			// its client comes back (Last-Event-ID: nothing is lost) and
			// is authenticated and authorized afresh.
			s.sendReconnect(out, st.lastSent, expiredData)
			return
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
			s.sendReconnect(out, st.lastSent, shutdownData)
			return
		default:
			return // the client left
		}
		beat.Reset(st.idle())
	}
}

// idle is how long the stream may wait for messages: the heartbeat, or
// less when its re-check or its end comes sooner.
func (st *follower) idle() time.Duration {
	d := min(st.s.opts.Heartbeat, time.Until(st.end))
	if st.s.kube != nil {
		d = min(d, st.recheck.Sub(st.s.kube.Now())+time.Millisecond)
	}
	return max(d, time.Millisecond)
}

// streamLife is a new stream's longest life: MaxStreamLife to twice that,
// at random, so that streams opened together do not all come back
// together (the API server ends its watches the same way).
func (s *Server) streamLife() time.Duration {
	return s.opts.MaxStreamLife + rand.N(s.opts.MaxStreamLife+1)
}

// revoked reports whether the stream's user (AuthKubernetes) is no longer
// who they were or lost the right to read its namespace, after telling the
// client with an unauthorized or forbidden event. At most once per
// AccessReviewTTL it has the token checked again (a TokenReview, cached:
// a deleted ServiceAccount or an expired token ends the stream) and the
// right (a SubjectAccessReview, cached); between checks an event costs no
// review. An API server that cannot answer ends nothing.
func (st *follower) revoked() bool {
	s := st.s
	if s.kube == nil || !s.kube.Now().After(st.recheck) {
		return false
	}
	if token, ok := auth.TokenOf(st.req); ok {
		user, err := s.kube.Authenticate(st.req.Context(), token)
		var bad *auth.Unauthenticated
		switch {
		case errors.As(err, &bad):
			_ = st.out.send(Frame("unauthorized", st.lastSent, endData("Unauthorized",
				"the cluster no longer accepts this token (expired, or its ServiceAccount deleted); sign in again")))
			s.log.Debug("stream ended: its token is no longer accepted", "namespace", st.ns, "remote", st.remote)
			return true
		case err == nil:
			st.req = auth.WithUser(st.req, user)
		}
	}
	if e := s.may(st.req, readAccess(st.ns)...); e != nil && e.Status == http.StatusForbidden {
		_ = st.out.send(Frame("forbidden", st.lastSent, endData(e.Reason, e.Message)))
		return true
	}
	st.view = s.viewOf(st.req, st.ns)
	st.recheck = s.kube.Now().Add(auth.AccessReviewTTL)
	return false
}

// send writes msgs' frames, the hub's, shared by every stream, with one
// write (writev): never copied into a buffer of this stream's.
func (st *follower) send(msgs []hub.Message) bool {
	frames := st.frames[:0]
	for _, m := range msgs {
		if st.view.all() {
			// The shared frame, without calling frameFor: its frame on
			// the stack (copies of 424-byte events) doubled every stream's
			// goroutine stack, from 4 to 8 KB: 41 MB at 10,000 streams.
			frames = append(frames, frameOf(m))
		} else if f := frameFor(m, st.view); f != nil {
			frames = append(frames, f)
		}
	}
	var err error
	if len(frames) > 0 {
		err = st.out.send(frames...)
	}
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
			st.lastSent = m.ID // told, or left out for good
		}
		st.s.metrics.sentOf(string(m.Kind)).Inc()
	}
	return true
}

// frameFor is m's frame as a user of view v sees it: the shared frame when
// v changes nothing of m, nil for an event of a kind v hides, else one
// encoded for this stream (a cost only such streams pay, and only for
// such messages): without what was read from Pods and Events, and a
// snapshot without the kinds hidden.
func frameFor(m hub.Message, v userView) []byte {
	carries := false
	for i := range m.Events {
		e := &m.Events[i]
		if v.hides(e.Kind) {
			if m.Kind != hub.Snapshot {
				return nil
			}
			carries = true
		}
		if v.withoutDiagnosis && (len(e.Problems) > 0 || slices.Contains(e.Changed, "problems")) {
			carries = true
		}
	}
	if !carries {
		return frameOf(m)
	}
	return frameReencoded(m, v)
}

// frameReencoded is m's frame encoded for view v (frameFor): apart, so
// that its copies of events take stack only when a message needs them.
func frameReencoded(m hub.Message, v userView) []byte {
	events := make([]deployment.Event, 0, len(m.Events))
	for i := range m.Events {
		e := &m.Events[i]
		switch {
		case v.hides(e.Kind):
		case v.withoutDiagnosis:
			events = append(events, e.WithoutDiagnosis())
		default:
			events = append(events, *e)
		}
	}
	var data []byte
	if m.Kind == hub.Snapshot {
		data, _ = json.Marshal(events) // an Event always encodes
	} else {
		data, _ = json.Marshal(events[0])
	}
	return Frame(m.Kind, m.ID, data)
}

// maxKeptFrames bounds the frame list a stream keeps between writes.
const maxKeptFrames = 16

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
	sseHeaders(w.Header())
	w.Header().Set("Connection", "close") // its descriptor is free at once
	w.WriteHeader(http.StatusOK)
	s.sendReconnect(newSSEWriter(w, s.opts.WriteTimeout), "", endData(reason, message))
}

// sendReconnect ends a stream with a reconnect event whose retry delay is
// its own (spreadRetry).
func (s *Server) sendReconnect(out *sseWriter, lastID string, data []byte) {
	if out.send(retryFrame(s.spreadRetry()), Frame(reconnectEvent, lastID, data)) == nil {
		s.metrics.sentOf(reconnectEvent).Inc()
	}
}

// spreadRetry is a reconnection delay from Options.Retry to twice that, at
// random, for clients told to reconnect together.
func (s *Server) spreadRetry() time.Duration { return s.opts.Retry + rand.N(s.opts.Retry+1) }
