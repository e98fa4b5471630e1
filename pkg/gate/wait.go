package gate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/resourceversion"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// Request names the workload to follow (a Deployment, StatefulSet or
// DaemonSet) and says how to tell the state a change produced from the
// state before it.
type Request struct {
	// Kind is the workload's; the zero value is a Deployment.
	Kind      operations.Kind
	Namespace string
	Name      string
	// MinGeneration is the workload's generation after the change. Right
	// after a write the watch may still show an older state, Running or
	// Failed: a summary counts only once its generation is at least this
	// and its controller has observed it.
	MinGeneration int64
	// Replicas, when set, is the desired count the change set. A scale
	// response carries no generation, so this is how its state is told
	// from the one before.
	Replicas *int32
	// ResourceVersion is the workload's after the change: a summary at
	// or after it that shows another desired count than Replicas was
	// scaled again by someone else, and the wait ends rather than waiting
	// for a count that will not come back.
	ResourceVersion string
	// Autoscalers that target the workload, named when they are the
	// likely someone else.
	Autoscalers []operations.Autoscaler
	// Diagnose, when set, also reads the rollout's ReplicaSets, Pods and
	// Events, so a rollout that is Failing fails the wait after
	// FailingGrace instead of at the progress deadline.
	Diagnose     *tracker.Diagnose
	FailingGrace time.Duration
	// Undoable says that undo takes the change back to what ran before it
	// (set-image, restart), so a failed rollout's next steps begin with
	// undo. Not a scale (undo would not scale it back), nor an undo (its
	// undo goes back to what was undone).
	Undoable bool
	// Target is how the next steps reach the cluster.
	Target Target
	// FailOnGap fails a rollout that completes when a Service of the
	// Deployment had a serving gap that overlapped the wait, or serving
	// could not be seen during it (--fail-on-gap; needs Diagnose, which
	// reads serving). Deployments only: serving is read for them alone.
	FailOnGap bool
}

// ForChange returns the Request that follows the rollout of a change.
func ForChange(r operations.Result) Request {
	return Request{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, MinGeneration: r.Generation, Replicas: r.Replicas,
		ResourceVersion: r.ResourceVersion, Autoscalers: r.Autoscalers}
}

// Workloads reads the three kinds a change may be made to;
// appsv1client.AppsV1Interface is one.
type Workloads interface {
	appsv1client.DeploymentsGetter
	tracker.WorkloadsGetter
}

// Wait follows the workload with the shared tracker (a watch on its kind
// and name alone) until the rollout of the change settles. Every event goes to sink
// (nil: none) for live progress. It returns the last summary and:
//   - nil once the workload is complete (Running, ScaledToZero, or paused
//     with nothing pending);
//   - an *operations.Error with Reason Failed when it is Failed, has been
//     Failing for FailingGrace (its message says why), or is paused with
//     old replicas left or before it started (it will not roll out until
//     resumed);
//   - an *operations.Error with Reason NotFound when it is, or gets,
//     deleted;
//   - an *operations.Error with Reason Conflict when, with Replicas set,
//     someone else (a HorizontalPodAutoscaler, say) sets another replica
//     count after the change;
//   - with FailOnGap, an *Error (Failed) when it completed but had a
//     serving gap during the wait, or serving could not be seen;
//   - ctx's error, wrapped, when ctx ends first (a timeout, an interrupt).
//
// Closing turns what it returns into the line the wait ends with.
func Wait(ctx context.Context, client Workloads, req Request, sink tracker.Sink) (deployment.Summary, error) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	g := newGate(sink, stop, req.FailingGrace, &rollout{req: req})
	if req.FailOnGap {
		g.failOnGap()
	}
	err := tracker.New(client, tracker.Options{
		Namespace:     req.Namespace,
		FieldSelector: "metadata.name=" + req.Name,
		Kinds:         []string{req.Kind.String()},
		Workloads:     client,
		Diagnose:      req.Diagnose,
		// The rollout it waits for is its own change's.
		ChangedGeneration: req.MinGeneration,
	}).Run(ctx, g)

	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopTimerLocked()
	var last deployment.Summary
	seen := false
	for _, s := range g.state { // one at most: the watch is on one name
		last, seen = s, true
	}
	switch {
	case g.ended:
		return last, g.err
	case err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return last, operations.WaitError(req.Kind, err, req.Namespace, req.Name)
	}
	state := "not yet listed"
	if seen {
		state = string(last.Status)
		if last.Message != "" {
			state += " (" + last.Message + ")"
		}
	}
	if !g.liveLocked() {
		return last, fmt.Errorf("%s %q in namespace %q was last seen %s, but the watch has been lost since %s (%v): %w",
			req.Kind.Noun(), req.Name, req.Namespace, state, g.health.Since.Local().Format(time.TimeOnly), g.health.Err, context.Cause(ctx))
	}
	return last, fmt.Errorf("%s %q in namespace %q is %s: %w", req.Kind.Noun(), req.Name, req.Namespace, state, context.Cause(ctx))
}

// rollout is the scope of a Wait: the one workload a change was made
// to, judged only in the state the change produced.
type rollout struct {
	req Request
	// confirmed: a summary showed the desired count of req.Replicas, so a
	// later other count is someone else's (when resourceVersions cannot
	// be compared).
	confirmed bool
}

func (r *rollout) deleted(*deployment.Summary) error {
	return &operations.Error{Reason: operations.NotFound,
		Message: fmt.Sprintf("%s %q in namespace %q was deleted while waiting for its rollout", r.req.Kind.Noun(), r.req.Name, r.req.Namespace)}
}

func (r *rollout) empty() error {
	return operations.NotFoundError(r.req.Kind, r.req.Namespace, r.req.Name)
}

