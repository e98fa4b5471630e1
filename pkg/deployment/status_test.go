package deployment

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
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
	pull := &Diagnosis{Known: true, Problems: []diagnosis.Problem{{Reason: "ImagePullBackOff", Message: `Back-off pulling image "nginx:nope": ErrImagePull: nginx:nope: not found`, Cause: "not found", Pod: "web-1", Pods: 2, Container: "web"}}}
	known := &Diagnosis{Known: true}
	deleting := dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: complete}.build()
	now := metav1.Now()
	deleting.DeletionTimestamp = &now

	tests := []struct {
		name    string
		d       *appsv1.Deployment
		diag    *Diagnosis
		want    Status
		message string
	}{
		{"all replicas updated and available", dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: complete}.build(), nil, Running, ""},
		{"paused with nothing pending", dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, paused: true, progressing: complete}.build(), nil, Paused, "rollout paused"},
		{"paused with work left", dep{desired: 3, replicas: 4, updated: 1, available: 3, paused: true, progressing: rsUpdated}.build(), nil, Paused, "rollout paused with 1 of 3 replicas updated"},
		{"created paused: no ReplicaSet, no revision", dep{desired: 3, paused: true}.build(), nil, Paused, "rollout paused before it started: no pods until resumed"},
		{"paused after the deadline passed is Failed (the controller keeps the condition)", dep{desired: 3, replicas: 1, updated: 0, paused: true, progressing: deadline}.build(), nil, Failed, "ProgressDeadlineExceeded: msg of ProgressDeadlineExceeded"},
		{"pause not observed yet", dep{desired: 3, replicas: 3, updated: 3, available: 3, generation: 2, observed: 1, paused: true, progressing: complete}.build(), nil, Paused, "rollout paused; waiting for the deployment controller to observe it"},
		{"progress deadline exceeded", dep{desired: 3, replicas: 3, updated: 1, available: 2, progressing: deadline}.build(), nil, Failed, "ProgressDeadlineExceeded: msg of ProgressDeadlineExceeded"},
		{"progress deadline exceeded, with its cause", dep{desired: 3, replicas: 3, updated: 1, available: 2, progressing: deadline}.build(), pull, Failed, `ImagePullBackOff: not found (2 of 2 new pods, 3 wanted; pod web-1); ProgressDeadlineExceeded: msg of ProgressDeadlineExceeded`},
		{"a deadline carried over from the ReplicaSet before a rollback is not Failed", dep{desired: 3, replicas: 4, updated: 3, available: 3, progressing: deadline}.build(),
			&Diagnosis{Known: true, ReplicaSet: "web-2"}, Progressing, "1 old replica pending termination, 3 of 3 updated"},
		{"the new ReplicaSet's own deadline is Failed", dep{desired: 3, replicas: 4, updated: 1, available: 3, progressing: &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-2" has timed out progressing.`}}.build(),
			&Diagnosis{Known: true, ReplicaSet: "web-2"}, Failed, `ProgressDeadlineExceeded: ReplicaSet "web-2" has timed out progressing.`},
		{"a deadline of an earlier revision's ReplicaSet, the new one not yet known, is not Failed", dep{desired: 3, replicas: 4, updated: 1, available: 3, progressing: &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-1" has timed out progressing.`}}.build(),
			&Diagnosis{Known: true, OlderReplicaSets: []string{"web-1"}}, Progressing, "3 old replicas pending termination, 1 of 3 updated"},
		{"a deadline of no earlier revision's ReplicaSet, the new one not yet known, is Failed", dep{desired: 3, replicas: 4, updated: 1, available: 3, progressing: &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-2" has timed out progressing.`}}.build(),
			&Diagnosis{Known: true, OlderReplicaSets: []string{"web-1", "web-"}}, Failed, `ProgressDeadlineExceeded: ReplicaSet "web-2" has timed out progressing.`},
		{"a new spec after a failed rollout is not Failed before the controller sees it", dep{desired: 3, replicas: 3, updated: 1, available: 2, generation: 3, observed: 2, progressing: deadline}.build(), nil, Progressing, "waiting for the deployment controller to observe the new spec"},
		{"spec not observed, replicas differ", dep{desired: 5, replicas: 3, updated: 3, available: 3, generation: 2, observed: 1, progressing: complete}.build(), nil, Scaling, "scaling from 3 to 5 replicas"},
		{"spec not observed, same replicas", dep{desired: 3, replicas: 3, updated: 3, available: 3, generation: 2, observed: 1, image: "nginx:1.26", progressing: complete}.build(), nil, Progressing, "waiting for the deployment controller to observe the new spec"},
		{"being deleted", deleting, nil, Deleting, "being deleted"},
		{"old replicas pending termination", dep{desired: 3, replicas: 4, updated: 1, available: 3, progressing: rsUpdated}.build(), nil, Progressing, "3 old replicas pending termination, 1 of 3 updated"},
		{"one old replica pending termination", dep{desired: 3, replicas: 4, updated: 3, available: 3, progressing: rsUpdated}.build(), nil, Progressing, "1 old replica pending termination, 3 of 3 updated"},
		{"quota refuses pods during a rollout", dep{desired: 3, replicas: 4, updated: 1, available: 3, progressing: rsUpdated, replicaFailure: quotaFails}.build(), nil, Failing, "FailedCreate: exceeded quota"},
		{"quota refuses pods after a scale", dep{desired: 3, replicas: 1, updated: 1, available: 1, progressing: complete, replicaFailure: quotaFails}.build(), nil, Failing, "FailedCreate: exceeded quota"},
		{"new pods cannot pull their image", dep{desired: 3, replicas: 4, updated: 2, available: 2, progressing: rsUpdated}.build(), pull, Failing, `ImagePullBackOff: not found (2 of 2 new pods, 3 wanted; pod web-1)`},
		{"quota refuses pods, in the API server's words", dep{desired: 3, replicas: 1, updated: 1, available: 1, progressing: complete, replicaFailure: &appsv1.DeploymentCondition{
			Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: `pods "web-5d8c-x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1`}}.build(),
			nil, Failing, "FailedCreate: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"},
		{"problems of a complete rollout do not count", dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: complete}.build(), pull, Running, ""},
		{"scaled to zero", dep{desired: 0, progressing: complete}.build(), nil, ScaledToZero, ""},
		{"zero desired but pods still terminating", dep{desired: 0, replicas: 2, updated: 2, available: 2, progressing: complete}.build(), nil, Scaling, "scaling from 2 to 0 replicas"},
		{"new replica set being filled", dep{desired: 3, replicas: 1, updated: 1, progressing: rsCreated}.build(), nil, Progressing, "1 of 3 new replicas updated"},
		{"scale up of a complete deployment", dep{desired: 5, replicas: 3, updated: 3, ready: 3, available: 3, progressing: complete}.build(), nil, Scaling, "scaling from 3 to 5 replicas"},
		{"scale down to one", dep{desired: 1, replicas: 5, updated: 5, ready: 5, available: 5, progressing: complete}.build(), nil, Scaling, "scaling from 5 to 1 replica"},
		{"pods not yet available during a rollout", dep{desired: 3, replicas: 3, updated: 3, available: 1, progressing: rsUpdated}.build(), nil, Progressing, "1 of 3 replicas available"},
		{"pods coming up after a scale, none failing", dep{desired: 5, replicas: 5, updated: 5, ready: 3, available: 3, progressing: complete}.build(), known, Scaling, "3 of 5 replicas available"},
		{"available replicas lost, cause unknown", dep{desired: 3, replicas: 3, updated: 3, ready: 2, available: 2, progressing: complete}.build(), nil, Degraded, "2 of 3 replicas available"},
		{"available replicas lost to a crash loop", dep{desired: 3, replicas: 3, updated: 3, ready: 2, available: 2, progressing: complete}.build(),
			&Diagnosis{Known: true, Problems: []diagnosis.Problem{{Reason: "CrashLoopBackOff", Message: "container web exited with code 1 (Error)", Cause: "exit code 1", Pod: "web-2", Pods: 1}}},
			Failing, "CrashLoopBackOff: exit code 1 (1 of 3 new pods; pod web-2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(tt.d, tt.diag)
			if s.Status != tt.want {
				t.Errorf("status = %s, want %s (message %q)", s.Status, tt.want, s.Message)
			}
			if s.Message != tt.message {
				t.Errorf("message = %q, want %q", s.Message, tt.message)
			}
		})
	}
}

