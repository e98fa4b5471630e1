package operations

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
)

// PauseRequest asks for a Deployment's rollouts to be paused or resumed.
type PauseRequest struct {
	Namespace string
	Name      string
	// Paused is what spec.paused is to be: true pauses, false resumes.
	Paused bool
	// ResourceVersion, when set, is a precondition: change only if the
	// Deployment is still at this version.
	ResourceVersion string
	DryRun          DryRunMode
}

// Validate reports every problem with the request, without a request to the
// API server.
func (r PauseRequest) Validate() error {
	return badRequest(validateTarget(r.Namespace, r.Name, r.DryRun))
}

var (
	pauseAccess  = access{"pause", "get and patch", "deployments", "patch", ""}
	resumeAccess = access{"resume", "get and patch", "deployments", "patch", ""}
)

// SetPaused sets spec.paused. A paused Deployment keeps its pods but rolls
// out no change to its template until it is resumed. Nothing is written
// when it already is as asked (Result.Changed false).
func SetPaused(ctx context.Context, client RolloutClient, req PauseRequest) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	a := pauseAccess
	if !req.Paused {
		a = resumeAccess
	}
	return guardedPatch(ctx, client, guarded{
		namespace: req.Namespace, name: req.Name, resourceVersion: req.ResourceVersion, dryRun: req.DryRun,
		access: a,
		plan: func(_ context.Context, d *appsv1.Deployment) (rolloutPlan, error) {
			p := rolloutPlan{changes: []Change{{What: "paused", From: strconv.FormatBool(d.Spec.Paused), To: strconv.FormatBool(req.Paused)}}}
			if d.Spec.Paused != req.Paused {
				p.ops = []jsonOp{{"add", "/spec/paused", req.Paused}}
			}
			return p, nil
		},
	})
}