// verdict waits past the states before the change, then judges the
// change's own.
func (r *rollout) verdict(j *Judge, s *deployment.Summary) (Verdict, time.Time, error) {
	if r.req.Replicas != nil {
		if s.Replicas.Desired != *r.req.Replicas {
			if r.after(s) {
				return Failure, time.Time{}, r.scaledByOther(s)
			}
			return Pending, time.Time{}, nil // an older state
		}
		r.confirmed = true
	}
	if s.ObservedGeneration < s.Generation || s.Generation < r.req.MinGeneration {
		return Pending, time.Time{}, nil // the controller has not acted on the change yet
	}
	verdict, deadline := j.Verdict(s)
	deploy := r.req.Kind == operations.Deployment // only a Deployment is paused by spec.paused
	switch {
	case verdict == Failure && deploy && s.Unstarted():
		return verdict, deadline, &operations.Error{Reason: operations.Failed,
			Message: fmt.Sprintf("deployment %q in namespace %q is paused before its rollout started: it has no pods until it is resumed", s.Name, s.Namespace)}
	case verdict == Failure && deploy && s.Status == deployment.Paused:
		return verdict, deadline, &operations.Error{Reason: operations.Failed,
			Message: fmt.Sprintf("deployment %q in namespace %q is paused with old replicas left (%s): its rollout will not go on until it is resumed", s.Name, s.Namespace, s.Message)}
	case verdict == Failure:
		return verdict, deadline, &operations.Error{Reason: operations.Failed,
			Message: fmt.Sprintf("%s %q in namespace %q is %s: %s", r.req.Kind.Noun(), s.Name, s.Namespace, s.Status, s.Message)}
	}
	return verdict, deadline, nil
}

func (r *rollout) failed(failures []error, _ []*deployment.Summary) error {
	return failures[0] // the one workload
}

// after reports whether s is the state the change wrote or a later one. The
// API server's resourceVersions are comparable integers
// (k8s.io/apimachinery's resourceversion package); where one is not, only
// a state seen after the change's own is known to be later.
func (r *rollout) after(s *deployment.Summary) bool {
	if r.req.ResourceVersion != "" {
		if c, err := resourceversion.CompareResourceVersion(s.ResourceVersion, r.req.ResourceVersion); err == nil {
			return c >= 0
		}
	}
	return r.confirmed
}

// scaledByOther is the end of a wait for a replica count someone else
// changed, naming the autoscalers that are the likely cause.
func (r *rollout) scaledByOther(s *deployment.Summary) error {
	e := &operations.Error{Reason: operations.Conflict,
		Message: fmt.Sprintf("%s %q in namespace %q was scaled to %d replicas by someone else while waiting for %d",
			r.req.Kind.Noun(), r.req.Name, r.req.Namespace, s.Replicas.Desired, *r.req.Replicas)}
	if len(r.req.Autoscalers) > 0 {
		e.Message += ": " + operations.DescribeAutoscalers(r.req.Autoscalers) + " sets its replicas"
		e.Hint = fmt.Sprintf("change the HorizontalPodAutoscaler's minReplicas and maxReplicas instead, e.g. 'kubectl patch hpa %s -n %s -p {\"spec\":{\"minReplicas\":%d}}'",
			r.req.Autoscalers[0].Name, r.req.Namespace, *r.req.Replicas)
	} else {
		e.Hint = fmt.Sprintf("see who in its managed fields: 'kubectl get %s %s -n %s --show-managed-fields -o yaml'", r.req.Kind.Noun(), r.req.Name, r.req.Namespace)
	}
	return e
}

// Success is the line a wait that passed ends with, as kubectl rollout
// status says it of a Deployment (and, in the same words, of the others).
func (r Request) Success() string {
	return fmt.Sprintf("%s %q successfully rolled out", r.Kind.Noun(), r.Name)
}

// Closing is what a wait that Wait ended with (last, err) says in the end,
// timeout being the one it was given: nil when it passed; an *Error when
// the rollout failed (with its next steps), the timeout ran out or the
// wait was interrupted; err itself for anything else (a deleted
// Deployment, an API error), for the caller to explain.
func (r Request) Closing(last deployment.Summary, err error, timeout time.Duration) error {
	switch {
	case err == nil:
		return nil
	case operations.ReasonOf(err) == operations.Failed:
		// A scale's failure is in its pods, not in its history.
		// A StatefulSet's or DaemonSet's change made a new ControllerRevision,
		// so there is one before it to undo to.
		undo := r.Undoable && (last.Revision > 1 || r.Kind != operations.Deployment && last.Name != "")
		steps := stepsFor(&last, r.Target, stepKinds{undo: undo, history: r.Replicas == nil})
		return &Error{Outcome: Failed, Message: err.Error(), Err: err,
			Failures: []RolloutFailure{{Message: err.Error(), Steps: steps}}}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Outcome: TimedOut, Err: err, Message: fmt.Sprintf("timed out after %s waiting for the rollout of %s %q in namespace %q: %s",
			timeout, r.Kind.Noun(), r.Name, r.Namespace, describe(last))}
	case errors.Is(err, context.Canceled):
		return &Error{Outcome: Interrupted, Err: err, Message: fmt.Sprintf("interrupted while waiting for the rollout of %s %q in namespace %q: %s",
			r.Kind.Noun(), r.Name, r.Namespace, describe(last))}
	}
	return err
}

// describe says where a rollout stands.
func describe(s deployment.Summary) string {
	if s.Name == "" {
		return "it was not listed yet"
	}
	msg := fmt.Sprintf("it is %s, %d of %d replicas updated and available", s.Status, min(s.Replicas.Updated, s.Replicas.Available), s.Replicas.Desired)
	if s.Message != "" {
		msg += " (" + s.Message + ")"
	}
	return msg
}
