package hub

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// Kind is the kind of a Message, the SSE event name.
type Kind string

const (
	// Snapshot carries the latest event of every Deployment: the
	// subscriber replaces what it has with it.
	Snapshot Kind = "snapshot"
	// Upsert carries an ADDED or MODIFIED event.
	Upsert Kind = "upsert"
	// Delete carries a DELETED event.
	Delete Kind = "delete"
	// UpstreamKind says whether the namespace's watch of the API server is
	// live, reconnecting or relisting; its Data is an Upstream.
	UpstreamKind Kind = "upstream"
)

// Upstream is the state of a namespace's watch of the API server, the data
// of an upstream message.
type Upstream struct {
	// State is "live", "reconnecting" or "relisting" (tracker.State).
	State string `json:"state"`
	// Since is when that state began.
	Since time.Time `json:"since"`
	// Error is why the watch is not live; absent when live.
	Error string `json:"error,omitempty"`
	// LastContact is when the server last heard from the API server.
	LastContact *time.Time `json:"lastContact,omitempty"`
}

// upstreamKey is the queue and history key of upstream entries: no
// Deployment is called that, so coalescing keeps the latest state.
const upstreamKey = "\x00upstream"

func upstreamOf(h tracker.Health) Upstream {
	u := Upstream{State: string(h.State), Since: h.Since.UTC()}
	if h.Err != nil {
		u.Error = strings.Join(strings.Fields(h.Err.Error()), " ")
	}
	if !h.LastContact.IsZero() {
		c := h.LastContact.UTC()
		u.LastContact = &c
	}
	return u
}

// Message is one thing to tell a subscriber.
type Message struct {
	Kind Kind
	// ID orders messages and resumes after them (SSE's id and Last-Event-ID).
	ID string
	// Events holds one event for Upsert and Delete; for Snapshot the latest
	// event of every Deployment, sorted by name. Every subscriber gets the
	// same slice: read it, do not change it.
	Events []deployment.Event
	// Data is the JSON of the message: the event, or for a Snapshot the
	// array of events.
	Data []byte
	// Frame is Data encoded by Options.Frame, nil without it. Shared by
	// every subscriber: write it, do not change it.
	Frame []byte
}

// kindOf is the kind of message that carries e.
func kindOf(e deployment.Event) Kind {
	if e.Type == deployment.Deleted {
		return Delete
	}
	return Upsert
}

// entry is one numbered event, kept in the history and in queues.
type entry struct {
	seq  uint64
	key  string
	ev   deployment.Event
	data []byte // ev's JSON; nil after coalescing, until encoded again
	// frame is Options.Frame of data; nil after coalescing or without it.
	frame []byte
	// Made once per event, not per subscriber: with thousands of
	// subscribers, an event would otherwise cost thousands of copies.
	id     string             // formatID of seq
	events []deployment.Event // ev alone; nil after coalescing
	// upstream marks an entry about the watch itself (data is an
	// Upstream), not about a Deployment.
	upstream bool
}

// namespace is one tracked namespace: its tracker, its state as the events
// tell it, its history and its subscribers.
type namespace struct {
	name  string
	epoch string
	src   Source
	opts  Options

	ready chan struct{} // closed once the tracker has synced or failed
	err   error         // why it failed; written before ready is closed
	stop  func()        // stops the tracker; written before ready is closed

	// Guarded by Hub.mu.
	refs      int
	linger    *time.Timer
	lingerGen int

	mu      sync.Mutex // guards what follows; taken before Subscription.mu
	closed  bool
	seq     uint64
	state   map[string]entry // latest event of every Deployment
	history []entry          // ring of the last HistorySize entries
	head    int              // index of the oldest entry once the ring is full
	subs    map[*Subscription]struct{}
	// health is the tracker's as last told (zero: live); lost entries
	// follow every snapshot, so a new subscriber knows the rows are stale.
	health tracker.Health
	// snap is the snapshot of sequence number snap.seq, shared by every
	// subscriber that needs one before the next event.
	snap *snapshot
}

// snapshot is the namespace's state at one sequence number, encoded once
// (by the first subscriber that needs it) for all.
type snapshot struct {
	seq    uint64
	id     string
	events []deployment.Event
	health tracker.Health

	once sync.Once
	msgs []Message // read-only once made
}

func newNamespace(name string, opts Options) *namespace {
	return &namespace{
		name: name, epoch: newEpoch(), src: opts.NewSource(name), opts: opts,
		ready: make(chan struct{}),
		state: map[string]entry{},
		subs:  map[*Subscription]struct{}{},
	}
}

// OnEvent numbers e, records it and queues it for every subscriber. It never
// waits on a subscriber: pushing only appends to a bounded queue.
func (n *namespace) OnEvent(e deployment.Event) {
	data, _ := json.Marshal(e) // a Summary always encodes
	n.mu.Lock()
	defer n.mu.Unlock()
	en := n.numberLocked(entry{key: e.Key(), ev: e, data: data, events: []deployment.Event{e}}, kindOf(e))
	if e.Type == deployment.Deleted {
		delete(n.state, en.key)
	} else {
		n.state[en.key] = en
	}
	n.recordLocked(en)
}

