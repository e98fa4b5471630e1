package tracker

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// State says whether a tracker's data is current.
type State string

const (
	// Live: every watch is open; what the tracker shows is the truth.
	Live State = "live"
	// Reconnecting: a watch was lost (a list or watch call failed, or a
	// stream ended and was not reopened within StreamGrace); nothing that
	// happens meanwhile is seen, until a watch resumes or a list brings the
	// truth again.
	Reconnecting State = "reconnecting"
	// Relisting: a list of everything is under way after the first one (an
	// expired watch): the truth is on its way.
	Relisting State = "relisting"
)

// Health is the state of a tracker's connection to the API server: the
// worst of its watches (Deployments, and the diagnosis's ReplicaSets, Pods
// and Events).
type Health struct {
	State State
	// Since is when the state began (for Live, when the watch came back or
	// first started).
	Since time.Time
	// Err is the last error of a watch that is not live; nil when Live.
	Err error
	// LastContact is when the tracker last heard from the API server: a
	// successful list or watch call, or an event on a watch stream.
	LastContact time.Time
	// Resource names the watch this state is about ("deployments", "pods",
	// ...); empty when Live.
	Resource string
	// Lost names every watch that is not live, sorted; empty when Live.
	Lost []string
}

// ServingResources are the watches serving is read from: while one of them
// is lost, serving is unknown (Health.ServingLost).
var ServingResources = []string{"endpointslices", "pods", "services"}

// ServingLost reports whether one of the watches serving is read from is
// lost: what the summaries say of serving and gaps may be stale, and a gap
// may begin and end unseen.
func (h Health) ServingLost() bool {
	for _, name := range h.Lost {
		if slices.Contains(ServingResources, name) {
			return true
		}
	}
	return false
}

// HealthSink is a Sink that also wants to know when the tracker's watches
// are lost and back. OnHealth is called, in order with OnEvent, on every
// change of state after OnSynced; an optional interface, so sinks that do
// not care need nothing.
type HealthSink interface {
	Sink
	OnHealth(Health)
}

// TellHealth passes h on to sink if it wants it: for sinks that wrap
// another.
func TellHealth(sink Sink, h Health) {
	if hs, ok := sink.(HealthSink); ok {
		hs.OnHealth(h)
	}
}

// StreamGrace is how long a watch stream may stay closed before the watch
// counts as lost. A stream the API server ends on its timeout is reopened
// at once; one that is not reopened within this time is a connection that
// cannot be made (or hangs), even if no call has failed yet.
var StreamGrace = 3 * time.Second

// StreamSettle is how long a watch stream must stay open, if no event
// comes first, before the watch counts as live again. client-go answers a
// watch call that cannot connect (EOF, a timeout) with an empty watch that
// is closed at once and no error, and retries it quietly: a watch call that
// "succeeds" proves nothing until its stream lives.
var StreamSettle = time.Second

// errWatchClosedAtOnce is the error of a watch whose stream closed before
// it settled, when no earlier error says more.
var errWatchClosedAtOnce = errors.New("the watch closed as soon as it opened")

// errStreamClosed is the error of a watch whose stream ended and was not
// opened again within StreamGrace.
var errStreamClosed = errors.New("the watch stream closed and was not reopened")

// watchHealth is the state of one watch (one informer).
type watchHealth struct {
	state State
	since time.Time
	err   error
	// streamGen numbers watch streams, so that the grace timer of a stream
	// that ended is ignored once a newer call happened.
	streamGen uint64
	started   bool // the first list has returned
}

// health follows the watches of one tracker. Every transition is made with
// the tracker's lock held (deliver), so what a sink hears is ordered with
// its events.
type health struct {
	now     func() time.Time
	after   func(time.Duration, func()) // time.AfterFunc; tests fire it by hand
	deliver func(update func() (Health, bool))
	// lost, when set, is told (inside deliver's update) each time a watch
	// stops being live.
	lost func(name string)

	mu          sync.Mutex
	watches     map[string]*watchHealth
	lastContact time.Time
	reported    Health // the last aggregate handed out
}

