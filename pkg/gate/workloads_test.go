package gate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// A StatefulSet that failed a view names its kind, and its next steps are
// kubectl's: the pod the OrderedReady rollout waits on first.
func TestStatefulSetFailureSteps(t *testing.T) {
	s := &deployment.Summary{Kind: deployment.KindStatefulSet, Namespace: "shop", Name: "db", Status: deployment.Failing, Message: "stuck",
		Problems: []diagnosis.Problem{{Reason: "ImagePullBackOff", Pod: "db-2", Pods: 1, Blocking: true}}}
	f := every{target: Target{Context: "prod"}}.failure(s)
	if f.Message != "statefulset shop/db is Failing: stuck" {
		t.Errorf("message %q", f.Message)
	}
	var got []string
	for _, st := range f.Steps {
		got = append(got, st.Command)
	}
	want := []string{
		"kubectl delete pod db-2 -n shop --context prod --wait=false",
		"kubectl rollout history statefulset/db -n shop --context prod",
		"kubectl describe pod db-2 -n shop --context prod",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ds := &deployment.Summary{Kind: deployment.KindDaemonSet, Namespace: "shop", Name: "agent", Status: deployment.Paused}
	if steps := stepsFor(ds, Target{}, stepKinds{undo: true, history: true}); len(steps) != 1 || steps[0].Command != "kubectl rollout history daemonset/agent -n shop" {
		t.Errorf("daemonset steps %+v: no deploywatch resume, undo or history", steps)
	}
}

// A wait on a StatefulSet or DaemonSet follows that one workload, by kind
// and name, not a Deployment of the same name, and speaks of its kind.
func TestWaitFollowsTheWorkloadOfItsKind(t *testing.T) {
	web := newDeployment(3) // Running: a wait that followed it would pass at once
	web.Generation, web.Status.ObservedGeneration = 5, 5
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Generation: 5},
		Spec:   appsv1.StatefulSetSpec{Replicas: int32p(3)},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 4, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Generation: 2},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, UpdatedNumberScheduled: 1, NumberAvailable: 2}}
	c := newClient(t, web, sts, ds)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	stsSink, stsDone := startWait(ctx, t, c, Request{Kind: operations.StatefulSet, Namespace: "shop", Name: "web", MinGeneration: 5})
	dsSink, dsDone := startWait(ctx, t, c, Request{Kind: operations.DaemonSet, Namespace: "shop", Name: "web", MinGeneration: 2})
	for _, s := range []*syncSignal{stsSink, dsSink} {
		s.mu.Lock()
		events := s.events
		s.mu.Unlock()
		if events != 1 {
			t.Fatalf("the wait saw %d workloads, want its own alone", events)
		}
	}
	select {
	case r := <-stsDone:
		t.Fatalf("the StatefulSet's wait ended before its controller observed the change: %v", r.err)
	case r := <-dsDone:
		t.Fatalf("the DaemonSet's wait ended with 1 of 2 pods updated: %v", r.err)
	default:
	}

	sts = sts.DeepCopy()
	sts.Status.ObservedGeneration, sts.Status.UpdatedReplicas, sts.Status.CurrentReplicas = 5, 3, 3
	if err := c.Tracker().Update(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, sts, "shop"); err != nil {
		t.Fatal(err)
	}
	if r := <-stsDone; r.err != nil || r.s.Kind != deployment.KindStatefulSet || r.s.Status != deployment.Running {
		t.Fatalf("statefulset wait: %+v, %v; want Running", r.s, r.err)
	}
	if err := c.Tracker().Delete(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "shop", "web"); err != nil {
		t.Fatal(err)
	}
	r := <-dsDone
	if want := `daemonset "web" in namespace "shop" was deleted while waiting for its rollout`; r.err == nil || r.err.Error() != want {
		t.Fatalf("daemonset wait: %v, want %q", r.err, want)
	}
}

// An OnDelete StatefulSet's rollout waits for pods to be deleted: it fails
// the wait, saying so, not asking for a resume it has no use for.
func TestWaitWorkloadPausedByOnDelete(t *testing.T) {
	s := deployment.Summary{Kind: deployment.KindStatefulSet, Namespace: "shop", Name: "db", Generation: 3, ObservedGeneration: 3,
		Replicas: deployment.Replicas{Desired: 3, Current: 3, Updated: 1, Available: 3},
		Status:   deployment.Paused, Message: "updateStrategy OnDelete: 1 of 3 pods updated; delete the old pods to update them"}
	req := Request{Kind: operations.StatefulSet, Namespace: "shop", Name: "db", MinGeneration: 3}
	w := newWaiter(req, func() {})
	w.OnEvent(deployment.Event{Type: deployment.Modified, Summary: s})
	want := `statefulset "db" in namespace "shop" is Paused: updateStrategy OnDelete: 1 of 3 pods updated; delete the old pods to update them`
	if !w.ended || operations.ReasonOf(w.err) != operations.Failed || w.err.Error() != want {
		t.Fatalf("ended %v with %v, want %q", w.ended, w.err, want)
	}
	if got := req.Success(); got != `statefulset "db" successfully rolled out` {
		t.Errorf("success line %q", got)
	}
	err := req.Closing(s, context.DeadlineExceeded, time.Second)
	if want := `timed out after 1s waiting for the rollout of statefulset "db" in namespace "shop": it is Paused, 1 of 3 replicas updated and available (updateStrategy OnDelete: 1 of 3 pods updated; delete the old pods to update them)`; err.Error() != want {
		t.Errorf("closing %q, want %q", err, want)
	}
}

// A StatefulSet whose change failed a wait is undone first; under
// OrderedReady the broken new pod must then be deleted, as the rollback
// will not replace it (kubernetes/kubernetes#67250).
func TestWaitWorkloadFailureSteps(t *testing.T) {
	last := deployment.Summary{Kind: deployment.KindStatefulSet, Namespace: "shop", Name: "db", Status: deployment.Failing, OrderedReady: true,
		Problems: []diagnosis.Problem{{Reason: "ImagePullBackOff", Pod: "db-2", Pods: 1}}}
	failed := &operations.Error{Reason: operations.Failed, Message: `statefulset "db" in namespace "shop" is Failing: ImagePullBackOff`}
	commands := func(req Request, last deployment.Summary) []string {
		var end *Error
		if err := req.Closing(last, failed, time.Second); !errors.As(err, &end) || end.Outcome != Failed || len(end.Failures) != 1 {
			t.Fatalf("closing %v", err)
		}
		var got []string
		for _, s := range end.Failures[0].Steps {
			got = append(got, s.Command)
		}
		return got
	}
	req := Request{Kind: operations.StatefulSet, Namespace: "shop", Name: "db", Undoable: true}
	want := []string{
		"kubectl deploywatch undo sts/db -n shop",
		"kubectl delete pod db-2 -n shop --wait=false",
		"kubectl rollout history statefulset/db -n shop",
		"kubectl describe pod db-2 -n shop",
	}
	if got := commands(req, last); !slices.Equal(got, want) {
		t.Errorf("set-image steps\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	parallel := last
	parallel.OrderedReady = false
	if got := commands(req, parallel); !slices.Equal(got, slices.Delete(slices.Clone(want), 1, 2)) {
		t.Errorf("Parallel: steps %q, want no delete", got)
	}
	scale := req
	scale.Undoable, scale.Replicas = false, int32p(3)
	if got := commands(scale, last); !slices.Equal(got, want[2:]) {
		t.Errorf("scale: steps %q, want no undo nor delete", got)
	}
}
