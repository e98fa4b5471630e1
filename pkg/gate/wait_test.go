package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

func TestWaitVerdicts(t *testing.T) {
	summary := func(gen, observed int64, desired int32, status deployment.Status) deployment.Summary {
		return deployment.Summary{Namespace: "shop", Name: "web", Generation: gen, ObservedGeneration: observed,
			Replicas: deployment.Replicas{Desired: desired}, Status: status, Message: "why"}
	}
	withReplicas := func(s deployment.Summary, current, updated, available int32) deployment.Summary {
		s.Replicas.Current, s.Replicas.Updated, s.Replicas.Available = current, updated, available
		return s
	}
	tests := []struct {
		name   string
		req    Request
		s      deployment.Summary
		done   bool
		reason operations.Reason
	}{
		{"stale Running before the write", Request{MinGeneration: 5}, summary(4, 4, 3, deployment.Running), false, ""},
		{"written, not yet observed, stale Failed", Request{MinGeneration: 5}, summary(5, 4, 3, deployment.Failed), false, ""},
		{"observed and Running", Request{MinGeneration: 5}, summary(5, 5, 3, deployment.Running), true, ""},
		{"a later generation counts too", Request{MinGeneration: 5}, summary(6, 6, 3, deployment.Running), true, ""},
		{"observed and still Progressing", Request{MinGeneration: 5}, summary(5, 5, 3, deployment.Progressing), false, ""},
		{"observed and Failed", Request{MinGeneration: 5}, summary(5, 5, 3, deployment.Failed), true, operations.Failed},
		{"paused with old replicas left never rolls out", Request{MinGeneration: 5}, withReplicas(summary(5, 5, 3, deployment.Paused), 4, 1, 3), true, operations.Failed},
		{"paused with nothing left is done", Request{MinGeneration: 5}, withReplicas(summary(5, 5, 3, deployment.Paused), 3, 3, 3), true, ""},
		{"paused while its pods come up goes on", Request{MinGeneration: 5}, withReplicas(summary(5, 5, 3, deployment.Paused), 3, 3, 1), false, ""},
		{"Failing past its grace fails", Request{MinGeneration: 5}, summary(5, 5, 3, deployment.Failing), true, operations.Failed},
		{"Failing within its grace goes on", Request{MinGeneration: 5, FailingGrace: time.Hour}, summary(5, 5, 3, deployment.Failing), false, ""},
		{"scale: old count still shown", Request{Replicas: int32p(5)}, summary(4, 4, 3, deployment.Running), false, ""},
		{"scale: new count, not observed", Request{Replicas: int32p(5)}, summary(5, 4, 5, deployment.Scaling), false, ""},
		{"scale: new count Running", Request{Replicas: int32p(5)}, summary(5, 5, 5, deployment.Running), true, ""},
		{"scale to zero", Request{Replicas: int32p(0)}, summary(5, 5, 0, deployment.ScaledToZero), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stopped := false
			w := newWaiter(tt.req, func() { stopped = true })
			defer w.stopTimerLocked()
			w.OnEvent(deployment.Event{Type: deployment.Modified, Summary: tt.s})
			if w.ended != tt.done || stopped != tt.done {
				t.Fatalf("done = %v, stopped = %v, want %v", w.ended, stopped, tt.done)
			}
			if got := operations.ReasonOf(w.err); got != tt.reason {
				t.Errorf("reason = %q (err %v), want %q", got, w.err, tt.reason)
			}
		})
	}
}

func TestWaitDecidesNothingWhileTheWatchIsLost(t *testing.T) {
	stopped := false
	w := newWaiter(Request{MinGeneration: 5}, func() { stopped = true })
	w.OnEvent(deployment.Event{Type: deployment.Modified, Summary: deployment.Summary{Namespace: "shop", Name: "web", Generation: 5, ObservedGeneration: 5, Status: deployment.Progressing}})
	w.OnHealth(tracker.Health{State: tracker.Reconnecting, Since: time.Now(), Err: errors.New("connection refused")})
	w.OnEvent(deployment.Event{Type: deployment.Modified, Summary: deployment.Summary{Namespace: "shop", Name: "web", Generation: 5, ObservedGeneration: 5, Status: deployment.Running}})
	if w.ended || stopped {
		t.Fatal("decided while the watch was lost")
	}
	w.OnHealth(tracker.Health{State: tracker.Live, Since: time.Now()})
	if !w.ended || !stopped || w.err != nil {
		t.Fatalf("once live again: done %v, stopped %v, err %v; want done on Running", w.ended, stopped, w.err)
	}
}

