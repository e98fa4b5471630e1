package tracker

import (
	"context"
	"errors"
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
	"k8s.io/client-go/tools/cache"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// fakeApps is the fake clientset's AppsV1, telling the informer that the fake
// cannot stream lists (see New).
type fakeApps struct{ appsv1client.AppsV1Interface }

func (fakeApps) IsWatchListSemanticsUnSupported() bool { return true }

// recorder is a Sink that keeps what it is given.
type recorder struct {
	mu       sync.Mutex
	events   []deployment.Event
	snapshot []deployment.Summary
	synced   int
}

func (r *recorder) OnEvent(e deployment.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) OnSynced(s []deployment.Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snapshot = s
	r.synced++
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, string(e.Type)+" "+e.Name)
	}
	return out
}

// newDeployment is a rolled-out Deployment name in namespace "shop", with
// what a tracker must not keep (an annotation, managed fields, args).
func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	d := testutil.Deployment(name, testutil.Namespace("shop"), testutil.Replicas(replicas), testutil.Image(image),
		testutil.PodSpec(func(s *corev1.PodSpec) { s.Containers[0].Args = []string{"--verbose"} }), testutil.Observed(1))
	d.ResourceVersion = "1"
	d.Annotations = map[string]string{"big": "value"}
	d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	d.Status.Conditions[0].LastUpdateTime = metav1.Now()
	return d
}

func TestObserveDeduplicates(t *testing.T) {
	tr := New(nil, Options{})
	rec := &recorder{}
	d := newDeployment("web", 3, "nginx:1")
	tr.observe(rec, d, true)

	// A resync, a new resourceVersion and a condition heartbeat: nothing a user reads.
	same := d.DeepCopy()
	same.ResourceVersion = "2"
	same.Status.Conditions[0].LastUpdateTime = metav1.NewTime(time.Now().Add(time.Minute))
	tr.observe(rec, same, false)
	tr.observe(rec, same, false)

	scaled := same.DeepCopy()
	scaled.ResourceVersion = "3"
	scaled.Status.ReadyReplicas = 2
	scaled.Status.AvailableReplicas = 2
	tr.observe(rec, scaled, false)

	if got, want := rec.types(), []string{"ADDED web", "MODIFIED web"}; !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	last := rec.events[1]
	if !slices.Equal(last.Changed, []string{"status", "message", "replicas.ready", "replicas.available"}) {
		t.Errorf("changed = %v", last.Changed)
	}
	if last.Status != deployment.Degraded || last.ResourceVersion != "3" {
		t.Errorf("last event = %+v", last.Summary)
	}
	if rec.events[0].Changed == nil || len(rec.events[0].Changed) != 0 {
		t.Errorf("ADDED must carry an empty, non-nil changed list, got %#v", rec.events[0].Changed)
	}
}

func TestForgetEmitsDeleteOnce(t *testing.T) {
	tr := New(nil, Options{})
	rec := &recorder{}
	d := newDeployment("web", 1, "nginx:1")
	tr.observe(rec, d, true)
	tr.forget(rec, cache.DeletedFinalStateUnknown{Key: "shop/web", Obj: d}) // learned from a relist
	tr.forget(rec, d)                                                       // and again: nothing more
	if got, want := rec.types(), []string{"ADDED web", "DELETED web"}; !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if len(tr.Snapshot()) != 0 {
		t.Errorf("snapshot still holds the deleted deployment")
	}
}

