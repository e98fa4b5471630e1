package server

import (
	"bytes"
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
	out := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout}
	out.buf.WriteString("retry: " + strconv.FormatInt(s.opts.Retry.Milliseconds(), 10) + "\n\n")
	if out.flush() != nil {
		return
	}
	s.log.Debug("stream opened", "namespace", ns, "lastEventID", lastID, "remote", r.RemoteAddr)

	lastSent := lastID
	for {
		// A revoked right ends the stream within about AccessReviewTTL;
		// between checks an event costs no review.
		if s.kube != nil && time.Now().After(recheck) {
			if e := s.may(r, readAccess(ns)...); e != nil && e.Status == http.StatusForbidden {
				data, _ := json.Marshal(map[string]string{"reason": e.Reason, "message": e.Message})
				out.event(lastSent, "forbidden", data)
				_ = out.flush()
				return
			}
			recheck = time.Now().Add(AccessReviewTTL)
		}
		beat, stopBeat := context.WithTimeout(ctx, s.opts.Heartbeat)
		msgs, err := sub.Next(beat)
		stopBeat()
		switch {
		case err == nil:
			for _, m := range msgs {
				out.event(m.ID, string(m.Kind), m.Data)
				lastSent = m.ID
			}
			if out.flush() != nil {
				s.log.Debug("stream dropped: the client does not read", "namespace", ns, "remote", r.RemoteAddr)
				return
			}
			for _, m := range msgs {
				s.metrics.sent.WithLabelValues(string(m.Kind)).Inc()
			}
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			out.buf.WriteString(": heartbeat\n\n")
			if out.flush() != nil {
				return
			}
		case s.isStopping() || errors.Is(err, hub.ErrClosed):
			out.event(lastSent, reconnectEvent, []byte(`{"reason":"shutdown","message":"the server is shutting down; reconnect"}`))
			if out.flush() == nil {
				s.metrics.sent.WithLabelValues(reconnectEvent).Inc()
			}
			return
		default:
			return // the client left
		}
	}
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
	retry := s.opts.Retry + rand.N(s.opts.Retry+1)
	out := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout}
	out.buf.WriteString("retry: " + strconv.FormatInt(retry.Milliseconds(), 10) + "\n\n")
	data, _ := json.Marshal(map[string]string{"reason": reason, "message": message})
	out.event("", reconnectEvent, data)
	if out.flush() == nil {
		s.metrics.sent.WithLabelValues(reconnectEvent).Inc()
	}
}

// sseWriter frames events and writes them with a deadline per write.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     bytes.Buffer
}

// event frames one event. data is JSON, which holds no newline.
func (o *sseWriter) event(id, name string, data []byte) {
	if id != "" {
		o.buf.WriteString("id: " + id + "\n")
	}
	o.buf.WriteString("event: " + name + "\ndata: ")
	o.buf.Write(data)
	o.buf.WriteString("\n\n")
}

func (o *sseWriter) flush() error {
	defer o.buf.Reset()
	_ = o.rc.SetWriteDeadline(time.Now().Add(o.timeout))
	if _, err := o.w.Write(o.buf.Bytes()); err != nil {
		return err
	}
	return o.rc.Flush()
}
