package deployment

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// This file summarizes the other workloads, StatefulSets and DaemonSets,
// into the same Summary and the same statuses as Deployments. The rules
// (docs/watch.md, Statuses of StatefulSets and DaemonSets) start from
// kubectl's StatefulSetStatusViewer and DaemonSetStatusViewer and differ
// where those are wrong: OnDelete is a state, not an error; a partitioned
// rollout completes at its partition; nothing is done before the
// controller observed the latest spec; a StatefulSet is done only when its
// pods are available (minReadySeconds) and no extra pod is left.

// SummarizeStatefulSet builds the summary of sts. diag is the diagnosis
// of its new pods (those of status.updateRevision) and of the old pods it
// is blocked on, or nil when pods are not read.
func SummarizeStatefulSet(sts *appsv1.StatefulSet, diag *Diagnosis) Summary {
	desired := int32(1)
	if sts.Spec.Replicas != nil {
		desired = *sts.Spec.Replicas
	}
	st := &sts.Status
	s := Summary{
		Kind:      KindStatefulSet,
		Namespace: sts.Namespace, Name: sts.Name,
		Replicas: Replicas{Desired: desired, Current: st.Replicas, Updated: st.UpdatedReplicas, Ready: st.ReadyReplicas,
			Available: st.AvailableReplicas, Unavailable: max(desired-st.AvailableReplicas, 0)},
		Containers:         containersOfTemplate(sts.Spec.Template.Spec.Containers),
		Generation:         sts.Generation,
		ObservedGeneration: st.ObservedGeneration,
		ResourceVersion:    sts.ResourceVersion,
		UID:                sts.UID,
		OrderedReady:       OrderedReady(sts),
	}
	s.Status, s.Message = classifyStatefulSet(sts, s.Replicas, diag)
	if diag != nil && s.Status != Running && s.Status != ScaledToZero {
		s.Problems = diag.Problems
	}
	s.Since = workloadSince(sts.CreationTimestamp.Time, sts.DeletionTimestamp, s.Status, s.Problems)
	return s
}

// StatefulSetPartition is the ordinal below which a RollingUpdate keeps
// the old revision (0 when not partitioned or not RollingUpdate).
func StatefulSetPartition(sts *appsv1.StatefulSet) int32 {
	ru := sts.Spec.UpdateStrategy.RollingUpdate
	if sts.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType || ru == nil || ru.Partition == nil {
		return 0
	}
	return max(*ru.Partition, 0)
}

// OrderedReady reports whether sts's controller goes through its pods
// one at a time, waiting for each to be Running and Ready.
func OrderedReady(sts *appsv1.StatefulSet) bool {
	return sts.Spec.PodManagementPolicy == "" || sts.Spec.PodManagementPolicy == appsv1.OrderedReadyPodManagement
}

func classifyStatefulSet(sts *appsv1.StatefulSet, r Replicas, diag *Diagnosis) (Status, string) {
	if sts.DeletionTimestamp != nil {
		return Deleting, "being deleted"
	}
	if sts.Status.ObservedGeneration == 0 || sts.Status.ObservedGeneration < sts.Generation {
		if r.Current != r.Desired && r.Current == r.Updated {
			return Scaling, scalingMessage(r.Current, r.Desired)
		}
		return Progressing, "waiting for the statefulset controller to observe the new spec"
	}
	onDelete := sts.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType
	partition := StatefulSetPartition(sts)
	// The pods the controller updates by itself: those at or above the
	// partition; with OnDelete, none (only the ones it creates anew).
	target := max(r.Desired-partition, 0)
	complete := r.Current == r.Desired && r.Ready >= r.Desired && r.Available >= r.Desired &&
		(r.Updated >= target || onDelete)
	if !complete && diag != nil && len(diag.Problems) > 0 {
		return Failing, describeWorkload(sts.Namespace, diag.Problems, r, OrderedReady(sts) && !onDelete)
	}
	// A rollout is under way while the update revision is not the
	// current one; otherwise a change of counts is a scale.
	rolling := sts.Status.UpdateRevision != "" && sts.Status.UpdateRevision != sts.Status.CurrentRevision
	switch {
	case r.Desired == 0 && r.Current == 0:
		return ScaledToZero, ""
	case r.Current > r.Desired:
		return Scaling, scalingMessage(r.Current, r.Desired)
	case onDelete && r.Updated < r.Desired && rolling:
		// Not an error: the user updates by deleting pods, one by one.
		return Paused, fmt.Sprintf("updateStrategy OnDelete: %d of %d pods updated; delete the old pods to update them", r.Updated, r.Desired)
	case !onDelete && r.Updated < target && rolling:
		msg := fmt.Sprintf("%d of %d pods updated", r.Updated, target)
		if partition > 0 {
			msg += fmt.Sprintf(" (partition %d: %s at the old revision)", partition, plural(r.Desired-target, "pod stays", "pods stay"))
		}
		return Progressing, msg
	case r.Current < r.Desired || r.Updated < target:
		return Scaling, scalingMessage(r.Current, r.Desired)
	case r.Available < r.Desired:
		waiting := fmt.Sprintf("%d of %d pods available", r.Available, r.Desired)
		switch {
		case rolling && partition == 0:
			return Progressing, waiting
		case diag != nil && diag.Known:
			return Scaling, waiting
		}
		return Degraded, waiting
	case partition > 0 && r.Updated < r.Desired:
		return Running, fmt.Sprintf("partitioned rollout complete: %d of %d pods updated, partition %d", r.Updated, r.Desired, partition)
	}
	return Running, ""
}

