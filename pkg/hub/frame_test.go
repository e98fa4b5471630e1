package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// countingFrame is an Options.Frame that counts its calls.
type countingFrame struct{ calls atomic.Int64 }

func (c *countingFrame) frame(kind Kind, id string, data []byte) []byte {
	c.calls.Add(1)
	return fmt.Appendf(nil, "%s|%s|%s", kind, id, data)
}

func sameBytes(a, b []byte) bool { return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0] }

// nextShared reads one message of kind from each subscriber and checks that
// they all got the same frame and data, not copies.
func nextShared(t *testing.T, subs []*Subscription, kind Kind) []Message {
	t.Helper()
	var out []Message
	for i, s := range subs {
		msgs := next(t, s)
		if len(msgs) != 1 || msgs[0].Kind != kind {
			t.Fatalf("subscriber %d got %+v, want one %s", i, msgs, kind)
		}
		if i > 0 && (!sameBytes(msgs[0].Frame, out[0].Frame) || !sameBytes(msgs[0].Data, out[0].Data)) {
			t.Errorf("subscriber %d got a %s of its own, want the shared one", i, kind)
		}
		out = append(out, msgs[0])
	}
	return out
}

// TestFramesMadeOnceAndShared: an event is framed once however many
// subscribers get it, a snapshot once per state, and every subscriber writes
// the very same bytes; a subscriber whose queue was coalesced gets frames
// true to what it is told.
func TestFramesMadeOnceAndShared(t *testing.T) {
	cf := &countingFrame{}
	ss := &scripts{make: func() *script {
		return &script{initial: []deployment.Event{ev(deployment.Added, "web", 1), ev(deployment.Added, "api", 2)}}
	}}
	h := New(nil, Options{QueueSize: 4, NewSource: ss.newSource, Frame: cf.frame})
	defer h.Close()
	subs := make([]*Subscription, 3)
	for i := range subs {
		subs[i] = subscribe(t, h, "shop", "")
		defer subs[i].Close()
	}
	if got := cf.calls.Load(); got != 2 {
		t.Fatalf("frames made for the 2 initial events: %d, want 2", got)
	}

	snaps := nextShared(t, subs, Snapshot)
	if got := cf.calls.Load(); got != 3 {
		t.Errorf("frames made after 3 snapshots of one state: %d, want 3 (one for the snapshot)", got)
	}
	want := cf.frame(Snapshot, snaps[0].ID, snaps[0].Data)
	cf.calls.Add(-1)
	if string(snaps[0].Frame) != string(want) {
		t.Errorf("snapshot frame = %q, want %q", snaps[0].Frame, want)
	}

	src := ss.last()
	src.emit(ev(deployment.Modified, "web", 5))
	nextShared(t, subs, Upsert)
	if got := cf.calls.Load(); got != 4 {
		t.Errorf("frames made after one event to 3 subscribers: %d, want 4", got)
	}
	// Whatever its kind: a StatefulSet's and a DaemonSet's events are framed
	// once each too.
	for i, kind := range []string{deployment.KindStatefulSet, deployment.KindDaemonSet} {
		e := ev(deployment.Added, []string{"db", "agent"}[i], 1)
		e.Kind = kind
		src.emit(e)
		msgs := nextShared(t, subs, Upsert)
		if got, want := cf.calls.Load(), int64(5+i); got != want {
			t.Errorf("frames made after a %s's event to 3 subscribers: %d, want %d", kind, got, want)
		}
		if !bytes.Contains(msgs[0].Data, []byte(kind)) {
			t.Errorf("the %s's event says %s", kind, msgs[0].Data)
		}
	}
	cf.calls.Add(-2) // the counts below are of Deployment events

	// A new state makes a new snapshot, shared again.
	late1, late2 := subscribe(t, h, "shop", ""), subscribe(t, h, "shop", "")
	defer late1.Close()
	defer late2.Close()
	a, b := next(t, late1)[0], next(t, late2)[0]
	if a.ID == snaps[0].ID || !sameBytes(a.Frame, b.Frame) || cf.calls.Load() != 5 {
		t.Errorf("snapshots after a change: IDs %s, %s (first %s), frames made %d; want one new shared snapshot (5)", a.ID, b.ID, snaps[0].ID, cf.calls.Load())
	}

	// subs[0] stops reading: its queue of 4 coalesces to the latest "web".
	for i := range 6 {
		src.emit(ev(deployment.Modified, "web", int32(10+i)))
	}
	for _, s := range subs[1:] {
		next(t, s)
	}
	v := newView()
	v.apply(t, snaps[:1])
	for {
		msgs := next(t, subs[0])
		v.apply(t, msgs)
		for _, m := range msgs {
			if string(m.Frame) != string(cf.frame(m.Kind, m.ID, m.Data)) {
				t.Errorf("coalesced message %s: frame %q does not say its data %s", m.ID, m.Frame, m.Data)
			}
		}
		if v.state["web"] == 15 {
			break
		}
	}
	if subs[0].Coalesced() == 0 {
		t.Errorf("the stalled subscriber's queue was never coalesced; the test proves nothing")
	}
}

// TestWaitIdle: Wait says the subscriber was idle when its idle channel
// fires first, and hands out what is queued otherwise.
func TestWaitIdle(t *testing.T) {
	ss := &scripts{make: func() *script { return &script{initial: []deployment.Event{ev(deployment.Added, "web", 1)}} }}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	next(t, s) // the snapshot

	idle := make(chan time.Time, 1)
	idle <- time.Now()
	if _, err := s.Wait(context.Background(), idle); !errors.Is(err, ErrIdle) {
		t.Fatalf("Wait with nothing queued and idle fired: %v, want ErrIdle", err)
	}
	ss.last().emit(ev(deployment.Modified, "web", 2))
	idle <- time.Now()
	msgs, err := s.Wait(context.Background(), idle)
	if err != nil || len(msgs) != 1 || msgs[0].Events[0].Replicas.Desired != 2 {
		t.Fatalf("Wait with an event queued: %+v, %v; want the event before idleness", msgs, err)
	}
}
