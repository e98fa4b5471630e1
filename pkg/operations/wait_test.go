package operations

import (
	"context"
	"errors"
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
	"github.com/deploywatch/kubectl-deploywatch/pkg/gate"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

func TestWaiterCheck(t *testing.T) {
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
		req    WaitRequest
		s      deployment.Summary
		done   bool
		reason Reason
	}{
		{"stale Running before the write", WaitRequest{MinGeneration: 5}, summary(4, 4, 3, deployment.Running), false, ""},
		{"written, not yet observed, stale Failed", WaitRequest{MinGeneration: 5}, summary(5, 4, 3, deployment.Failed), false, ""},
		{"observed and Running", WaitRequest{MinGeneration: 5}, summary(5, 5, 3, deployment.Running), true, ""},
		{"a later generation counts too", WaitRequest{MinGeneration: 5}, summary(6, 6, 3, deployment.Running), true, ""},
		{"observed and still Progressing", WaitRequest{MinGeneration: 5}, summary(5, 5, 3, deployment.Progressing), false, ""},
		{"observed and Failed", WaitRequest{MinGeneration: 5}, summary(5, 5, 3, deployment.Failed), true, Failed},
		{"paused with old replicas left never rolls out", WaitRequest{MinGeneration: 5}, withReplicas(summary(5, 5, 3, deployment.Paused), 4, 1, 3), true, Failed},
		{"paused with nothing left is done", WaitRequest{MinGeneration: 5}, withReplicas(summary(5, 5, 3, deployment.Paused), 3, 3, 3), true, ""},
		{"paused while its pods come up goes on", WaitRequest{MinGeneration: 5}, withReplicas(summary(5, 5, 3, deployment.Paused), 3, 3, 1), false, ""},
		{"Failing past its grace fails", WaitRequest{MinGeneration: 5}, summary(5, 5, 3, deployment.Failing), true, Failed},
		{"Failing within its grace goes on", WaitRequest{MinGeneration: 5, FailingGrace: time.Hour}, summary(5, 5, 3, deployment.Failing), false, ""},
		{"scale: old count still shown", WaitRequest{Replicas: int32p(5)}, summary(4, 4, 3, deployment.Running), false, ""},
		{"scale: new count, not observed", WaitRequest{Replicas: int32p(5)}, summary(5, 4, 5, deployment.Scaling), false, ""},
		{"scale: new count Running", WaitRequest{Replicas: int32p(5)}, summary(5, 5, 5, deployment.Running), true, ""},
		{"scale to zero", WaitRequest{Replicas: int32p(0)}, summary(5, 5, 0, deployment.ScaledToZero), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stopped := false
			w := &waiter{req: tt.req, stop: func() { stopped = true }, synced: true, judge: gate.Judge{Grace: tt.req.FailingGrace}}
			defer func() {
				if w.timer != nil {
					w.timer.Stop()
				}
			}()
			w.OnEvent(deployment.Event{Type: deployment.Modified, Summary: tt.s})
			if w.done != tt.done || stopped != tt.done {
				t.Fatalf("done = %v, stopped = %v, want %v", w.done, stopped, tt.done)
			}
			if got := ReasonOf(w.err); got != tt.reason {
				t.Errorf("reason = %q (err %v), want %q", got, w.err, tt.reason)
			}
		})
	}
}

func TestWaiterDecidesNothingWhileTheWatchIsLost(t *testing.T) {
	stopped := false
	w := &waiter{req: WaitRequest{MinGeneration: 5}, stop: func() { stopped = true }, synced: true}
	w.OnEvent(deployment.Event{Type: deployment.Modified, Summary: deployment.Summary{Namespace: "shop", Name: "web", Generation: 5, ObservedGeneration: 5, Status: deployment.Progressing}})
	w.OnHealth(tracker.Health{State: tracker.Reconnecting, Since: time.Now(), Err: errors.New("connection refused")})
	w.OnEvent(deployment.Event{Type: deployment.Modified, Summary: deployment.Summary{Namespace: "shop", Name: "web", Generation: 5, ObservedGeneration: 5, Status: deployment.Running}})
	if w.done || stopped {
		t.Fatal("decided while the watch was lost")
	}
	w.OnHealth(tracker.Health{State: tracker.Live, Since: time.Now()})
	if !w.done || !stopped || w.err != nil {
		t.Fatalf("once live again: done %v, stopped %v, err %v; want done on Running", w.done, stopped, w.err)
	}
}

// fakeApps tells the informer, as the fake Clientset itself would, that the
// fake cannot stream its initial list (the tracker is handed the AppsV1
// client, which does not say so, and would wait forever for the list's end).
type fakeApps struct{ appsv1client.DeploymentsGetter }

func (fakeApps) IsWatchListSemanticsUnSupported() bool { return true }

func listWatchable(c *fake.Clientset) appsv1client.DeploymentsGetter { return fakeApps{c.AppsV1()} }

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

func startWait(ctx context.Context, t *testing.T, client *fake.Clientset, req WaitRequest) (*syncSignal, chan waitResult) {
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
	_, done := startWait(ctx, t, c, WaitRequest{Namespace: "shop", Name: "web", MinGeneration: 5})

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
		reason  Reason
		message string
	}{
		{name: "failed", reason: Failed, message: `deployment "web" in namespace "shop" is Failed: ProgressDeadlineExceeded: ReplicaSet "web-1" has timed out progressing.`,
			change: func(c *fake.Clientset) error {
				d := newDeployment(3)
				failed(d)
				return c.Tracker().Update(deploymentsGVR, d, "shop")
			}},
		{name: "deleted", reason: NotFound, message: "was deleted while waiting",
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
			_, done := startWait(waitCtx, t, c, WaitRequest{Namespace: "shop", Name: "web", MinGeneration: 5})
			if tt.change != nil {
				if err := tt.change(c); err != nil {
					t.Fatal(err)
				}
			}
			if tt.timeout {
				cancelWait() // as a deadline would
			}
			r := <-done
			if got := ReasonOf(r.err); got != tt.reason {
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
		_, err := Wait(ctx, listWatchable(c), WaitRequest{Namespace: "shop", Name: "web"}, nil)
		if ReasonOf(err) != NotFound || !strings.Contains(err.Error(), `deployment "web" not found in namespace "shop"`) {
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
		_, err := Wait(ctx, listWatchable(c), WaitRequest{Namespace: "shop", Name: "web"}, nil)
		if ReasonOf(err) != Forbidden || !strings.Contains(err.Error(), "--wait needs list and watch on deployments") {
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
	s, err := Wait(ctx, listWatchable(c), WaitRequest{Namespace: "shop", Name: "web", MinGeneration: 4}, sink)
	if err != nil || s.Status != deployment.Running {
		t.Fatalf("wait = %v, %v; want Running, nil", s.Status, err)
	}
	select {
	case <-sink.synced:
	default:
		t.Error("the sink was never told the tracker synced")
	}
}
