package hub

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

func evIn(ns string, typ deployment.EventType, name string, replicas int32) deployment.Event {
	e := ev(typ, name, replicas)
	e.Namespace = ns
	return e
}

// clusterHub is a hub whose cluster-wide tracker is a script.
func clusterHub(t *testing.T, linger time.Duration, initial ...deployment.Event) (*Hub, *scripts) {
	ss := &scripts{make: func() *script { return &script{initial: initial} }}
	h := New(nil, Options{Linger: linger, ClusterWide: &ClusterWide{
		NewSource: func() Source { return ss.newSource("") },
	}})
	t.Cleanup(h.Close)
	return h, ss
}

// names is the Deployments of a snapshot message.
func names(t *testing.T, msgs []Message) []string {
	t.Helper()
	if len(msgs) == 0 || msgs[0].Kind != Snapshot {
		t.Fatalf("got %+v, want a snapshot first", msgs)
	}
	out := []string{}
	for _, e := range msgs[0].Events {
		out = append(out, e.Namespace+"/"+e.Name)
	}
	return out
}

func TestClusterWideRoutesEachNamespaceFromOneTracker(t *testing.T) {
	h, ss := clusterHub(t, time.Hour,
		evIn("shop", deployment.Added, "web", 1), evIn("bank", deployment.Added, "ledger", 2), evIn("shop", deployment.Added, "api", 3))
	shop := subscribe(t, h, "shop", "")
	defer shop.Close()
	bank := subscribe(t, h, "bank", "")
	defer bank.Close()
	empty := subscribe(t, h, "empty", "")
	defer empty.Close()
	if n := ss.count(); n != 1 {
		t.Fatalf("%d trackers started for 3 namespaces, want 1", n)
	}
	if st := h.Stats(); st.Informers != 1 || st.Clients != 3 {
		t.Fatalf("stats %+v, want 1 informer and 3 clients", st)
	}
	if got := names(t, next(t, shop)); len(got) != 2 || got[0] != "shop/api" || got[1] != "shop/web" {
		t.Fatalf("shop's snapshot = %v, want shop/api and shop/web", got)
	}
	first := next(t, bank)
	if got := names(t, first); len(got) != 1 || got[0] != "bank/ledger" {
		t.Fatalf("bank's snapshot = %v, want bank/ledger", got)
	}
	if got := names(t, next(t, empty)); len(got) != 0 {
		t.Fatalf("empty's snapshot = %v, want none", got)
	}

	src := ss.last()
	src.emit(evIn("bank", deployment.Modified, "ledger", 4))
	msgs := next(t, bank)
	if len(msgs) != 1 || msgs[0].Kind != Upsert || msgs[0].Events[0].Replicas.Desired != 4 {
		t.Fatalf("bank got %+v, want its upsert", msgs)
	}
	// Only bank's subscriber: shop's next message is its own event.
	src.emit(evIn("shop", deployment.Deleted, "api", 3))
	if msgs := next(t, shop); len(msgs) != 1 || msgs[0].Kind != Delete || msgs[0].Events[0].Name != "api" {
		t.Fatalf("shop got %+v, want only its delete of api", msgs)
	}
	if shop.pending() != 0 || empty.pending() != 0 {
		t.Fatal("an event reached another namespace's subscriber")
	}
	// Each namespace numbers its own events: bank resumes from its history.
	again := subscribe(t, h, "bank", first[0].ID)
	defer again.Close()
	if msgs := next(t, again); len(msgs) != 1 || msgs[0].Kind != Upsert {
		t.Fatalf("resuming bank got %+v, want the one upsert it missed", msgs)
	}
	if got := h.Upstream(); !maps.Equal(got, map[string]bool{"shop": true, "bank": true, "empty": true}) {
		t.Fatalf("Upstream() = %v, want the 3 viewed namespaces live", got)
	}
}

