package operations

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// UndoRequest asks for a workload to go back to an earlier revision.
type UndoRequest struct {
	// Kind is the workload's: Deployment (the zero value), StatefulSet or
	// DaemonSet.
	Kind      Kind
	Namespace string
	Name      string
	// ToRevision is the revision to go back to; 0 is the one before the
	// current one.
	ToRevision int64
	// ResourceVersion, when set, is a precondition: undo only if the
	// Deployment is still at this version.
	ResourceVersion string
	DryRun          DryRunMode
}

// Validate reports every problem with the request, without a request to the
// API server.
func (r UndoRequest) Validate() error {
	ps := validateTarget(r.Kind, r.Namespace, r.Name, r.DryRun)
	if r.ToRevision < 0 {
		ps = append(ps, Problem{"toRevision", fmt.Sprintf("the revision to undo to must be a positive number (or 0 for the previous one), got %d", r.ToRevision)})
	}
	return badRequest(ps)
}

var undoAccess = access{op: "undo", verbs: "get and patch", canIVerb: "patch"}

// annotationsKept are the Deployment's own annotations that an undo keeps
// rather than taking them from the ReplicaSet, as `kubectl rollout undo`
// does: the controller's bookkeeping and kubectl's last-applied copy.
var annotationsKept = map[string]bool{
	corev1.LastAppliedConfigAnnotation:          true,
	RevisionAnnotation:                          true,
	RevisionHistoryAnnotation:                   true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	appsv1.DeprecatedRollbackTo:                 true,
}

// Undo puts the pod template of an earlier revision back into the
// Deployment, as the deployment controller expects it: the ReplicaSet's
// template without its pod-template-hash label, and the annotations it
// recorded (its change cause among them). The controller then finds that
// ReplicaSet again, scales it up and gives it the next revision number.
//
// It refuses, with nothing written: a revision that does not exist (NotFound,
// listing those there are), the current revision and a Deployment with no
// earlier one (Conflict), and a paused Deployment, whose undo would not roll
// out (Conflict, with the command that resumes it), as kubectl does.
//
// The patch tests the resourceVersion it planned from. If the Deployment was
// written in between only by the controller (its status, its revision
// annotation), Undo plans again; if anyone changed its spec or other
// annotations, the undo would no longer mean what was asked, and it is a
// Conflict with nothing written.
//
// A StatefulSet or a DaemonSet gets the template its ControllerRevision
// holds, as `kubectl rollout undo` restores it (its own annotations are
// left alone); the controller then finds that ControllerRevision again and
// gives it the next revision number.
func Undo(ctx context.Context, client RolloutClient, req UndoRequest) (Result, error) {
	if err := req.Validate(); err != nil {
		return Result{}, err
	}
	return guardedPatch(ctx, client, guarded{
		kind: req.Kind, namespace: req.Namespace, name: req.Name, resourceVersion: req.ResourceVersion, dryRun: req.DryRun,
		access:     undoAccess,
		sameIntent: sameUserIntent,
		plan: func(ctx context.Context, o object) (rolloutPlan, error) {
			d, isDeployment := o.(*appsv1.Deployment)
			if isDeployment && d.Spec.Paused {
				return rolloutPlan{}, &Error{Reason: Conflict,
					Message: fmt.Sprintf("deployment %q in namespace %q is paused: an undo would not roll out; nothing was changed", d.Name, d.Namespace),
					Hint:    fmt.Sprintf("resume it first with 'kubectl deploywatch resume %s -n %s'", d.Name, d.Namespace)}
			}
			h, err := history(ctx, client, o, "undo")
			if err != nil {
				return rolloutPlan{}, err
			}
			target, err := undoTarget(h, req.ToRevision)
			if err != nil {
				return rolloutPlan{}, err
			}
			if !isDeployment {
				return templateUndoPlan(o, h, target), nil
			}
			return undoPlan(d, h, target), nil
		},
	})
}

