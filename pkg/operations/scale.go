package operations

import (
	"context"
	"fmt"
	"strconv"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// ScaleRequest asks for a Deployment's or a StatefulSet's replica count to
// change.
type ScaleRequest struct {
	// Kind is Deployment (the zero value) or StatefulSet; a DaemonSet has
	// no replica count and is refused.
	Kind      Kind
	Namespace string
	Name      string
	Replicas  int32
	// CurrentReplicas, when set, is a precondition: scale only if the
	// Deployment has this many replicas now.
	CurrentReplicas *int32
	// ResourceVersion, when set, is a precondition: scale only if the
	// Deployment is still at this version.
	ResourceVersion string
	DryRun          DryRunMode
}

// Validate reports every problem with the request, without a request to the
// API server.
func (r ScaleRequest) Validate() error {
	ps := validateTarget(r.Kind, r.Namespace, r.Name, r.DryRun)
	if r.Kind == DaemonSet {
		ps = append(ps, Problem{"kind", fmt.Sprintf("daemonset %q cannot be scaled: it runs one pod on each node it selects; change its node selector or tolerations instead", r.Name)})
	}
	if r.Replicas < 0 {
		ps = append(ps, Problem{"replicas", fmt.Sprintf("replicas must not be negative, got %d", r.Replicas)})
	}
	if r.CurrentReplicas != nil && *r.CurrentReplicas < 0 {
		ps = append(ps, Problem{"currentReplicas", fmt.Sprintf("current replicas must not be negative, got %d", *r.CurrentReplicas)})
	}
	return badRequest(ps)
}

// Scale sets the replicas of a Deployment or a StatefulSet through its
// scale subresource, so that RBAC on deployments/scale (or
// statefulsets/scale) alone (get, update) is enough.
//
// It reads the scale first, to check the preconditions and to write nothing
// when the count is already right. With a precondition the update carries
// the resourceVersion that was checked, so the API server refuses it if the
// Deployment changed in between; Scale then reads again and re-checks, and
// a precondition that no longer holds is a Conflict. Without one, the update
// carries no resourceVersion: it sets spec.replicas alone on whatever the
// Deployment is by then, as `kubectl scale` does.
func Scale(ctx context.Context, client WorkloadsGetter, req ScaleRequest) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	w := workloads{kind: req.Kind, namespace: req.Namespace, client: client}
	a := scaleAccess.of(req.Kind)
	res, err := readPlanWrite(ctx, change[*autoscalingv1.Scale]{
		namespace: req.Namespace, name: req.Name, dryRun: req.DryRun, access: a,
		read: func(ctx context.Context) (*autoscalingv1.Scale, error) {
			return w.getScale(ctx, req.Name)
		},
		plan: func(_ context.Context, current *autoscalingv1.Scale, _ error, _ int) (plan[*autoscalingv1.Scale], error) {
			if err := req.checkPreconditions(current); err != nil {
				return plan[*autoscalingv1.Scale]{}, err
			}
			p := plan[*autoscalingv1.Scale]{
				changes: []Change{{What: "replicas", From: strconv.Itoa(int(current.Spec.Replicas)), To: strconv.Itoa(int(req.Replicas))}},
			}
			if current.Spec.Replicas == req.Replicas {
				return p, nil
			}
			update := current.DeepCopy()
			update.Spec.Replicas = req.Replicas
			p.local = func() (runtime.Object, error) { return update, nil }
			p.send = func(ctx context.Context, dryRun []string) (*autoscalingv1.Scale, error) {
				if req.CurrentReplicas == nil && req.ResourceVersion == "" {
					update.ResourceVersion = ""
				}
				return w.updateScale(ctx, req.Name, update, dryRun)
			}
			return p, nil
		},
		again: func(err error, attempt int) (bool, error) {
			if apierrors.IsConflict(err) && attempt < maxAttempts {
				return true, nil // changed since it was read: read again and re-check
			}
			return false, apiError(err, req.Namespace, req.Name, a)
		},
	})
	if err != nil {
		return Result{}, err
	}
	res.Replicas = &req.Replicas
	return res, nil
}

func (r ScaleRequest) checkPreconditions(current *autoscalingv1.Scale) error {
	if r.ResourceVersion != "" && current.ResourceVersion != r.ResourceVersion {
		return preconditionFailed(r.Kind, r.Namespace, r.Name,
			fmt.Sprintf("is at resourceVersion %s, expected %s", current.ResourceVersion, r.ResourceVersion))
	}
	if r.CurrentReplicas != nil && current.Spec.Replicas != *r.CurrentReplicas {
		return preconditionFailed(r.Kind, r.Namespace, r.Name,
			fmt.Sprintf("has %d replicas, expected %d", current.Spec.Replicas, *r.CurrentReplicas))
	}
	return nil
}
