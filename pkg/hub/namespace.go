package hub

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/timeline"
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
	// ServiceGapsKind carries the gaps of the namespace's Services that
	// select no pod and never selected a Deployment (no Deployment's gaps
	// show them):
	// its Data is the JSON array of every such deployment.ServiceGap open
	// now, empty once none is.
	ServiceGapsKind Kind = "serviceGaps"
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
	// Lost names every watch that is not live ("services",
	// "endpointslices", ...): while one serving reads is, serving is
	// unknown. Absent when live.
	Lost []string `json:"lost,omitempty"`
}

// upstreamKey is the history key of upstream entries: no
// Deployment is called that, so coalescing keeps the latest state.
const upstreamKey = "\x00upstream"

// serviceGapsKey is the history key of serviceGaps entries, likewise.
const serviceGapsKey = "\x00serviceGaps"

func upstreamOf(h tracker.Health) Upstream {
	u := Upstream{State: string(h.State), Since: h.Since.UTC(), Lost: h.Lost}
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

// entry is one numbered event, kept in the history.
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
	// about is the kind of an entry about the namespace (UpstreamKind,
	// ServiceGapsKind), not about a Deployment; empty for an event.
	about Kind
}

// message is en as a subscriber gets it, sharing en's encodings.
func (en *entry) message() Message {
	if en.about != "" {
		return Message{Kind: en.about, ID: en.id, Data: en.data, Frame: en.frame}
	}
	return Message{Kind: kindOf(en.ev), ID: en.id, Events: en.events, Data: en.data, Frame: en.frame}
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

	// mu guards what follows; taken after Subscription.mu. Subscribers
	// read the history under its read lock, together.
	mu     sync.RWMutex
	closed bool
	seq    uint64
	state  map[string]entry // latest event of every Deployment
	// history is a ring of the last HistorySize entries: the entry of
	// sequence number q is at (q-1) % HistorySize, as every number goes
	// into it. Subscribers read it by their cursors; it is their only queue.
	history []entry
	subs    map[*Subscription]struct{}
	// wake is closed, and replaced, when an entry is recorded or the hub
	// closes: one broadcast wakes every waiting subscriber.
	wake chan struct{}
	// health is the tracker's as last told (zero: live); lost entries
	// follow every snapshot, so a new subscriber knows the rows are stale.
	health tracker.Health
	// serviceGaps are the Service gaps as last told; a serviceGaps entry
	// follows every snapshot while there are some.
	serviceGaps []deployment.ServiceGap
	// snap is the snapshot of sequence number snap.seq, shared by every
	// subscriber that needs one before the next event.
	snap *snapshot
	// rollouts keeps each Deployment's last rollout for the page, seen
	// since created (see Hub.Timeline); not other kinds', which may share
	// a Deployment's name.
	rollouts timeline.Recorder
	created  time.Time
}

// snapshot is the namespace's state at one sequence number, encoded once
// (by the first subscriber that needs it) for all.
type snapshot struct {
	seq         uint64
	id          string
	events      []deployment.Event
	health      tracker.Health
	serviceGaps []deployment.ServiceGap

	once sync.Once
	msgs []Message // read-only once made
}

func newNamespace(name string, opts Options) *namespace {
	return &namespace{
		name: name, epoch: newEpoch(), src: opts.NewSource(name), opts: opts,
		ready:   make(chan struct{}),
		state:   map[string]entry{},
		subs:    map[*Subscription]struct{}{},
		wake:    make(chan struct{}),
		created: time.Now(),
	}
}

