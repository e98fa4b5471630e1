package tracker

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// rollouts are the ROLLOUT events rec got.
func (r *recorder) rollouts() []deployment.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []deployment.Event
	for _, e := range r.events {
		if e.Type == deployment.Rollout {
			out = append(out, e)
		}
	}
	return out
}

// TestRolloutCostOfTheWriteUpsCase: one replica, maxSurge 0, a Service;
// the old pod goes (its preStop hook failing) before the new one is
// ready. When the rollout completes, one ROLLOUT event says its revision,
// length, the fewest ready endpoints, the gap and the failed hook; a
// relist that brings the same objects again tells it no more.
func TestRolloutCostOfTheWriteUpsCase(t *testing.T) {
	objs := servedDeployment("api", 1, intstr.FromInt32(0), intstr.FromInt32(1), nil)
	objs = append(objs, service("api-svc", map[string]string{"app": "api"}), slice("api-a", "api-svc", readyPods("api-1-0")))
	r := startServing(t, objs...)
	ctx := context.Background()
	deployments := r.client.AppsV1().Deployments("shop")
	update := func(at time.Time, change func(d *appsv1.Deployment)) {
		t.Helper()
		r.clock.set(at)
		d, err := deployments.Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		change(d)
		if _, err := deployments.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// set-image: the controller has not seen it yet.
	update(t0, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
		d.Generation = 2
	})
	r.waitEvent("api", "rolling out", func(e deployment.Event) bool { return e.Status == deployment.Progressing })

	// Its new ReplicaSet and pod; the old pod's preStop hook fails and it goes.
	controller := true
	uid := r.last("api").UID
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "api-2", Namespace: "shop", Annotations: map[string]string{RevisionAnnotation: "13"},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "api", UID: uid, Controller: &controller}}}}
	if _, err := r.client.AppsV1().ReplicaSets("shop").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "api-2-0", Namespace: "shop",
		OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "api-2", Controller: &controller}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if _, err := r.client.CoreV1().Pods("shop").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	update(t0.Add(500*time.Millisecond), func(d *appsv1.Deployment) {
		d.Annotations[RevisionAnnotation] = "13"
		d.Status.ObservedGeneration = 2
		d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas = 1, 0, 0, 1
		d.Status.Conditions[0].Reason = "ReplicaSetUpdated"
	})
	r.waitEvent("api", "at revision 13", func(e deployment.Event) bool { return e.Status == deployment.Progressing && e.Replicas.Updated == 1 })
	hook := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "api-1-0.hook", Namespace: "shop"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "api-1-0"},
		Type:           corev1.EventTypeWarning, Reason: "FailedPreStopHook", Message: "PreStopHook failed", Count: 1,
		LastTimestamp: metav1.NewTime(t0.Add(time.Second))}
	hookOn := func(name, pod string, at time.Time) *corev1.Event {
		e := hook.DeepCopy()
		e.Name, e.InvolvedObject.Name, e.LastTimestamp = name, pod, metav1.NewTime(at)
		return e
	}
	for _, e := range []*corev1.Event{
		hook,
		hookOn("gone.hook", "api-1-zz9", t0.Add(time.Second)),        // an old pod gone before it was seen
		hookOn("before.hook", "api-1-0", t0.Add(-10*time.Second)),    // before the rollout
		hookOn("new.hook", "api-2-0", t0.Add(time.Second)),           // the new pod's
		hookOn("other.hook", "api-1-canary-x2", t0.Add(time.Second)), // Deployment api-1-canary's pod
	} {
		if _, err := r.client.CoreV1().Events("shop").Create(ctx, e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r.setSlice(t0.Add(time.Second), slice("api-a", "api-svc", []endpoint{{pod: "api-1-0", serving: true, terminating: true}}))
	r.waitEvent("api", "in a gap", func(e deployment.Event) bool { return len(e.Gaps) == 1 })
	if err := r.client.CoreV1().Pods("shop").Delete(ctx, "api-1-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.setSlice(t0.Add(2*time.Second), slice("api-a", "api-svc", []endpoint{{pod: "api-2-0"}}))
	r.setSlice(t0.Add(7*time.Second), slice("api-a", "api-svc", readyPods("api-2-0")))
	r.waitEvent("api", "after the gap", func(e deployment.Event) bool { return e.LastGap != nil })
	if n := len(r.rec.rollouts()); n != 0 {
		t.Fatalf("%d ROLLOUT events before the rollout ended", n)
	}

	update(t0.Add(8*time.Second), func(d *appsv1.Deployment) {
		d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UnavailableReplicas = 1, 1, 0
		d.Status.Conditions[0].Reason = "NewReplicaSetAvailable"
	})
	done := r.waitEvent("api", "told the rollout's cost", func(e deployment.Event) bool { return e.Type == deployment.Rollout })
	want := deployment.RolloutCost{
		Revision: "13", Outcome: deployment.RolloutComplete, Start: t0, End: t0.Add(8 * time.Second), DurationSeconds: 8,
		Services:   []deployment.RolloutService{{Service: "api-svc", Fewest: 0, GapSeconds: 6}},
		GapSeconds: 6, FailedPreStopHooks: []deployment.PreStopFailure{
			{Pod: "api-1-0", Message: "PreStopHook failed", Count: 1}, {Pod: "api-1-zz9", Message: "PreStopHook failed", Count: 1}},
	}
	if c := done.LastRollout; c == nil || !equalCost(*c, want) {
		t.Fatalf("cost %+v, want %+v", c, want)
	}
	if done.Status != deployment.Running || len(done.Changed) != 0 {
		t.Errorf("ROLLOUT event %+v: the summary now, with nothing changed", done.Summary)
	}
	// The MODIFIED event just before it says the rollout ended.
	r.rec.mu.Lock()
	before := r.rec.events[len(r.rec.events)-2]
	r.rec.mu.Unlock()
	if before.Type != deployment.Modified || !slices.Contains(before.Changed, "lastRollout") || !slices.Contains(before.Changed, "status") {
		t.Errorf("event before the ROLLOUT: %s %v", before.Type, before.Changed)
	}
	if got := done.LastRollout.Describe(&done.Summary); got != "deployment shop/api: rollout to revision 13 complete in 8s; ready endpoints at the fewest: api-svc 0; serving gap 6s in all; FailedPreStopHook on old pods api-1-0, api-1-zz9" {
		t.Errorf("described %q", got)
	}

	// A relist delivers every object again (Replace), a heartbeat moves
	// the resourceVersion: neither is a rollout's end.
	for _, obj := range r.tr.deployments.GetStore().List() {
		r.tr.observe(r.rec, obj, false)
	}
	update(t0.Add(9*time.Second), func(d *appsv1.Deployment) { d.Status.Conditions[0].Message = "heartbeat" })
	r.setSlice(t0.Add(10*time.Second), slice("api-a", "api-svc", readyPods("api-2-0", "api-2-1")))
	r.settle()
	if n := len(r.rec.rollouts()); n != 1 {
		t.Errorf("%d ROLLOUT events, want the one", n)
	}
	if s := r.last("api"); s.LastRollout == nil || !equalCost(*s.LastRollout, want) {
		t.Errorf("later summary's lastRollout %+v, want the rollout's", s.LastRollout)
	}
}

func equalCost(a, b deployment.RolloutCost) bool {
	return a.Revision == b.Revision && a.Outcome == b.Outcome && a.Start.Equal(b.Start) && a.End.Equal(b.End) &&
		a.DurationSeconds == b.DurationSeconds && a.OpenAtStart == b.OpenAtStart && a.GapSeconds == b.GapSeconds &&
		a.GapOpen == b.GapOpen && a.Unseen == b.Unseen && slices.Equal(a.Services, b.Services) &&
		slices.Equal(a.FailedPreStopHooks, b.FailedPreStopHooks)
}

// TestRolloutEndsOnceEvenWhenItFailsThenCompletes: a rollout that fails
// (progress deadline) is told once, failed; its pods becoming ready later
// tell nothing more. A spec change that makes no revision, or a
// Deployment's first revision, is no rollout.
func TestRolloutEndsOnceEvenWhenItFailsThenCompletes(t *testing.T) {
	clk := &clock{now: t0}
	tr := New(nil, Options{Now: clk.Now})
	tr.synced = true
	rec := &recorder{}
	d := newDeployment("web", 2, "nginx:1")
	d.Annotations[RevisionAnnotation] = "3"
	tr.observe(rec, d, false)

	next := func(change func(d *appsv1.Deployment)) {
		d = d.DeepCopy()
		change(d)
		tr.observe(rec, d, false)
	}
	next(func(d *appsv1.Deployment) {
		d.Generation, d.Spec.Template.Spec.Containers[0].Image = 2, "nginx:2"
	})
	clk.set(t0.Add(5 * time.Second))
	next(func(d *appsv1.Deployment) {
		d.Annotations[RevisionAnnotation] = "4"
		d.Status.ObservedGeneration = 2
		d.Status.UpdatedReplicas = 1
		d.Status.Conditions[0].Status, d.Status.Conditions[0].Reason = corev1.ConditionFalse, "ProgressDeadlineExceeded"
	})
	ro := rec.rollouts()
	if len(ro) != 1 || ro[0].LastRollout.Outcome != deployment.RolloutFailed || ro[0].LastRollout.Revision != "4" || ro[0].LastRollout.DurationSeconds != 5 {
		t.Fatalf("rollouts %+v, want one failed at revision 4 after 5s", ro)
	}
	if got := ro[0].LastRollout.Describe(&ro[0].Summary); got != "deployment shop/web: rollout to revision 4 failed in 5s; no Service selects its pods" {
		t.Errorf("described %q", got)
	}
	next(func(d *appsv1.Deployment) {
		d.Status.UpdatedReplicas = 2
		d.Status.Conditions[0].Status, d.Status.Conditions[0].Reason = corev1.ConditionTrue, "NewReplicaSetAvailable"
	})
	if rec.events[len(rec.events)-1].Status != deployment.Running {
		t.Fatalf("not Running: %+v", rec.events[len(rec.events)-1].Summary)
	}
	// minReadySeconds: a new generation, no new revision.
	next(func(d *appsv1.Deployment) { d.Generation, d.Spec.MinReadySeconds = 3, 5 })
	next(func(d *appsv1.Deployment) { d.Status.ObservedGeneration = 3 })
	if ro := rec.rollouts(); len(ro) != 1 {
		t.Errorf("rollouts %+v, want the failed one alone", ro)
	}

	fresh := newDeployment("new", 1, "nginx:1")
	fresh.Generation, fresh.Status.ObservedGeneration, fresh.Status.UpdatedReplicas = 1, 0, 0
	tr.observe(rec, fresh, false)
	fresh = fresh.DeepCopy()
	fresh.Annotations[RevisionAnnotation] = "1"
	fresh.Status.ObservedGeneration, fresh.Status.UpdatedReplicas = 1, 1
	tr.observe(rec, fresh, false)
	if ro := rec.rollouts(); len(ro) != 1 {
		t.Errorf("rollouts %+v: a first revision is no rollout", ro)
	}
}

// TestRolloutUnderWayAtStart: a rollout the tracker first sees before the
// controller recorded that it observed the spec (as `set-image --wait`
// does) is told when it completes at the new revision, said to be under
// way at the start, whether the new revision was written yet or not (the
// controller writes it first).
func TestRolloutUnderWayAtStart(t *testing.T) {
	for _, tt := range []struct {
		name  string
		first string // the revision first seen
	}{
		{"the old revision first", "3"},
		{"the new revision first", "4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{now: t0}
			tr := New(nil, Options{Now: clk.Now})
			rec := &recorder{}
			d := newDeployment("web", 2, "nginx:2")
			d.Annotations[RevisionAnnotation] = tt.first
			d.Generation = 2
			tr.observe(rec, d, true)
			tr.synced = true
			clk.set(t0.Add(2 * time.Second))
			d = d.DeepCopy()
			d.Annotations[RevisionAnnotation] = "4"
			d.Status.ObservedGeneration = 2
			tr.observe(rec, d, false)
			ro := rec.rollouts()
			if len(ro) != 1 || !ro[0].LastRollout.OpenAtStart || ro[0].LastRollout.Revision != "4" || ro[0].LastRollout.DurationSeconds != 2 {
				t.Errorf("rollouts %+v, want revision 4, under way at the start, 2s", ro)
			}
		})
	}
}

// TestRolloutOfTheWaitsOwnChange: a rollout to the generation the command's
// own change made (--wait) is not said to be under way at the start; one to
// an older generation still is.
func TestRolloutOfTheWaitsOwnChange(t *testing.T) {
	for _, tt := range []struct {
		changed  int64
		openWant bool
	}{{2, false}, {3, true}} {
		clk := &clock{now: t0}
		tr := New(nil, Options{Now: clk.Now, ChangedGeneration: tt.changed})
		rec := &recorder{}
		d := newDeployment("web", 2, "nginx:2")
		d.Annotations[RevisionAnnotation] = "4"
		d.Generation = 2
		tr.observe(rec, d, true)
		tr.synced = true
		clk.set(t0.Add(2 * time.Second))
		d = d.DeepCopy()
		d.Status.ObservedGeneration = 2
		tr.observe(rec, d, false)
		ro := rec.rollouts()
		if len(ro) != 1 || ro[0].LastRollout.OpenAtStart != tt.openWant || ro[0].LastRollout.Revision != "4" {
			t.Errorf("changed generation %d: rollouts %+v, want revision 4 with under way at the start %v", tt.changed, ro, tt.openWant)
		}
	}
}
