package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// TestWaitersEndAtTruthAndCloseEndsThem: many subscribers, each blocked in
// Wait in its own goroutine, some of them held back (they read again only
// when a gate opens, so their cursors fall behind, are coalesced or fall out of the
// history), all end at the true state with increasing IDs; a hub that closes
// then ends every waiter with ErrClosed.
func TestWaitersEndAtTruthAndCloseEndsThem(t *testing.T) {
	const waiters, held, events, deployments = 40, 10, 5000, 20
	ss := &scripts{}
	h := New(nil, Options{QueueSize: 32, HistorySize: 64, NewSource: ss.newSource})
	gate := make(chan struct{})
	followers := make([]*follower, waiters)
	for i := range followers {
		sub := subscribe(t, h, "shop", "")
		defer sub.Close()
		if i < held {
			followers[i] = follow(t, sub, gate)
		} else {
			followers[i] = follow(t, sub, nil)
		}
	}
	// Stats, read all along, never counts fewer coalesced events than before.
	polled := make(chan error)
	go func() {
		var last uint64
		for {
			select {
			case <-gate:
				polled <- nil
				return
			default:
			}
			c := h.Stats().Coalesced
			if c < last {
				polled <- fmt.Errorf("coalesced went down from %d to %d", last, c)
				return
			}
			last = c
		}
	}()
	src := ss.last()
	truth := map[string]int32{}
	for i := range events {
		src.emit(churn(truth, i, deployments))
	}
	close(gate) // the held ones read again
	if err := <-polled; err != nil {
		t.Error(err)
	}
	for i, f := range followers {
		testutil.Eventually(t, 20*time.Second, fmt.Sprintf("follower %d to reach the true state", i), func() bool { return f.at(truth) })
	}
	if h.Stats().Coalesced == 0 {
		t.Errorf("no event was coalesced: the held followers never fell behind, so this test proved nothing")
	}

	h.Close()
	for i, f := range followers {
		<-f.done
		if !errors.Is(f.err, ErrClosed) {
			t.Errorf("follower %d ended with %v, want ErrClosed", i, f.err)
		}
	}
}

// follower reads a subscription in a goroutine of its own, as a stream
// does, until Wait fails.
type follower struct {
	mu   sync.Mutex
	v    *view
	err  error         // why Wait failed, once done is closed
	done chan struct{} // closed when it stops
}

// follow starts a follower of s; with a gate, it waits for the gate to
// open before each Wait after the first.
func follow(t *testing.T, s *Subscription, gate <-chan struct{}) *follower {
	f := &follower{v: newView(), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for {
			msgs, err := s.Wait(context.Background(), nil)
			f.mu.Lock()
			f.err = err
			if err == nil {
				f.v.apply(t, msgs)
			}
			f.mu.Unlock()
			if err != nil {
				return
			}
			if gate != nil {
				<-gate
			}
		}
	}()
	return f
}

// at reports whether f's view is truth.
func (f *follower) at(truth map[string]int32) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Equal(f.v.state, truth)
}

// churn is the i-th event of changes to n Deployments, a few of them
// deletions, and records it in truth.
func churn(truth map[string]int32, i, n int) deployment.Event {
	name := fmt.Sprintf("d%02d", i%n)
	if _, ok := truth[name]; !ok {
		truth[name] = int32(i)
		return ev(deployment.Added, name, int32(i))
	}
	if i%331 == 0 {
		delete(truth, name)
		return ev(deployment.Deleted, name, 0)
	}
	truth[name] = int32(i)
	return ev(deployment.Modified, name, int32(i))
}