// describeWorkload words the problems of a StatefulSet's or DaemonSet's
// pods. A problem of old pods the StatefulSet controller waits on
// (Blocking) says so and gives the command that unblocks it; a problem of
// new pods under OrderedReady warns that a rollback will not replace them
// either (kubernetes/kubernetes#67250).
func describeWorkload(ns string, problems []diagnosis.Problem, r Replicas, ordered bool) string {
	p := problems[0]
	if p.Blocking {
		msg := p.Reason
		if p.Cause != "" {
			msg += ": " + p.Cause
		}
		return fmt.Sprintf("%s (old pod %s); podManagementPolicy OrderedReady waits for it to be ready before it goes on, "+
			"rolling back included; delete it to unblock the rollout: %s", msg, p.Pod, DeletePodCommand(p.Pod, "-n "+ns))
	}
	msg := diagnosis.Describe(problems, r.Updated, r.Desired)
	if ordered && p.Pod != "" && p.Reason != "NodeNotReady" {
		msg += fmt.Sprintf("; under podManagementPolicy OrderedReady a rollback will not replace %s until it is deleted (%s)", p.Pod, DeletePodCommand(p.Pod, "-n "+ns))
	}
	return msg
}

// DeletePodCommand is the kubectl command that deletes a StatefulSet's pod
// so that its controller makes it anew; flags (the namespace, and the
// context if any) follow the pod's name. It does not wait: the pod comes
// back at once under the same name, and kubectl before 1.36 waits for a
// deletion by name, not by UID, so its wait can last forever (kubectl's
// IsDeleted precondition).
func DeletePodCommand(pod, flags string) string {
	return fmt.Sprintf("kubectl delete pod %s %s --wait=false", pod, flags)
}

// SummarizeDaemonSet builds the summary of ds. diag is the diagnosis of
// its new pods (of its newest revision) and of those on nodes that are not
// ready, or nil when pods are not read.
func SummarizeDaemonSet(ds *appsv1.DaemonSet, diag *Diagnosis) Summary {
	st := &ds.Status
	s := Summary{
		Kind:      KindDaemonSet,
		Namespace: ds.Namespace, Name: ds.Name,
		Replicas: Replicas{Desired: st.DesiredNumberScheduled, Current: st.CurrentNumberScheduled, Updated: st.UpdatedNumberScheduled,
			Ready: st.NumberReady, Available: st.NumberAvailable, Unavailable: st.NumberUnavailable},
		Containers:         containersOfTemplate(ds.Spec.Template.Spec.Containers),
		Generation:         ds.Generation,
		ObservedGeneration: st.ObservedGeneration,
		ResourceVersion:    ds.ResourceVersion,
		UID:                ds.UID,
	}
	s.Status, s.Message = classifyDaemonSet(ds, s.Replicas, diag)
	if diag != nil && s.Status != Running && s.Status != ScaledToZero {
		s.Problems = diag.Problems
	}
	s.Since = workloadSince(ds.CreationTimestamp.Time, ds.DeletionTimestamp, s.Status, s.Problems)
	return s
}

func classifyDaemonSet(ds *appsv1.DaemonSet, r Replicas, diag *Diagnosis) (Status, string) {
	if ds.DeletionTimestamp != nil {
		return Deleting, "being deleted"
	}
	if ds.Status.ObservedGeneration < ds.Generation {
		return Progressing, "waiting for the daemonset controller to observe the new spec"
	}
	onDelete := ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType
	complete := r.Current >= r.Desired && r.Available >= r.Desired && (r.Updated >= r.Desired || onDelete) &&
		ds.Status.NumberMisscheduled == 0
	if !complete && diag != nil && len(diag.Problems) > 0 {
		// A pod on a node it may no longer run on (a NotReady node's
		// taint) is out of the controller's counts but is still one of
		// the pods a problem names.
		counted := r
		counted.Desired += ds.Status.NumberMisscheduled
		counted.Updated += ds.Status.NumberMisscheduled
		return Failing, describeWorkload(ds.Namespace, diag.Problems, counted, false)
	}
	switch {
	case r.Desired == 0 && r.Current == 0 && ds.Status.NumberMisscheduled == 0:
		return ScaledToZero, "no node to run on"
	case onDelete && r.Updated < r.Desired:
		return Paused, fmt.Sprintf("updateStrategy OnDelete: %d of %d pods updated; delete the old pods to update them", r.Updated, r.Desired)
	case r.Updated < r.Desired:
		return Progressing, fmt.Sprintf("%d of %d pods updated", r.Updated, r.Desired)
	case ds.Status.NumberMisscheduled > 0:
		return Scaling, plural(ds.Status.NumberMisscheduled, "pod", "pods") + " on nodes it should not run on, pending termination"
	case r.Current < r.Desired:
		return Scaling, fmt.Sprintf("%d of %d nodes run a pod", r.Current, r.Desired)
	case r.Available < r.Desired:
		waiting := fmt.Sprintf("%d of %d pods available", r.Available, r.Desired)
		if diag != nil && diag.Known {
			return Scaling, waiting
		}
		return Degraded, waiting
	}
	return Running, ""
}

func containersOfTemplate(cs []corev1.Container) []Container {
	out := make([]Container, len(cs))
	for i, c := range cs {
		out[i] = Container{Name: c.Name, Image: c.Image}
	}
	return out
}

// workloadSince is when a StatefulSet or DaemonSet entered its state, as
// far as the cluster recorded it: neither keeps conditions, so the start
// of its problems, or its deletion, else its creation.
func workloadSince(created time.Time, deleting *metav1.Time, status Status, problems []diagnosis.Problem) time.Time {
	if status == Deleting && deleting != nil {
		return deleting.Time
	}
	var first time.Time
	for _, p := range problems {
		if !p.Since.IsZero() && (first.IsZero() || p.Since.Before(first)) {
			first = p.Since
		}
	}
	if !first.IsZero() {
		return first
	}
	return created
}