// fakeApps tells the informer, as the fake Clientset itself would, that the
// fake cannot stream its initial list (the tracker is handed the AppsV1
// client, which does not say so, and would wait forever for the list's end).
type fakeApps struct{ appsv1client.AppsV1Interface }

func (fakeApps) IsWatchListSemanticsUnSupported() bool { return true }

func listWatchable(c *fake.Clientset) Workloads { return fakeApps{c.AppsV1()} }

// syncSignal is a sink that says when the tracker has synced.
type syncSignal struct {
	once   sync.Once
	synced chan struct{}
	mu     sync.Mutex
	events int
}

func newSyncSignal() *syncSignal { return &syncSignal{synced: make(chan struct{})} }

func (s *syncSignal) OnEvent(deployment.Event) {
	s.mu.Lock()
	s.events++
	s.mu.Unlock()
}

func (s *syncSignal) OnSynced([]deployment.Summary) { s.once.Do(func() { close(s.synced) }) }

type waitResult struct {
	s   deployment.Summary
	err error
}

func startWait(ctx context.Context, t *testing.T, client *fake.Clientset, req Request) (*syncSignal, chan waitResult) {
	t.Helper()
	sink := newSyncSignal()
	done := make(chan waitResult, 1)
	go func() {
		s, err := Wait(ctx, listWatchable(client), req, sink)
		done <- waitResult{s, err}
	}()
	select {
	case <-sink.synced:
	case r := <-done:
		return sink, returned(done, r)
	case <-time.After(30 * time.Second):
		t.Fatal("the wait's watch did not sync")
	}
	return sink, done
}

func returned(done chan waitResult, r waitResult) chan waitResult {
	done <- r
	return done
}

func TestWaitSkipsTheStateBeforeTheWrite(t *testing.T) {
	d := newDeployment(3) // generation 4, Running: the state before the write
	c := newClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, done := startWait(ctx, t, c, Request{Namespace: "shop", Name: "web", MinGeneration: 5})

	// The write, seen before the controller acts on it; then the rollout.
	steps := []func(*appsv1.Deployment){
		func(d *appsv1.Deployment) { d.Generation = 5; d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" },
		func(d *appsv1.Deployment) {
			d.Status.ObservedGeneration = 5
			d.Status.UpdatedReplicas = 1
			d.Status.Replicas = 4
		},
		func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 3; d.Status.Replicas = 3 },
	}
	for _, step := range steps {
		d = d.DeepCopy()
		step(d)
		if err := c.Tracker().Update(deploymentsGVR, d, "shop"); err != nil {
			t.Fatal(err)
		}
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("wait: %v", r.err)
	}
	if r.s.Generation != 5 || r.s.ObservedGeneration != 5 || r.s.Status != deployment.Running {
		t.Errorf("ended on %+v, want generation 5 observed and Running", r.s)
	}
}

func TestWaitEnds(t *testing.T) {
	failed := func(d *appsv1.Deployment) {
		d.Generation, d.Status.ObservedGeneration = 5, 5
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-1" has timed out progressing.`}}
	}
	tests := []struct {
		name    string
		change  func(*fake.Clientset) error
		timeout bool
		reason  operations.Reason
		message string
	}{
		{name: "failed", reason: operations.Failed, message: `deployment "web" in namespace "shop" is Failed: ProgressDeadlineExceeded: ReplicaSet "web-1" has timed out progressing.`,
			change: func(c *fake.Clientset) error {
				d := newDeployment(3)
				failed(d)
				return c.Tracker().Update(deploymentsGVR, d, "shop")
			}},
		{name: "deleted", reason: operations.NotFound, message: "was deleted while waiting",
			change: func(c *fake.Clientset) error { return c.Tracker().Delete(deploymentsGVR, "shop", "web") }},
		{name: "timeout", timeout: true, message: `deployment "web" in namespace "shop" is Running`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, newDeployment(3))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			waitCtx, cancelWait := context.WithCancel(ctx)
			defer cancelWait()
			_, done := startWait(waitCtx, t, c, Request{Namespace: "shop", Name: "web", MinGeneration: 5})
			if tt.change != nil {
				if err := tt.change(c); err != nil {
					t.Fatal(err)
				}
			}
			if tt.timeout {
				cancelWait() // as a deadline would
			}
			r := <-done
			if got := operations.ReasonOf(r.err); got != tt.reason {
				t.Fatalf("reason = %q (err %v), want %q", got, r.err, tt.reason)
			}
			if r.err == nil || !strings.Contains(r.err.Error(), tt.message) {
				t.Errorf("error %v does not say %q", r.err, tt.message)
			}
			if tt.timeout != errors.Is(r.err, context.Canceled) {
				t.Errorf("error %v: wraps ctx's error %v, want %v", r.err, errors.Is(r.err, context.Canceled), tt.timeout)
			}
		})
	}
}