// TestStalledSubscribersKeepNoEvents: subscribers that read nothing cost no
// memory per event: a burst into a namespace with many stalled subscribers
// grows the heap as much as the same burst into one with a single
// subscriber (the shared history), give or take a small amount each. The
// burst is shorter than QueueSize, so nothing is coalesced or snapshotted
// away: a queue per subscriber would hold all of it.
func TestStalledSubscribersKeepNoEvents(t *testing.T) {
	const stalled, events, perSubscriber = 200, DefaultQueueSize - 1, 1024
	ss := &scripts{}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	burst := func(ns string, subscribers int) int64 {
		for range subscribers {
			s := subscribe(t, h, ns, "")
			defer s.Close()
			next(t, s) // the snapshot; then it stalls
		}
		src := ss.last()
		before := heapInUse()
		for i := range events {
			src.emit(ev(deployment.Modified, fmt.Sprintf("d%03d", i%300), int32(i)))
		}
		return heapInUse() - before
	}
	one := burst("alone", 1)
	many := burst("crowd", stalled)
	if per := (many - one) / stalled; per > perSubscriber {
		t.Fatalf("a burst of %d events grew the heap by %d B with one subscriber and %d B with %d stalled ones: %d B each, want at most %d",
			events, one, many, stalled, per, perSubscriber)
	}
	t.Logf("heap growth of a burst: %d B with one subscriber, %d B with %d stalled ones", one, many, stalled)
}

// TestBurstLetsGoOfItsSlice: the slice a subscription keeps to hand out
// messages does not keep a burst's size.
func TestBurstLetsGoOfItsSlice(t *testing.T) {
	ss := &scripts{}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	next(t, s)
	src := ss.last()
	for i := range 50 {
		src.emit(ev(deployment.Modified, fmt.Sprintf("d%02d", i), 1))
	}
	if msgs := next(t, s); len(msgs) != 50 {
		t.Fatalf("a burst of 50 gave %d messages, want 50 (no coalescing below QueueSize)", len(msgs))
	}
	src.emit(ev(deployment.Modified, "web", 2))
	a := next(t, s)
	src.emit(ev(deployment.Modified, "web", 3))
	b := next(t, s)
	if cap(s.msgs) > keptMessages || &a[0] != &b[0] {
		t.Fatalf("kept slice has room for %d (want at most %d), reused: %v; want one small slice reused", cap(s.msgs), keptMessages, &a[0] == &b[0])
	}
	runtime.KeepAlive(a)
}

// TestCoalescedCountsWhileStalled: the events a stalled subscriber is sure
// to lose count in Stats while it is still stalled, as a queue per
// subscriber used to count them: beyond QueueSize all but QueueSize/2 of
// its backlog, all of it once its cursor fell out of the history. The
// figure never goes down, when it reads (coalesced or a snapshot) or leaves
// without reading.
func TestCoalescedCountsWhileStalled(t *testing.T) {
	const queue, history = 8, 16
	ss := &scripts{}
	h := New(nil, Options{QueueSize: queue, HistorySize: history, NewSource: ss.newSource})
	defer h.Close()
	a, b, c := subscribe(t, h, "shop", ""), subscribe(t, h, "shop", ""), subscribe(t, h, "shop", "")
	defer a.Close()
	defer b.Close()
	for _, s := range []*Subscription{a, b, c} {
		next(t, s) // the snapshot
	}
	src := ss.last()
	emit := func(k int) {
		for range k {
			src.emit(ev(deployment.Modified, "web", 1))
		}
	}
	want := func(when string, total uint64) {
		t.Helper()
		if got := h.Stats().Coalesced; got != total {
			t.Fatalf("%s: coalesced %d, want %d", when, got, total)
		}
	}
	emit(queue)
	want("three subscribers a queue behind", 0)
	emit(4)
	want("three subscribers 12 behind", 3*(12-queue/2))
	if msgs := next(t, a); len(msgs) != 1 || a.Coalesced() != 11 {
		t.Fatalf("12 events of one Deployment gave %d messages, %d coalesced; want 1 and 11", len(msgs), a.Coalesced())
	}
	want("after one read them coalesced", 11+2*(12-queue/2))
	emit(14) // b and c fall out of the history
	want("two subscribers out of the history", 11+(14-queue/2)+2*26)
	if msgs := next(t, b); len(msgs) != 1 || msgs[0].Kind != Snapshot || b.Coalesced() != 26 {
		t.Fatalf("out of the history: %+v, %d coalesced; want a snapshot and 26", msgs, b.Coalesced())
	}
	want("after one took its snapshot", 11+(14-queue/2)+2*26)
	c.Close()
	want("after one left unread", 11+(14-queue/2)+2*26)
}
