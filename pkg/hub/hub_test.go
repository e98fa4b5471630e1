package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// script is a Source driven by the test: it delivers what emit is given,
// from the caller's goroutine, as a tracker delivers from its own.
type script struct {
	mu      sync.Mutex
	sink    tracker.Sink
	initial []deployment.Event
	err     error
	block   chan struct{} // Start waits for it when not nil
	starts  int
	stops   int
	relists int64
}

func (s *script) Start(ctx context.Context, sink tracker.Sink) (func(), error) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts++
	if s.err != nil {
		return nil, s.err
	}
	s.sink = sink
	for _, e := range s.initial {
		sink.OnEvent(e)
	}
	sink.OnSynced(nil)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stops++
	}, nil
}

func (s *script) Relists() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relists
}

func (s *script) emit(e deployment.Event) {
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	sink.OnEvent(e)
}

func (s *script) counts() (starts, stops int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts, s.stops
}

// scripts hands out one script per namespace start and remembers them.
type scripts struct {
	mu   sync.Mutex
	all  []*script
	make func() *script
}

func (ss *scripts) newSource(string) Source {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := &script{}
	if ss.make != nil {
		s = ss.make()
	}
	ss.all = append(ss.all, s)
	return s
}

func (ss *scripts) last() *script {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.all[len(ss.all)-1]
}

func (ss *scripts) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.all)
}

func ev(typ deployment.EventType, name string, replicas int32) deployment.Event {
	changed := []string{}
	if typ == deployment.Modified {
		changed = []string{"replicas.desired"}
	}
	return deployment.Event{
		Type:    typ,
		Summary: deployment.Summary{Namespace: "shop", Name: name, Status: deployment.Running, Replicas: deployment.Replicas{Desired: replicas}},
		Changed: changed,
	}
}

// view is what a client builds from the messages: desired replicas by name.
type view struct {
	state  map[string]int32
	lastID string
	seq    uint64
	kinds  []Kind
}

func newView() *view { return &view{state: map[string]int32{}} }

func (v *view) apply(t *testing.T, msgs []Message) {
	t.Helper()
	for _, m := range msgs {
		_, seq, ok := parseID(m.ID)
		if !ok {
			t.Fatalf("message ID %q does not parse", m.ID)
		}
		if m.Kind != Snapshot && seq <= v.seq {
			t.Fatalf("message %s after %s: IDs must increase", m.ID, v.lastID)
		}
		v.seq, v.lastID = seq, m.ID
		v.kinds = append(v.kinds, m.Kind)
		switch m.Kind {
		case Snapshot:
			v.state = map[string]int32{}
			for _, e := range m.Events {
				v.state[e.Name] = e.Replicas.Desired
			}
		case Upsert:
			v.state[m.Events[0].Name] = m.Events[0].Replicas.Desired
		case Delete:
			delete(v.state, m.Events[0].Name)
		}
		if len(m.Data) == 0 {
			t.Fatalf("message %s has no data", m.ID)
		}
	}
}

func next(t *testing.T, s *Subscription) []Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return msgs
}

// drain reads what s has pending without waiting for more.
func drain(t *testing.T, s *Subscription, v *view) {
	t.Helper()
	for s.pending() > 0 {
		v.apply(t, next(t, s))
	}
}

func subscribe(t *testing.T, h *Hub, ns, last string) *Subscription {
	t.Helper()
	s, err := h.Subscribe(context.Background(), ns, last)
	if err != nil {
		t.Fatalf("Subscribe(%s, %q): %v", ns, last, err)
	}
	return s
}

func TestOneTrackerPerNamespaceSharedAndLingering(t *testing.T) {
	ss := &scripts{}
	h := New(nil, Options{Linger: time.Hour, NewSource: ss.newSource})
	defer h.Close()

	a := subscribe(t, h, "shop", "")
	b := subscribe(t, h, "shop", "")
	c := subscribe(t, h, "bank", "")
	if n := ss.count(); n != 2 {
		t.Fatalf("%d trackers made for 2 namespaces, want 2", n)
	}
	if st := h.Stats(); st.Clients != 3 || st.Informers != 2 {
		t.Fatalf("stats %+v, want 3 clients and 2 informers", st)
	}
	a.Close()
	b.Close()
	b.Close() // twice is harmless
	if st := h.Stats(); st.Clients != 1 || st.Informers != 2 {
		t.Fatalf("after two leave: stats %+v, want 1 client and 2 informers (lingering)", st)
	}
	// Back within the linger: the same tracker, no second start.
	d := subscribe(t, h, "shop", "")
	if n := ss.count(); n != 2 {
		t.Fatalf("a subscriber within the linger made a new tracker (%d in all)", n)
	}
	d.Close()
	c.Close()
	if st := h.Stats(); st.Clients != 0 {
		t.Fatalf("clients = %d after all left", st.Clients)
	}
}