func newHealth(now func() time.Time, deliver func(update func() (Health, bool))) *health {
	h := &health{now: now, deliver: deliver, watches: map[string]*watchHealth{},
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
	h.reported = Health{State: Live, Since: now()}
	return h
}

// current is the aggregate now.
func (h *health) current() Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.aggregateLocked()
}

// aggregateLocked is the worst state of all watches: Reconnecting before
// Relisting before Live; among the lost ones, the one lost first, with the
// latest error of any of them.
func (h *health) aggregateLocked() Health {
	names := make([]string, 0, len(h.watches))
	for n := range h.watches {
		names = append(names, n)
	}
	sort.Strings(names)
	rank := map[State]int{Live: 0, Relisting: 1, Reconnecting: 2}
	var worst *watchHealth
	var worstName string
	var lost []string
	for _, n := range names {
		w := h.watches[n]
		if w.state != Live {
			lost = append(lost, n)
		}
		if worst == nil || rank[w.state] > rank[worst.state] ||
			(rank[w.state] == rank[worst.state] && w.state != Live && w.since.Before(worst.since)) {
			worst, worstName = w, n
		}
	}
	if worst == nil || worst.state == Live {
		since := h.reported.Since
		if h.reported.State != Live {
			since = h.now()
		}
		return Health{State: Live, Since: since, LastContact: h.lastContact}
	}
	return Health{State: worst.state, Since: worst.since, Err: worst.err, LastContact: h.lastContact, Resource: worstName, Lost: lost}
}

// set moves one watch to state (keeping since when the state stays) and
// tells the sink if the aggregate changed.
func (h *health) set(name string, state State, err error, contact bool) {
	h.deliver(func() (Health, bool) {
		h.mu.Lock()
		defer h.mu.Unlock()
		now := h.now()
		w := h.watch(name)
		if contact {
			h.lastContact = now
		}
		if state != w.state {
			if w.state == Live && h.lost != nil {
				h.lost(name)
			}
			w.state, w.since = state, now
		}
		w.err = err
		if state == Live {
			w.err = nil
		}
		next := h.aggregateLocked()
		changed := next.State != h.reported.State || errText(next.Err) != errText(h.reported.Err) || next.Resource != h.reported.Resource ||
			!slices.Equal(next.Lost, h.reported.Lost)
		h.reported = next
		return next, changed
	})
}

func (h *health) watch(name string) *watchHealth {
	w, ok := h.watches[name]
	if !ok {
		w = &watchHealth{state: Live}
		h.watches[name] = w
	}
	return w
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// listStarted: a relist after the first list is Relisting, unless the watch
// is lost (then it stays Reconnecting until the truth is back).
func (h *health) listStarted(name string) {
	h.mu.Lock()
	w := h.watch(name)
	relist := w.started && w.state == Live
	w.streamGen++
	h.mu.Unlock()
	if relist {
		h.set(name, Relisting, nil, false)
	}
}

// listDone: a list that failed loses the watch; one that succeeded brought
// the truth: the watch is live again.
func (h *health) listDone(name string, err error) {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		h.set(name, Reconnecting, err, false)
		return
	}
	h.mu.Lock()
	h.watch(name).started = true
	h.mu.Unlock()
	h.set(name, Live, nil, true)
}

// watchOpened: a watch call that failed loses the watch. One that
// succeeded is not live yet: its stream must deliver or settle
// (streamAlive), since client-go fakes success with an empty watch when it
// cannot connect.
func (h *health) watchOpened(name string, err error) uint64 {
	h.mu.Lock()
	w := h.watch(name)
	w.streamGen++
	gen := w.streamGen
	h.mu.Unlock()
	if err != nil && !errors.Is(err, context.Canceled) {
		h.set(name, Reconnecting, err, false)
	}
	return gen
}

// streamAlive: the stream of watch call gen delivered an event or stayed
// open for StreamSettle: the watch is live again (resumed from a resource
// version, so nothing was missed).
func (h *health) streamAlive(name string, gen uint64) {
	h.mu.Lock()
	current := h.watch(name).streamGen == gen
	h.mu.Unlock()
	if current {
		h.set(name, Live, nil, true)
	}
}

// contact records an event on a stream.
func (h *health) contact() {
	h.mu.Lock()
	h.lastContact = h.now()
	h.mu.Unlock()
}

