package operations

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
)

// RolloutClient is what the rollout operations need: the workloads, the
// ReplicaSets that hold a Deployment's revisions and the ControllerRevisions
// that hold a StatefulSet's or a DaemonSet's. appsv1client.AppsV1Interface
// is one.
type RolloutClient interface {
	WorkloadsGetter
	appsv1client.ReplicaSetsGetter
	appsv1client.ControllerRevisionsGetter
}

// jsonOp is one operation of a JSON patch (RFC 6902).
type jsonOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// rolloutPlan is what a rollout operation wants to write to the workload
// it read: nothing (ops empty: it is already as asked) or ops, which
// guardedPatch prefixes with a test of the resourceVersion it read.
type rolloutPlan struct {
	ops     []jsonOp
	changes []Change
}

// guarded describes one guarded change: the target, the user's own
// precondition, and what to do with a fresh read.
type guarded struct {
	kind            Kind
	namespace, name string
	// resourceVersion is the user's precondition ("" for none).
	resourceVersion string
	dryRun          DryRunMode
	access          access
	// plan decides what to write to d; an error stops with nothing written.
	plan func(ctx context.Context, d object) (rolloutPlan, error)
	// sameIntent reports whether a re-read Deployment still means what the
	// first read did, so that the plan may be made again from it. When it
	// does not (someone else changed it in between), nothing is written.
	// nil: every re-read may be planned again.
	sameIntent func(first, now object) bool
}

// guardedPatch reads the Deployment, plans the change and writes it as a
// JSON patch whose first op tests the resourceVersion that was read: the API
// server applies nothing if anyone wrote the Deployment in between (the
// deployment controller's status updates included). guardedPatch then reads
// again and plans again, unless sameIntent says the change no longer means
// what it did; a user's resourceVersion precondition is checked on every
// read, so it fails as soon as the Deployment moved.
func guardedPatch(ctx context.Context, client WorkloadsGetter, g guarded) (Result, error) {
	w := workloads{kind: g.kind, namespace: g.namespace, client: client}
	g.access = g.access.of(g.kind)
	noun := g.kind.Noun()
	var first object
	var sentVersion string // the resourceVersion the last patch tested
	return readPlanWrite(ctx, change[object]{
		namespace: g.namespace, name: g.name, dryRun: g.dryRun, access: g.access,
		read: func(ctx context.Context) (object, error) {
			return w.get(ctx, g.name)
		},
		plan: func(ctx context.Context, current object, refused error, _ int) (plan[object], error) {
			if refused != nil && current.GetResourceVersion() == sentVersion {
				// Nobody wrote in between: the test op held, so the API server
				// refused the change itself.
				return plan[object]{}, apiError(refused, g.namespace, g.name, g.access)
			}
			if g.resourceVersion != "" && current.GetResourceVersion() != g.resourceVersion {
				return plan[object]{}, preconditionFailed(g.kind, g.namespace, g.name,
					fmt.Sprintf("is at resourceVersion %s, expected %s", current.GetResourceVersion(), g.resourceVersion))
			}
			if first == nil {
				first = current
			} else if g.sameIntent != nil && !g.sameIntent(first, current) {
				return plan[object]{}, &Error{Reason: Conflict,
					Message: fmt.Sprintf("%s %q in namespace %q was changed by someone else while %s was being written; nothing was changed", noun, g.name, g.namespace, g.access.op),
					Hint:    fmt.Sprintf("look at it again with 'kubectl deploywatch history %s -n %s' and try again", g.kind.Ref(g.name), g.namespace)}
			}
			p, err := g.plan(ctx, current)
			if err != nil {
				return plan[object]{}, err
			}
			if len(p.ops) == 0 {
				return plan[object]{changes: p.changes}, nil
			}
			ops := append([]jsonOp{{"test", "/metadata/resourceVersion", current.GetResourceVersion()}}, p.ops...)
			patch, err := json.Marshal(ops)
			if err != nil {
				return plan[object]{}, err
			}
			sentVersion = current.GetResourceVersion()
			return plan[object]{
				changes: p.changes,
				local:   func() (runtime.Object, error) { return applyLocally(current, patch) },
				send: func(ctx context.Context, dryRun []string) (object, error) {
					return w.patch(ctx, g.name, types.JSONPatchType, patch, dryRun)
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
				Message: fmt.Sprintf("%s %q in namespace %q kept changing while %s was being written; nothing was changed", noun, g.name, g.namespace, g.access.op),
				Hint:    "try again"}
		},
	})
}

// applyLocally applies patch to a copy of d, for a client dry run: the
// object is exactly what the API server would be asked to store.
func applyLocally(d object, patch []byte) (object, error) {
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
	return decodeLike(d, doc)
}

// escapePointer escapes a map key for a JSON pointer (RFC 6901).
var escapePointer = strings.NewReplacer("~", "~0", "/", "~1").Replace