func TestTrackerStopsAfterLinger(t *testing.T) {
	for _, linger := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(linger.String(), func(t *testing.T) {
			ss := &scripts{}
			h := New(nil, Options{Linger: linger, NewSource: ss.newSource})
			defer h.Close()
			s := subscribe(t, h, "shop", "")
			src := ss.last()
			s.Close()
			testutil.Eventually(t, 20*time.Second, "the tracker to stop", func() bool { _, stops := src.counts(); return stops == 1 })
			testutil.Eventually(t, 20*time.Second, "no informer running", func() bool { return h.Stats().Informers == 0 })
			if h.Running("shop") {
				t.Fatal("namespace still registered after its tracker stopped")
			}
			// A new subscriber starts a new tracker, under a new epoch.
			s2 := subscribe(t, h, "shop", "")
			defer s2.Close()
			if ss.count() != 2 {
				t.Fatalf("%d trackers made, want 2", ss.count())
			}
		})
	}
}

func TestSnapshotThenEvents(t *testing.T) {
	ss := &scripts{make: func() *script {
		return &script{initial: []deployment.Event{ev(deployment.Added, "web", 1), ev(deployment.Added, "api", 2)}}
	}}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	s := subscribe(t, h, "shop", "")
	defer s.Close()

	msgs := next(t, s)
	if len(msgs) != 1 || msgs[0].Kind != Snapshot || len(msgs[0].Events) != 2 {
		t.Fatalf("first messages = %+v, want one snapshot of 2", msgs)
	}
	if got := []string{msgs[0].Events[0].Name, msgs[0].Events[1].Name}; !slices.Equal(got, []string{"api", "web"}) {
		t.Errorf("snapshot order = %v, want sorted by name", got)
	}
	if string(msgs[0].Data[0]) != "[" {
		t.Errorf("snapshot data is not a JSON array: %s", msgs[0].Data)
	}
	src := ss.last()
	src.emit(ev(deployment.Modified, "web", 3))
	src.emit(ev(deployment.Deleted, "api", 2))
	v := newView()
	v.apply(t, msgs)
	for len(v.kinds) < 3 {
		v.apply(t, next(t, s))
	}
	if !slices.Equal(v.kinds, []Kind{Snapshot, Upsert, Delete}) {
		t.Errorf("kinds = %v", v.kinds)
	}
	if !maps.Equal(v.state, map[string]int32{"web": 3}) {
		t.Errorf("state = %v", v.state)
	}
}

func (s *script) health(h tracker.Health) {
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	sink.(tracker.HealthSink).OnHealth(h)
}

