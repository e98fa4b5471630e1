package server

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
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
	if n := s.streams.Add(1); s.opts.MaxStreams > 0 && n > int64(s.opts.MaxStreams) {
		s.streams.Add(-1)
		s.metrics.refused.Inc()
		s.streamError(w, r, errorf(http.StatusTooManyRequests, "TooManyStreams",
			"this server has %d streams open, its most (--max-streams); reconnect later", s.opts.MaxStreams))
		return
	}
	defer s.streams.Add(-1)
	// The user's rights before anything else (AuthKubernetes): they decide
	// who may subscribe, not how many watches run.
	if e := s.may(r, readAccess(ns)...); e != nil {
		s.streamError(w, r, e)
		return
	}
	recheck := time.Now().Add(AccessReviewTTL)
	check := s.serves(ns)
	if check == nil && !s.opts.Hub.Running(ns) {
		check = s.checks.do(r.Context(), ns, s.checkNamespace) // once per tracker, not per client
	}
	if check != nil {
		s.streamError(w, r, check)
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("lastEventId")
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// Not a goroutine per stream waiting for the shutdown: with 10,000
	// streams their stacks cost tens of MB.
	defer context.AfterFunc(s.stopCtx, cancel)()
	sub, err := s.opts.Hub.Subscribe(ctx, ns, lastID)
	if err != nil {
		if s.isStopping() || errors.Is(err, hub.ErrClosed) {
			s.tellReconnect(w, r, "shutdown", "the server is shutting down; reconnect")
		} else if ctx.Err() == nil {
			s.streamError(w, r, fromError(err))
		}
		return
	}
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform") // no-transform: proxies must not compress
	h.Set("X-Accel-Buffering", "no")                 // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	out := newSSEWriter(w, s.opts.WriteTimeout)
	if out.write(retryFrame(s.opts.Retry)) != nil || out.flush() != nil {
		return
	}
	s.log.Debug("stream opened", "namespace", ns, "lastEventID", lastID, "remote", r.RemoteAddr)

	// One timer per stream, reset after each write: the heartbeat costs no
	// allocation per message.
	beat := time.NewTimer(s.opts.Heartbeat)
	defer beat.Stop()
	lastSent := lastID
	for {
		// A revoked right ends the stream within about AccessReviewTTL;
		// between checks an event costs no review.
		if s.kube != nil && time.Now().After(recheck) {
			if e := s.may(r, readAccess(ns)...); e != nil && e.Status == http.StatusForbidden {
				data, _ := json.Marshal(map[string]string{"reason": e.Reason, "message": e.Message})
				_ = out.write(Frame("forbidden", lastSent, data))
				_ = out.flush()
				return
			}
			recheck = time.Now().Add(AccessReviewTTL)
		}
		msgs, err := sub.Wait(ctx, beat.C)
		switch {
		case err == nil:
			// Frames are the hub's, shared by every stream: written, never
			// copied into a buffer of this stream's.
			for _, m := range msgs {
				if out.write(frameOf(m)) != nil {
					break
				}
				lastSent = m.ID
			}
			if out.err != nil || out.flush() != nil {
				s.log.Debug("stream dropped: the client does not read", "namespace", ns, "remote", r.RemoteAddr)
				return
			}
			for _, m := range msgs {
				s.metrics.sentOf(string(m.Kind)).Inc()
			}
		case errors.Is(err, hub.ErrIdle):
			if out.write(heartbeatFrame) != nil || out.flush() != nil {
				return
			}
		case s.isStopping() || errors.Is(err, hub.ErrClosed):
			// A new retry: first, so that EventSource clients, which all
			// got the same one when they connected, do not all come back
			// at the same instant.
			if out.write(retryFrame(s.spreadRetry())) == nil && out.write(Frame(reconnectEvent, lastSent, shutdownData)) == nil && out.flush() == nil {
				s.metrics.sentOf(reconnectEvent).Inc()
			}
			return
		default:
			return // the client left
		}
		beat.Reset(s.opts.Heartbeat)
	}
}

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
	if out.write(retryFrame(s.spreadRetry())) == nil && out.write(Frame(reconnectEvent, "", data)) == nil && out.flush() == nil {
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

// sseWriter writes frames to a stream. It keeps no buffer of its own (the
// ResponseWriter's is small and fixed), and it arms the connection's write
// deadline only when the one armed before is within timeout of running out:
// every write still has at least timeout, at most twice that, to go through,
// and a stream that keeps up sets it once per timeout instead of per write.
type sseWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	timeout  time.Duration
	deadline time.Time // the one armed
	err      error     // the first write's error; the stream is done
}

func newSSEWriter(w http.ResponseWriter, timeout time.Duration) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (o *sseWriter) arm() {
	if now := time.Now(); o.deadline.Sub(now) < o.timeout {
		o.deadline = now.Add(2 * o.timeout)
		_ = o.rc.SetWriteDeadline(o.deadline)
	}
}

// write writes frame; a large one may reach the client before flush.
func (o *sseWriter) write(frame []byte) error {
	if o.err != nil {
		return o.err
	}
	o.arm()
	_, o.err = o.w.Write(frame)
	return o.err
}

func (o *sseWriter) flush() error {
	if o.err != nil {
		return o.err
	}
	o.arm()
	o.err = o.rc.Flush()
	return o.err
}