func TestWaitStartErrors(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		// The fake's watch never ends its initial list when it holds no
		// deployment at all: keep one in another namespace.
		elsewhere := newDeployment(1)
		elsewhere.Namespace = "elsewhere"
		c := newClient(t, elsewhere)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := Wait(ctx, listWatchable(c), Request{Namespace: "shop", Name: "web"}, nil)
		if operations.ReasonOf(err) != operations.NotFound || !strings.Contains(err.Error(), `deployment "web" not found in namespace "shop"`) {
			t.Errorf("err = %v, want NotFound naming both", err)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		c := newClient(t, newDeployment(3))
		c.PrependReactor("list", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", nil)
		})
		// The tracker reports an error at start only once ctx ends.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := Wait(ctx, listWatchable(c), Request{Namespace: "shop", Name: "web"}, nil)
		if operations.ReasonOf(err) != operations.Forbidden || !strings.Contains(err.Error(), "--wait needs list and watch on deployments") {
			t.Errorf("err = %v, want Forbidden with a hint", err)
		}
	})
}

// TestWaitAlreadySettled: when the first listed state already settles the
// wait, the sink still gets its OnSynced (a Stream printer prints its table
// only then).
func TestWaitAlreadySettled(t *testing.T) {
	c := newClient(t, newDeployment(3))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sink := newSyncSignal()
	s, err := Wait(ctx, listWatchable(c), Request{Namespace: "shop", Name: "web", MinGeneration: 4}, sink)
	if err != nil || s.Status != deployment.Running {
		t.Fatalf("wait = %v, %v; want Running, nil", s.Status, err)
	}
	select {
	case <-sink.synced:
	default:
		t.Error("the sink was never told the tracker synced")
	}
}