func TestUpstreamStateReachesSubscribersAndFollowsSnapshots(t *testing.T) {
	ss := &scripts{make: func() *script {
		return &script{initial: []deployment.Event{ev(deployment.Added, "web", 1)}}
	}}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	first := next(t, s)
	if len(first) != 1 || first[0].Kind != Snapshot {
		t.Fatalf("first messages = %+v, want one snapshot (live: no upstream message)", first)
	}
	if got := h.Upstream(); !maps.Equal(got, map[string]bool{"shop": true}) {
		t.Fatalf("Upstream() = %v, want shop live", got)
	}

	lostAt := time.Date(2026, 12, 2, 14, 9, 0, 0, time.UTC)
	src := ss.last()
	src.health(tracker.Health{State: tracker.Reconnecting, Since: lostAt, Err: errors.New("connection refused")})
	msgs := next(t, s)
	want := `{"state":"reconnecting","since":"2026-12-02T14:09:00Z","error":"connection refused"}`
	if len(msgs) != 1 || msgs[0].Kind != UpstreamKind || string(msgs[0].Data) != want || msgs[0].ID == "" {
		t.Fatalf("after the watch was lost: %+v, want one upstream message %s with an ID", msgs, want)
	}
	if got := h.Upstream(); !maps.Equal(got, map[string]bool{"shop": false}) {
		t.Fatalf("Upstream() = %v, want shop not live", got)
	}
	// A subscriber arriving meanwhile gets the snapshot and then the state.
	late := subscribe(t, h, "shop", "")
	defer late.Close()
	msgs = next(t, late)
	if len(msgs) != 2 || msgs[0].Kind != Snapshot || msgs[1].Kind != UpstreamKind || string(msgs[1].Data) != want {
		t.Fatalf("a new subscriber while lost got %+v, want the snapshot then %s", msgs, want)
	}
	// One resuming from before the outage gets it from the history.
	resumed := subscribe(t, h, "shop", first[0].ID)
	defer resumed.Close()
	if msgs := next(t, resumed); len(msgs) != 1 || msgs[0].Kind != UpstreamKind {
		t.Fatalf("a resumed subscriber got %+v, want the upstream message it missed", msgs)
	}

	src.health(tracker.Health{State: tracker.Live, Since: lostAt.Add(time.Minute)})
	msgs = next(t, s)
	if len(msgs) != 1 || msgs[0].Kind != UpstreamKind || string(msgs[0].Data) != `{"state":"live","since":"2026-12-02T14:10:00Z"}` {
		t.Fatalf("once back: %+v, want upstream live", msgs)
	}
	if got := h.Upstream(); !maps.Equal(got, map[string]bool{"shop": true}) {
		t.Fatalf("Upstream() = %v, want shop live again", got)
	}
}

func TestResume(t *testing.T) {
	ss := &scripts{make: func() *script { return &script{initial: []deployment.Event{ev(deployment.Added, "web", 1)}} }}
	h := New(nil, Options{Linger: time.Hour, HistorySize: 4, NewSource: ss.newSource})
	defer h.Close()
	keep := subscribe(t, h, "shop", "") // keeps the tracker and its history alive
	defer keep.Close()
	src := ss.last()

	s := subscribe(t, h, "shop", "")
	first := next(t, s)[0]
	s.Close()
	src.emit(ev(deployment.Modified, "web", 2))
	src.emit(ev(deployment.Added, "api", 1))

	t.Run("missed events only", func(t *testing.T) {
		r := subscribe(t, h, "shop", first.ID)
		defer r.Close()
		msgs := next(t, r)
		if len(msgs) != 2 || msgs[0].Kind != Upsert || msgs[0].Events[0].Replicas.Desired != 2 || msgs[1].Events[0].Name != "api" {
			t.Fatalf("resumed with %+v, want the two missed upserts", msgs)
		}
	})
	t.Run("up to date gets nothing until the next event", func(t *testing.T) {
		last := subscribe(t, h, "shop", "")
		id := next(t, last)[0].ID
		last.Close()
		r := subscribe(t, h, "shop", id)
		defer r.Close()
		if r.pending() != 0 || r.needSnapshot {
			t.Fatalf("an up-to-date subscriber was owed something")
		}
	})

	epoch, seq, _ := parseID(first.ID)
	for name, id := range map[string]string{
		"another epoch":     formatID("0123456789ab", seq),
		"from the future":   formatID(epoch, seq+100),
		"not an ID":         "garbage",
		"empty":             "",
		"older than kept":   "", // filled below
		"negative sequence": epoch + "--1",
	} {
		if name == "older than kept" {
			for i := range 10 {
				src.emit(ev(deployment.Modified, "web", int32(10+i)))
			}
			id = first.ID
		}
		t.Run(name+" gets a snapshot", func(t *testing.T) {
			r := subscribe(t, h, "shop", id)
			defer r.Close()
			msgs := next(t, r)
			if len(msgs) != 1 || msgs[0].Kind != Snapshot {
				t.Fatalf("got %+v, want a snapshot", msgs)
			}
		})
	}
}