// OnEvent numbers e, records it in the history and wakes the subscribers:
// its cost does not grow with them, and it never waits on one.
func (n *namespace) OnEvent(e deployment.Event) {
	data, _ := json.Marshal(e) // a Summary always encodes
	n.mu.Lock()
	en := n.numberLocked(entry{key: e.Key(), ev: e, data: data, events: []deployment.Event{e}}, kindOf(e))
	switch e.Type {
	case deployment.Deleted:
		delete(n.state, en.key)
	case deployment.Rollout:
		// Told once, never again in a snapshot: the state is the event
		// before it, whose summary holds the same lastRollout.
	default:
		n.state[en.key] = en
	}
	if e.Kind == deployment.KindDeployment || e.Kind == "" {
		n.rollouts.Observe(e) // the timeline is of Deployments, by name
	}
	wake := n.recordLocked(en)
	n.mu.Unlock()
	broadcast(wake)
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

// recordLocked keeps en in the history and returns the channel to close,
// after unlocking, to wake the subscribers waiting for it.
func (n *namespace) recordLocked(en entry) chan struct{} {
	if len(n.history) < n.opts.HistorySize {
		n.history = append(n.history, en)
	} else {
		n.history[n.indexOf(en.seq)] = en
	}
	wake := n.wake
	n.wake = make(chan struct{})
	return wake
}

// broadcast wakes whoever waits on wake. Outside the lock: the woken
// subscribers go straight for the history.
func broadcast(wake chan struct{}) {
	if wake != nil {
		close(wake)
	}
}

func (n *namespace) indexOf(seq uint64) uint64 { return (seq - 1) % uint64(n.opts.HistorySize) }

// entryLocked is the entry of sequence number seq, which the history holds;
// not a copy, which would cost an event's size per subscriber.
func (n *namespace) entryLocked(seq uint64) *entry { return &n.history[n.indexOf(seq)] }

// oldestLocked is the sequence number of the oldest entry the history
// holds (n.seq+1 while it is empty).
func (n *namespace) oldestLocked() uint64 { return n.seq - uint64(len(n.history)) + 1 }

// OnHealth records the watch's state and tells every subscriber.
func (n *namespace) OnHealth(h tracker.Health) {
	data, _ := json.Marshal(upstreamOf(h))
	n.mu.Lock()
	n.health = h
	wake := n.recordLocked(n.numberLocked(entry{key: upstreamKey, data: data, about: UpstreamKind}, UpstreamKind))
	n.mu.Unlock()
	broadcast(wake)
}

// OnServiceGaps records the gaps of the namespace's Services that select
// no pod (tracker.Options.OnServiceGaps) and tells every subscriber.
func (n *namespace) OnServiceGaps(gaps []deployment.ServiceGap) {
	if gaps == nil {
		gaps = []deployment.ServiceGap{} // "[]": none left
	}
	data, _ := json.Marshal(gaps)
	n.mu.Lock()
	n.serviceGaps = gaps
	wake := n.recordLocked(n.numberLocked(entry{key: serviceGapsKey, data: data, about: ServiceGapsKind}, ServiceGapsKind))
	n.mu.Unlock()
	broadcast(wake)
}

// live reports whether the watch is live, as last told.
func (n *namespace) live() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.health.State == "" || n.health.State == tracker.Live
}

// OnSynced needs nothing: the ADDED events before it built the state.
func (n *namespace) OnSynced([]deployment.Summary) {}

// add registers s, its cursor after lastEventID, or owing it a snapshot.
// It reports false when the hub is closing.
func (n *namespace) add(s *Subscription, lastEventID string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.subs[s] = struct{}{}
	seq, ok := n.resumeLocked(lastEventID)
	if !ok {
		seq, s.needSnapshot = n.seq, true
	}
	s.cursor = seq
	return true
}

// resumeLocked returns the sequence number of the event with ID id, and
// false when the history after it is incomplete or the ID is not one of
// this tracker's.
func (n *namespace) resumeLocked(id string) (uint64, bool) {
	epoch, seq, ok := parseID(id)
	if !ok || epoch != n.epoch || seq > n.seq {
		return 0, false
	}
	// Every event after seq must still be in the history.
	if seq+1 < n.oldestLocked() {
		return 0, false
	}
	return seq, true
}

// owed is what a subscriber is to be told next.
type owed int

const (
	owedNothing   owed = iota
	owedSnapshot       // its cursor fell out of the history, or it never had one
	owedHistory        // the history after its cursor, as it is
	owedCoalesced      // the latest entry per key of a backlog too long to send as it is
)

// owedLocked says what a subscriber at cursor is owed; for owedCoalesced,
// the entries to send.
func (n *namespace) owedLocked(cursor uint64, needSnapshot bool) (owed, []entry) {
	switch {
	case needSnapshot || cursor+1 < n.oldestLocked():
		return owedSnapshot, nil
	case cursor == n.seq:
		return owedNothing, nil
	case n.seq-cursor <= uint64(n.opts.QueueSize):
		return owedHistory, nil
	}
	if q, ok := n.coalesceLocked(cursor); ok {
		return owedCoalesced, q
	}
	return owedSnapshot, nil
}

