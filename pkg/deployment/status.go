package deployment

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// Status is the one-word state of a Deployment.
type Status string

const (
	// Running: the latest spec is observed and every desired replica is
	// updated and available, with no old replicas left.
	Running Status = "Running"
	// Progressing: a new pod template is rolling out.
	Progressing Status = "Progressing"
	// Scaling: the replica count changed and the pods are catching up.
	Scaling Status = "Scaling"
	// Failing: the rollout is not past its deadline, but it will not finish
	// unless something changes: pods of the new ReplicaSet fail (an image
	// that cannot be pulled, a crash loop, no node takes them) or cannot be
	// created (a quota). The message names the cause.
	Failing Status = "Failing"
	// Degraded: nothing is rolling out, yet fewer replicas are available
	// than desired, and no cause is known.
	Degraded Status = "Degraded"
	// Failed: the rollout exceeded its progress deadline.
	Failed Status = "Failed"
	// Paused: the rollout is paused (spec.paused).
	Paused Status = "Paused"
	// ScaledToZero: zero replicas desired and none left.
	ScaledToZero Status = "ScaledToZero"
	// Deleting: the Deployment is being deleted (deletionTimestamp is set).
	Deleting Status = "Deleting"
)

// Reasons the deployment controller writes on its conditions.
const (
	reasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	reasonNewReplicaSetAvailable   = "NewReplicaSetAvailable"
)

