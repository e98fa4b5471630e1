package operations

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
)

// PauseRequest asks for a Deployment's rollouts to be paused or resumed.
type PauseRequest struct {
	// Kind is the workload's. Only Deployments have spec.paused: any other
	// kind is refused, as kubectl refuses it.
	Kind      Kind
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
	ps := validateTarget(r.Kind, r.Namespace, r.Name, r.DryRun)
	if r.Kind != Deployment && r.Kind.valid() {
		verb := "paused"
		if !r.Paused {
			verb = "resumed"
		}
		// kubectl's object pauser and resumer know only Deployments: a
		// StatefulSet or a DaemonSet has no spec.paused.
		ps = append(ps, Problem{"kind", fmt.Sprintf("%s %q cannot be %s: only deployments can be paused and resumed, as in kubectl; to hold a rollout back, use a RollingUpdate partition (statefulsets) or the OnDelete strategy", r.Kind.Noun(), r.Name, verb)})
	}
	return badRequest(ps)
}

var (
	pauseAccess  = access{op: "pause", verbs: "get and patch", canIVerb: "patch"}
	resumeAccess = access{op: "resume", verbs: "get and patch", canIVerb: "patch"}
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
		plan: func(_ context.Context, o object) (rolloutPlan, error) {
			d := o.(*appsv1.Deployment) // Validate refused every other kind
			p := rolloutPlan{changes: []Change{{What: "paused", From: strconv.FormatBool(d.Spec.Paused), To: strconv.FormatBool(req.Paused)}}}
			if d.Spec.Paused != req.Paused {
				p.ops = []jsonOp{{"add", "/spec/paused", req.Paused}}
			}
			return p, nil
		},
	})
}