// TestScaleObservedChangesNothingShown: the controller observing a scale
// (observedGeneration catching up) changes no field a user reads, so the
// watch prints nothing for that step.
func TestScaleObservedChangesNothingShown(t *testing.T) {
	unobserved := Summarize(dep{desired: 5, replicas: 3, updated: 3, ready: 3, available: 3, generation: 2, observed: 1, progressing: complete}.build(), nil)
	observed := Summarize(dep{desired: 5, replicas: 3, updated: 3, ready: 3, available: 3, generation: 2, observed: 2, progressing: complete}.build(), nil)
	if unobserved.Status != Scaling || observed.Status != Scaling {
		t.Fatalf("statuses %s then %s, want Scaling twice", unobserved.Status, observed.Status)
	}
	if changed := Changed(&unobserved, &observed); len(changed) != 0 {
		t.Fatalf("observing the scale changed %v (messages %q then %q)", changed, unobserved.Message, observed.Message)
	}
}

func TestCompleteAndStuck(t *testing.T) {
	for _, tt := range []struct {
		name            string
		d               *appsv1.Deployment
		complete, stuck bool
	}{
		{"running", dep{desired: 3, replicas: 3, updated: 3, available: 3, progressing: complete}.build(), true, false},
		{"scaled to zero", dep{desired: 0, progressing: complete}.build(), true, false},
		{"paused, nothing pending", dep{desired: 3, replicas: 3, updated: 3, available: 3, paused: true, progressing: complete}.build(), true, false},
		{"paused, work left", dep{desired: 3, replicas: 3, updated: 1, available: 3, paused: true, progressing: rsUpdated}.build(), false, true},
		{"paused, not observed", dep{desired: 3, replicas: 3, updated: 3, available: 3, generation: 2, observed: 1, paused: true}.build(), false, false},
		{"failed", dep{desired: 3, replicas: 3, updated: 1, available: 2, progressing: deadline}.build(), false, true},
		{"progressing", dep{desired: 3, replicas: 4, updated: 1, available: 3, progressing: rsUpdated}.build(), false, false},
	} {
		s := Summarize(tt.d, nil)
		if s.Complete() != tt.complete || s.Stuck() != tt.stuck {
			t.Errorf("%s (%s %q): complete %v stuck %v, want %v %v", tt.name, s.Status, s.Message, s.Complete(), s.Stuck(), tt.complete, tt.stuck)
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

func TestSinceIsWhatTheClusterRecorded(t *testing.T) {
	at := func(min int) metav1.Time { return metav1.NewTime(time.Date(2026, 12, 2, 14, min, 0, 0, time.UTC)) }
	cond := func(c *appsv1.DeploymentCondition, transition, update int) *appsv1.DeploymentCondition {
		c = c.DeepCopy()
		c.LastTransitionTime, c.LastUpdateTime = at(transition), at(update)
		return c
	}
	withAvailable := func(d *appsv1.Deployment, transition int) *appsv1.Deployment {
		d.Status.Conditions = append(d.Status.Conditions, appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, LastTransitionTime: at(transition)})
		return d
	}
	created := func(d *appsv1.Deployment) *appsv1.Deployment { d.CreationTimestamp = at(0); return d }
	tests := []struct {
		name string
		d    *appsv1.Deployment
		diag *Diagnosis
		want metav1.Time
	}{
		{"running: when the rollout completed", withAvailable(created(dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: cond(complete, 1, 7)}.build()), 2), nil, at(7)},
		{"running: availability regained later", withAvailable(created(dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: cond(complete, 1, 7)}.build()), 9), nil, at(9)},
		{"failed: when the deadline passed, not later updates", withAvailable(created(dep{desired: 3, replicas: 3, updated: 1, ready: 2, available: 2, progressing: cond(deadline, 5, 5)}.build()), 8), nil, at(5)},
		{"failing: when its first problem began", created(dep{desired: 3, replicas: 3, updated: 1, ready: 2, available: 2, progressing: cond(rsUpdated, 1, 6)}.build()),
			&Diagnosis{Known: true, Problems: []diagnosis.Problem{{Reason: "ImagePullBackOff", Pods: 1, Since: at(4).Time}, {Reason: "CrashLoopBackOff", Pods: 1, Since: at(3).Time}}}, at(3)},
		{"progressing: the new ReplicaSet's creation", created(dep{desired: 3, replicas: 3, updated: 1, ready: 3, available: 3, progressing: cond(rsUpdated, 1, 1)}.build()),
			&Diagnosis{Known: true, NewReplicaSetCreated: at(4).Time}, at(4)},
		{"nothing recorded but the creation", created(dep{desired: 1}.build()), nil, at(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.d, tt.diag).Since; !got.Equal(tt.want.Time) {
				t.Errorf("since = %s, want %s", got, tt.want.Time)
			}
		})
	}
	// A condition's heartbeat moves since but is no change to show.
	a := Summarize(withAvailable(created(dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: cond(rsUpdated, 1, 7)}.build()), 2), nil)
	b := Summarize(withAvailable(created(dep{desired: 3, replicas: 3, updated: 3, ready: 3, available: 3, progressing: cond(rsUpdated, 1, 8)}.build()), 2), nil)
	if a.Since.Equal(b.Since) || len(Changed(&a, &b)) != 0 {
		t.Errorf("since %s -> %s changed %v, want a later since and no change", a.Since, b.Since, Changed(&a, &b))
	}
}