func TestStalledSubscriber(t *testing.T) {
	const queue, events = 64, 20000
	for _, deployments := range []int{10, 200} { // coalesced queue, then snapshot
		t.Run(fmt.Sprintf("%d deployments", deployments), func(t *testing.T) {
			ss := &scripts{}
			h := New(nil, Options{QueueSize: queue, HistorySize: 128, NewSource: ss.newSource})
			defer h.Close()
			stalled := subscribe(t, h, "shop", "")
			defer stalled.Close()
			src := ss.last()

			// Two readers that keep up, each in its own goroutine.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type reader struct {
				mu sync.Mutex
				v  *view
			}
			readers := make([]*reader, 2)
			var wg sync.WaitGroup
			for i := range readers {
				r := &reader{v: newView()}
				readers[i] = r
				sub := subscribe(t, h, "shop", "")
				defer sub.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						msgs, err := sub.Next(ctx)
						if err != nil {
							return
						}
						r.mu.Lock()
						r.v.apply(t, msgs)
						r.mu.Unlock()
					}
				}()
			}

			truth := map[string]int32{}
			fed := make(chan struct{})
			maxPending := 0
			go func() {
				defer close(fed)
				for i := range events {
					name := fmt.Sprintf("d%03d", i%deployments)
					typ := deployment.Modified
					if _, ok := truth[name]; !ok {
						typ = deployment.Added
					}
					e := ev(typ, name, int32(i))
					if i%997 == 0 && typ == deployment.Modified {
						e = ev(deployment.Deleted, name, 0)
						delete(truth, name)
					} else {
						truth[name] = int32(i)
					}
					src.emit(e)
					maxPending = max(maxPending, stalled.pending())
				}
			}()
			select {
			case <-fed:
			case <-time.After(time.Minute):
				t.Fatal("delivery blocked: a stalled subscriber held up the tracker")
			}
			if maxPending > queue {
				t.Errorf("the stalled subscriber's queue reached %d, want at most %d", maxPending, queue)
			}
			for i, r := range readers {
				testutil.Eventually(t, 20*time.Second, fmt.Sprintf("reader %d to reach the true state", i), func() bool {
					r.mu.Lock()
					defer r.mu.Unlock()
					return maps.Equal(r.v.state, truth)
				})
			}
			cancel()
			wg.Wait()

			// The stalled one wakes up: it reads what it has and ends right.
			v := newView()
			drain(t, stalled, v)
			if !maps.Equal(v.state, truth) {
				t.Fatalf("stalled subscriber ended at %v, want %v", v.state, truth)
			}
			if stalled.Coalesced() == 0 || h.Stats().Coalesced < stalled.Coalesced() {
				t.Errorf("coalesced: subscriber %d, hub %d; want both counted", stalled.Coalesced(), h.Stats().Coalesced)
			}
			// It is live again: the next event reaches it as such.
			src.emit(ev(deployment.Modified, "d000", -1))
			msgs := next(t, stalled)
			if len(msgs) != 1 || msgs[0].Kind != Upsert || msgs[0].Events[0].Replicas.Desired != -1 {
				t.Fatalf("after catching up got %+v, want the new upsert", msgs)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	mod := func(name string, r int32, changed ...string) entry {
		e := ev(deployment.Modified, name, r)
		e.Changed = changed
		return entry{key: "shop/" + name, ev: e, data: []byte("x")}
	}
	add := entry{key: "shop/web", ev: ev(deployment.Added, "web", 1), data: []byte("x")}
	del := entry{key: "shop/web", ev: ev(deployment.Deleted, "web", 1), data: []byte("x")}

	if m := merge(add, mod("web", 2, "replicas.desired")); m.ev.Type != deployment.Added || len(m.ev.Changed) != 0 || m.ev.Replicas.Desired != 2 || m.data != nil {
		t.Errorf("ADDED then MODIFIED = %+v, want ADDED with the new state, to be encoded again", m)
	}
	if m := merge(mod("web", 2, "status", "replicas.desired"), mod("web", 3, "replicas.desired", "containers")); !slices.Equal(m.ev.Changed, []string{"status", "replicas.desired", "containers"}) {
		t.Errorf("two MODIFIED: changed = %v, want the union", m.ev.Changed)
	}
	if m := merge(mod("web", 2), del); m.ev.Type != deployment.Deleted {
		t.Errorf("MODIFIED then DELETED = %s", m.ev.Type)
	}
	if m := merge(del, add); m.ev.Type != deployment.Added {
		t.Errorf("DELETED then ADDED = %s", m.ev.Type)
	}
}

func TestStartErrorIsReturnedAndRetried(t *testing.T) {
	boom := errors.New("boom")
	ss := &scripts{make: func() *script { return &script{err: boom} }}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	for i := range 2 {
		if _, err := h.Subscribe(context.Background(), "shop", ""); !errors.Is(err, boom) {
			t.Fatalf("attempt %d: err = %v, want boom", i, err)
		}
	}
	if ss.count() != 2 {
		t.Errorf("%d starts, want a new try per subscriber after a failure", ss.count())
	}
	if st := h.Stats(); st.Clients != 0 || st.Informers != 0 || h.Running("shop") {
		t.Errorf("after failed starts: %+v, running %v", st, h.Running("shop"))
	}
}

func TestSubscriberGivesUpWhileStarting(t *testing.T) {
	block := make(chan struct{})
	ss := &scripts{make: func() *script { return &script{block: block} }}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := h.Subscribe(ctx, "shop", "")
		errc <- err
	}()
	testutil.Eventually(t, 20*time.Second, "the namespace to start", func() bool { return h.Running("shop") })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(block) // the tracker syncs after all, with nobody left: it stops
	src := ss.last()
	testutil.Eventually(t, 20*time.Second, "the orphan tracker to stop", func() bool { starts, stops := src.counts(); return starts == 1 && stops == 1 })
	testutil.Eventually(t, 20*time.Second, "no informer", func() bool { return h.Stats().Informers == 0 })
}

