package tracker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// healthRig drives a monitored ListWatch by hand and records what a sink
// would hear.
type healthRig struct {
	t       *testing.T
	h       *health
	lw      *cache.ListWatch
	clock   time.Time
	mu      sync.Mutex
	heardCh chan Health
	listErr error
	watchE  error
	streams []*watch.FakeWatcher
}

func newHealthRig(t *testing.T, ctx context.Context) *healthRig {
	r := &healthRig{t: t, clock: time.Date(2026, 12, 2, 14, 9, 0, 0, time.UTC), heardCh: make(chan Health, 100)}
	now := func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.clock }
	r.h = newHealth(now, func(update func() (Health, bool)) {
		if hl, changed := update(); changed {
			r.heardCh <- hl
		}
	})
	r.lw = r.h.monitor(ctx, "deployments", &cache.ListWatch{
		ListWithContextFunc: func(context.Context, metav1.ListOptions) (runtime.Object, error) {
			if r.listErr != nil {
				return nil, r.listErr
			}
			return &appsv1.DeploymentList{}, nil
		},
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) {
			if r.watchE != nil {
				return nil, r.watchE
			}
			w := watch.NewFake()
			r.streams = append(r.streams, w)
			return w, nil
		},
	})
	return r
}

func (r *healthRig) tick(d time.Duration) {
	r.mu.Lock()
	r.clock = r.clock.Add(d)
	r.mu.Unlock()
}

func (r *healthRig) list() {
	_, _ = r.lw.ListWithContext(context.Background(), metav1.ListOptions{})
}

func (r *healthRig) watch() watch.Interface {
	w, err := r.lw.WatchWithContext(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil
	}
	return w
}

// next is the next change the sink hears.
func (r *healthRig) next() Health {
	r.t.Helper()
	select {
	case hl := <-r.heardCh:
		return hl
	case <-time.After(10 * time.Second):
		r.t.Fatal("no change of health heard")
		return Health{}
	}
}

// quiet checks that nothing was heard so far.
func (r *healthRig) quiet() {
	r.t.Helper()
	select {
	case hl := <-r.heardCh:
		r.t.Fatalf("heard %+v, want nothing", hl)
	default:
	}
}

func TestHealthFailedCallsLoseTheWatchAndSuccessBringsItBack(t *testing.T) {
	r := newHealthRig(t, context.Background())
	r.list()
	r.watch()
	r.quiet() // live from the start: nothing to tell
	if got := r.h.current(); got.State != Live || got.LastContact.IsZero() {
		t.Fatalf("after list and watch: %+v, want live with a contact", got)
	}

	refused := errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	r.tick(time.Minute)
	lostAt := r.clock
	r.watchE = refused
	r.watch()
	hl := r.next()
	if hl.State != Reconnecting || !hl.Since.Equal(lostAt) || !errors.Is(hl.Err, refused) || hl.Resource != "deployments" {
		t.Fatalf("after a refused watch: %+v, want reconnecting since %s with the error", hl, lostAt)
	}
	// Retries that fail the same way change nothing: since stays.
	r.tick(5 * time.Second)
	r.watch()
	r.listErr = refused
	r.list() // a relist while lost stays reconnecting, not relisting
	r.quiet()
	if got := r.h.current(); got.State != Reconnecting || !got.Since.Equal(lostAt) {
		t.Fatalf("after more failures: %+v, want reconnecting since %s", got, lostAt)
	}

	// The list works again: the truth is back.
	r.tick(5 * time.Second)
	r.listErr, r.watchE = nil, nil
	r.list()
	hl = r.next()
	if hl.State != Live || hl.Err != nil || !hl.Since.Equal(r.clock) || !hl.LastContact.Equal(r.clock) {
		t.Fatalf("after a good list: %+v, want live since %s", hl, r.clock)
	}
}

func TestHealthRelistIsRelistingNotLost(t *testing.T) {
	r := newHealthRig(t, context.Background())
	r.list()
	r.watch()
	r.quiet()
	r.list() // an expired watch: the reflector lists everything again
	if hl := r.next(); hl.State != Relisting {
		t.Fatalf("during a relist: %+v, want relisting", hl)
	}
	if hl := r.next(); hl.State != Live {
		t.Fatalf("after the relist: %+v, want live", hl)
	}
}

// timers captures a rig's settle and grace timers, to fire by hand.
type timers struct{ settle, grace chan func() }

