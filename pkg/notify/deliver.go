package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of DeliveryOptions.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultAttempts    = 5
	DefaultBaseBackoff = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultQueueSize   = 256
)

// DeliveryOptions configure a Deliverer.
type DeliveryOptions struct {
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

// Stats count what a Deliverer did.
type Stats struct {
	Sent, Failed, Dropped, Retries int64
	Queued                         int
}

// Deliverer posts messages from a bounded queue in the background, in
// order. Enqueue never blocks.
type Deliverer struct {
	opts DeliveryOptions

	mu    sync.Mutex
	queue []queued
	stats Stats
	wake  chan struct{}
}

type queued struct {
	msg  Message
	done func(Message) // told once the message is sent, given up or dropped
}

// NewDeliverer fills in defaults; Run delivers.
func NewDeliverer(opts DeliveryOptions) *Deliverer {
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = DefaultBaseBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
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
	return &Deliverer{opts: opts, wake: make(chan struct{}, 1)}
}

// Enqueue adds m; done (may be nil) is called once m is delivered to every
// URL, given up on, or dropped from a full queue.
func (d *Deliverer) Enqueue(m Message, done func(Message)) {
	d.mu.Lock()
	for _, q := range d.queue {
		if q.msg.ID == m.ID { // a new leader's resend of one still queued here
			d.mu.Unlock()
			return
		}
	}
	var dropped *queued
	if len(d.queue) >= d.opts.QueueSize {
		dropped = &d.queue[0]
		d.queue = d.queue[1:]
		d.stats.Dropped++
	}
	d.queue = append(d.queue, queued{m, done})
	d.mu.Unlock()
	if dropped != nil {
		d.opts.Logger.Warn("notification queue full, dropped the oldest", "id", dropped.msg.ID, "queueSize", d.opts.QueueSize)
		if dropped.done != nil {
			dropped.done(dropped.msg)
		}
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counts so far.
func (d *Deliverer) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Queued = len(d.queue)
	return s
}

// Run delivers until ctx ends; messages still queued then are abandoned.
func (d *Deliverer) Run(ctx context.Context) {
	for {
		d.mu.Lock()
		var next *queued
		if len(d.queue) > 0 {
			next = &queued{}
			*next = d.queue[0]
			d.queue = d.queue[1:]
		}
		d.mu.Unlock()
		if next == nil {
			select {
			case <-ctx.Done():
				return
			case <-d.wake:
				continue
			}
		}
		if d.deliver(ctx, next.msg) && next.done != nil {
			next.done(next.msg)
		}
	}
}

// deliver posts m to every URL; false means it was abandoned (ctx ended or
// no longer allowed), so it is not done.
func (d *Deliverer) deliver(ctx context.Context, m Message) bool {
	body, err := Body(m, d.opts.Format)
	if err != nil { // cannot happen with these types
		d.opts.Logger.Error("cannot encode notification", "id", m.ID, "error", err)
		return true
	}
	for _, u := range d.opts.URLs {
		err := d.post(ctx, u, body)
		switch {
		case err == nil:
			d.count(func(s *Stats) { s.Sent++ })
			d.opts.Logger.Info("notified", "id", m.ID, "kind", m.Kind, "deployment", m.Namespace+"/"+m.Deployment, "webhook", redact(u))
		case errors.Is(err, errAbandoned):
			return false
		default:
			d.count(func(s *Stats) { s.Failed++ })
			d.opts.Logger.Warn("notification not delivered", "id", m.ID, "webhook", redact(u), "error", err)
		}
	}
	return true
}

var errAbandoned = errors.New("abandoned")

// permanentError is an answer a retry would not change (4xx).
type permanentError struct{ error }

// post sends body to u with retries on network errors, 5xx and 429.
func (d *Deliverer) post(ctx context.Context, u string, body []byte) error {
	var err error
	for attempt := 0; attempt < d.opts.Attempts; attempt++ {
		if attempt > 0 {
			d.count(func(s *Stats) { s.Retries++ })
			select {
			case <-ctx.Done():
				return errAbandoned
			case <-time.After(d.backoff(attempt)):
			}
		}
		if ctx.Err() != nil || !d.opts.Allowed() {
			return errAbandoned
		}
		err = d.once(ctx, u, body)
		var perm permanentError
		if err == nil || errors.As(err, &perm) {
			return err
		}
		if ctx.Err() != nil {
			return errAbandoned
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", d.opts.Attempts, err)
}

// backoff is the wait before attempt n (n >= 1): BaseBackoff doubled n-1
// times, capped, with equal jitter.
func (d *Deliverer) backoff(n int) time.Duration {
	b := d.opts.BaseBackoff
	for i := 1; i < n && b < d.opts.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.opts.MaxBackoff)
	return b/2 + rand.N(b/2+1)
}

func (d *Deliverer) once(ctx context.Context, u string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(string(body)))
	if err != nil {
		return permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "kubectl-deploywatch")
	resp, err := d.opts.Client.Do(req)
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

func (d *Deliverer) count(f func(*Stats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}