func TestCloseEndsEverything(t *testing.T) {
	ss := &scripts{}
	h := New(nil, Options{Linger: time.Hour, NewSource: ss.newSource})
	s := subscribe(t, h, "shop", "")
	next(t, s) // the snapshot
	h.Close()
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}
	if _, err := h.Subscribe(context.Background(), "shop", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if _, stops := ss.last().counts(); stops != 1 {
		t.Fatalf("tracker stopped %d times, want 1", stops)
	}
	s.Close() // after Close: harmless
	if st := h.Stats(); st.Informers != 0 || st.Clients != 0 {
		t.Fatalf("stats after Close %+v", st)
	}
	h.Close()
}

func TestRelistsSurviveStoppedTrackers(t *testing.T) {
	ss := &scripts{make: func() *script { return &script{relists: 3} }}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	s := subscribe(t, h, "shop", "")
	if got := h.Stats().Relists; got != 3 {
		t.Fatalf("relists = %d, want 3", got)
	}
	s.Close()
	testutil.Eventually(t, 20*time.Second, "the tracker to stop", func() bool { return h.Stats().Informers == 0 && !h.Running("shop") })
	testutil.Eventually(t, 20*time.Second, "relists to be kept", func() bool { return h.Stats().Relists == 3 })
	s = subscribe(t, h, "shop", "")
	defer s.Close()
	if got := h.Stats().Relists; got != 6 {
		t.Fatalf("relists = %d, want 6 (3 stopped + 3 running)", got)
	}
}

// fakeApps tells the reflector, as the fake Clientset itself does, that the
// fake cannot stream lists (the typed AppsV1 client does not say so).
type fakeApps struct{ appsv1client.DeploymentsGetter }

func (fakeApps) IsWatchListSemanticsUnSupported() bool { return true }

// The real tracker behind the hub, on client-go's fake clientset.
func TestWithTrackerOnFakeClientset(t *testing.T) {
	replicas := int32(2)
	client := fake.NewClientset(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "web", Image: "nginx:1"}}}}},
	})
	watching := make(chan struct{}, 10)
	client.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watch.Interface, error) {
		watching <- struct{}{}
		return false, nil, nil
	})
	h := New(fakeApps{client.AppsV1()}, Options{})
	defer h.Close()
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	msgs := next(t, s)
	if msgs[0].Kind != Snapshot || len(msgs[0].Events) != 1 || msgs[0].Events[0].Name != "web" {
		t.Fatalf("first message %+v, want a snapshot with web", msgs)
	}
	<-watching // writes before the watch starts would be missed by the fake

	ctx := context.Background()
	d, _ := client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	replicas = 5
	d.Spec.Replicas = &replicas
	if _, err := client.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	msgs = next(t, s)
	if msgs[0].Kind != Upsert || msgs[0].Events[0].Replicas.Desired != 5 {
		t.Fatalf("got %+v, want an upsert to 5 replicas", msgs)
	}
	if h.Stats().Informers != 1 {
		t.Fatalf("informers = %d", h.Stats().Informers)
	}

	// A namespace the user may not read fails at once, with the API's error.
	client.PrependReactor("list", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "secret" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("no"))
		}
		return false, nil, nil
	})
	if _, err := h.Subscribe(ctx, "secret", ""); !apierrors.IsForbidden(err) {
		t.Fatalf("Subscribe to a forbidden namespace = %v, want Forbidden", err)
	}
}