func captureTimers(r *healthRig) timers {
	tm := timers{settle: make(chan func(), 10), grace: make(chan func(), 10)}
	r.h.after = func(d time.Duration, f func()) {
		if d == StreamSettle {
			tm.settle <- f
		} else {
			tm.grace <- f
		}
	}
	return tm
}

func TestHealthStreamReopenedAtOnceIsNoBlip(t *testing.T) {
	r := newHealthRig(t, context.Background())
	tm := captureTimers(r)
	r.list()
	w := r.watch()
	(<-tm.settle)()
	// The API server ends the stream on its timeout; the reflector sees the
	// end and opens the next watch at once.
	r.streams[0].Stop()
	for range w.ResultChan() {
	}
	first := <-tm.grace
	r.watch()
	(<-tm.settle)()
	first() // the grace ends after the reopen: no blip
	r.quiet()
	if got := r.h.current(); got.State != Live {
		t.Fatalf("after a stream reopened at once: %+v, want live", got)
	}
	// The next stream ends and nothing reopens it: lost once the grace ends.
	r.streams[1].Stop()
	(<-tm.grace)()
	hl := r.next()
	if hl.State != Reconnecting || !errors.Is(hl.Err, errStreamClosed) {
		t.Fatalf("after a stream not reopened: %+v, want reconnecting with %v", hl, errStreamClosed)
	}
	r.watch()
	r.quiet() // opened, not yet live
	(<-tm.settle)()
	if hl := r.next(); hl.State != Live {
		t.Fatalf("after the watch reopened and settled: %+v, want live", hl)
	}
}

// client-go answers a watch call that cannot connect with an empty watch,
// closed at once, and no error: that is no way back.
func TestHealthWatchClosedAtOnceIsNotLive(t *testing.T) {
	r := newHealthRig(t, context.Background())
	tm := captureTimers(r)
	r.list()
	r.listErr = errors.New("connect: connection refused")
	r.list()
	if hl := r.next(); hl.State != Relisting {
		t.Fatalf("a second list: %+v, want relisting first", hl)
	}
	hl := r.next()
	if hl.State != Reconnecting {
		t.Fatalf("after a refused list: %+v, want reconnecting", hl)
	}
	for i := 0; i < 3; i++ {
		w := r.watch()
		r.streams[len(r.streams)-1].Stop() // empty: closed at once
		for range w.ResultChan() {
		}
		settle := <-tm.settle
		settle() // too late: the stream is gone
	}
	r.quiet()
	if got := r.h.current(); got.State != Reconnecting || got.Err == nil || got.Err.Error() != "connect: connection refused" {
		t.Fatalf("after empty watches: %+v, want still reconnecting with the refused list's error", got)
	}
	// Live before, an empty watch loses it at once.
	r.listErr = nil
	r.list()
	if hl := r.next(); hl.State != Live {
		t.Fatalf("after a good list: %+v, want live", hl)
	}
	w := r.watch()
	r.streams[len(r.streams)-1].Stop()
	for range w.ResultChan() {
	}
	if hl := r.next(); hl.State != Reconnecting || !errors.Is(hl.Err, errWatchClosedAtOnce) {
		t.Fatalf("after a watch closed at once: %+v, want reconnecting with %v", hl, errWatchClosedAtOnce)
	}
}

func TestHealthEventsAreContact(t *testing.T) {
	r := newHealthRig(t, context.Background())
	r.list()
	w := r.watch()
	r.tick(time.Minute)
	r.streams[0].Add(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}})
	<-w.ResultChan()
	if got := r.h.current().LastContact; !got.Equal(r.clock) {
		t.Fatalf("last contact %s, want %s (the event)", got, r.clock)
	}
	w.Stop() // stopped by the reflector: not a lost stream
}

func TestHealthWorstWatchWinsAndForgetDropsIt(t *testing.T) {
	r := newHealthRig(t, context.Background())
	r.h.listDone("deployments", nil)
	r.h.listDone("pods", nil)
	forbidden := errors.New("pods is forbidden")
	r.h.listDone("pods", forbidden)
	hl := r.next()
	if hl.State != Reconnecting || hl.Resource != "pods" {
		t.Fatalf("one watch lost: %+v, want reconnecting on pods", hl)
	}
	r.h.forget("pods")
	if hl := r.next(); hl.State != Live {
		t.Fatalf("after forgetting the lost watch: %+v, want live", hl)
	}
}
