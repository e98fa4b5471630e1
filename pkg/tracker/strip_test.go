package tracker

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
)

// TestStripPodKeepsWhatTheDiagnosisReads: a stripped pod is diagnosed as
// the pod itself, and a healthy pod keeps none of its conditions.
func TestStripPodKeepsWhatTheDiagnosisReads(t *testing.T) {
	controller := true
	at := metav1.NewTime(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	later := metav1.NewTime(at.Add(time.Minute))
	cond := func(typ corev1.PodConditionType, status corev1.ConditionStatus, reason, msg string) corev1.PodCondition {
		return corev1.PodCondition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: later, LastProbeTime: later}
	}
	pod := func(name string, phase corev1.PodPhase, ready bool, conds ...corev1.PodCondition) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", CreationTimestamp: at,
				OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-2", Controller: &controller}}},
			Spec: corev1.PodSpec{NodeName: "node-1"},
			Status: corev1.PodStatus{Phase: phase, Conditions: conds, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Ready: ready, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at}}}}},
		}
	}
	healthy := pod("healthy", corev1.PodRunning, true,
		cond(corev1.PodReadyToStartContainers, corev1.ConditionTrue, "", ""), cond(corev1.PodInitialized, corev1.ConditionTrue, "", ""),
		cond(corev1.PodReady, corev1.ConditionTrue, "", ""), cond(corev1.ContainersReady, corev1.ConditionTrue, "", ""),
		cond(corev1.PodScheduled, corev1.ConditionTrue, "", ""))
	unschedulable := pod("unschedulable", corev1.PodPending, false,
		cond(corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonUnschedulable, "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."))
	unready := pod("unready", corev1.PodRunning, false,
		cond(corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [app]"),
		cond(corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [app]"),
		cond(corev1.PodScheduled, corev1.ConditionTrue, "", ""))
	probe := &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "unready"}, Reason: "Unhealthy",
		Message: "Readiness probe failed: connection refused", Type: corev1.EventTypeWarning, FirstTimestamp: later, LastTimestamp: later, Count: 1}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-2", Namespace: "shop"}}

	stripped := func(p *corev1.Pod) *corev1.Pod {
		out, err := StripPod(p)
		if err != nil {
			t.Fatal(err)
		}
		return out.(*corev1.Pod)
	}
	if got := stripped(healthy).Status.Conditions; got != nil {
		t.Errorf("a healthy pod keeps conditions no one reads: %+v", got)
	}
	for _, p := range []*corev1.Pod{healthy, unschedulable, unready} {
		events := []*corev1.Event{probe}
		want := diagnosis.Diagnose(diagnosis.Input{ReplicaSet: rs, Pods: []*corev1.Pod{p}, Events: events})
		got := diagnosis.Diagnose(diagnosis.Input{ReplicaSet: rs, Pods: []*corev1.Pod{stripped(p)}, Events: events})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: stripped, diagnosed %+v; the pod itself %+v", p.Name, got, want)
		}
		if p != healthy && len(want) == 0 {
			t.Errorf("%s: no problem diagnosed: the test proves nothing", p.Name)
		}
	}
	if got := readySinceOf(t, stripped(unready)); !got.Equal(later.Time) {
		t.Errorf("an unready pod's problem dates from %v, want its Ready condition's %v", got, later.Time)
	}
}

// readySinceOf is the Since of the diagnosis of p when it is unready and
// a probe fails.
func readySinceOf(t *testing.T, p *corev1.Pod) time.Time {
	t.Helper()
	p = p.DeepCopy()
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	probs := diagnosis.Diagnose(diagnosis.Input{ReplicaSet: &appsv1.ReplicaSet{}, Pods: []*corev1.Pod{p}})
	if len(probs) == 0 {
		t.Fatal("no problem diagnosed")
	}
	return probs[0].Since
}

// TestRevisionAnnotationsShared: Deployments and ReplicaSets at one
// revision share one annotations map, which says that revision alone.
func TestRevisionAnnotationsShared(t *testing.T) {
	annotationsOf := func(obj any) map[string]string {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			out, _ := Strip(o)
			return out.(*appsv1.Deployment).Annotations
		case *appsv1.ReplicaSet:
			out, _ := StripReplicaSet(o)
			return out.(*ReplicaSet).Annotations
		}
		return nil
	}
	meta := func(name, rev string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "shop", Annotations: map[string]string{RevisionAnnotation: rev, "kubectl.kubernetes.io/last-applied-configuration": "{}"}}
	}
	web := annotationsOf(&appsv1.Deployment{ObjectMeta: meta("web", "7")})
	api := annotationsOf(&appsv1.Deployment{ObjectMeta: meta("api", "7")})
	rs := annotationsOf(&appsv1.ReplicaSet{ObjectMeta: meta("web-1", "7")})
	other := annotationsOf(&appsv1.ReplicaSet{ObjectMeta: meta("web-2", "8")})
	if !reflect.DeepEqual(web, map[string]string{RevisionAnnotation: "7"}) || !reflect.DeepEqual(other, map[string]string{RevisionAnnotation: "8"}) {
		t.Fatalf("annotations kept: %v and %v; want the revision alone", web, other)
	}
	same := func(a, b map[string]string) bool {
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	if !same(web, api) || !same(web, rs) {
		t.Errorf("objects at revision 7 hold maps of their own")
	}
	if same(web, other) {
		t.Errorf("revisions 7 and 8 share a map")
	}
	if got := annotationsOf(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "new"}}); got != nil {
		t.Errorf("a Deployment without a revision got annotations %v", got)
	}
}

// TestStripReplicaSetKeepsWhatTheDiagnosisReads: the ReplicaSet the cache
// keeps is diagnosed as the ReplicaSet itself, and stripping it again
// (client-go may transform an object twice) leaves it as it is.
func TestStripReplicaSetKeepsWhatTheDiagnosisReads(t *testing.T) {
	controller := true
	replicas := int32(3)
	at := metav1.NewTime(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	full := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-2", Namespace: "shop", UID: "rs-uid", CreationTimestamp: at,
			Annotations:     map[string]string{RevisionAnnotation: "2", "deployment.kubernetes.io/desired-replicas": "3"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "web", UID: "d-uid", Controller: &controller}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:2"}}}}},
		Status: appsv1.ReplicaSetStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, Conditions: []appsv1.ReplicaSetCondition{{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", LastTransitionTime: at,
			Message: `pods "web-2-x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1`}}},
	}
	out, err := StripReplicaSet(full)
	if err != nil {
		t.Fatal(err)
	}
	rs, ok := out.(*ReplicaSet)
	if !ok {
		t.Fatalf("StripReplicaSet gave %T, want *ReplicaSet", out)
	}
	if again, _ := StripReplicaSet(rs); again != rs {
		t.Errorf("stripping a stripped ReplicaSet gave %v", again)
	}
	want := diagnosis.Diagnose(diagnosis.Input{ReplicaSet: full})
	got := diagnosis.Diagnose(diagnosis.Input{ReplicaSet: rs.Full()})
	if len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("stripped, diagnosed %+v; the ReplicaSet itself %+v", got, want)
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref == nil || ref.UID != "d-uid" || rs.Annotations[RevisionAnnotation] != "2" || *rs.Full().Spec.Replicas != 3 || !rs.CreationTimestamp.Equal(&at) {
		t.Errorf("the owner, revision, replicas or creation are lost: %+v", rs)
	}
}
