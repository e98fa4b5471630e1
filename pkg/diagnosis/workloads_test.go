package diagnosis

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func warning(kind, name, reason, msg string, at time.Time) *corev1.Event {
	return &corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name}, Reason: reason, Message: msg, Type: corev1.EventTypeWarning,
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at)}
}

// A StatefulSet's or DaemonSet's FailedCreate events are its own (no
// ReplicaSet between), and count only while it misses pods: an old one
// outlives its cause.
func TestOwnerFailedCreate(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	ev := warning("StatefulSet", "db", "FailedCreate", `create Pod db-1 in StatefulSet db failed error: pods "db-1" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1`, t0)
	other := warning("StatefulSet", "cache", "FailedCreate", "create Pod cache-0 failed", t0)
	got := Diagnose(Input{Owner: &Owner{Kind: "StatefulSet", Name: "db", Missing: true}, Events: []*corev1.Event{ev, other}})
	if len(got) != 1 || got[0].Reason != "FailedCreate" || got[0].Cause == "" || !got[0].Since.Equal(t0) {
		t.Fatalf("problems %+v, want db's FailedCreate", got)
	}
	if got := Diagnose(Input{Owner: &Owner{Kind: "StatefulSet", Name: "db"}, Events: []*corev1.Event{ev}}); len(got) != 0 {
		t.Errorf("with every pod there: %+v, want none", got)
	}
	if got := Diagnose(Input{}); got != nil {
		t.Errorf("no owner: %+v", got)
	}
}

// A pod the node lifecycle controller marked not ready names its node;
// an event of an earlier outage does not count once the pod was ready.
func TestNodeNotReady(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "agent-x", Namespace: "shop"},
		Spec:       corev1.PodSpec{NodeName: "kwok-node-2"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(t0)}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "agent", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	owner := &Owner{Kind: "DaemonSet", Name: "agent"}
	ev := warning("Pod", "agent-x", "NodeNotReady", "Node is not ready", t0)
	got := Diagnose(Input{Owner: owner, Pods: []*corev1.Pod{pod}, Events: []*corev1.Event{ev}})
	if len(got) != 1 || got[0].Reason != "NodeNotReady" || got[0].Node != "kwok-node-2" || got[0].Cause != "node kwok-node-2 is not ready or unreachable" {
		t.Fatalf("problems %+v, want NodeNotReady on kwok-node-2", got)
	}
	if d := Describe(got, 3, 3); d != "NodeNotReady: node kwok-node-2 is not ready or unreachable (1 of 3 new pods; pod agent-x)" {
		t.Errorf("described %q", d)
	}
	stale := warning("Pod", "agent-x", "NodeNotReady", "Node is not ready", t0.Add(-time.Hour))
	if got := Diagnose(Input{Owner: owner, Pods: []*corev1.Pod{pod}, Events: []*corev1.Event{stale}}); len(got) != 0 {
		t.Errorf("an earlier outage's event: %+v, want none", got)
	}
}

// A problem that blocks a rollout is not the same as one of new pods.
func TestSameBlocking(t *testing.T) {
	p := Problem{Reason: "ImagePullBackOff", Pods: 1}
	q := p
	q.Blocking = true
	if p.Same(q) {
		t.Error("a blocking problem is the same as a new pod's")
	}
}
