package deployment

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// statefulSet is db with 3 replicas, rolled out at revision db-1.
func statefulSet(edit func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", Generation: 1},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(3)),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(0))}}},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentReplicas: 3,
			UpdatedReplicas: 3, CurrentRevision: "db-1", UpdateRevision: "db-1"},
	}
	sts.Spec.Template.Spec.Containers = []corev1.Container{{Name: "db", Image: "postgres:17"}}
	if edit != nil {
		edit(sts)
	}
	return sts
}

// rollingTo is a rollout to revision db-2 with updated pods updated.
func rollingTo(updated int32) func(*appsv1.StatefulSet) {
	return func(sts *appsv1.StatefulSet) {
		sts.Generation = 2
		sts.Status.ObservedGeneration = 2
		sts.Status.UpdateRevision = "db-2"
		sts.Status.UpdatedReplicas = updated
		sts.Status.CurrentReplicas = 3 - updated
	}
}

func TestStatefulSetStatuses(t *testing.T) {
	known := &Diagnosis{Known: true}
	broken := &Diagnosis{Known: true, Problems: []diagnosis.Problem{{Reason: "ImagePullBackOff", Cause: "not found", Pod: "db-2", Pods: 1}}}
	blocked := &Diagnosis{Known: true, Problems: []diagnosis.Problem{{Reason: "ImagePullBackOff", Cause: "not found", Pod: "db-2", Pods: 1, Blocking: true}}}
	for _, tt := range []struct {
		name     string
		edit     func(*appsv1.StatefulSet)
		diag     *Diagnosis
		status   Status
		message  string // a part of it; "" for an empty message
		complete bool
		stuck    bool
	}{
		{name: "rolled out", status: Running, complete: true},
		{name: "generation not observed", edit: func(s *appsv1.StatefulSet) { s.Generation = 2 },
			status: Progressing, message: "waiting for the statefulset controller to observe the new spec"},
		{name: "new, not observed yet", edit: func(s *appsv1.StatefulSet) { s.Status = appsv1.StatefulSetStatus{} },
			status: Scaling, message: "scaling from 0 to 3 replicas"},
		{name: "observed generation 0", edit: func(s *appsv1.StatefulSet) { s.Status.ObservedGeneration = 0 },
			status: Progressing, message: "observe the new spec"},
		{name: "rolling", edit: rollingTo(1), diag: known, status: Progressing, message: "1 of 3 pods updated"},
		{name: "rolling, a pod not ready yet", edit: func(s *appsv1.StatefulSet) {
			rollingTo(3)(s)
			s.Status.ReadyReplicas, s.Status.AvailableReplicas = 2, 2
		}, diag: known, status: Progressing, message: "2 of 3 pods available"},
		{name: "ready but not available (minReadySeconds)", edit: func(s *appsv1.StatefulSet) { s.Status.AvailableReplicas = 2 },
			diag: known, status: Scaling, message: "2 of 3 pods available"},
		{name: "partitioned, under way", edit: func(s *appsv1.StatefulSet) {
			rollingTo(0)(s)
			s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(2))
		}, diag: known, status: Progressing, message: "0 of 1 pods updated (partition 2: 2 pods stay at the old revision)"},
		{name: "partitioned, complete at the partition", edit: func(s *appsv1.StatefulSet) {
			rollingTo(1)(s)
			s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(2))
		}, diag: known, status: Running, message: "partitioned rollout complete: 1 of 3 pods updated, partition 2", complete: true},
		{name: "partition above the replicas", edit: func(s *appsv1.StatefulSet) {
			rollingTo(0)(s)
			s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(5))
		}, diag: known, status: Running, message: "0 of 3 pods updated, partition 5", complete: true},
		{name: "OnDelete, old pods left", edit: func(s *appsv1.StatefulSet) {
			rollingTo(1)(s)
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}, diag: known, status: Paused, message: "updateStrategy OnDelete: 1 of 3 pods updated; delete the old pods to update them", stuck: true},
		{name: "OnDelete, all updated", edit: func(s *appsv1.StatefulSet) {
			rollingTo(3)(s)
			s.Status.CurrentRevision = "db-2"
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}, diag: known, status: Running, complete: true},
		{name: "scaling down", edit: func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr(int32(1)) }, diag: known,
			status: Scaling, message: "scaling from 3 to 1 replica"},
		{name: "scaling up", edit: func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr(int32(5)) }, diag: known,
			status: Scaling, message: "scaling from 3 to 5 replicas"},
		{name: "scaled to zero", edit: func(s *appsv1.StatefulSet) {
			s.Spec.Replicas = ptr(int32(0))
			s.Status = appsv1.StatefulSetStatus{ObservedGeneration: 1}
		}, status: ScaledToZero, complete: true},
		{name: "a new pod fails under OrderedReady", edit: func(s *appsv1.StatefulSet) {
			rollingTo(1)(s)
			s.Status.ReadyReplicas, s.Status.AvailableReplicas = 2, 2
		}, diag: broken, status: Failing,
			message: "ImagePullBackOff: not found (1 of 1 new pod, 3 wanted; pod db-2); under podManagementPolicy OrderedReady a rollback will not replace db-2 until it is deleted (kubectl delete pod db-2 -n shop --wait=false)"},
		{name: "a new pod fails under Parallel", edit: func(s *appsv1.StatefulSet) {
			rollingTo(1)(s)
			s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
			s.Status.ReadyReplicas, s.Status.AvailableReplicas = 2, 2
		}, diag: broken, status: Failing, message: "ImagePullBackOff: not found (1 of 1 new pod, 3 wanted; pod db-2)"},
		{name: "rolled back past a broken pod: the OrderedReady trap", edit: func(s *appsv1.StatefulSet) {
			s.Status.UpdatedReplicas, s.Status.ReadyReplicas, s.Status.AvailableReplicas = 2, 2, 2
		}, diag: blocked, status: Failing,
			message: "ImagePullBackOff: not found (old pod db-2); podManagementPolicy OrderedReady waits for it to be ready before it goes on, rolling back included; delete it to unblock the rollout: kubectl delete pod db-2 -n shop --wait=false"},
		{name: "being deleted", edit: func(s *appsv1.StatefulSet) { s.DeletionTimestamp = &metav1.Time{} }, status: Deleting, message: "being deleted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := SummarizeStatefulSet(statefulSet(tt.edit), tt.diag)
			if s.Kind != KindStatefulSet || s.Key() != "shop/statefulset/db" {
				t.Errorf("kind %q, key %q", s.Kind, s.Key())
			}
			if s.Status != tt.status || (tt.message == "") != (s.Message == "") || !strings.Contains(s.Message, tt.message) {
				t.Errorf("%s %q, want %s %q", s.Status, s.Message, tt.status, tt.message)
			}
			if s.Complete() != tt.complete || s.Stuck() != tt.stuck {
				t.Errorf("complete %v stuck %v, want %v %v", s.Complete(), s.Stuck(), tt.complete, tt.stuck)
			}
		})
	}
}