// revisionAnnotation is where the deployment controller numbers a
// Deployment's revision, once it has made its first ReplicaSet.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// revisionOf is d's revision, 0 when it has none (or not a number).
func revisionOf(d *appsv1.Deployment) int64 {
	n, err := strconv.ParseInt(d.Annotations[revisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Diagnosis is what the tracker read beyond the Deployment: whether it
// could read the Deployment's ReplicaSets and Pods at all, and the problems
// it found in the new ReplicaSet.
type Diagnosis struct {
	Known bool
	// ReplicaSet is the name of the new ReplicaSet, "" when unknown.
	ReplicaSet string
	Problems   []diagnosis.Problem
	// NewReplicaSetCreated is when the new ReplicaSet was created: when
	// the current rollout began (zero when unknown).
	NewReplicaSetCreated time.Time
	// OlderReplicaSets names the Deployment's ReplicaSets of an earlier
	// revision than its own. It tells a deadline one of them ran out of as
	// not the current rollout's even when the new ReplicaSet is not yet
	// known (ReplicaSet is ""): the tracker's ReplicaSet informer can lag
	// behind its Deployment informer.
	OlderReplicaSets []string
}

// Classify decides the status and message of d from what every observer
// can see: the object, as the deployment controller last recorded it, and
// the diagnosis of its new ReplicaSet (nil when unknown). r is d's
// summarized replicas. The rules are documented in docs/watch.md, Statuses.
func Classify(d *appsv1.Deployment, r Replicas, diag *Diagnosis) (Status, string) {
	if d.DeletionTimestamp != nil {
		return Deleting, "being deleted"
	}
	if d.Status.ObservedGeneration < d.Generation {
		// The controller has not seen the latest spec: what it recorded
		// belongs to the previous one (a Failed condition included).
		switch {
		case d.Spec.Paused:
			return Paused, "rollout paused; waiting for the deployment controller to observe it"
		case r.Current != r.Desired && r.Current == r.Updated:
			// Surge pods of an unfinished rollout (Current > Updated) are no scale.
			return Scaling, scalingMessage(r.Current, r.Desired)
		default:
			return Progressing, "waiting for the deployment controller to observe the new spec"
		}
	}
	progressing := condition(d, appsv1.DeploymentProgressing)
	if progressing != nil && progressing.Status == corev1.ConditionFalse && progressing.Reason == reasonProgressDeadlineExceeded &&
		!deadlineOfOlderReplicaSet(progressing, diag) {
		// The controller keeps this condition when the rollout is paused.
		// STATUS says the deadline passed: the diagnosed cause comes first.
		return Failed, causePrefix(diag, r) + reasonProgressDeadlineExceeded + ": " + progressing.Message
	}
	if d.Spec.Paused {
		if unstarted(revisionOf(d), r) {
			return Paused, "rollout paused before it started: no pods until resumed"
		}
		if pending := pendingMessage(r); pending != "" {
			return Paused, "rollout paused with " + pending
		}
		return Paused, "rollout paused"
	}
	complete := r.Current == r.Desired && r.Updated == r.Desired && r.Available >= r.Desired
	if !complete {
		if diag != nil && len(diag.Problems) > 0 {
			return Failing, diagnosis.Describe(diag.Problems, r.Updated, r.Desired)
		}
		if failure := condition(d, appsv1.DeploymentReplicaFailure); failure != nil && failure.Status == corev1.ConditionTrue {
			return Failing, failure.Reason + ": " + diagnosis.Cause(failure.Reason, failure.Message)
		}
	}
	if r.Current > r.Updated {
		return Progressing, fmt.Sprintf("%s pending termination, %d of %d updated", plural(r.Current-r.Updated, "old replica", "old replicas"), r.Updated, r.Desired)
	}
	if r.Desired == 0 && r.Current == 0 {
		return ScaledToZero, ""
	}
	rollingOut := progressing != nil && progressing.Status == corev1.ConditionTrue && progressing.Reason != reasonNewReplicaSetAvailable
	if r.Updated < r.Desired && rollingOut {
		// A new ReplicaSet that is still being filled: a rollout, not a scale.
		return Progressing, fmt.Sprintf("%d of %d new replicas updated", r.Updated, r.Desired)
	}
	if r.Current != r.Desired || r.Updated != r.Desired {
		return Scaling, scalingMessage(r.Current, r.Desired)
	}
	if r.Available >= r.Desired {
		return Running, ""
	}
	// Every pod runs the latest template but not all are available yet.
	waiting := fmt.Sprintf("%d of %d replicas available", r.Available, r.Desired)
	switch {
	case rollingOut:
		return Progressing, waiting // the controller says the rollout is under way
	case diag != nil && diag.Known:
		return Scaling, waiting // pods are coming up, and none reports an error
	default:
		return Degraded, waiting
	}
}

// deadlineOfOlderReplicaSet tells a deadline the controller still carries
// over from an older ReplicaSet: after a rollback (undo, or a fix back to
// an earlier template) it keeps the condition, message and all, until the
// rollout makes progress, though the ReplicaSet that timed out is no longer
// the new one. Its message names that ReplicaSet
// ("ReplicaSet \"web-5d8c\" has timed out progressing."). A deadline
// that names a ReplicaSet of an earlier revision is older too, though the
// new ReplicaSet is not known yet.
func deadlineOfOlderReplicaSet(c *appsv1.DeploymentCondition, diag *Diagnosis) bool {
	if diag == nil {
		return false
	}
	for _, name := range diag.OlderReplicaSets {
		if strings.Contains(c.Message, strconv.Quote(name)) {
			return true
		}
	}
	if diag.ReplicaSet == "" {
		return false
	}
	return !strings.Contains(c.Message, strconv.Quote(diag.ReplicaSet))
}

// causePrefix is the diagnosed cause that leads a Failed message.
func causePrefix(diag *Diagnosis, r Replicas) string {
	if diag == nil || len(diag.Problems) == 0 {
		return ""
	}
	return diagnosis.Describe(diag.Problems, r.Updated, r.Desired) + "; "
}

// pendingMessage says what a paused rollout has left to do, or "".
func pendingMessage(r Replicas) string {
	switch {
	case r.Updated < r.Desired:
		return fmt.Sprintf("%d of %d replicas updated", r.Updated, r.Desired)
	case r.Current > r.Updated:
		return plural(r.Current-r.Updated, "old replica", "old replicas") + " pending termination"
	case r.Available < r.Desired:
		return fmt.Sprintf("%d of %d replicas available", r.Available, r.Desired)
	}
	return ""
}

// scalingMessage reads the same before and after the controller observes a
// scale, so that step alone prints nothing new.
func scalingMessage(from, to int32) string {
	return fmt.Sprintf("scaling from %d to %s", from, plural(to, "replica", "replicas"))
}

func plural(n int32, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// sinceOf is when d entered its current state, as the cluster recorded it
// (the rules are in docs/watch.md): never when deploywatch first saw it, so a
// fresh watch, a running one and a reloaded page agree.
func sinceOf(d *appsv1.Deployment, status Status, problems []diagnosis.Problem, diag *Diagnosis) time.Time {
	progressing := condition(d, appsv1.DeploymentProgressing)
	failure := condition(d, appsv1.DeploymentReplicaFailure)
	switch status {
	case Deleting:
		return d.DeletionTimestamp.Time
	case Failed:
		return progressing.LastTransitionTime.Time
	case Failing:
		var first time.Time
		for _, p := range problems {
			if !p.Since.IsZero() && (first.IsZero() || p.Since.Before(first)) {
				first = p.Since
			}
		}
		if !first.IsZero() {
			return first
		}
		if failure != nil && !failure.LastTransitionTime.IsZero() {
			return failure.LastTransitionTime.Time
		}
	}
	// Otherwise the latest thing the controller recorded: the rollout's
	// start (the new ReplicaSet's creation), its last progress or end (the
	// Progressing condition's update), a change of availability.
	latest := d.CreationTimestamp.Time
	later := func(t time.Time) {
		if t.After(latest) {
			latest = t
		}
	}
	if progressing != nil {
		later(progressing.LastUpdateTime.Time)
		later(progressing.LastTransitionTime.Time)
	}
	if available := condition(d, appsv1.DeploymentAvailable); available != nil {
		later(available.LastTransitionTime.Time)
	}
	if failure != nil {
		later(failure.LastTransitionTime.Time)
	}
	if diag != nil {
		later(diag.NewReplicaSetCreated)
	}
	return latest
}
