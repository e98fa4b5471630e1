package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a webhook that answers with the statuses given, then 200.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []Message
	keys     []string // every attempt's Idempotency-Key
	attempts atomic.Int64
	delay    time.Duration
	slack    bool // bodies are Slack's {"text": ...}, not Messages
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.attempts.Add(1)
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.keys = append(r.keys, req.Header.Get("Idempotency-Key"))
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		delay := r.delay
		r.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		if status == http.StatusOK && !r.slack {
			var m Message
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("body %q: %v", b, err)
			}
			r.mu.Lock()
			r.got = append(r.got, m)
			r.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.got...)
}

func fastDelivery(urls ...string) Options {
	return Options{URLs: urls, Timeout: time.Second, Attempts: 4, BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
}

// deliverOne runs a deliverer until m is done and returns its stats.
func deliverOne(t *testing.T, opts Options, m Message) stats {
	t.Helper()
	d := newSender(opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	done := make(chan struct{})
	d.Enqueue(m, func(Message) { close(done) })
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("message not done within 30s")
	}
	return d.snapshot()
}

func TestDeliverRetries5xxThenSucceeds(t *testing.T) {
	r := newReceiver(t, 500, 503)
	st := deliverOne(t, fastDelivery(r.srv.URL), Message{ID: "a"})
	if r.attempts.Load() != 3 || st.Retries != 2 || st.Sent != 1 || st.Failed != 0 || len(r.messages()) != 1 {
		t.Errorf("attempts %d, stats %+v, got %d; want 3 attempts, 2 retries, 1 sent", r.attempts.Load(), st, len(r.messages()))
	}
}

func TestDeliverRetries429(t *testing.T) {
	r := newReceiver(t, 429)
	st := deliverOne(t, fastDelivery(r.srv.URL), Message{ID: "a"})
	if r.attempts.Load() != 2 || st.Sent != 1 {
		t.Errorf("attempts %d, stats %+v; want 2 attempts and 1 sent", r.attempts.Load(), st)
	}
}

func TestDeliverNoRetryOn4xx(t *testing.T) {
	for _, status := range []int{400, 401, 404} {
		r := newReceiver(t, status, status)
		st := deliverOne(t, fastDelivery(r.srv.URL), Message{ID: "a"})
		if r.attempts.Load() != 1 || st.Retries != 0 || st.Failed != 1 || st.Sent != 0 {
			t.Errorf("%d: attempts %d, stats %+v; want 1 attempt and 1 failed", status, r.attempts.Load(), st)
		}
	}
}

func TestDeliverGivesUpAfterAttempts(t *testing.T) {
	r := newReceiver(t, 500, 500, 500, 500, 500)
	st := deliverOne(t, fastDelivery(r.srv.URL), Message{ID: "a"})
	if r.attempts.Load() != 4 || st.Retries != 3 || st.Failed != 1 {
		t.Errorf("attempts %d, stats %+v; want 4 attempts, 3 retries, 1 failed", r.attempts.Load(), st)
	}
}

func TestDeliverRetriesNetworkErrorsAndTimeouts(t *testing.T) {
	// A closed port: connection refused on every attempt.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	st := deliverOne(t, fastDelivery(url), Message{ID: "a"})
	if st.Retries != 3 || st.Failed != 1 {
		t.Errorf("refused: stats %+v; want 3 retries and 1 failed", st)
	}

	// A receiver slower than the timeout the first time only.
	r := newReceiver(t)
	r.delay = 5 * time.Second
	opts := fastDelivery(r.srv.URL)
	opts.Timeout = 100 * time.Millisecond
	d := newSender(opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	done := make(chan struct{})
	d.Enqueue(Message{ID: "slow"}, func(Message) { close(done) })
	deadline := time.After(30 * time.Second)
	for r.attempts.Load() < 1 {
		select {
		case <-deadline:
			t.Fatal("no attempt")
		case <-time.After(5 * time.Millisecond):
		}
	}
	r.mu.Lock()
	r.delay = 0
	r.mu.Unlock()
	select {
	case <-done:
	case <-deadline:
		t.Fatal("not done")
	}
	if st := d.snapshot(); st.Sent != 1 || st.Retries < 1 || len(r.messages()) != 1 {
		t.Errorf("timeout: stats %+v, got %d; want a retry and 1 sent", st, len(r.messages()))
	}
}

func TestQueueDropsOldest(t *testing.T) {
	r := newReceiver(t)
	opts := fastDelivery(r.srv.URL)
	opts.QueueSize = 3
	d := newSender(opts)
	var mu sync.Mutex
	var done []string
	record := func(m Message) { mu.Lock(); done = append(done, m.ID); mu.Unlock() }
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		d.Enqueue(Message{ID: id}, record) // nothing runs yet: the queue fills
	}
	d.Enqueue(Message{ID: "5"}, record) // already queued: not twice
	if st := d.snapshot(); st.Dropped != 2 || st.Queued != 3 {
		t.Fatalf("stats %+v; want 2 dropped and 3 queued", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for len(r.messages()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var ids []string
	for _, m := range r.messages() {
		ids = append(ids, m.ID)
	}
	if len(ids) != 3 || ids[0] != "3" || ids[1] != "4" || ids[2] != "5" {
		t.Errorf("delivered %v; want the newest three in order, 3 4 5", ids)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(done) < 2 || done[0] != "1" || done[1] != "2" {
		t.Errorf("done %v; want the dropped 1 and 2 told first", done)
	}
}

// TestDeliverStopsWhenNotAllowed: a message this replica may no longer send
// (it lost the leadership) is neither posted nor told done, so the next
// leader resends it. The silence is proven by the next message: the queue
// is delivered in order, so once a later one is done the first was handled.
func TestDeliverStopsWhenNotAllowed(t *testing.T) {
	r := newReceiver(t)
	opts := fastDelivery(r.srv.URL)
	var allowed atomic.Bool
	asked := make(chan bool, 8)
	opts.Allowed = func() bool { ok := allowed.Load(); asked <- ok; return ok }
	d := newSender(opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	called := make(chan struct{}, 1)
	d.Enqueue(Message{ID: "a"}, func(Message) { called <- struct{}{} })
	select {
	case ok := <-asked:
		if ok {
			t.Fatal("allowed before the test allowed it")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sender never asked whether it may send")
	}
	allowed.Store(true) // the replica leads again: the next message goes
	next := make(chan struct{})
	d.Enqueue(Message{ID: "b"}, func(Message) { close(next) })
	select {
	case <-next:
	case <-time.After(30 * time.Second):
		t.Fatal("the message sent once allowed was not done within 30s")
	}
	select {
	case <-called:
		t.Error("done was called for a message this replica may no longer send; the next leader would not resend it")
	default:
	}
	if got := r.messages(); r.attempts.Load() != 1 || len(got) != 1 || got[0].ID != "b" {
		t.Errorf("%d posts, delivered %v; want only b's: none by a replica that is not the leader", r.attempts.Load(), got)
	}
}

// TestIdempotencyKeyOnEveryAttempt: every post of a message, retries
// included, carries its ID as the Idempotency-Key, in every format: a
// receiver (or a proxy before Slack) can drop what it already has.
func TestIdempotencyKeyOnEveryAttempt(t *testing.T) {
	for _, f := range []Format{JSON, Slack} {
		r := newReceiver(t, 503)
		opts := fastDelivery(r.srv.URL)
		opts.Format = f
		if f == Slack {
			r.slack = true
		}
		deliverOne(t, opts, Message{ID: "u1/failed/42"})
		r.mu.Lock()
		keys := append([]string(nil), r.keys...)
		r.mu.Unlock()
		if len(keys) != 2 || keys[0] != `"u1/failed/42"` || keys[1] != keys[0] {
			t.Errorf("%s: Idempotency-Key of each attempt %q; want the message's ID on both, as a structured string", f, keys)
		}
	}
}

func TestBackoff(t *testing.T) {
	d := newSender(Options{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 12: time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			b := d.backoff(n)
			if b < want/2 || b > want {
				t.Fatalf("backoff(%d) = %s; want within [%s, %s]", n, b, want/2, want)
			}
			seen[b] = true
		}
		if len(seen) < 2 {
			t.Errorf("backoff(%d) always %v: no jitter", n, seen)
		}
	}
}