func TestClusterWideKnowsNamespacesNobodyViews(t *testing.T) {
	h, ss := clusterHub(t, time.Hour, evIn("shop", deployment.Added, "web", 1))
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	next(t, s)
	src := ss.last()

	// Created later, while nobody views it: known at once.
	src.emit(evIn("later", deployment.Added, "batch", 1))
	src.emit(evIn("later", deployment.Modified, "batch", 2))
	if !h.Running("later") {
		t.Fatal("Running(later) = false for a namespace the cluster-wide tracker has a Deployment of")
	}
	late := subscribe(t, h, "later", "")
	defer late.Close()
	msgs := next(t, late)
	if got := names(t, msgs); len(got) != 1 || msgs[0].Events[0].Replicas.Desired != 2 {
		t.Fatalf("later's snapshot = %+v, want batch at 2 replicas", msgs[0].Events)
	}
	if ss.count() != 1 {
		t.Fatalf("%d trackers started, want still 1", ss.count())
	}

	// Its last Deployment deleted: a viewed namespace stays and hears it...
	src.emit(evIn("later", deployment.Deleted, "batch", 2))
	if msgs := next(t, late); len(msgs) != 1 || msgs[0].Kind != Delete {
		t.Fatalf("got %+v, want the delete", msgs)
	}
	// ...and is forgotten once nobody views it.
	late.Close()
	if h.Running("later") {
		t.Fatal("a namespace with no Deployment and no viewer is still kept")
	}
	// One nobody viewed is forgotten with its last Deployment.
	src.emit(evIn("gone", deployment.Added, "x", 1))
	src.emit(evIn("gone", deployment.Deleted, "x", 1))
	if h.Running("gone") {
		t.Fatal("namespace gone is kept after its only Deployment was deleted")
	}
	g := subscribe(t, h, "gone", "")
	defer g.Close()
	if got := names(t, next(t, g)); len(got) != 0 {
		t.Fatalf("gone's snapshot = %v, want none", got)
	}
}

func TestClusterWideHealthReachesEveryNamespace(t *testing.T) {
	h, ss := clusterHub(t, time.Hour, evIn("shop", deployment.Added, "web", 1), evIn("bank", deployment.Added, "ledger", 1))
	shop := subscribe(t, h, "shop", "")
	defer shop.Close()
	next(t, shop)
	lost := tracker.Health{State: tracker.Reconnecting, Since: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), Err: errors.New("connection refused")}
	ss.last().health(lost)
	want := `{"state":"reconnecting","since":"2026-12-03T09:00:00Z","error":"connection refused"}`
	if msgs := next(t, shop); len(msgs) != 1 || msgs[0].Kind != UpstreamKind || string(msgs[0].Data) != want {
		t.Fatalf("shop got %+v, want upstream %s", msgs, want)
	}
	// A namespace nobody viewed, and one that did not exist, both start
	// with the snapshot and the lost state.
	for _, ns := range []string{"bank", "new"} {
		s := subscribe(t, h, ns, "")
		msgs := next(t, s)
		if len(msgs) != 2 || msgs[0].Kind != Snapshot || msgs[1].Kind != UpstreamKind || string(msgs[1].Data) != want {
			t.Fatalf("%s got %+v, want the snapshot then %s", ns, msgs, want)
		}
		defer s.Close()
	}
	if got := h.Upstream(); !maps.Equal(got, map[string]bool{"shop": false, "bank": false, "new": false}) {
		t.Fatalf("Upstream() = %v, want the 3 viewed namespaces lost", got)
	}
	ss.last().health(tracker.Health{State: tracker.Live, Since: lost.Since.Add(time.Minute)})
	if msgs := next(t, shop); len(msgs) != 1 || msgs[0].Kind != UpstreamKind {
		t.Fatalf("shop got %+v, want upstream live", msgs)
	}
}

func TestClusterWideLingersAfterTheLastViewerOfAnyNamespace(t *testing.T) {
	for _, linger := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(linger.String(), func(t *testing.T) {
			h, ss := clusterHub(t, linger, evIn("shop", deployment.Added, "web", 1))
			a := subscribe(t, h, "shop", "")
			b := subscribe(t, h, "bank", "")
			src := ss.last()
			a.Close()
			if _, stops := src.counts(); stops != 0 || !h.Running("shop") {
				t.Fatal("the tracker stopped while bank is still viewed")
			}
			b.Close()
			testutil.Eventually(t, 20*time.Second, "the tracker to stop", func() bool { _, stops := src.counts(); return stops == 1 })
			testutil.Eventually(t, 20*time.Second, "no informer running", func() bool { return h.Stats().Informers == 0 })
			if h.Running("shop") {
				t.Fatal("shop is still followed after the tracker stopped")
			}
			c := subscribe(t, h, "shop", "")
			defer c.Close()
			if got := names(t, next(t, c)); len(got) != 1 || ss.count() != 2 {
				t.Fatalf("after a restart: snapshot %v, %d trackers; want shop/web from a second tracker", got, ss.count())
			}
		})
	}
}

func TestClusterWideStartErrorIsReturnedAndRetried(t *testing.T) {
	fail := true
	ss := &scripts{make: func() *script {
		if fail {
			return &script{err: errors.New("forbidden")}
		}
		return &script{}
	}}
	h := New(nil, Options{ClusterWide: &ClusterWide{NewSource: func() Source { return ss.newSource("") }}})
	defer h.Close()
	if _, err := h.Subscribe(context.Background(), "shop", ""); err == nil {
		t.Fatal("Subscribe succeeded with a tracker that cannot start")
	}
	fail = false
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	if ss.count() != 2 {
		t.Fatalf("%d starts, want 2 (the failure is not kept)", ss.count())
	}
}