// daemonSet is agent on 3 nodes, rolled out.
func daemonSet(edit func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "shop", Generation: 1},
		Spec:       appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, UpdatedNumberScheduled: 3,
			NumberReady: 3, NumberAvailable: 3},
	}
	if edit != nil {
		edit(ds)
	}
	return ds
}

func TestDaemonSetStatuses(t *testing.T) {
	known := &Diagnosis{Known: true}
	notReady := &Diagnosis{Known: true, Problems: []diagnosis.Problem{{Reason: "NodeNotReady", Cause: "node kwok-node-2 is not ready or unreachable", Pod: "agent-x", Node: "kwok-node-2", Pods: 1}}}
	for _, tt := range []struct {
		name     string
		edit     func(*appsv1.DaemonSet)
		diag     *Diagnosis
		status   Status
		message  string
		complete bool
		stuck    bool
	}{
		{name: "rolled out", status: Running, complete: true},
		{name: "generation not observed", edit: func(d *appsv1.DaemonSet) { d.Generation = 2 }, status: Progressing, message: "observe the new spec"},
		{name: "rolling", edit: func(d *appsv1.DaemonSet) { d.Status.UpdatedNumberScheduled = 1 }, diag: known,
			status: Progressing, message: "1 of 3 pods updated"},
		{name: "updated, not all available", edit: func(d *appsv1.DaemonSet) { d.Status.NumberAvailable = 2 }, diag: known,
			status: Scaling, message: "2 of 3 pods available"},
		{name: "a node is not ready", edit: func(d *appsv1.DaemonSet) { d.Status.NumberAvailable, d.Status.NumberUnavailable = 2, 1 }, diag: notReady,
			status: Failing, message: "NodeNotReady: node kwok-node-2 is not ready or unreachable (1 of 3 new pods; pod agent-x)"},
		// The node lifecycle controller then taints the node unreachable:
		// the DaemonSet controller wants 2 and counts the pod misscheduled,
		// which is still one of the 3 the message counts.
		{name: "a node is not ready and tainted", edit: func(d *appsv1.DaemonSet) {
			d.Status.DesiredNumberScheduled, d.Status.CurrentNumberScheduled, d.Status.UpdatedNumberScheduled = 2, 2, 2
			d.Status.NumberReady, d.Status.NumberAvailable, d.Status.NumberMisscheduled = 2, 2, 1
		}, diag: notReady,
			status: Failing, message: "NodeNotReady: node kwok-node-2 is not ready or unreachable (1 of 3 new pods; pod agent-x)"},
		{name: "OnDelete", edit: func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
			d.Status.UpdatedNumberScheduled = 0
		}, diag: known, status: Paused, message: "OnDelete: 0 of 3 pods updated", stuck: true},
		{name: "misscheduled pods", edit: func(d *appsv1.DaemonSet) { d.Status.NumberMisscheduled = 1 }, diag: known,
			status: Scaling, message: "1 pod on nodes it should not run on"},
		{name: "no node", edit: func(d *appsv1.DaemonSet) { d.Status = appsv1.DaemonSetStatus{ObservedGeneration: 1} },
			status: ScaledToZero, message: "no node to run on", complete: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := SummarizeDaemonSet(daemonSet(tt.edit), tt.diag)
			if s.Kind != KindDaemonSet || s.Key() != "shop/daemonset/agent" {
				t.Errorf("kind %q, key %q", s.Kind, s.Key())
			}
			if s.Status != tt.status || (tt.message == "") != (s.Message == "") || !strings.Contains(s.Message, tt.message) {
				t.Errorf("%s %q, want %s %q", s.Status, s.Message, tt.status, tt.message)
			}
			if s.Complete() != tt.complete || s.Stuck() != tt.stuck {
				t.Errorf("complete %v stuck %v, want %v %v", s.Complete(), s.Stuck(), tt.complete, tt.stuck)
			}
		})
	}
}

