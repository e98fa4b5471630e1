package gate

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// failingPull is Deployment name in "shop" at revision rev, Failing on an
// image that cannot be pulled, since at.
func failingPull(name string, rev int64, at time.Time) deployment.Summary {
	s := summary(name, deployment.Failing, "1 new pod of 1: ImagePullBackOff: not found")
	s.Revision, s.Generation, s.ObservedGeneration, s.Replicas.Desired = rev, 2, 2, 1
	s.Problems = []diagnosis.Problem{{Reason: "ImagePullBackOff", Pod: name + "-5d8c-x2k4", Pods: 1, Since: at}}
	return s
}

// unstarted is Deployment name, created paused with 3 replicas: no
// ReplicaSet, no revision, observed.
func unstarted(name string) deployment.Summary {
	s := summary(name, deployment.Paused, "rollout paused before it started: no pods until resumed")
	s.Generation, s.ObservedGeneration, s.Replicas.Desired = 1, 1, 3
	return s
}

// pausedMidRollout is Deployment name, paused with old replicas left.
func pausedMidRollout(name string) deployment.Summary {
	s := summary(name, deployment.Paused, "rollout paused with 1 of 3 replicas updated")
	s.Generation, s.ObservedGeneration, s.Revision = 3, 3, 2
	s.Replicas = deployment.Replicas{Desired: 3, Current: 4, Updated: 1, Available: 3}
	return s
}

func commands(steps []Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Command)
	}
	return out
}

// TestStepsFor: the next steps of each kind of failure, with the flags
// that reach the same cluster.
func TestStepsFor(t *testing.T) {
	failed := summary("web", deployment.Failed, "ProgressDeadlineExceeded: timed out")
	failed.Revision = 1
	failed.Problems = []diagnosis.Problem{{Reason: "FailedCreate", Pods: 0}, {Reason: "Unschedulable", Pod: "web-7f9-abcde", Pods: 2}}
	inWest := failingPull("api", 3, time.Time{})
	inWest.Context = "west"
	for _, tt := range []struct {
		name   string
		s      deployment.Summary
		target Target
		kinds  stepKinds
		want   []string
	}{
		{"failing with a pod and an earlier revision", failingPull("api", 3, time.Time{}), Target{}, stepKinds{undo: true, history: true},
			[]string{"kubectl deploywatch undo api -n shop", "kubectl deploywatch history api -n shop", "kubectl describe pod api-5d8c-x2k4 -n shop"}},
		{"the first problem that names a pod", failed, Target{Context: "prod"}, stepKinds{history: true},
			[]string{"kubectl deploywatch history web -n shop --context prod", "kubectl describe pod web-7f9-abcde -n shop --context prod"}},
		{"paused with old replicas left: resume alone", pausedMidRollout("db"), Target{}, stepKinds{undo: true, history: true},
			[]string{"kubectl deploywatch resume db -n shop"}},
		{"created paused: resume", unstarted("db"), Target{}, stepKinds{},
			[]string{"kubectl deploywatch resume db -n shop"}},
		{"a Deployment's own context, a kubeconfig that needs quotes", inWest, Target{Context: "east,west", Kubeconfig: "/home/me/my kube's/config"}, stepKinds{},
			[]string{`kubectl describe pod api-5d8c-x2k4 -n shop --context west --kubeconfig '/home/me/my kube'\''s/config'`}},
		{"no pod known, nothing to undo", summary("web", deployment.Failing, "FailedCreate: exceeded quota"), Target{}, stepKinds{}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			steps := stepsFor(&tt.s, tt.target, tt.kinds)
			if got := commands(steps); !slices.Equal(got, tt.want) {
				t.Errorf("steps %q, want %q", got, tt.want)
			}
			for _, s := range steps {
				if s.Why == "" {
					t.Errorf("step %q does not say what it does", s.Command)
				}
			}
		})
	}
	db := unstarted("db")
	if why := stepsFor(&db, Target{}, stepKinds{})[0].Why; why != "start the rollout: it has no pods until resumed" {
		t.Errorf("created paused: %q", why)
	}
}

// TestViewNamesEveryFailure: three Deployments fail together; the wait
// ends (exit 1) naming each, with its cause and next steps: those that
// ended it first, then one still Failing within its grace, each group by
// name. The first line is the first failure's, as when only one fails.
func TestViewNamesEveryFailure(t *testing.T) {
	now := time.Now()
	deadline := summary("web", deployment.Failed, "ProgressDeadlineExceeded: timed out")
	deadline.Revision = 1
	stopped := 0
	v := NewView(nopSink{}, func() { stopped++ }, ViewOptions{FailingGrace: time.Minute, Target: Target{Context: "prod"}})
	v.OnSynced([]deployment.Summary{
		summary("ok", deployment.Running, ""),
		failingPull("api", 3, now), // within its grace
		deadline,
		unstarted("db"),
		failingPull("cache", 2, now.Add(-time.Hour)), // past its grace
	})
	if stopped != 1 {
		t.Fatalf("stopped %d times, want once", stopped)
	}
	err := v.Result(context.Background(), 0)
	var end *Error
	if !errors.As(err, &end) || end.Outcome != Failed {
		t.Fatalf("result %v, want exit 1", err)
	}
	want := []RolloutFailure{
		{Message: "deployment shop/cache is Failing: 1 new pod of 1: ImagePullBackOff: not found", Steps: []Step{
			{"kubectl deploywatch undo cache -n shop --context prod", "roll back to the previous revision"},
			{"kubectl deploywatch history cache -n shop --context prod", "list its revisions and their images"},
			{"kubectl describe pod cache-5d8c-x2k4 -n shop --context prod", "the state and events of a pod with ImagePullBackOff"}}},
		{Message: "deployment shop/db is Paused: rollout paused before it started: no pods until resumed", Steps: []Step{
			{"kubectl deploywatch resume db -n shop --context prod", "start the rollout: it has no pods until resumed"}}},
		{Message: "deployment shop/web is Failed: ProgressDeadlineExceeded: timed out", Steps: []Step{
			{"kubectl deploywatch history web -n shop --context prod", "list its revisions and their images"}}},
		{Message: "deployment shop/api is Failing: 1 new pod of 1: ImagePullBackOff: not found", Steps: []Step{
			{"kubectl deploywatch undo api -n shop --context prod", "roll back to the previous revision"},
			{"kubectl deploywatch history api -n shop --context prod", "list its revisions and their images"},
			{"kubectl describe pod api-5d8c-x2k4 -n shop --context prod", "the state and events of a pod with ImagePullBackOff"}}},
	}
	if !slices.EqualFunc(end.Failures, want, func(a, b RolloutFailure) bool {
		return a.Message == b.Message && slices.Equal(a.Steps, b.Steps)
	}) {
		t.Errorf("failures:\n%+v\nwant:\n%+v", end.Failures, want)
	}
	if err.Error() != want[0].Message {
		t.Errorf("first line %q, want %q", err, want[0].Message)
	}
}

