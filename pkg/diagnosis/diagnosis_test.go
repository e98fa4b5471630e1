package diagnosis

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func rs() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f", Namespace: "shop"}}
}

func pod(name string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", CreationTimestamp: metav1.NewTime(t0)},
		Spec:       corev1.PodSpec{NodeName: "node-0"},
		Status: corev1.PodStatus{
			Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
				{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: metav1.NewTime(t0.Add(time.Second))},
			},
		},
	}
	mutate(p)
	return p
}

func waiting(reason, msg string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}
	}
}

func crashed(code int32, reason string, restarts int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "web", RestartCount: restarts,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container=web pod=" + p.Name}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}},
		}}
	}
}

func event(kind, name, reason, msg string) *corev1.Event {
	return &corev1.Event{
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: name, Namespace: "shop"},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning,
		FirstTimestamp: metav1.NewTime(t0.Add(2 * time.Second)), LastTimestamp: metav1.NewTime(t0.Add(5 * time.Second)),
	}
}

func TestDiagnose(t *testing.T) {
	running := func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	}
	quota := rs()
	quota.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate",
		Message: `pods "web-7d9f-abcde" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1`}}

	tests := []struct {
		name     string
		rs       *appsv1.ReplicaSet
		pods     []*corev1.Pod
		events   []*corev1.Event
		describe string // Describe(problems, 3, 3), "" for none
	}{
		{"no new replica set yet", nil, nil, nil, ""},
		{"pods running and ready", rs(), []*corev1.Pod{pod("web-7d9f-a", running), pod("web-7d9f-b", running)}, nil, ""},
		{"pods still creating (a slow pull)", rs(), []*corev1.Pod{pod("web-7d9f-a", waiting("ContainerCreating", ""))}, nil, ""},
		{"image pull back-off takes the pull error from the kubelet's event", rs(),
			[]*corev1.Pod{pod("web-7d9f-b", waiting("ImagePullBackOff", `Back-off pulling image "registry/api:1.9"`)), pod("web-7d9f-a", waiting("ErrImagePull", `failed to pull and unpack image "registry/api:1.9": not found`)), pod("web-7d9f-c", running)},
			[]*corev1.Event{event("Pod", "web-7d9f-b", "Failed", `Failed to pull image "registry/api:1.9": not found`)},
			`ErrImagePull: not found (2 of 3 new pods; pod web-7d9f-a)`},
		{"invalid image name", rs(), []*corev1.Pod{pod("web-7d9f-a", waiting("InvalidImageName", `Failed to apply default image tag "Registry/API": couldn't parse image name`))}, nil,
			`InvalidImageName: couldn't parse image name (1 of 3 new pods; pod web-7d9f-a)`},
		{"crash loop names the exit code and reason", rs(), []*corev1.Pod{pod("web-7d9f-a", crashed(137, "OOMKilled", 4))}, nil,
			"CrashLoopBackOff: OOMKilled, exit code 137 (1 of 3 new pods; pod web-7d9f-a)"},
		{"a crashed container running again but not ready is still in its loop", rs(), []*corev1.Pod{pod("web-7d9f-a", func(p *corev1.Pod) {
			crashed(1, "Error", 2)(p)
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		})}, nil, "CrashLoopBackOff: exit code 1 (1 of 3 new pods; pod web-7d9f-a)"},
		{"a container that crashed once and is ready again is fine", rs(), []*corev1.Pod{pod("web-7d9f-a", func(p *corev1.Pod) {
			crashed(1, "Error", 1)(p)
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
			p.Status.ContainerStatuses[0].Ready = true
		})}, nil, ""},
		{"missing config", rs(), []*corev1.Pod{pod("web-7d9f-a", waiting("CreateContainerConfigError", `couldn't find key url in ConfigMap shop/settings`))}, nil,
			"CreateContainerConfigError: couldn't find key url in ConfigMap shop/settings (1 of 3 new pods; pod web-7d9f-a)"},
		{"unschedulable", rs(), []*corev1.Pod{pod("web-7d9f-a", func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
				Message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."}}
		})}, nil, "Unschedulable: 2 node(s) didn't match Pod's node affinity/selector (1 of 3 new pods; pod web-7d9f-a)"},
		{"quota refuses pods", quota, nil, nil,
			`FailedCreate: exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1`},
		{"quota before the condition: the controller's event", rs(), nil, []*corev1.Event{event("ReplicaSet", "web-7d9f", "FailedCreate", "Error creating: pods is forbidden: exceeded quota")},
			"FailedCreate: exceeded quota"},
		{"init container crashing", rs(), []*corev1.Pod{pod("web-7d9f-a", func(p *corev1.Pod) {
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", RestartCount: 3,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}}}
		})}, nil, "CrashLoopBackOff: exit code 2 (1 of 3 new pods; pod web-7d9f-a, init container migrate)"},
		{"readiness never reached", rs(), []*corev1.Pod{pod("web-7d9f-a", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		})}, []*corev1.Event{event("Pod", "web-7d9f-a", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")},
			"Unhealthy: readiness probe: HTTP probe failed with statuscode: 503 (1 of 3 new pods; pod web-7d9f-a)"},
		{"running, not ready, no failing probe: still starting", rs(), []*corev1.Pod{pod("web-7d9f-a", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		})}, nil, ""},
		{"evicted", rs(), []*corev1.Pod{pod("web-7d9f-a", func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
		})}, nil, "Evicted: The node was low on resource: memory. (1 of 4 new pods, 3 wanted; pod web-7d9f-a)"},
		{"a pod being deleted does not count", rs(), []*corev1.Pod{pod("web-7d9f-a", func(p *corev1.Pod) {
			waiting("ImagePullBackOff", "x")(p)
			now := metav1.NewTime(t0)
			p.DeletionTimestamp = &now
		})}, nil, ""},
		{"two problems: the more widespread first", rs(), []*corev1.Pod{
			pod("web-7d9f-a", waiting("CreateContainerConfigError", "no key")),
			pod("web-7d9f-b", crashed(1, "Error", 3)), pod("web-7d9f-c", crashed(1, "Error", 5)),
		}, nil, "CrashLoopBackOff: exit code 1 (2 of 3 new pods; pod web-7d9f-b); and 1 other problem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Describe(Diagnose(Input{ReplicaSet: tt.rs, Pods: tt.pods, Events: tt.events}), 3, 3)
			if got != tt.describe {
				t.Errorf("got  %q\nwant %q", got, tt.describe)
			}
		})
	}
}

func TestProblemFields(t *testing.T) {
	ps := Diagnose(Input{ReplicaSet: rs(), Pods: []*corev1.Pod{pod("web-7d9f-a", crashed(137, "OOMKilled", 4))}})
	if len(ps) != 1 {
		t.Fatalf("problems %+v", ps)
	}
	p := ps[0]
	if p.Container != "web" || p.Node != "node-0" || p.Restarts != 4 || p.ExitCode == nil || *p.ExitCode != 137 || p.LastState != "OOMKilled" || p.Pods != 1 || !p.Since.Equal(t0.Add(time.Second)) {
		t.Errorf("problem %+v", p)
	}
}

func TestSameIgnoresRestartsAndTheKubeletsAlternation(t *testing.T) {
	a := Problem{Reason: "ErrImagePull", Container: "web", Pods: 2, Restarts: 1, Message: "x"}
	b := Problem{Reason: "ImagePullBackOff", Container: "web", Pods: 2, Restarts: 7, Message: "y"}
	if !a.Same(b) {
		t.Error("ErrImagePull and ImagePullBackOff of one container are one problem")
	}
	c := b
	c.Pods = 3
	if a.Same(c) {
		t.Error("a problem on one more pod is a change")
	}
}