// coalesceLocked folds the history after cursor to the latest entry per
// Deployment, in order. When that leaves more than half of QueueSize, sending
// it would cost about what a snapshot does: it reports false.
func (n *namespace) coalesceLocked(cursor uint64) ([]entry, bool) {
	latest := make(map[string]entry, n.opts.QueueSize/2+1)
	for seq := cursor + 1; seq <= n.seq; seq++ {
		en := *n.entryLocked(seq)
		if prev, ok := latest[en.key]; ok {
			en = merge(prev, en)
		}
		latest[en.key] = en
		if len(latest) > n.opts.QueueSize/2 {
			return nil, false
		}
	}
	out := make([]entry, 0, len(latest))
	for _, en := range latest {
		out = append(out, en)
	}
	slices.SortFunc(out, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	return out, true
}

// snapshotLocked is the latest event of every Deployment, as of the
// current sequence number: made once for every subscriber that asks before
// the next event. It needs the write lock.
func (n *namespace) snapshotLocked() *snapshot {
	if n.snap != nil && n.snap.seq == n.seq {
		return n.snap
	}
	events := make([]deployment.Event, 0, len(n.state))
	for _, en := range n.state {
		events = append(events, en.ev)
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Key() < events[j].Key() })
	n.snap = &snapshot{seq: n.seq, id: formatID(n.epoch, n.seq), events: events, health: n.health, serviceGaps: n.serviceGaps}
	return n.snap
}

// messages encodes the snapshot once, and returns the same messages to
// every caller. While the watch is not live, an upstream message follows;
// while a Service selects no pod, a serviceGaps message.
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
		if len(sn.serviceGaps) > 0 {
			data, _ := json.Marshal(sn.serviceGaps)
			m := Message{Kind: ServiceGapsKind, Data: data} // no ID: the snapshot's holds
			if frame != nil {
				m.Frame = frame(ServiceGapsKind, "", data)
			}
			sn.msgs = append(sn.msgs, m)
		}
	})
	return slices.Clip(sn.msgs)
}

// remove unregisters s and reports whether it was registered. What it
// lost (lostLocked) counts as coalesced for good, as Hub.Stats counted it
// while it was registered: the figure never goes down.
func (n *namespace) remove(s *Subscription) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.subs[s]
	if ok {
		s.coalesceLocked(s.lostLocked())
		s.removed = true
	}
	delete(n.subs, s)
	return ok
}

// closeSubscribers ends every subscription: the hub is closing.
func (n *namespace) closeSubscribers() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	wake := n.wake
	n.wake = make(chan struct{})
	n.mu.Unlock()
	broadcast(wake)
}

// keptMessages bounds the slice a subscription keeps to hand out its
// messages in: one or a few per Wait, with no allocation, while a burst's
// longer slice is let go.
const keptMessages = 4

// Subscription is one subscriber's view of a namespace: a cursor into the
// namespace's history, and nothing of its own that grows. Next and Close
// may be called from different goroutines.
type Subscription struct {
	hub *Hub
	ns  *namespace

	mu sync.Mutex // guards what follows; taken before namespace.mu
	// cursor is the sequence number delivered up to; written with both
	// locks held, so either one reads it.
	cursor       uint64
	needSnapshot bool      // the next message is a fresh snapshot, whatever the cursor
	msgs         []Message // handed out by the last Wait, refilled by the next
	// removed is set, under the namespace's lock, once s is unregistered:
	// what it lost was counted then.
	removed bool

	coalesced atomic.Uint64
	closeOnce sync.Once
}

// coalesceLocked counts n events s never got; called with its namespace's
// lock held (read or write), as Hub.Stats counts consistently under it.
func (s *Subscription) coalesceLocked(n uint64) {
	if s.removed {
		return // counted when it was removed
	}
	s.coalesced.Add(n)
	s.hub.coalesced.Add(n)
}

// lostLocked is a lower bound of the events s will never be told one by
// one, of what it will count as coalesced when it next reads: all of its
// backlog when it is owed a snapshot (its cursor fell out of the history,
// or it never had one); when the backlog is longer than QueueSize, all but
// the QueueSize/2 entries coalescing may leave at most. Cheap, and it only
// grows as events come: a stalled subscriber's loss shows while it stalls.
func (s *Subscription) lostLocked() uint64 {
	n := s.ns
	backlog := n.seq - s.cursor
	switch {
	case s.removed:
		return 0
	case s.needSnapshot || s.cursor+1 < n.oldestLocked():
		return backlog
	case backlog > uint64(n.opts.QueueSize):
		return backlog - uint64(n.opts.QueueSize/2)
	}
	return 0
}

// lostLocked sums lostLocked over the subscribers.
func (n *namespace) lostLocked() uint64 {
	var lost uint64
	for s := range n.subs {
		lost += s.lostLocked()
	}
	return lost
}