// TestWaitEndsWhenScaledByOther: a replica count other than the one the
// scale set, at or after the scale's resourceVersion, ends the wait with a
// Conflict naming the autoscaler; before it, it is the old state and
// waited past. Where resourceVersions do not compare, a count seen after
// the scale's own counts.
func TestWaitEndsWhenScaledByOther(t *testing.T) {
	as := []operations.Autoscaler{{Name: "web", MinReplicas: 2, MaxReplicas: 4}}
	ev := func(rv string, desired int32) deployment.Event {
		return deployment.Event{Type: deployment.Modified, Summary: deployment.Summary{Namespace: "shop", Name: "web",
			Generation: 6, ObservedGeneration: 5, ResourceVersion: rv, Replicas: deployment.Replicas{Desired: desired}, Status: deployment.Scaling}}
	}
	tests := []struct {
		name   string
		req    Request
		events []deployment.Event
		done   bool
		says   []string
	}{
		{"older state", Request{Replicas: int32p(8), ResourceVersion: "100", Autoscalers: as},
			[]deployment.Event{ev("99", 3)}, false, nil},
		{"the autoscaler's count after the scale", Request{Replicas: int32p(8), ResourceVersion: "100", Autoscalers: as},
			[]deployment.Event{ev("99", 3), ev("100", 8), ev("120", 4)}, true,
			[]string{`deployment "web" in namespace "shop" was scaled to 4 replicas by someone else while waiting for 8: HorizontalPodAutoscaler "web" (min 2, max 4 replicas) sets its replicas`,
				"kubectl patch hpa web -n shop"}},
		{"the autoscaler was first", Request{Replicas: int32p(8), ResourceVersion: "100", Autoscalers: as},
			[]deployment.Event{ev("101", 4)}, true, []string{"scaled to 4 replicas by someone else"}},
		{"no autoscaler known", Request{Replicas: int32p(8), ResourceVersion: "100"},
			[]deployment.Event{ev("101", 5)}, true, []string{"scaled to 5 replicas by someone else while waiting for 8", "--show-managed-fields"}},
		{"versions that do not compare: unknown order", Request{Replicas: int32p(8), ResourceVersion: "x1"},
			[]deployment.Event{ev("x0", 3)}, false, nil},
		{"versions that do not compare: after the scale's own", Request{Replicas: int32p(8), ResourceVersion: "x1"},
			[]deployment.Event{ev("x0", 3), ev("x1", 8), ev("x2", 4)}, true, []string{"scaled to 4 replicas by someone else"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Namespace, tt.req.Name = "shop", "web"
			w := newWaiter(tt.req, func() {})
			for _, e := range tt.events {
				w.OnEvent(e)
			}
			if w.ended != tt.done {
				t.Fatalf("done = %v, want %v (err %v)", w.ended, tt.done, w.err)
			}
			if !tt.done {
				return
			}
			if operations.ReasonOf(w.err) != operations.Conflict {
				t.Errorf("reason of %v = %q, want Conflict", w.err, operations.ReasonOf(w.err))
			}
			for _, s := range tt.says {
				if !strings.Contains(w.err.Error(), s) {
					t.Errorf("error %q does not say %q", w.err, s)
				}
			}
		})
	}
}

// TestWaitClosing: what a wait ends with, from what Wait returned: the
// outcome and one line naming the rollout and where it stands; errors that
// are no verdict (a deletion, an API error) pass as they are, for the
// caller to explain.
func TestWaitClosing(t *testing.T) {
	req := Request{Namespace: "shop", Name: "web"}
	last := deployment.Summary{Namespace: "shop", Name: "web", Status: deployment.Progressing, Message: "1 of 3 updated",
		Replicas: deployment.Replicas{Desired: 3, Updated: 1, Available: 2}}
	failed := &operations.Error{Reason: operations.Failed, Message: `deployment "web" in namespace "shop" is Failed: ProgressDeadlineExceeded`}
	gone := &operations.Error{Reason: operations.NotFound, Message: "was deleted while waiting"}
	for _, tt := range []struct {
		name    string
		last    deployment.Summary
		err     error
		outcome Outcome // 0: err passes as it is
		says    string
	}{
		{"failed", last, failed, Failed, `deployment "web" in namespace "shop" is Failed: ProgressDeadlineExceeded`},
		{"timed out", last, fmt.Errorf("deployment %q in namespace %q is Progressing: %w", "web", "shop", context.DeadlineExceeded), TimedOut,
			`timed out after 3s waiting for the rollout of deployment "web" in namespace "shop": it is Progressing, 1 of 3 replicas updated and available (1 of 3 updated)`},
		{"interrupted before the first list", deployment.Summary{}, fmt.Errorf("not yet listed: %w", context.Canceled), Interrupted,
			`interrupted while waiting for the rollout of deployment "web" in namespace "shop": it was not listed yet`},
		{"deleted", last, gone, 0, "was deleted while waiting"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := req.Closing(tt.last, tt.err, 3*time.Second)
			var end *Error
			switch {
			case tt.outcome == 0 && err != tt.err:
				t.Fatalf("closing = %v, want %v as it is", err, tt.err)
			case tt.outcome != 0 && (!errors.As(err, &end) || end.Outcome != tt.outcome):
				t.Fatalf("closing = %v, want outcome %d", err, tt.outcome)
			case err.Error() != tt.says:
				t.Errorf("closing says %q, want %q", err, tt.says)
			case !errors.Is(err, tt.err):
				t.Errorf("closing %v does not wrap %v", err, tt.err)
			}
		})
	}
	if err := req.Closing(last, nil, time.Second); err != nil {
		t.Errorf("a wait that passed closes with %v", err)
	}
	if got := req.Success(); got != `deployment "web" successfully rolled out` {
		t.Errorf("success line %q", got)
	}
}
