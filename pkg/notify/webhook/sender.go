package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Defaults of Options.
const (
	defaultTimeout     = 10 * time.Second
	defaultAttempts    = 5
	defaultBaseBackoff = 500 * time.Millisecond
	defaultMaxBackoff  = 30 * time.Second
	defaultQueueSize   = 256
)

// Options configure a Sender; zero values take the defaults.
type Options struct {
	// URLs get every message, one after the other.
	URLs   []string
	Format Format
	// Client posts; nil means a client with no timeout of its own (Timeout
	// bounds each request).
	Client *http.Client
	// Timeout bounds one request, retries excluded.
	Timeout time.Duration
	// Attempts per URL and message, the first included.
	Attempts int
	// BaseBackoff doubles after every failed attempt up to MaxBackoff; the
	// wait is drawn between half of it and all of it (jitter), so replicas
	// and receivers recovering together do not retry in step.
	BaseBackoff, MaxBackoff time.Duration
	// QueueSize bounds the messages waiting; when full the oldest is
	// dropped, so a dead receiver never holds memory or the watch.
	QueueSize int
	// Allowed is asked before every attempt; false discards the message
	// (this replica is no longer the leader). nil allows all.
	Allowed func() bool
	Logger  *slog.Logger
}

// stats count what a Sender did, for its metrics.
type stats struct {
	Sent, Failed, Dropped, Retries int64
	Queued                         int
}

// Sender posts messages from a bounded queue in the background, in order,
// each to every URL. Enqueue never blocks.
type Sender struct {
	opts Options

	mu    sync.Mutex
	queue []queued
	stats stats
	wake  chan struct{}
}

type queued struct {
	msg  Message
	done func(Message) // told once the message is sent, given up or dropped
}

// New checks the URLs and fills in defaults; Run delivers.
func New(opts Options) (*Sender, error) {
	if len(opts.URLs) == 0 {
		return nil, errors.New("webhook: no URL to post to")
	}
	var problems []error
	for _, u := range opts.URLs {
		if err := ValidateURL(u); err != nil {
			problems = append(problems, err)
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return newSender(opts), nil
}

func newSender(opts Options) *Sender {
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.Attempts <= 0 {
		opts.Attempts = defaultAttempts
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = defaultBaseBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = defaultMaxBackoff
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = defaultQueueSize
	}
	if opts.Format == "" {
		opts.Format = JSON
	}
	if opts.Allowed == nil {
		opts.Allowed = func() bool { return true }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{opts: opts, wake: make(chan struct{}, 1)}
}

// Enqueue adds m; done (may be nil) is called once m is delivered to every
// URL, given up on, or dropped from a full queue.
func (s *Sender) Enqueue(m Message, done func(Message)) {
	s.mu.Lock()
	for _, q := range s.queue {
		if q.msg.ID == m.ID { // a new leader's resend of one still queued here
			s.mu.Unlock()
			return
		}
	}
	var dropped *queued
	if len(s.queue) >= s.opts.QueueSize {
		dropped = &s.queue[0]
		s.queue = s.queue[1:]
		s.stats.Dropped++
	}
	s.queue = append(s.queue, queued{m, done})
	s.mu.Unlock()
	if dropped != nil {
		s.opts.Logger.Warn("notification queue full, dropped the oldest", "id", dropped.msg.ID, "queueSize", s.opts.QueueSize)
		if dropped.done != nil {
			dropped.done(dropped.msg)
		}
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// snapshot returns the counts so far.
func (s *Sender) snapshot() stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Queued = len(s.queue)
	return st
}

// Run delivers until ctx ends; messages still queued then are abandoned.
func (s *Sender) Run(ctx context.Context) {
	for {
		s.mu.Lock()
		var next *queued
		if len(s.queue) > 0 {
			next = &queued{}
			*next = s.queue[0]
			s.queue = s.queue[1:]
		}
		s.mu.Unlock()
		if next == nil {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		if s.deliver(ctx, next.msg) && next.done != nil {
			next.done(next.msg)
		}
	}
}

// deliver posts m to every URL; false means it was abandoned (ctx ended or
// no longer allowed), so it is not done.
func (s *Sender) deliver(ctx context.Context, m Message) bool {
	b, err := body(m, s.opts.Format)
	if err != nil { // cannot happen with these types
		s.opts.Logger.Error("cannot encode notification", "id", m.ID, "error", err)
		return true
	}
	key := idempotencyKey(m)
	for _, u := range s.opts.URLs {
		err := s.post(ctx, u, b, key)
		switch {
		case err == nil:
			s.count(func(st *stats) { st.Sent++ })
			s.opts.Logger.Info("notified", "id", m.ID, "kind", m.Kind, "workload", m.Workload(), "webhook", redact(u))
		case errors.Is(err, errAbandoned):
			return false
		default:
			s.count(func(st *stats) { st.Failed++ })
			s.opts.Logger.Warn("notification not delivered", "id", m.ID, "webhook", redact(u), "error", err)
		}
	}
	return true
}

var errAbandoned = errors.New("abandoned")

// permanentError is an answer a retry would not change (4xx).
type permanentError struct{ error }

// post sends payload to u, with key as its Idempotency-Key, retrying on
// network errors, 5xx and 429.
func (s *Sender) post(ctx context.Context, u string, payload []byte, key string) error {
	var err error
	for attempt := 0; attempt < s.opts.Attempts; attempt++ {
		if attempt > 0 {
			s.count(func(st *stats) { st.Retries++ })
			select {
			case <-ctx.Done():
				return errAbandoned
			case <-time.After(s.backoff(attempt)):
			}
		}
		if ctx.Err() != nil || !s.opts.Allowed() {
			return errAbandoned
		}
		err = s.once(ctx, u, payload, key)
		var perm permanentError
		if err == nil || errors.As(err, &perm) {
			return err
		}
		if ctx.Err() != nil {
			return errAbandoned
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", s.opts.Attempts, err)
}

// backoff is the wait before attempt n (n >= 1): BaseBackoff doubled n-1
// times, capped, with equal jitter.
func (s *Sender) backoff(n int) time.Duration {
	b := s.opts.BaseBackoff
	for i := 1; i < n && b < s.opts.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, s.opts.MaxBackoff)
	return b/2 + rand.N(b/2+1)
}

func (s *Sender) once(ctx context.Context, u string, payload []byte, key string) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	// The same for every post of one message, by any replica: a receiver
	// that keeps the keys it handled drops a resend.
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("User-Agent", "kubectl-deploywatch")
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		// Not the URL itself: a network error or the timeout. Strip the URL
		// from the message, it may carry a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("posting: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("webhook answered %s", resp.Status)
	default:
		return permanentError{fmt.Errorf("webhook answered %s; not retried, check the URL and the receiver", resp.Status)}
	}
}

func (s *Sender) count(f func(*stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}