// merge folds two events of one Deployment into one that leaves the
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
// a snapshot, or the events after the last one it was told, in order. It
// returns ErrClosed once the hub closes, or ctx's error. The slice is
// valid until the next call to Next or Wait, which may reuse it; the
// messages' contents are shared with other subscribers: read them, do not
// change them.
func (s *Subscription) Next(ctx context.Context) ([]Message, error) {
	return s.Wait(ctx, nil)
}

// Wait is Next that also returns ErrIdle when idle delivers first: a
// caller's timer, reset as it pleases, costs less than a context per call.
func (s *Subscription) Wait(ctx context.Context, idle <-chan time.Time) ([]Message, error) {
	for {
		msgs, wake, err := s.take()
		if wake == nil {
			return msgs, err
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-idle:
			return nil, ErrIdle
		}
	}
}

// take returns what s is owed and moves its cursor past it, or, when it is
// owed nothing, the channel that is closed when that may change.
func (s *Subscription) take() ([]Message, <-chan struct{}, error) {
	n := s.ns
	s.mu.Lock()
	defer s.mu.Unlock()
	n.mu.RLock()
	if n.closed {
		n.mu.RUnlock()
		return nil, nil, ErrClosed
	}
	what, q := n.owedLocked(s.cursor, s.needSnapshot)
	switch what {
	case owedNothing:
		wake := n.wake
		n.mu.RUnlock()
		return nil, wake, nil
	case owedHistory:
		msgs := s.buffer(int(n.seq - s.cursor))
		for seq := s.cursor + 1; seq <= n.seq; seq++ {
			msgs = append(msgs, n.entryLocked(seq).message())
		}
		s.cursor = n.seq
		n.mu.RUnlock()
		return msgs, nil, nil
	case owedCoalesced:
		s.coalesceLocked(n.seq - s.cursor - uint64(len(q)))
		s.cursor = n.seq
		n.mu.RUnlock()
		return n.messagesOf(q), nil, nil
	}
	// A snapshot: the one of the current state, shared under the read lock
	// by the subscribers of a reconnect storm, made under the write lock by
	// the first. Taken and counted under one lock, so that Stats never sees
	// it taken but not counted.
	sn := n.snap
	if sn != nil && sn.seq == n.seq {
		s.snapshotTakenLocked(sn)
		n.mu.RUnlock()
	} else {
		n.mu.RUnlock()
		n.mu.Lock()
		sn = n.snapshotLocked()
		s.snapshotTakenLocked(sn)
		n.mu.Unlock()
	}
	return sn.messages(n.opts.Frame), nil, nil
}

// snapshotTakenLocked moves s to sn: the snapshot replaces every event
// since the cursor.
func (s *Subscription) snapshotTakenLocked(sn *snapshot) {
	s.coalesceLocked(sn.seq - s.cursor)
	s.cursor, s.needSnapshot = sn.seq, false
}

// buffer is an empty slice with room for k messages: the one the last
// Wait handed out, when it fits.
func (s *Subscription) buffer(k int) []Message {
	clear(s.msgs[:cap(s.msgs)]) // let go of the events handed out before
	if cap(s.msgs) < k {
		if k > keptMessages {
			return make([]Message, 0, k)
		}
		s.msgs = make([]Message, 0, keptMessages)
	}
	return s.msgs[:0]
}

// messagesOf is q as messages; an entry merged for this subscriber alone
// is encoded now.
func (n *namespace) messagesOf(q []entry) []Message {
	out := make([]Message, len(q))
	for i, en := range q {
		if en.data == nil {
			kind := kindOf(en.ev)
			en.data, _ = json.Marshal(en.ev)
			if f := n.opts.Frame; f != nil {
				en.frame = f(kind, en.id, en.data)
			}
			en.events = []deployment.Event{en.ev}
		}
		out[i] = en.message()
	}
	return out
}

// Coalesced counts the events this subscriber never got because a later
// state, or a snapshot, replaced them; counted as it takes what replaced
// them.
func (s *Subscription) Coalesced() uint64 {
	return s.coalesced.Load()
}

// pending is how many messages s is owed now (a snapshot counts one), for
// tests.
func (s *Subscription) pending() int {
	n := s.ns
	s.mu.Lock()
	defer s.mu.Unlock()
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return 0
	}
	switch what, q := n.owedLocked(s.cursor, s.needSnapshot); what {
	case owedSnapshot:
		return 1
	case owedCoalesced:
		return len(q)
	}
	return int(n.seq - s.cursor)
}

// Close ends the subscription; its namespace's tracker stops after the
// linger if nobody else follows it. Calling it again does nothing.
func (s *Subscription) Close() {
	s.closeOnce.Do(func() { s.hub.release(s.ns, s) })
}