func TestRecreatedUnderSameName(t *testing.T) {
	tr := New(nil, Options{})
	rec := &recorder{}
	tr.observe(rec, newDeployment("web", 1, "nginx:1"), true)
	again := newDeployment("web", 1, "nginx:1")
	again.UID = "uid-new"
	tr.observe(rec, again, false)
	if got, want := rec.types(), []string{"ADDED web", "DELETED web", "ADDED web"}; !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

func TestSkipInitial(t *testing.T) {
	tr := New(nil, Options{SkipInitial: true})
	rec := &recorder{}
	tr.observe(rec, newDeployment("old", 1, "nginx:1"), true)
	tr.observe(rec, newDeployment("new", 1, "nginx:1"), false)
	if got, want := rec.types(), []string{"ADDED new"}; !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if n := len(tr.Snapshot()); n != 2 {
		t.Errorf("snapshot has %d deployments, want 2", n)
	}
}

func TestStripKeepsOnlyWhatIsRead(t *testing.T) {
	d := newDeployment("web", 3, "nginx:1")
	out, err := Strip(d)
	if err != nil {
		t.Fatal(err)
	}
	s := out.(*appsv1.Deployment)
	if s.Annotations != nil || s.ManagedFields != nil || s.Spec.Template.Spec.Containers[0].Args != nil {
		t.Errorf("strip left data the view never reads: %+v", s)
	}
	if got, want := deployment.Summarize(s, nil), deployment.Summarize(d, nil); got.Status != want.Status || !slices.Equal(got.Containers, want.Containers) || got.Replicas != want.Replicas || !got.Since.Equal(want.Since) || got.Since.IsZero() {
		t.Errorf("stripped summary %+v differs from full %+v", got, want)
	}
}

func TestRunWithFakeClientset(t *testing.T) {
	client := fake.NewClientset(newDeployment("web", 3, "nginx:1"))
	watching := make(chan struct{})
	var once sync.Once
	client.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watch.Interface, error) {
		once.Do(func() { close(watching) })
		return false, nil, nil
	})
	rec := &recorder{}
	tr := New(fakeApps{client.AppsV1()}, Options{Namespace: "shop"})
	stop, err := tr.Start(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if rec.synced != 1 || len(rec.snapshot) != 1 {
		t.Fatalf("synced %d times with %d deployments, want once with 1", rec.synced, len(rec.snapshot))
	}
	<-watching // writes before the watch starts would be missed by the fake

	ctx := context.Background()
	d, _ := client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	if _, err := client.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.AppsV1().Deployments("shop").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"ADDED web", "MODIFIED web", "DELETED web"}
	testutil.Eventually(t, 10*time.Second, "three events", func() bool { return len(rec.types()) == len(want) })
	if got := rec.types(); !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	stop()
	stop() // idempotent
}

func TestRunReportsForbiddenAtStart(t *testing.T) {
	client := fake.NewClientset()
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("no"))
	client.PrependReactor("list", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden
	})
	_, err := New(fakeApps{client.AppsV1()}, Options{}).Start(context.Background(), &recorder{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("Start error = %v, want Forbidden", err)
	}
}

// TestFirstEventsInOrder: the events before the first sync reach the sink
// sorted by namespace and name (a Deployment's own events in their order),
// whatever order the informer's list had; later ones pass at once.
func TestFirstEventsInOrder(t *testing.T) {
	rec := &recorder{}
	s := &inOrder{Sink: rec}
	ev := func(typ deployment.EventType, ns, name string) deployment.Event {
		return deployment.Event{Type: typ, Summary: deployment.Summary{Namespace: ns, Name: name}}
	}
	s.OnEvent(ev(deployment.Added, "shop", "web"))
	s.OnEvent(ev(deployment.Added, "demo", "zed"))
	scaled := ev(deployment.Modified, "shop", "web")
	scaled.Replicas.Desired, scaled.Changed = 3, []string{"replicas"}
	s.OnEvent(scaled)
	s.OnEvent(ev(deployment.Added, "shop", "api"))
	s.OnEvent(ev(deployment.Added, "shop", "gone"))
	s.OnEvent(ev(deployment.Deleted, "shop", "gone"))
	if got := rec.types(); len(got) != 0 {
		t.Fatalf("delivered before the sync: %v", got)
	}
	s.OnSynced(nil)
	s.OnEvent(ev(deployment.Added, "aaa", "late"))
	// A change before the sync is part of the first view: web is listed
	// once, ADDED with its latest state; gone, added and deleted before the
	// sync, not at all.
	want := []string{"ADDED zed", "ADDED api", "ADDED web", "ADDED late"}
	if got := rec.types(); !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	if web := rec.events[2]; web.Replicas.Desired != 3 || len(web.Changed) != 0 {
		t.Fatalf("web's ADDED wants %d replicas and changed %v; want its latest state, 3, and no changed fields", web.Replicas.Desired, web.Changed)
	}
	if rec.synced != 1 {
		t.Fatalf("synced %d times, want 1", rec.synced)
	}
}
