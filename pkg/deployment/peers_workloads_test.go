package deployment_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// This file holds the StatefulSet and DaemonSet rules against the same
// peers as peers_test.go: kubectl's StatefulSetStatusViewer and
// DaemonSetStatusViewer, and kstatus. Where deploywatch differs, the case
// says why; docs/watch.md's "StatefulSets and DaemonSets" says the same.

type peerCase struct {
	name     string
	obj      runtime.Object
	problems []diagnosis.Problem
	wait     string // deploywatch's wait, with the diagnosis
	kubectl  string
	kstatus  kstatus.Status
}

func sts(edit func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", Generation: 2},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			// As the API server defaults it.
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(0))}}},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentReplicas: 3,
			UpdatedReplicas: 3, CurrentRevision: "db-2", UpdateRevision: "db-2"},
	}
	if edit != nil {
		edit(s)
	}
	return s
}

// rolling is a rollout from db-1 to db-2 with updated pods updated.
func rolling(s *appsv1.StatefulSet, updated int32) {
	s.Status.CurrentRevision, s.Status.UpdatedReplicas, s.Status.CurrentReplicas = "db-1", updated, 3-updated
}

func ds(edit func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	d := &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "agent", Generation: 2},
		Spec:       appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, UpdatedNumberScheduled: 2,
			NumberReady: 2, NumberAvailable: 2},
	}
	if edit != nil {
		edit(d)
	}
	return d
}

func TestWorkloadStatusAgainstKubectlAndKstatus(t *testing.T) {
	pull := []diagnosis.Problem{{Reason: "ImagePullBackOff", Pod: "db-2", Pods: 1}}
	notReady := []diagnosis.Problem{{Reason: "NodeNotReady", Pod: "agent-x", Node: "node-1", Pods: 1}}
	cases := []peerCase{
		{name: "statefulset rolled out", obj: sts(nil), wait: done, kubectl: done, kstatus: kstatus.CurrentStatus},
		{name: "statefulset spec not observed", obj: sts(func(s *appsv1.StatefulSet) { s.Generation = 3 }),
			wait: waiting, kubectl: waiting, kstatus: kstatus.InProgressStatus},
		{name: "statefulset rolling, 1 of 3 updated", obj: sts(func(s *appsv1.StatefulSet) { rolling(s, 1) }),
			wait: waiting, kubectl: waiting, kstatus: kstatus.InProgressStatus},
		// All three agree that a partitioned rollout completes at its
		// partition (kubernetes/kubernetes#72212 was kubectl's before).
		{name: "statefulset partitioned at 2, 1 updated", obj: sts(func(s *appsv1.StatefulSet) {
			rolling(s, 1)
			s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(2))
		}), wait: done, kubectl: done, kstatus: kstatus.CurrentStatus},
		// kubectl calls OnDelete an error; deploywatch says the pods must
		// be deleted and fails the wait (it will not go on by itself);
		// kstatus calls it Current, though no pod runs the new template.
		{name: "statefulset OnDelete with old pods", obj: sts(func(s *appsv1.StatefulSet) {
			rolling(s, 0)
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}), wait: failed, kubectl: failed, kstatus: kstatus.CurrentStatus},
		// Ready but not yet available (minReadySeconds): kubectl reads
		// readyReplicas; deploywatch waits for availableReplicas.
		{name: "statefulset ready, not available", obj: sts(func(s *appsv1.StatefulSet) { s.Status.AvailableReplicas = 2 }),
			wait: waiting, kubectl: done, kstatus: kstatus.CurrentStatus},
		// A scale down with the extra pods still there: kubectl is done
		// once enough are ready; deploywatch and kstatus wait for them to go.
		{name: "statefulset scaling down", obj: sts(func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr(int32(1)) }),
			wait: waiting, kubectl: done, kstatus: kstatus.InProgressStatus},
		// The peers do not read pods: they wait for a pod that will not
		// pull; deploywatch fails after --failing-grace.
		{name: "statefulset new pod cannot pull", obj: sts(func(s *appsv1.StatefulSet) {
			rolling(s, 1)
			s.Status.ReadyReplicas, s.Status.AvailableReplicas = 2, 2
		}), problems: pull, wait: failing, kubectl: waiting, kstatus: kstatus.InProgressStatus},

		{name: "daemonset rolled out", obj: ds(nil), wait: done, kubectl: done, kstatus: kstatus.CurrentStatus},
		{name: "daemonset spec not observed", obj: ds(func(d *appsv1.DaemonSet) { d.Generation = 3 }),
			wait: waiting, kubectl: waiting, kstatus: kstatus.InProgressStatus},
		{name: "daemonset rolling, 1 of 2 updated", obj: ds(func(d *appsv1.DaemonSet) { d.Status.UpdatedNumberScheduled = 1 }),
			wait: waiting, kubectl: waiting, kstatus: kstatus.InProgressStatus},
		// A pod on a node that stopped reporting: the peers wait for it;
		// deploywatch names the node and fails after --failing-grace.
		{name: "daemonset pod on a NotReady node", obj: ds(func(d *appsv1.DaemonSet) {
			d.Status.NumberReady, d.Status.NumberAvailable, d.Status.NumberUnavailable = 1, 1, 1
		}), problems: notReady, wait: failing, kubectl: waiting, kstatus: kstatus.InProgressStatus},
		{name: "daemonset OnDelete with old pods", obj: ds(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
			d.Status.UpdatedNumberScheduled = 0
		}), wait: failed, kubectl: failed, kstatus: kstatus.InProgressStatus},
		// Pods on nodes they should not run on: deploywatch waits for the
		// controller to remove them; the peers do not look.
		{name: "daemonset misscheduled pod", obj: ds(func(d *appsv1.DaemonSet) { d.Status.NumberMisscheduled = 1 }),
			wait: waiting, kubectl: done, kstatus: kstatus.CurrentStatus},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c.obj)
			if err != nil {
				t.Fatal(err)
			}
			obj := &unstructured.Unstructured{Object: u}
			diag := &deployment.Diagnosis{Known: true, Problems: c.problems}
			var s deployment.Summary
			var kubectl string
			switch o := c.obj.(type) {
			case *appsv1.StatefulSet:
				s = deployment.SummarizeStatefulSet(o, diag)
				kubectl = viewerSays(&polymorphichelpers.StatefulSetStatusViewer{}, obj)
			case *appsv1.DaemonSet:
				s = deployment.SummarizeDaemonSet(o, diag)
				kubectl = viewerSays(&polymorphichelpers.DaemonSetStatusViewer{}, obj)
			}
			if got := verdict(&s); got != c.wait {
				t.Errorf("deploywatch: got %s, want %s (%s %q)", got, c.wait, s.Status, s.Message)
			}
			if kubectl != c.kubectl {
				t.Errorf("kubectl rollout status: got %s, want %s", kubectl, c.kubectl)
			}
			if got := kstatusSays(t, obj); got != c.kstatus {
				t.Errorf("kstatus: got %s, want %s", got, c.kstatus)
			}
		})
	}
}

// viewerSays runs one of kubectl's status viewers (no --revision).
func viewerSays(v polymorphichelpers.StatusViewer, obj *unstructured.Unstructured) string {
	_, ok, err := v.Status(obj, 0)
	switch {
	case err != nil:
		return failed
	case ok:
		return done
	}
	return waiting
}