func TestClusterWideCloseEndsEverything(t *testing.T) {
	h, ss := clusterHub(t, time.Hour, evIn("shop", deployment.Added, "web", 1))
	s := subscribe(t, h, "shop", "")
	next(t, s)
	h.Close()
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}
	if _, stops := ss.last().counts(); stops != 1 {
		t.Fatal("the cluster-wide tracker was not stopped by Close")
	}
	if _, err := h.Subscribe(context.Background(), "shop", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

// The real tracker, cluster-wide, on client-go's fake clientset: one
// Deployment watch for every namespace, and the namespace list from the
// watches.
func TestClusterWideWithTrackerOnFakeClientset(t *testing.T) {
	one := int32(1)
	dep := func(ns, name string) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(ns + "-" + name), Generation: 1},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}}}},
		}
	}
	nsObj := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	client := fake.NewClientset(nsObj("shop"), nsObj("bank"), nsObj("quiet"), dep("shop", "web"), dep("bank", "ledger"))
	watches := make(chan string, 10)
	client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		watches <- a.GetResource().Resource + " in " + a.GetNamespace()
		return false, nil, nil
	})
	h := New(fakeApps{client.AppsV1()}, Options{ClusterWide: &ClusterWide{Namespaces: fakeCore{client.CoreV1()}}})
	defer h.Close()
	if _, ok := h.Namespaces(); ok {
		t.Fatal("Namespaces() answered before the cluster-wide tracker runs")
	}
	if _, ok := h.NamespaceExists(context.Background(), "shop"); ok || h.Stats().Informers != 0 {
		t.Fatal("NamespaceExists answered, or started the tracker, before anyone subscribed")
	}
	shop := subscribe(t, h, "shop", "")
	defer shop.Close()
	bank := subscribe(t, h, "bank", "")
	defer bank.Close()
	if got := names(t, next(t, shop)); len(got) != 1 || got[0] != "shop/web" {
		t.Fatalf("shop's snapshot = %v", got)
	}
	next(t, bank)
	seen := map[string]bool{}
	for len(seen) < 2 {
		seen[<-watches] = true
	}
	if !maps.Equal(seen, map[string]bool{"deployments in ": true, "namespaces in ": true}) {
		t.Fatalf("watches %v, want one of deployments and one of namespaces, both cluster-wide", seen)
	}
	if !h.Running("quiet") || h.Running("nosuch") {
		t.Fatal("Running should hold for an existing namespace without Deployments, not for a missing one")
	}
	for ns, want := range map[string]bool{"quiet": true, "shop": true, "nosuch": false} {
		if exists, ok := h.NamespaceExists(context.Background(), ns); exists != want || !ok {
			t.Fatalf("NamespaceExists(%s) = %v, %v; want %v, true", ns, exists, ok, want)
		}
	}

	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, nsObj("later"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.AppsV1().Deployments("later").Create(ctx, dep("later", "batch"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "namespace later to be followed", func() bool {
		c, ok := h.Namespaces()
		return ok && total(c["later"]) == 1
	})
	counts, _ := h.Namespaces()
	if len(counts) != 4 || len(counts["quiet"]) != 0 || total(counts["shop"]) != 1 {
		t.Fatalf("Namespaces() = %v, want shop, bank, quiet and later, with shop's one Deployment", counts)
	}
	select {
	case w := <-watches:
		t.Fatalf("a new namespace opened another watch: %s", w)
	default:
	}
	late := subscribe(t, h, "later", "")
	defer late.Close()
	if got := names(t, next(t, late)); len(got) != 1 || got[0] != "later/batch" {
		t.Fatalf("later's snapshot = %v", got)
	}
	if err := client.AppsV1().Deployments("shop").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if msgs := next(t, shop); msgs[0].Kind != Delete {
		t.Fatalf("shop got %+v, want the delete", msgs)
	}
}

// The namespace list never counts a workload its namespace has not heard
// of: a viewer it sends there finds the workload in the snapshot.
func TestClusterWideCountsOnlyWhatTheNamespaceHolds(t *testing.T) {
	client := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "later"}})
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ss := &scripts{make: func() *script { return &script{initial: []deployment.Event{evIn("shop", deployment.Added, "web", 1)}} }}
	h := New(nil, Options{Linger: time.Hour,
		// Frame runs inside the namespace's OnEvent: it holds later's
		// first event there.
		Frame: func(_ Kind, _ string, data []byte) []byte {
			if strings.Contains(string(data), `"namespace":"later"`) {
				once.Do(func() { close(entered); <-release })
			}
			return data
		},
		ClusterWide: &ClusterWide{Namespaces: fakeCore{client.CoreV1()}, NewSource: func() Source { return ss.newSource("") }},
	})
	t.Cleanup(h.Close)
	var released sync.Once
	letGo := func() { released.Do(func() { close(release) }) }
	t.Cleanup(letGo) // before Close, should the test fail while holding it
	shop := subscribe(t, h, "shop", "")
	defer shop.Close()
	next(t, shop)
	emitted := make(chan struct{})
	go func() {
		defer close(emitted)
		ss.last().emit(evIn("later", deployment.Added, "batch", 1))
	}()
	<-entered
	counts, ok := h.Namespaces()
	if !ok || total(counts["later"]) != 0 {
		t.Fatalf("Namespaces() = %v, %v while later's state has not taken batch yet; want later counted empty", counts, ok)
	}
	letGo()
	<-emitted
	if counts, _ := h.Namespaces(); total(counts["later"]) != 1 {
		t.Fatalf("Namespaces() = %v once later holds batch, want it counted", counts)
	}
	late := subscribe(t, h, "later", "")
	defer late.Close()
	if got := names(t, next(t, late)); len(got) != 1 || got[0] != "later/batch" {
		t.Fatalf("later's snapshot = %v, want later/batch", got)
	}
}

