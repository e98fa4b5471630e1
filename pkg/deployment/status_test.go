package deployment

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// dep builds a Deployment for status tests.
type dep struct {
	desired                             int32
	replicas, updated, ready, available int32
	generation, observed                int64
	paused                              bool
	progressing                         *appsv1.DeploymentCondition
	replicaFailure                      *appsv1.DeploymentCondition
	image                               string
	uid                                 types.UID
}

func (d dep) build() *appsv1.Deployment {
	image := d.image
	if image == "" {
		image = "nginx:1.25"
	}
	uid := d.uid
	if uid == "" {
		uid = "uid-1"
	}
	gen, obs := d.generation, d.observed
	if gen == 0 {
		gen, obs = 1, 1
	}
	out := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: gen, UID: uid},
		Spec: appsv1.DeploymentSpec{
			Replicas: &d.desired,
			Paused:   d.paused,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}}},
		},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: obs, Replicas: d.replicas, UpdatedReplicas: d.updated,
			ReadyReplicas: d.ready, AvailableReplicas: d.available, UnavailableReplicas: max(0, d.replicas-d.available),
		},
	}
	for _, c := range []*appsv1.DeploymentCondition{d.progressing, d.replicaFailure} {
		if c != nil {
			out.Status.Conditions = append(out.Status.Conditions, *c)
		}
	}
	return out
}

func progressing(status corev1.ConditionStatus, reason string) *appsv1.DeploymentCondition {
	return &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason, Message: "msg of " + reason}
}

var (
	complete   = progressing(corev1.ConditionTrue, "NewReplicaSetAvailable")
	rsUpdated  = progressing(corev1.ConditionTrue, "ReplicaSetUpdated")
	rsCreated  = progressing(corev1.ConditionTrue, "NewReplicaSetCreated")
	deadline   = progressing(corev1.ConditionFalse, "ProgressDeadlineExceeded")
	quotaFails = &appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "exceeded quota"}
)

