package operations

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
)

// RolloutClient is what the rollout operations need: Deployments, and the
// ReplicaSets that hold their revisions. appsv1client.AppsV1Interface is one.
type RolloutClient interface {
	appsv1client.DeploymentsGetter
	appsv1client.ReplicaSetsGetter
}

// jsonOp is one operation of a JSON patch (RFC 6902).
type jsonOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// rolloutPlan is what a rollout operation wants to write to the Deployment
// it read: nothing (ops empty: it is already as asked) or ops, which
// guardedPatch prefixes with a test of the resourceVersion it read.
type rolloutPlan struct {
	ops     []jsonOp
	changes []Change
}

// guarded describes one guarded change: the target, the user's own
// precondition, and what to do with a fresh read.
type guarded struct {
	namespace, name string
	// resourceVersion is the user's precondition ("" for none).
	resourceVersion string
	dryRun          DryRunMode
	access          access
	// plan decides what to write to d; an error stops with nothing written.
	plan func(ctx context.Context, d *appsv1.Deployment) (rolloutPlan, error)
	// sameIntent reports whether a re-read Deployment still means what the
	// first read did, so that the plan may be made again from it. When it
	// does not (someone else changed it in between), nothing is written.
	// nil: every re-read may be planned again.
	sameIntent func(first, now *appsv1.Deployment) bool
}

// guardedPatch reads the Deployment, plans the change and writes it as a
// JSON patch whose first op tests the resourceVersion that was read: the API
// server applies nothing if anyone wrote the Deployment in between (the
// deployment controller's status updates included). guardedPatch then reads
// again and plans again, unless sameIntent says the change no longer means
// what it did; a user's resourceVersion precondition is checked on every
// read, so it fails as soon as the Deployment moved.
func guardedPatch(ctx context.Context, client appsv1client.DeploymentsGetter, g guarded) (Result, error) {
	deployments := client.Deployments(g.namespace)
	var first *appsv1.Deployment
	var sentVersion string // the resourceVersion the last patch tested
	return readPlanWrite(ctx, change[*appsv1.Deployment]{
		namespace: g.namespace, name: g.name, dryRun: g.dryRun, access: g.access,
		read: func(ctx context.Context) (*appsv1.Deployment, error) {
			return deployments.Get(ctx, g.name, metav1.GetOptions{})
		},
		plan: func(ctx context.Context, current *appsv1.Deployment, refused error, _ int) (plan[*appsv1.Deployment], error) {
			if refused != nil && current.ResourceVersion == sentVersion {
				// Nobody wrote in between: the test op held, so the API server
				// refused the change itself.
				return plan[*appsv1.Deployment]{}, apiError(refused, g.namespace, g.name, g.access)
			}
			if g.resourceVersion != "" && current.ResourceVersion != g.resourceVersion {
				return plan[*appsv1.Deployment]{}, preconditionFailed(g.namespace, g.name,
					fmt.Sprintf("is at resourceVersion %s, expected %s", current.ResourceVersion, g.resourceVersion))
			}
			if first == nil {
				first = current
			} else if g.sameIntent != nil && !g.sameIntent(first, current) {
				return plan[*appsv1.Deployment]{}, &Error{Reason: Conflict,
					Message: fmt.Sprintf("deployment %q in namespace %q was changed by someone else while %s was being written; nothing was changed", g.name, g.namespace, g.access.op),
					Hint:    fmt.Sprintf("look at it again with 'kubectl deploywatch history %s -n %s' and try again", g.name, g.namespace)}
			}
			p, err := g.plan(ctx, current)
			if err != nil {
				return plan[*appsv1.Deployment]{}, err
			}
			if len(p.ops) == 0 {
				return plan[*appsv1.Deployment]{changes: p.changes}, nil
			}
			ops := append([]jsonOp{{"test", "/metadata/resourceVersion", current.ResourceVersion}}, p.ops...)
			patch, err := json.Marshal(ops)
			if err != nil {
				return plan[*appsv1.Deployment]{}, err
			}
			sentVersion = current.ResourceVersion
			return plan[*appsv1.Deployment]{
				changes: p.changes,
				local:   func() (runtime.Object, error) { return applyLocally(current, patch) },
				send: func(ctx context.Context, dryRun []string) (*appsv1.Deployment, error) {
					return deployments.Patch(ctx, g.name, types.JSONPatchType, patch, metav1.PatchOptions{DryRun: dryRun})
				},
			}, nil
		},
		// The API server answers a failed "test" op with a bare 422 Invalid
		// ("the server rejected our request due to an error in our
		// request", without the JSON patch library's message), like any
		// other invalid change: which of the two it was shows on the next
		// read, in whether the resourceVersion moved.
		again: func(err error, attempt int) (bool, error) {
			switch {
			case !apierrors.IsInvalid(err) && !apierrors.IsConflict(err):
				return false, apiError(err, g.namespace, g.name, g.access)
			case attempt < maxAttempts:
				return true, nil // read again and re-check
			}
			return false, &Error{Reason: Conflict, Err: err,
				Message: fmt.Sprintf("deployment %q in namespace %q kept changing while %s was being written; nothing was changed", g.name, g.namespace, g.access.op),
				Hint:    "try again"}
		},
	})
}

// applyLocally applies patch to a copy of d, for a client dry run: the
// object is exactly what the API server would be asked to store.
func applyLocally(d *appsv1.Deployment, patch []byte) (*appsv1.Deployment, error) {
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, fmt.Errorf("decoding the patch: %w", err)
	}
	doc, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	doc, err = p.Apply(doc)
	if err != nil {
		return nil, fmt.Errorf("applying the patch locally: %w", err)
	}
	out := &appsv1.Deployment{}
	if err := json.Unmarshal(doc, out); err != nil {
		return nil, err
	}
	return out, nil
}

// escapePointer escapes a map key for a JSON pointer (RFC 6901).
var escapePointer = strings.NewReplacer("~", "~0", "/", "~1").Replace