// fakeCore is fakeApps for the namespaces.
type fakeCore struct{ corev1client.NamespacesGetter }

func (fakeCore) IsWatchListSemanticsUnSupported() bool { return true }

func total(m map[deployment.Status]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Without the right to list namespaces, the hub serves every namespace all
// the same; only Namespaces has no answer.
func TestClusterWideWithoutNamespaceList(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "", errors.New("no"))
	})
	h := New(fakeApps{client.AppsV1()}, Options{ClusterWide: &ClusterWide{Namespaces: fakeCore{client.CoreV1()}}})
	defer h.Close()
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	if got := names(t, next(t, s)); len(got) != 0 {
		t.Fatalf("snapshot = %v, want none", got)
	}
	if _, ok := h.Namespaces(); ok {
		t.Fatal("Namespaces() answered without a namespace list")
	}
	if _, ok := h.NamespaceExists(context.Background(), "shop"); ok {
		t.Fatal("NamespaceExists answered without a namespace list")
	}
}

// TestCountNamespacesStartsTheWatches: the namespace list's counts come
// from the cluster-wide tracker, started by the list itself when nobody
// views any namespace, so they carry the tracker's diagnosis (Failing, not
// the Progressing of a Deployment's own status); the tracker lingers after
// the count, is shared by the next counts, and stops after the linger.
func TestCountNamespacesStartsTheWatches(t *testing.T) {
	failing := func(name string) deployment.Event {
		e := evIn("shop", deployment.Added, name, 3)
		e.Status = deployment.Failing
		return e
	}
	client := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "quiet"}})
	ss := &scripts{make: func() *script {
		return &script{initial: []deployment.Event{failing("a"), failing("b"), failing("c"), evIn("shop", deployment.Added, "web", 1)}}
	}}
	const linger = 100 * time.Millisecond
	h := New(nil, Options{Linger: linger, ClusterWide: &ClusterWide{
		NewSource:  func() Source { return ss.newSource("") },
		Namespaces: fakeCore{client.CoreV1()},
	}})
	defer h.Close()

	want := map[string]map[deployment.Status]int{"shop": {deployment.Failing: 3, deployment.Running: 1}, "quiet": {}}
	for i := range 3 {
		counts, ok := h.CountNamespaces(context.Background())
		if !ok || !maps.EqualFunc(counts, want, maps.Equal) {
			t.Fatalf("count %d: %v, %v; want %v", i, counts, ok, want)
		}
	}
	if n := ss.count(); n != 1 {
		t.Fatalf("%d trackers started for 3 counts, want 1 shared", n)
	}
	if h.Stats().Informers != 1 {
		t.Fatal("the tracker stopped at once after the count: the next poll would start it again")
	}
	testutil.Eventually(t, 20*time.Second, "the tracker to stop after the linger", func() bool { _, stops := ss.last().counts(); return stops == 1 })

	// A count that cannot wait does not answer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	blocked := New(nil, Options{ClusterWide: &ClusterWide{NewSource: func() Source { return &script{block: make(chan struct{})} }}})
	defer blocked.Close() // ends the tracker's Start
	if _, ok := blocked.CountNamespaces(ctx); ok {
		t.Fatal("CountNamespaces answered before the tracker synced")
	}
	// Without ClusterWide it never starts anything.
	if _, ok := New(nil, Options{}).CountNamespaces(context.Background()); ok {
		t.Fatal("CountNamespaces answered without ClusterWide")
	}
}
