package operations

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/resourceversion"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/gate"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// WaitRequest names the Deployment to follow and says how to tell the state
// a change produced from the state before it.
type WaitRequest struct {
	Namespace string
	Name      string
	// MinGeneration is the Deployment's generation after the change. Right
	// after a write the watch may still show an older state, Running or
	// Failed: a summary counts only once its generation is at least this
	// and the deployment controller has observed it.
	MinGeneration int64
	// Replicas, when set, is the desired count the change set. A scale
	// response carries no generation, so this is how its state is told
	// from the one before.
	Replicas *int32
	// ResourceVersion is the Deployment's after the change: a summary at
	// or after it that shows another desired count than Replicas was
	// scaled again by someone else, and the wait ends rather than waiting
	// for a count that will not come back.
	ResourceVersion string
	// Autoscalers that target the Deployment, named when they are the
	// likely someone else.
	Autoscalers []Autoscaler
	// Diagnose, when set, also reads the rollout's ReplicaSets, Pods and
	// Events, so a rollout that is Failing fails the wait after
	// FailingGrace instead of at the progress deadline.
	Diagnose     *tracker.Diagnose
	FailingGrace time.Duration
}

// Wait follows the Deployment with the shared tracker (a watch on its name
// alone) until the rollout of the change settles. Every event goes to sink
// (nil: none) for live progress. It returns the last summary and:
//   - nil once the Deployment is complete (Running, ScaledToZero, or paused
//     with nothing pending);
//   - an *Error with Reason Failed when it is Failed, has been Failing for
//     FailingGrace (its message says why), or is paused with old replicas left (it
//     will not roll out until resumed);
//   - an *Error with Reason NotFound when it is, or gets, deleted;
//   - an *Error with Reason Conflict when, with Replicas set, someone else
//     (a HorizontalPodAutoscaler, say) sets another replica count after the
//     change;
//   - ctx's error, wrapped, when ctx ends first (a timeout, an interrupt).
func Wait(ctx context.Context, client appsv1client.DeploymentsGetter, req WaitRequest, sink tracker.Sink) (deployment.Summary, error) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	w := &waiter{req: req, next: sink, stop: stop, judge: gate.Judge{Grace: req.FailingGrace}}
	err := tracker.New(client, tracker.Options{
		Namespace:     req.Namespace,
		FieldSelector: "metadata.name=" + req.Name,
		Diagnose:      req.Diagnose,
	}).Run(ctx, w)

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	switch {
	case w.done:
		return w.last, w.err
	case err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return w.last, apiError(err, req.Namespace, req.Name, waitAccess)
	}
	state := "not yet listed"
	if w.seen {
		state = string(w.last.Status)
		if w.last.Message != "" {
			state += " (" + w.last.Message + ")"
		}
	}
	if w.lost != nil {
		return w.last, fmt.Errorf("deployment %q in namespace %q was last seen %s, but the watch has been lost since %s (%v): %w",
			req.Name, req.Namespace, state, w.lost.Since.Local().Format(time.TimeOnly), w.lost.Err, context.Cause(ctx))
	}
	return w.last, fmt.Errorf("deployment %q in namespace %q is %s: %w", req.Name, req.Namespace, state, context.Cause(ctx))
}

// waiter is the tracker's sink: it passes events on and decides when the
// wait is over.
type waiter struct {
	req  WaitRequest
	next tracker.Sink
	stop func()

	mu     sync.Mutex
	judge  gate.Judge
	timer  *time.Timer // judges a Failing rollout again when its grace ends
	synced bool        // the tracker has delivered its initial list
	seen   bool
	// confirmed: a summary showed the desired count of req.Replicas, so a
	// later other count is someone else's (when resourceVersions cannot
	// be compared).
	confirmed bool
	last      deployment.Summary
	done      bool
	err       error
	// lost is the watch's health while it is not live (nil when live):
	// nothing is decided on what may be stale.
	lost *tracker.Health
}