func TestParseKinds(t *testing.T) {
	for in, want := range map[string]string{
		"deploy,sts,ds":    "Deployment,StatefulSet,DaemonSet",
		"ds,Deployments":   "Deployment,DaemonSet",
		"statefulset, sts": "StatefulSet",
		"daemonsets":       "DaemonSet",
	} {
		got, err := ParseKinds(in)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("ParseKinds(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"pods", "", "deploy,,sts"} {
		if _, err := ParseKinds(bad); err == nil || !strings.Contains(err.Error(), "use deploy, sts or ds") {
			t.Errorf("ParseKinds(%q) = %v, want an error naming the kinds", bad, err)
		}
	}
}

// A Deployment, a StatefulSet and a DaemonSet of one name are three
// workloads, listed by name and then kind.
func TestKindsKeyAndOrder(t *testing.T) {
	d, s, ds := Summary{Kind: KindDeployment, Namespace: "shop", Name: "web"}, Summary{Kind: KindStatefulSet, Namespace: "shop", Name: "web"},
		Summary{Kind: KindDaemonSet, Namespace: "shop", Name: "web"}
	if d.Key() != "shop/web" || s.Key() != "shop/statefulset/web" || ds.Key() != "shop/daemonset/web" {
		t.Errorf("keys %q %q %q", d.Key(), s.Key(), ds.Key())
	}
	if Compare(&d, &s) >= 0 || Compare(&s, &ds) >= 0 || Compare(&ds, &Summary{Namespace: "shop", Name: "x"}) >= 0 {
		t.Error("not ordered by name, then Deployment, StatefulSet, DaemonSet")
	}
	if got := KindsNoun([]string{KindDeployment, KindStatefulSet, KindDaemonSet}); got != "deployments, statefulsets and daemonsets" {
		t.Errorf("KindsNoun = %q", got)
	}
	if got := KindsNoun(nil); got != "deployments" {
		t.Errorf("KindsNoun(nil) = %q", got)
	}
}