// undoTarget picks the revision to go back to.
func undoTarget(h History, to int64) (Revision, error) {
	cur, hasCurrent := h.current()
	if to != 0 {
		r, err := h.find(to, "toRevision")
		if err != nil {
			return r, err
		}
		if r.Current {
			return r, &Error{Reason: Conflict,
				Message:  fmt.Sprintf("%s %q in namespace %q is at revision %d already; nothing was changed", h.Kind.Noun(), h.Name, h.Namespace, to),
				Problems: []Problem{{Field: "toRevision", Message: fmt.Sprintf("revision %d is the current one", to)}},
				Hint:     fmt.Sprintf("pick another with 'kubectl deploywatch history %s -n %s'", h.Kind.Ref(h.Name), h.Namespace)}
		}
		return r, nil
	}
	// The previous revision: the newest one that is not current. Right after
	// a change the controller may not have made the current one yet; the
	// newest then is what the change replaced.
	for _, r := range h.Revisions {
		if !r.Current && (!hasCurrent || r.Revision < cur.Revision) {
			return r, nil
		}
	}
	return Revision{}, &Error{Reason: Conflict,
		Message: fmt.Sprintf("%s %q in namespace %q has no earlier revision to undo to; nothing was changed", h.Kind.Noun(), h.Name, h.Namespace),
		Hint:    fmt.Sprintf("see its revisions with 'kubectl deploywatch history %s -n %s'", h.Kind.Ref(h.Name), h.Namespace)}
}

// undoPlan replaces the template and the annotations, as kubectl does.
func undoPlan(d *appsv1.Deployment, h History, target Revision) rolloutPlan {
	template := target.template.DeepCopy()
	delete(template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	annotations := map[string]string{}
	for k, v := range d.Annotations {
		if annotationsKept[k] {
			annotations[k] = v
		}
	}
	for k, v := range target.annotations {
		if !annotationsKept[k] {
			annotations[k] = v
		}
	}
	return rolloutPlan{
		ops: []jsonOp{
			{"replace", "/spec/template", template},
			{"add", "/metadata/annotations", annotations},
		},
		changes: undoChanges(&d.Spec.Template, template, h, target),
	}
}

// templateUndoPlan puts back the template a StatefulSet's or a
// DaemonSet's ControllerRevision holds, and nothing else, as kubectl does.
func templateUndoPlan(o object, h History, target Revision) rolloutPlan {
	template := target.template.DeepCopy()
	return rolloutPlan{
		ops:     []jsonOp{{"replace", "/spec/template", template}},
		changes: undoChanges(templateOf(o), template, h, target),
	}
}

// undoChanges are the revision and the images an undo changes.
func undoChanges(from, to *corev1.PodTemplateSpec, h History, target Revision) []Change {
	was := "none"
	if cur, ok := h.current(); ok {
		was = strconv.FormatInt(cur.Revision, 10)
	}
	changes := []Change{{What: "revision", From: was, To: strconv.FormatInt(target.Revision, 10)}}
	changes = append(changes, imageChanges("init container ", from.Spec.InitContainers, to.Spec.InitContainers)...)
	return append(changes, imageChanges("container ", from.Spec.Containers, to.Spec.Containers)...)
}

// imageChanges lists the containers whose image differs between two
// templates; a container only in one of them is "none" in the other.
func imageChanges(prefix string, from, to []corev1.Container) []Change {
	var out []Change
	before := map[string]string{}
	for _, c := range from {
		before[c.Name] = c.Image
	}
	seen := map[string]bool{}
	for _, c := range to {
		seen[c.Name] = true
		old, ok := before[c.Name]
		if !ok {
			old = "none"
		}
		if old != c.Image {
			out = append(out, Change{What: prefix + c.Name, From: old, To: c.Image})
		}
	}
	for _, c := range from {
		if !seen[c.Name] {
			out = append(out, Change{What: prefix + c.Name, From: c.Image, To: "none"})
		}
	}
	return out
}

// sameUserIntent reports whether only the workload's controller wrote it
// between two reads: same generation (no spec change), and the same
// annotations but for the deployment controller's own.
func sameUserIntent(first, now object) bool {
	if first.GetGeneration() != now.GetGeneration() || first.GetUID() != now.GetUID() {
		return false
	}
	strip := func(m map[string]string) map[string]string {
		out := maps.Clone(m)
		maps.DeleteFunc(out, func(k string, _ string) bool { return annotationsKept[k] && k != corev1.LastAppliedConfigAnnotation })
		return out
	}
	return maps.Equal(strip(first.GetAnnotations()), strip(now.GetAnnotations()))
}