// numberLocked gives en the next sequence number, its ID and its frame.
func (n *namespace) numberLocked(en entry, kind Kind) entry {
	n.seq++
	en.seq, en.id = n.seq, formatID(n.epoch, n.seq)
	if n.opts.Frame != nil {
		en.frame = n.opts.Frame(kind, en.id, en.data)
	}
	return en
}

// recordLocked keeps en in the history and queues it for every subscriber.
func (n *namespace) recordLocked(en entry) {
	if len(n.history) < n.opts.HistorySize {
		n.history = append(n.history, en)
	} else {
		n.history[n.head] = en
		n.head = (n.head + 1) % len(n.history)
	}
	for s := range n.subs {
		s.push(en)
	}
}

// OnHealth records the watch's state and tells every subscriber.
func (n *namespace) OnHealth(h tracker.Health) {
	data, _ := json.Marshal(upstreamOf(h))
	n.mu.Lock()
	defer n.mu.Unlock()
	n.health = h
	n.recordLocked(n.numberLocked(entry{key: upstreamKey, data: data, upstream: true}, UpstreamKind))
}

// live reports whether the watch is live, as last told.
func (n *namespace) live() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.health.State == "" || n.health.State == tracker.Live
}

// OnSynced needs nothing: the ADDED events before it built the state.
func (n *namespace) OnSynced([]deployment.Summary) {}

// add registers s, queueing what it missed since lastEventID or owing it a
// snapshot. It reports false when the hub is closing.
func (n *namespace) add(s *Subscription, lastEventID string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.subs[s] = struct{}{}
	missed, ok := n.since(lastEventID)
	if !ok {
		s.needSnapshot = true
		return true
	}
	for _, en := range missed {
		s.push(en)
	}
	return true
}

// since returns the history after the event with ID id, and false when that
// history is incomplete or the ID is not one of this tracker's.
func (n *namespace) since(id string) ([]entry, bool) {
	epoch, seq, ok := parseID(id)
	if !ok || epoch != n.epoch || seq > n.seq {
		return nil, false
	}
	// The oldest event kept is oldest; every one after seq must be there.
	oldest := n.seq - uint64(len(n.history)) + 1
	if seq+1 < oldest {
		return nil, false
	}
	var out []entry
	for i := range n.history {
		en := n.history[(n.head+i)%len(n.history)]
		if en.seq > seq {
			out = append(out, en)
		}
	}
	return out, true
}

// snapshotLocked is the latest event of every Deployment, as of the
// current sequence number: made once for every subscriber that asks before
// the next event.
func (n *namespace) snapshotLocked() *snapshot {
	if n.snap != nil && n.snap.seq == n.seq {
		return n.snap
	}
	events := make([]deployment.Event, 0, len(n.state))
	for _, en := range n.state {
		events = append(events, en.ev)
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Key() < events[j].Key() })
	n.snap = &snapshot{seq: n.seq, id: formatID(n.epoch, n.seq), events: events, health: n.health}
	return n.snap
}

// messages encodes the snapshot once, and returns the same messages to
// every caller. While the watch is not live, an upstream message follows.
func (sn *snapshot) messages(frame func(Kind, string, []byte) []byte) []Message {
	sn.once.Do(func() {
		data, _ := json.Marshal(sn.events)
		m := Message{Kind: Snapshot, ID: sn.id, Events: sn.events, Data: data}
		if frame != nil {
			m.Frame = frame(Snapshot, sn.id, data)
		}
		sn.msgs = []Message{m}
		if sn.health.State != "" && sn.health.State != tracker.Live {
			up, _ := json.Marshal(upstreamOf(sn.health))
			m := Message{Kind: UpstreamKind, Data: up} // no ID: the snapshot's holds
			if frame != nil {
				m.Frame = frame(UpstreamKind, "", up)
			}
			sn.msgs = append(sn.msgs, m)
		}
	})
	return slices.Clip(sn.msgs)
}

// remove unregisters s and reports whether it was registered.
func (n *namespace) remove(s *Subscription) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.subs[s]
	delete(n.subs, s)
	return ok
}

// closeSubscribers ends every subscription: the hub is closing.
func (n *namespace) closeSubscribers() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	for s := range n.subs {
		s.end()
	}
}

// spareCap bounds the queue a subscriber keeps for reuse, so that a burst
// does not pin memory for every subscriber.
const spareCap = 16

// Subscription is one subscriber's view of a namespace. Next and Close may
// be called from different goroutines.
type Subscription struct {
	hub  *Hub
	ns   *namespace
	wake chan struct{} // a token when the queue gains something
	done chan struct{} // closed when the hub closes

	mu           sync.Mutex // guards what follows
	queue        []entry
	spare        []entry // the queue Next handed out last, to fill next: no allocation per event
	needSnapshot bool    // the next message is a fresh snapshot; pushes are dropped meanwhile
	ended        bool
	coalesced    uint64

	closeOnce sync.Once
}

