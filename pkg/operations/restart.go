package operations

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// RestartRequest asks for every pod of a workload to be replaced.
type RestartRequest struct {
	// Kind is the workload's: Deployment (the zero value), StatefulSet or
	// DaemonSet.
	Kind      Kind
	Namespace string
	Name      string
	// ResourceVersion, when set, is a precondition: restart only if the
	// Deployment is still at this version.
	ResourceVersion string
	DryRun          DryRunMode
	// Now is the restart's time; zero is time.Now().
	Now time.Time
}

// Validate reports every problem with the request, without a request to the
// API server.
func (r RestartRequest) Validate() error {
	return badRequest(validateTarget(r.Kind, r.Namespace, r.Name, r.DryRun))
}

var restartAccess = access{op: "restart", verbs: "get and patch", canIVerb: "patch"}

// Restart sets the kubectl.kubernetes.io/restartedAt annotation of the pod
// template to the time, in RFC 3339, as `kubectl rollout restart` does: the
// template changes, so the controller rolls out new pods under the
// workload's update strategy. A paused Deployment is refused (Conflict,
// nothing written), since its pods would not be replaced until it is
// resumed. (A StatefulSet or DaemonSet whose strategy is OnDelete takes the
// new template but replaces no pod until it is deleted, as with kubectl.)
func Restart(ctx context.Context, client RolloutClient, req RestartRequest) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	stamp := now.Format(time.RFC3339)
	return guardedPatch(ctx, client, guarded{
		kind: req.Kind, namespace: req.Namespace, name: req.Name, resourceVersion: req.ResourceVersion, dryRun: req.DryRun,
		access: restartAccess,
		plan: func(_ context.Context, o object) (rolloutPlan, error) {
			if d, ok := o.(*appsv1.Deployment); ok && d.Spec.Paused {
				return rolloutPlan{}, &Error{Reason: Conflict,
					Message: fmt.Sprintf("deployment %q in namespace %q is paused: a restart would not replace its pods; nothing was changed", d.Name, d.Namespace),
					Hint:    fmt.Sprintf("resume it first with 'kubectl deploywatch resume %s -n %s'", d.Name, d.Namespace)}
			}
			annotations := templateOf(o).Annotations
			old, had := annotations[RestartedAtAnnotation]
			change := Change{What: "restartedAt", From: old, To: stamp}
			if !had {
				change.From = "never"
			}
			p := rolloutPlan{changes: []Change{change}}
			switch {
			case had && old == stamp:
				// Restarted in this very second already: the same value
				// would change nothing.
			case annotations == nil:
				p.ops = []jsonOp{{"add", "/spec/template/metadata/annotations", map[string]string{RestartedAtAnnotation: stamp}}}
			default:
				p.ops = []jsonOp{{"add", "/spec/template/metadata/annotations/" + escapePointer(RestartedAtAnnotation), stamp}}
			}
			return p, nil
		},
	})
}
