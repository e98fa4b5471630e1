package operations

import (
	"context"
	"fmt"
	"strconv"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
)

// ScaleRequest asks for a Deployment's replica count to change.
type ScaleRequest struct {
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
	ps := validateTarget(r.Namespace, r.Name, r.DryRun)
	if r.Replicas < 0 {
		ps = append(ps, Problem{"replicas", fmt.Sprintf("replicas must not be negative, got %d", r.Replicas)})
	}
	if r.CurrentReplicas != nil && *r.CurrentReplicas < 0 {
		ps = append(ps, Problem{"currentReplicas", fmt.Sprintf("current replicas must not be negative, got %d", *r.CurrentReplicas)})
	}
	return badRequest(ps)
}

// Scale sets the Deployment's replicas through its scale subresource, so
// that RBAC on deployments/scale alone (get, update) is enough.
//
// It reads the scale first, to check the preconditions and to write nothing
// when the count is already right. With a precondition the update carries
// the resourceVersion that was checked, so the API server refuses it if the
// Deployment changed in between; Scale then reads again and re-checks, and
// a precondition that no longer holds is a Conflict. Without one, the update
// carries no resourceVersion: it sets spec.replicas alone on whatever the
// Deployment is by then, as `kubectl scale` does.
func Scale(ctx context.Context, client appsv1client.DeploymentsGetter, req ScaleRequest) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	dryRun, _ := ParseDryRun(string(req.DryRun))
	deployments := client.Deployments(req.Namespace)
	for attempt := 1; ; attempt++ {
		current, err := deployments.GetScale(ctx, req.Name, metav1.GetOptions{})
		if err != nil {
			return Result{}, apiError(err, req.Namespace, req.Name, scaleAccess)
		}
		if err := req.checkPreconditions(current); err != nil {
			return Result{}, err
		}
		res := Result{
			Namespace: req.Namespace, Name: req.Name, DryRun: dryRun,
			Changes:         []Change{{What: "replicas", From: strconv.Itoa(int(current.Spec.Replicas)), To: strconv.Itoa(int(req.Replicas))}},
			Object:          current,
			ResourceVersion: current.ResourceVersion,
			Replicas:        &req.Replicas,
		}
		if current.Spec.Replicas == req.Replicas {
			return res, nil
		}
		res.Changed = true
		update := current.DeepCopy()
		update.Spec.Replicas = req.Replicas
		if dryRun == DryRunClient {
			res.Object = update
			return res, nil
		}
		if req.CurrentReplicas == nil && req.ResourceVersion == "" {
			update.ResourceVersion = ""
		}
		opts := metav1.UpdateOptions{}
		if dryRun == DryRunServer {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		written, err := deployments.UpdateScale(ctx, req.Name, update, opts)
		if apierrors.IsConflict(err) && attempt < maxAttempts {
			continue // changed since it was read: read again and re-check
		}
		if err != nil {
			return Result{}, apiError(err, req.Namespace, req.Name, scaleAccess)
		}
		res.Object = written
		res.ResourceVersion = written.ResourceVersion
		return res, nil
	}
}

func (r ScaleRequest) checkPreconditions(current *autoscalingv1.Scale) error {
	if r.ResourceVersion != "" && current.ResourceVersion != r.ResourceVersion {
		return preconditionFailed(r.Namespace, r.Name,
			fmt.Sprintf("is at resourceVersion %s, expected %s", current.ResourceVersion, r.ResourceVersion))
	}
	if r.CurrentReplicas != nil && current.Spec.Replicas != *r.CurrentReplicas {
		return preconditionFailed(r.Namespace, r.Name,
			fmt.Sprintf("has %d replicas, expected %d", current.Spec.Replicas, *r.CurrentReplicas))
	}
	return nil
}
