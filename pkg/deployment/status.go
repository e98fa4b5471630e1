package deployment

import (
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	// Degraded: nothing is rolling out, yet fewer replicas are available than
	// desired, or the controller cannot create pods (ReplicaFailure).
	Degraded Status = "Degraded"
	// Failed: the rollout exceeded its progress deadline.
	Failed Status = "Failed"
	// Paused: the rollout is paused (spec.paused).
	Paused Status = "Paused"
	// ScaledToZero: zero replicas desired and none left.
	ScaledToZero Status = "ScaledToZero"
)

// Settled reports whether a Deployment in this status has nothing more to do:
// what `--until-complete` and `--wait` wait for.
func (s Status) Settled() bool { return s == Running || s == ScaledToZero }

// Reasons the deployment controller writes on its conditions.
const (
	reasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	reasonNewReplicaSetAvailable   = "NewReplicaSetAvailable"
)

// Classify decides the status and message of d, following the rules
// `kubectl rollout status` applies and documented in the README. r and
// containers are d's summarized replicas and containers; prev is the previous
// summary of the same Deployment, or nil.
func Classify(d *appsv1.Deployment, r Replicas, containers []Container, prev *Summary) (Status, string) {
	if prev != nil && prev.UID != d.UID {
		prev = nil // a new Deployment under an old name owes nothing to the old one
	}
	if d.Spec.Paused {
		return Paused, "rollout paused"
	}
	progressing := condition(d, appsv1.DeploymentProgressing)
	if progressing != nil && progressing.Status == corev1.ConditionFalse && progressing.Reason == reasonProgressDeadlineExceeded {
		return Failed, reasonProgressDeadlineExceeded + ": " + progressing.Message
	}
	if d.Status.ObservedGeneration < d.Generation {
		// The controller has not seen the latest spec yet. Only the previous
		// summary can say whether that spec scales or rolls out.
		switch {
		case prev != nil && prev.Generation == d.Generation:
			return prev.Status, prev.Message
		case prev != nil && prev.Replicas.Desired != r.Desired && slices.Equal(prev.Containers, containers):
			return Scaling, scalingMessage(prev.Replicas.Desired, r.Desired)
		default:
			return Progressing, "waiting for the deployment controller to observe the new spec"
		}
	}
	if r.Current > r.Updated {
		return Progressing, fmt.Sprintf("%d old replicas pending termination, %d of %d updated", r.Current-r.Updated, r.Updated, r.Desired)
	}
	if failure := condition(d, appsv1.DeploymentReplicaFailure); failure != nil && failure.Status == corev1.ConditionTrue {
		return Degraded, failure.Reason + ": " + failure.Message
	}
	if r.Desired == 0 && r.Current == 0 {
		return ScaledToZero, ""
	}
	if r.Updated < r.Desired && progressing != nil && progressing.Status == corev1.ConditionTrue && progressing.Reason != reasonNewReplicaSetAvailable {
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
	case prev != nil && (prev.Status == Scaling || prev.Status == Progressing):
		return prev.Status, waiting // still coming up after the change
	case prev == nil && progressing != nil && progressing.Status == corev1.ConditionTrue && progressing.Reason != reasonNewReplicaSetAvailable:
		return Progressing, waiting // the controller says the rollout is under way
	default:
		return Degraded, waiting
	}
}

// scalingMessage reads the same before and after the controller observes a
// scale, so that step alone prints nothing new.
func scalingMessage(from, to int32) string {
	noun := "replicas"
	if to == 1 {
		noun = "replica"
	}
	return fmt.Sprintf("scaling from %d to %d %s", from, to, noun)
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}