func (w *waiter) OnHealth(h tracker.Health) {
	if w.next != nil {
		tracker.TellHealth(w.next, h)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if h.State != tracker.Live {
		w.lost = &h
		return
	}
	w.lost = nil
	if w.seen && !w.done {
		w.check() // decide on what the resumed watch or relist brought
	}
}

func (w *waiter) OnEvent(e deployment.Event) {
	if w.next != nil {
		w.next.OnEvent(e)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.Type == deployment.Deleted {
		w.finish(&Error{Reason: NotFound, Message: fmt.Sprintf("deployment %q in namespace %q was deleted while waiting for its rollout", w.req.Name, w.req.Namespace)})
		return
	}
	w.seen, w.last = true, e.Summary
	w.check()
}

func (w *waiter) OnSynced(snapshot []deployment.Summary) {
	if w.next != nil {
		w.next.OnSynced(snapshot)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.synced = true
	if len(snapshot) == 0 {
		w.finish(deploymentNotFound(w.req.Namespace, w.req.Name, nil))
	}
	if w.done {
		w.stop() // decided by an initial event: stopped only now, so the sink sees its first table
	}
}

func (w *waiter) finish(err error) {
	if w.done {
		return
	}
	w.done, w.err = true, err
	if w.synced {
		w.stop()
	}
}

// check ends the wait on a settled or failed summary of the change's state.
func (w *waiter) check() {
	if w.lost != nil {
		return
	}
	s := &w.last
	if w.req.Replicas != nil {
		if s.Replicas.Desired == *w.req.Replicas {
			w.confirmed = true
		} else {
			if w.after(s) {
				w.finish(w.scaledByOther(s))
			}
			return // an older state
		}
	}
	if s.ObservedGeneration < s.Generation || s.Generation < w.req.MinGeneration {
		return // the controller has not acted on the change yet
	}
	verdict, deadline := w.judge.Verdict(s)
	switch {
	case verdict == gate.Done:
		w.finish(nil)
	case verdict == gate.Failure && s.Status == deployment.Paused:
		w.finish(&Error{Reason: Failed,
			Message: fmt.Sprintf("deployment %q in namespace %q is paused with old replicas left (%s): its rollout will not go on", s.Name, s.Namespace, s.Message),
			Hint:    fmt.Sprintf("resume it with 'kubectl rollout resume deployment/%s -n %s'", s.Name, s.Namespace)})
	case verdict == gate.Failure:
		w.finish(&Error{Reason: Failed, Message: fmt.Sprintf("deployment %q in namespace %q is %s: %s", s.Name, s.Namespace, s.Status, s.Message)})
	case !deadline.IsZero():
		if w.timer != nil {
			w.timer.Stop()
		}
		w.timer = time.AfterFunc(time.Until(deadline), func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			if !w.done {
				w.check()
			}
		})
	}
}

// after reports whether s is the state the change wrote or a later one. The
// API server's resourceVersions are comparable integers
// (k8s.io/apimachinery's resourceversion package); where one is not, only
// a state seen after the change's own is known to be later.
func (w *waiter) after(s *deployment.Summary) bool {
	if w.req.ResourceVersion != "" {
		if c, err := resourceversion.CompareResourceVersion(s.ResourceVersion, w.req.ResourceVersion); err == nil {
			return c >= 0
		}
	}
	return w.confirmed
}

// scaledByOther is the end of a wait for a replica count someone else
// changed, naming the autoscalers that are the likely cause.
func (w *waiter) scaledByOther(s *deployment.Summary) error {
	e := &Error{Reason: Conflict,
		Message: fmt.Sprintf("deployment %q in namespace %q was scaled to %d replicas by someone else while waiting for %d",
			w.req.Name, w.req.Namespace, s.Replicas.Desired, *w.req.Replicas)}
	if len(w.req.Autoscalers) > 0 {
		e.Message += ": " + describeAutoscalers(w.req.Autoscalers) + " sets its replicas"
		e.Hint = fmt.Sprintf("change the HorizontalPodAutoscaler's minReplicas and maxReplicas instead, e.g. 'kubectl patch hpa %s -n %s -p {\"spec\":{\"minReplicas\":%d}}'",
			w.req.Autoscalers[0].Name, w.req.Namespace, *w.req.Replicas)
	} else {
		e.Hint = fmt.Sprintf("see who in its managed fields: 'kubectl get deployment %s -n %s --show-managed-fields -o yaml'", w.req.Name, w.req.Namespace)
	}
	return e
}
