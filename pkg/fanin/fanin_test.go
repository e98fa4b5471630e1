package fanin

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// fakeApps tells the informer that the fake cannot stream lists.
type fakeApps struct{ appsv1client.AppsV1Interface }

func (fakeApps) IsWatchListSemanticsUnSupported() bool { return true }

// newDeployment is a rolled-out Deployment name in namespace "shop".
func newDeployment(name string, replicas int32) *appsv1.Deployment {
	d := testutil.Deployment(name, testutil.Namespace("shop"), testutil.Replicas(replicas), testutil.Observed(1))
	d.ResourceVersion = "1"
	return d
}

// recorder keeps what a StateSink is given; every call is checked to come
// one at a time.
type recorder struct {
	mu       sync.Mutex
	busy     atomic.Bool
	overlap  bool
	events   []deployment.Event
	synced   int
	snapshot []deployment.Summary
	states   []State
}

func (r *recorder) enter() func() {
	if !r.busy.CompareAndSwap(false, true) {
		r.overlap = true
	}
	r.mu.Lock()
	return func() { r.mu.Unlock(); r.busy.Store(false) }
}

func (r *recorder) OnEvent(e deployment.Event) { defer r.enter()(); r.events = append(r.events, e) }
func (r *recorder) OnSynced(s []deployment.Summary) {
	defer r.enter()()
	r.synced++
	r.snapshot = s
}
func (r *recorder) OnSource(st State) { defer r.enter()(); r.states = append(r.states, st) }

func (r *recorder) has(cond func(*recorder) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return cond(r)
}

func source(ctxName string, objs ...*appsv1.Deployment) Source {
	client := fake.NewClientset()
	for _, d := range objs {
		_ = client.Tracker().Add(d)
	}
	return Source{Context: ctxName, Client: fakeApps{client.AppsV1()}, Options: tracker.Options{Namespace: "shop"}}
}

// TestMergesContexts: the events of each source carry its context, and the
// first view is one sync with every source's Deployments.
func TestMergesContexts(t *testing.T) {
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, []Source{source("east", newDeployment("web", 1)), source("west", newDeployment("web", 2))}, Options{}, rec)
	}()
	testutil.Eventually(t, 10*time.Second, "the first view", func() bool { return rec.has(func(r *recorder) bool { return r.synced == 1 }) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(rec.snapshot) != 2 || rec.snapshot[0].Key() != "east/shop/web" || rec.snapshot[1].Key() != "west/shop/web" {
		t.Fatalf("snapshot %v, want east/shop/web and west/shop/web", rec.snapshot)
	}
	got := map[string]int32{}
	for _, e := range rec.events {
		got[e.Context] = e.Replicas.Desired
	}
	if got["east"] != 1 || got["west"] != 2 || len(rec.events) != 2 {
		t.Fatalf("events %+v, want one ADDED per context with its own replicas", rec.events)
	}
	if rec.overlap {
		t.Fatal("the sink was called by two sources at once")
	}
}

// TestUnreachableSourceRetries: a source that fails to start does not
// hold up the first view; its error is a State, and it recovers by itself.
func TestUnreachableSourceRetries(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	west := source("west", newDeployment("api", 1))
	west.Check = func(context.Context) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = Run(ctx, []Source{source("east", newDeployment("web", 1)), west},
			Options{Retry: true, Backoff: func(int) time.Duration { return 10 * time.Millisecond }}, rec)
	}()
	testutil.Eventually(t, 10*time.Second, "the first view", func() bool { return rec.has(func(r *recorder) bool { return r.synced == 1 }) })
	rec.mu.Lock()
	if len(rec.snapshot) != 1 || rec.snapshot[0].Context != "east" {
		t.Fatalf("first view %v, want east's web alone", rec.snapshot)
	}
	var told bool
	for _, st := range rec.states {
		told = told || (st.Context == "west" && !st.Synced && st.Err != nil && strings.Contains(st.Err.Error(), "connection refused"))
	}
	rec.mu.Unlock()
	if !told {
		t.Fatal("west's error was not told as its state")
	}
	down.Store(false)
	testutil.Eventually(t, 10*time.Second, "west to sync with its deployment", func() bool {
		return rec.has(func(r *recorder) bool {
			for _, st := range r.states {
				if st.Context == "west" && st.Synced && st.Live() && len(st.Snapshot) == 1 && st.Snapshot[0].Key() == "west/shop/api" {
					return true
				}
			}
			return false
		})
	})
	testutil.Eventually(t, 10*time.Second, "west's ADDED event", func() bool {
		return rec.has(func(r *recorder) bool {
			for _, e := range r.events {
				if e.Context == "west" && e.Name == "api" && e.Type == deployment.Added {
					return true
				}
			}
			return false
		})
	})
	if rec.synced != 1 {
		t.Fatalf("synced %d times, want once", rec.synced)
	}
}

// TestSilentSourceTimesOut: a source that neither syncs nor fails delays
// the first view by StartTimeout at most, and says so.
func TestSilentSourceTimesOut(t *testing.T) {
	hang := source("west")
	hang.Check = func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, []Source{source("east", newDeployment("web", 1)), hang}, Options{Retry: true, StartTimeout: 50 * time.Millisecond}, rec)
	}()
	testutil.Eventually(t, 10*time.Second, "the first view", func() bool { return rec.has(func(r *recorder) bool { return r.synced == 1 }) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var timedOut bool
	for _, st := range rec.states {
		timedOut = timedOut || (st.Context == "west" && st.Err != nil && strings.Contains(st.Err.Error(), "no answer within 50ms"))
	}
	if !timedOut {
		t.Fatalf("states %+v lack west's timeout", rec.states)
	}
}

// TestWithoutRetryFirstErrorEnds: for several namespaces of one context, a
// source that cannot start ends Run with its error, naming the source.
func TestWithoutRetryFirstErrorEnds(t *testing.T) {
	bad := source("")
	bad.Options.Namespace = "nope"
	bad.Check = func(context.Context) error { return errors.New(`namespace "nope" not found`) }
	err := Run(context.Background(), []Source{source("", newDeployment("web", 1)), bad}, Options{}, &recorder{})
	var se *SourceError
	if !errors.As(err, &se) || se.Source != `namespace "nope"` || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v, want a SourceError for namespace \"nope\"", err)
	}
}

// TestFirstEventsSortedAcrossSources: the events before the first view come
// in the order every view lists rows (deployment.Compare: namespace "a"
// before "a-b"), across sources, not in the order the trackers synced; the
// snapshot is in the same order.
func TestFirstEventsSortedAcrossSources(t *testing.T) {
	in := func(ns string, names ...string) Source {
		client := fake.NewClientset()
		for _, n := range names {
			d := newDeployment(n, 1)
			d.Namespace = ns
			_ = client.Tracker().Add(d)
		}
		return Source{Client: fakeApps{client.AppsV1()}, Options: tracker.Options{Namespace: ns}}
	}
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, []Source{in("b", "web", "api"), in("a-b", "x"), in("a", "z", "m")}, Options{}, rec)
	}()
	testutil.Eventually(t, 10*time.Second, "the first view", func() bool { return rec.has(func(r *recorder) bool { return r.synced == 1 }) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var events, snapshot []string
	for _, e := range rec.events {
		events = append(events, e.Key())
	}
	for _, s := range rec.snapshot {
		snapshot = append(snapshot, s.Key())
	}
	want := "a/m a/z a-b/x b/api b/web"
	if strings.Join(events, " ") != want || strings.Join(snapshot, " ") != want {
		t.Fatalf("events %v and snapshot %v, want both %s", events, snapshot, want)
	}
}