func TestClassify(t *testing.T) {
	running := Summary{Status: Running, Generation: 1, UID: "uid-1", Replicas: Replicas{Desired: 3}, Containers: []Container{{"web", "nginx:1.25"}}}
	scaling := running
	scaling.Status, scaling.Generation = Scaling, 2
	progressingPrev := running
	progressingPrev.Status, progressingPrev.Generation = Progressing, 2
	otherUID := running
	otherUID.UID = "uid-0"
	otherUID.Status = Scaling

	tests := []struct {
		name    string
		d       dep
		prev    *Summary
		want    Status
		message string
	}{
		{"all replicas updated and available", dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: complete}, nil, Running, ""},
		{"paused wins over everything", dep{desired: 3, replicas: 1, updated: 0, paused: true, progressing: deadline}, nil, Paused, "rollout paused"},
		{"progress deadline exceeded", dep{desired: 3, replicas: 3, updated: 1, available: 2, progressing: deadline}, nil, Failed, "ProgressDeadlineExceeded: msg of ProgressDeadlineExceeded"},
		{"spec not observed, no history", dep{desired: 3, replicas: 3, updated: 3, available: 3, generation: 2, observed: 1, progressing: complete}, nil, Progressing, "waiting for the deployment controller to observe the new spec"},
		{"spec not observed, only replicas changed since last time", dep{desired: 5, replicas: 3, updated: 3, available: 3, generation: 2, observed: 1, progressing: complete}, &running, Scaling, "scaling from 3 to 5 replicas"},
		{"spec not observed, image changed since last time", dep{desired: 3, replicas: 3, updated: 3, available: 3, generation: 2, observed: 1, image: "nginx:1.26", progressing: complete}, &running, Progressing, "waiting for the deployment controller to observe the new spec"},
		{"spec not observed, same generation as last time keeps its status", dep{desired: 5, replicas: 3, updated: 3, available: 3, generation: 2, observed: 1}, &scaling, Scaling, ""},
		{"old replicas pending termination", dep{desired: 3, replicas: 4, updated: 1, available: 3, progressing: rsUpdated}, nil, Progressing, "3 old replicas pending termination, 1 of 3 updated"},
		{"replica failure", dep{desired: 3, replicas: 1, updated: 1, available: 1, progressing: complete, replicaFailure: quotaFails}, nil, Degraded, "FailedCreate: exceeded quota"},
		{"scaled to zero", dep{desired: 0, progressing: complete}, nil, ScaledToZero, ""},
		{"zero desired but pods still terminating", dep{desired: 0, replicas: 2, updated: 2, available: 2, progressing: complete}, nil, Scaling, "scaling from 2 to 0 replicas"},
		{"new replica set being filled", dep{desired: 3, replicas: 1, updated: 1, progressing: rsCreated}, nil, Progressing, "1 of 3 new replicas updated"},
		{"scale up of a complete deployment", dep{desired: 5, replicas: 3, updated: 3, ready: 3, available: 3, progressing: complete}, nil, Scaling, "scaling from 3 to 5 replicas"},
		{"scale down to one", dep{desired: 1, replicas: 5, updated: 5, ready: 5, available: 5, progressing: complete}, nil, Scaling, "scaling from 5 to 1 replica"},
		{"scale down", dep{desired: 2, replicas: 5, updated: 5, ready: 5, available: 5, progressing: complete}, nil, Scaling, "scaling from 5 to 2 replicas"},
		{"pods not yet available after a scale", dep{desired: 5, replicas: 5, updated: 5, ready: 3, available: 3, progressing: complete}, &scaling, Scaling, "3 of 5 replicas available"},
		{"pods not yet available during a rollout", dep{desired: 3, replicas: 3, updated: 3, available: 1, progressing: rsUpdated}, &progressingPrev, Progressing, "1 of 3 replicas available"},
		{"pods not yet available, controller says rollout under way, no history", dep{desired: 3, replicas: 3, updated: 3, available: 1, progressing: rsUpdated}, nil, Progressing, "1 of 3 replicas available"},
		{"available replicas lost after completing", dep{desired: 3, replicas: 3, updated: 3, ready: 2, available: 2, progressing: complete}, &running, Degraded, "2 of 3 replicas available"},
		{"available replicas lost, no history", dep{desired: 3, replicas: 3, updated: 3, ready: 2, available: 2, progressing: complete}, nil, Degraded, "2 of 3 replicas available"},
		{"history of another deployment under the same name is ignored", dep{desired: 3, replicas: 3, updated: 3, ready: 2, available: 2, progressing: complete}, &otherUID, Degraded, "2 of 3 replicas available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d.build()
			s := Summarize(d, tt.prev)
			if s.Status != tt.want {
				t.Errorf("status = %s, want %s (message %q)", s.Status, tt.want, s.Message)
			}
			if tt.message != "" && s.Message != tt.message {
				t.Errorf("message = %q, want %q", s.Message, tt.message)
			}
		})
	}
}

// TestScaleObservedChangesNothingShown: the controller observing a scale
// (observedGeneration catching up) changes no field a user reads, so the
// watch prints nothing for that step.
func TestScaleObservedChangesNothingShown(t *testing.T) {
	running := Summarize(dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: complete}.build(), nil)
	unobserved := Summarize(dep{desired: 5, replicas: 3, updated: 3, ready: 3, available: 3, generation: 2, observed: 1, progressing: complete}.build(), &running)
	observed := Summarize(dep{desired: 5, replicas: 3, updated: 3, ready: 3, available: 3, generation: 2, observed: 2, progressing: complete}.build(), &unobserved)
	if unobserved.Status != Scaling || observed.Status != Scaling {
		t.Fatalf("statuses %s then %s, want Scaling twice", unobserved.Status, observed.Status)
	}
	if changed := Changed(&unobserved, &observed); len(changed) != 0 {
		t.Fatalf("observing the scale changed %v (messages %q then %q)", changed, unobserved.Message, observed.Message)
	}
}

func TestSettled(t *testing.T) {
	for s, want := range map[Status]bool{Running: true, ScaledToZero: true, Progressing: false, Scaling: false, Degraded: false, Failed: false, Paused: false} {
		if s.Settled() != want {
			t.Errorf("%s.Settled() = %v, want %v", s, !want, want)
		}
	}
}

func TestSummarizeDefaultsReplicasToOne(t *testing.T) {
	d := dep{replicas: 1, updated: 1, available: 1, progressing: complete}.build()
	d.Spec.Replicas = nil
	if s := Summarize(d, nil); s.Replicas.Desired != 1 || s.Status != Running {
		t.Fatalf("got desired %d status %s, want 1 Running", s.Replicas.Desired, s.Status)
	}
}