// streamEnded handles the end of the stream of watch call gen. One that
// never lived (closed at once) loses the watch now, keeping an earlier
// error that says more. One that lived gets StreamGrace: if no list or
// watch call follows within it, the watch is lost.
func (h *health) streamEnded(ctx context.Context, name string, gen uint64, lived bool) {
	if !lived {
		h.mu.Lock()
		w := h.watch(name)
		current, err := w.streamGen == gen, w.err
		lost := w.state == Reconnecting
		h.mu.Unlock()
		if current && ctx.Err() == nil {
			if !lost || err == nil {
				err = errWatchClosedAtOnce
			}
			h.set(name, Reconnecting, err, false)
		}
		return
	}
	h.after(StreamGrace, func() {
		if ctx.Err() != nil {
			return
		}
		h.mu.Lock()
		stale := h.watch(name).streamGen != gen
		h.mu.Unlock()
		if !stale {
			h.set(name, Reconnecting, errStreamClosed, false)
		}
	})
}

// monitor wraps the list and watch calls of the informer called name, so
// that every call, failed or not, and every stream's end reach h. client-go's
// reflector retries a refused connection without calling its watch error
// handler, so the calls themselves are the one signal that always fires.
func (h *health) monitor(ctx context.Context, name string, lw *cache.ListWatch) *cache.ListWatch {
	list, watchFn := lw.ListWithContextFunc, lw.WatchFuncWithContext
	return &cache.ListWatch{
		ListWithContextFunc: func(c context.Context, o metav1.ListOptions) (runtime.Object, error) {
			h.listStarted(name)
			obj, err := list(c, o)
			h.listDone(name, err)
			return obj, err
		},
		WatchFuncWithContext: func(c context.Context, o metav1.ListOptions) (watch.Interface, error) {
			streaming := o.SendInitialEvents != nil && *o.SendInitialEvents
			if streaming {
				h.listStarted(name)
			}
			w, err := watchFn(c, o)
			gen := h.watchOpened(name, err)
			if err != nil {
				return w, err
			}
			if streaming {
				h.mu.Lock()
				h.watch(name).started = true
				h.mu.Unlock()
			}
			return newWatchedStream(w, h.after, h.contact,
				func() { h.streamAlive(name, gen) },
				func(lived bool) { h.streamEnded(ctx, name, gen, lived) }), nil
		},
	}
}

// watchedStream passes a watch's events on, noting each as contact, says
// when the stream lives (a first event, or StreamSettle open) and reports
// when the API server ends it.
type watchedStream struct {
	inner watch.Interface
	out   chan watch.Event
	stop  chan struct{}
	once  sync.Once

	mu     sync.Mutex
	lived  bool
	closed bool
}

func newWatchedStream(inner watch.Interface, after func(time.Duration, func()), contact, alive func(), ended func(lived bool)) *watchedStream {
	s := &watchedStream{inner: inner, out: make(chan watch.Event), stop: make(chan struct{})}
	live := func() {
		s.mu.Lock()
		first := !s.lived && !s.closed
		s.lived = s.lived || first
		s.mu.Unlock()
		if first {
			alive()
		}
	}
	after(StreamSettle, live)
	go func() {
		defer close(s.out)
		for ev := range inner.ResultChan() {
			contact()
			live()
			select {
			case s.out <- ev:
			case <-s.stop:
				return // the reflector stopped reading: Stop was called
			}
		}
		s.mu.Lock()
		s.closed = true
		lived := s.lived
		s.mu.Unlock()
		select {
		case <-s.stop: // stopped by the reflector, not ended by the server
		default:
			ended(lived)
		}
	}()
	return s
}

func (s *watchedStream) ResultChan() <-chan watch.Event { return s.out }

func (s *watchedStream) Stop() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.once.Do(func() { close(s.stop) })
	s.inner.Stop()
}

// forget drops a watch the tracker gave up (a diagnosis resource it may
// not read), so it does not count as lost.
func (h *health) forget(name string) {
	h.deliver(func() (Health, bool) {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.watches, name)
		next := h.aggregateLocked()
		changed := next.State != h.reported.State
		h.reported = next
		return next, changed
	})
}