// TestViewFailsACreatedPausedDeployment: paused before it started, a
// Deployment has no pods and never gets any by itself: the view fails at
// once (exit 1) rather than at --timeout, with resume as the next step.
// Once resumed, it is judged as any rollout.
func TestViewFailsACreatedPausedDeployment(t *testing.T) {
	stopped := 0
	v := NewView(nopSink{}, func() { stopped++ }, ViewOptions{FailingGrace: time.Minute})
	v.OnSynced([]deployment.Summary{unstarted("db")})
	err := v.Result(context.Background(), 0)
	var end *Error
	if stopped != 1 || !errors.As(err, &end) || end.Outcome != Failed ||
		len(end.Failures) != 1 || !slices.Equal(commands(end.Failures[0].Steps), []string{"kubectl deploywatch resume db -n shop"}) {
		t.Fatalf("stopped %d, result %v (%+v); want exit 1 with resume", stopped, err, end)
	}

	// Not yet observed by the controller: nothing is known yet.
	notObserved := unstarted("db")
	notObserved.ObservedGeneration = 0
	// Scaled up from zero while paused: it has a revision, so a
	// ReplicaSet that the controller scales; its pods are on their way.
	scaledUp := unstarted("db")
	scaledUp.Revision = 1
	for _, s := range []deployment.Summary{notObserved, scaledUp} {
		v := NewView(nopSink{}, func() { t.Errorf("ended on %+v", s) }, ViewOptions{FailingGrace: time.Minute})
		v.OnSynced([]deployment.Summary{s})
	}
}

// TestWaitNextSteps: a failed --wait ends with the steps that fit the
// change: undo after set-image (not after a scale or an undo), history
// unless it was a scale, the pod, and resume for a paused Deployment,
// created paused included.
func TestWaitNextSteps(t *testing.T) {
	failing := failingPull("api", 3, time.Time{})
	failingFirst := failingPull("api", 1, time.Time{}) // revision 1: no earlier one to undo to
	target := Target{Context: "prod"}
	for _, tt := range []struct {
		name string
		req  Request
		last deployment.Summary
		want []string
	}{
		{"set-image", Request{Undoable: true, MinGeneration: 2, Target: target}, failing,
			[]string{"kubectl deploywatch undo api -n shop --context prod", "kubectl deploywatch history api -n shop --context prod", "kubectl describe pod api-5d8c-x2k4 -n shop --context prod"}},
		{"set-image at the first revision", Request{Undoable: true, MinGeneration: 2, Target: target}, failingFirst,
			[]string{"kubectl deploywatch history api -n shop --context prod", "kubectl describe pod api-5d8c-x2k4 -n shop --context prod"}},
		{"undo", Request{MinGeneration: 2, Target: target}, failing,
			[]string{"kubectl deploywatch history api -n shop --context prod", "kubectl describe pod api-5d8c-x2k4 -n shop --context prod"}},
		{"scale", Request{Replicas: int32p(1), Target: target}, failing,
			[]string{"kubectl describe pod api-5d8c-x2k4 -n shop --context prod"}},
		{"scale of a Deployment created paused", Request{Replicas: int32p(3), Target: target}, unstarted("api"),
			[]string{"kubectl deploywatch resume api -n shop --context prod"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Namespace, tt.req.Name, tt.req.FailingGrace = "shop", "api", 0
			w := newWaiter(tt.req, func() {})
			w.OnEvent(deployment.Event{Type: deployment.Modified, Summary: tt.last})
			if !w.ended || operations.ReasonOf(w.err) != operations.Failed {
				t.Fatalf("ended %v with %v, want Failed", w.ended, w.err)
			}
			err := tt.req.Closing(tt.last, w.err, time.Minute)
			var end *Error
			if !errors.As(err, &end) || end.Outcome != Failed || len(end.Failures) != 1 {
				t.Fatalf("closing %v, want one failure with exit 1", err)
			}
			if end.Failures[0].Message != err.Error() || err.Error() != w.err.Error() {
				t.Errorf("the failure says %q, the error %q: want the wait's own line %q", end.Failures[0].Message, err, w.err)
			}
			if got := commands(end.Failures[0].Steps); !slices.Equal(got, tt.want) {
				t.Errorf("steps %q, want %q", got, tt.want)
			}
		})
	}
}