// push queues en. Called with the namespace's lock held.
func (s *Subscription) push(en entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if s.needSnapshot {
		s.coalesce(1) // the snapshot will hold it
		return
	}
	s.queue = append(s.queue, en)
	if len(s.queue) >= s.hub.opts.QueueSize {
		s.compactLocked()
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// compactLocked coalesces the full queue to the latest event per
// Deployment. When that leaves it more than half full, coalescing again
// soon would cost more than it saves: the queue is dropped for a snapshot.
func (s *Subscription) compactLocked() {
	before := len(s.queue)
	latest := make(map[string]entry, before)
	for _, en := range s.queue {
		if prev, ok := latest[en.key]; ok {
			en = merge(prev, en)
		}
		latest[en.key] = en
	}
	if len(latest) > s.hub.opts.QueueSize/2 {
		s.queue = nil
		s.needSnapshot = true
		s.coalesce(before)
		return
	}
	out := make([]entry, 0, s.hub.opts.QueueSize)
	for _, en := range latest {
		out = append(out, en)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	s.queue = out
	s.coalesce(before - len(out))
}

func (s *Subscription) coalesce(n int) {
	s.coalesced += uint64(n)
	s.hub.coalesced.Add(uint64(n))
}

// merge folds two queued events of one Deployment into one that leaves the
// subscriber where both would: the later state, under the later number.
func merge(prev, next entry) entry {
	if next.ev.Type == deployment.Modified {
		switch prev.ev.Type {
		case deployment.Added:
			next.ev.Type = deployment.Added // the subscriber has not seen it yet
			next.ev.Changed = []string{}
		case deployment.Modified:
			changed := slices.Clone(prev.ev.Changed)
			for _, c := range next.ev.Changed {
				if !slices.Contains(changed, c) {
					changed = append(changed, c)
				}
			}
			next.ev.Changed = changed
		}
		next.data, next.events, next.frame = nil, nil, nil
	}
	return next
}

// ErrIdle is returned by Wait when nothing came before idle.
var ErrIdle = errors.New("idle")

// Next waits for what the subscriber should be told next and returns it:
// a snapshot, or the queued events in order. It returns ErrClosed once the
// hub closes, or ctx's error.
func (s *Subscription) Next(ctx context.Context) ([]Message, error) {
	return s.Wait(ctx, nil)
}

// Wait is Next that also returns ErrIdle when idle delivers first: a
// caller's timer, reset as it pleases, costs less than a context per call.
func (s *Subscription) Wait(ctx context.Context, idle <-chan time.Time) ([]Message, error) {
	for {
		s.mu.Lock()
		switch {
		case s.ended:
			s.mu.Unlock()
			return nil, ErrClosed
		case s.needSnapshot:
			s.mu.Unlock()
			return s.snapshot(), nil
		case len(s.queue) > 0:
			q := s.queue
			s.queue, s.spare = s.spare, nil
			s.mu.Unlock()
			msgs := s.messages(q)
			clear(q) // let go of the events
			s.mu.Lock()
			if s.spare == nil && cap(q) <= spareCap { // a burst's big queue is let go
				s.spare = q[:0]
			}
			s.mu.Unlock()
			return msgs, nil
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-idle:
			return nil, ErrIdle
		}
	}
}

// snapshot takes the namespace's state and clears the debt of a snapshot,
// atomically with respect to events: those after it are queued as usual.
// While the watch is not live, an upstream message follows it.
func (s *Subscription) snapshot() []Message {
	n := s.ns
	n.mu.Lock()
	s.mu.Lock()
	snap := n.snapshotLocked()
	s.needSnapshot = false
	s.queue = nil
	s.mu.Unlock()
	n.mu.Unlock()
	return snap.messages(n.opts.Frame)
}

func (s *Subscription) messages(q []entry) []Message {
	out := make([]Message, len(q))
	for i, en := range q {
		if en.upstream {
			out[i] = Message{Kind: UpstreamKind, ID: en.id, Data: en.data, Frame: en.frame}
			continue
		}
		kind := kindOf(en.ev)
		data, events, frame := en.data, en.events, en.frame
		if data == nil { // coalesced for this subscriber alone
			data, _ = json.Marshal(en.ev)
			if f := s.ns.opts.Frame; f != nil {
				frame = f(kind, en.id, data)
			}
		}
		if events == nil {
			events = []deployment.Event{en.ev}
		}
		out[i] = Message{Kind: kind, ID: en.id, Events: events, Data: data, Frame: frame}
	}
	return out
}

// Coalesced counts the events this subscriber never got because a later
// state replaced them.
func (s *Subscription) Coalesced() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.coalesced
}

// pending is the length of the queue, for tests.
func (s *Subscription) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// end marks s ended by the hub. Called with the namespace's lock held.
func (s *Subscription) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.ended = true
		s.queue = nil
		close(s.done)
	}
}

// Close ends the subscription; its namespace's tracker stops after the
// linger if nobody else follows it. Calling it again does nothing.
func (s *Subscription) Close() {
	s.closeOnce.Do(func() { s.hub.release(s.ns, s) })
}
