package deployment_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/diagnosis"
	"github.com/deploywatch/kubectl-deploywatch/pkg/gate"
)

// This file holds deploywatch's status rules against its two peers on the
// same objects: `kubectl rollout status` (k8s.io/kubectl's
// polymorphichelpers.DeploymentStatusViewer) and kstatus
// (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute, behind `kpt live
// status` and Flux's health checks). Both are imported by this test only,
// so they do not reach the binary. Every case where deploywatch
// does not say what a peer says carries a comment on why; docs/watch.md's
// "Statuses" section says the same.

// Outcomes of a wait, in the words of this test.
const (
	done    = "done"    // kubectl: successfully rolled out; deploywatch: Complete
	failed  = "failed"  // kubectl: an error; deploywatch: Stuck
	waiting = "waiting" // neither: keep waiting
	// failing: deploywatch waits, and fails the wait once the rollout has
	// been Failing for --failing-grace (gate.Judge).
	failing = "failing"
)

// object is a Deployment as the API server and the deployment controller
// leave it: the test names the fields that matter and build fills in the
// rest with what the API server defaults.
type object struct {
	generation, observed               int64
	replicas                           *int32 // spec.replicas; nil when unset
	paused, deleting                   bool
	unstarted                          bool  // no ReplicaSet ever made: no revision annotation
	current, updated, ready, available int32 // status.replicas, updatedReplicas, ...
	conditions                         []appsv1.DeploymentCondition
}

func (o object) build() *appsv1.Deployment {
	d := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "shop", Name: "web", UID: "uid-web",
			Generation:  o.generation,
			Annotations: map[string]string{"deployment.kubernetes.io/revision": "2"},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: o.replicas,
			Paused:   o.paused,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
			// The API server's default. kstatus reads it: without it the
			// controller writes no Progressing condition, and kstatus
			// does not ask for one.
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: o.observed,
			Replicas:           o.current,
			UpdatedReplicas:    o.updated,
			ReadyReplicas:      o.ready,
			AvailableReplicas:  o.available,
			Conditions:         o.conditions,
		},
	}
	desired := int32(1)
	if o.replicas != nil {
		desired = *o.replicas
	}
	if u := max(desired, o.current) - o.available; u > 0 {
		d.Status.UnavailableReplicas = u
	}
	if o.unstarted {
		d.Annotations = nil
	}
	if o.deleting {
		now := metav1.NewTime(time.Date(2026, 11, 23, 7, 46, 13, 0, time.UTC))
		d.DeletionTimestamp = &now
		d.Finalizers = []string{"foregroundDeletion"}
	}
	return d
}

func ptr[T any](v T) *T { return &v }

// Conditions as the deployment controller writes them (reasons from
// k8s.io/kubernetes/pkg/controller/deployment/util).
func progressing(status corev1.ConditionStatus, reason string) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason}
}

var (
	rsAvailable     = progressing(corev1.ConditionTrue, "NewReplicaSetAvailable")
	rsUpdated       = progressing(corev1.ConditionTrue, "ReplicaSetUpdated")
	rsCreated       = progressing(corev1.ConditionTrue, "NewReplicaSetCreated")
	deadline        = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-5d8c" has timed out progressing.`}
	pausedCond      = progressing(corev1.ConditionUnknown, "DeploymentPaused")
	minAvailable    = appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}
	minUnavailable  = appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable"}
	quotaRefusesPod = appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: `pods "web-5d8c-x" is forbidden: exceeded quota: pods`}
)

func conds(c ...appsv1.DeploymentCondition) []appsv1.DeploymentCondition { return c }

func TestStatusAgainstKubectlAndKstatus(t *testing.T) {
	imagePull := []diagnosis.Problem{{Reason: "ImagePullBackOff", Message: `Back-off pulling image "nginx:nope"`, Pod: "web-5d8c-x2k4", Pods: 1, Container: "web"}}

	cases := []struct {
		name string
		obj  object
		// problems is what the diagnosis finds in the new ReplicaSet.
		problems []diagnosis.Problem

		// blind is Summarize(d, nil), seeing Summarize(d, &Diagnosis{Known: true, Problems: problems}).
		blind, seeing deployment.Status
		// wait is the verdict of a wait on seeing (and on blind too, unless blindWait says otherwise).
		wait, blindWait string
		kubectl         string
		kstatus         kstatus.Status
		// bug, when set, says why deploywatch's answer is wrong: the
		// expectations above are the right ones, and the case is skipped
		// while deploywatch still fails them.
		bug string
	}{
		{
			name: "complete",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 3, updated: 3, ready: 3, available: 3,
				conditions: conds(minAvailable, rsAvailable)},
			blind: deployment.Running, seeing: deployment.Running, wait: done,
			kubectl: done, kstatus: kstatus.CurrentStatus,
		},
		{
			name: "rolling out: new ReplicaSet being filled, old replicas serving",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 4, updated: 2, ready: 3, available: 3,
				conditions: conds(minAvailable, rsUpdated)},
			blind: deployment.Progressing, seeing: deployment.Progressing, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "rolling out: every replica updated, an old one pending termination",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 4, updated: 3, ready: 4, available: 4,
				conditions: conds(minAvailable, rsUpdated)},
			blind: deployment.Progressing, seeing: deployment.Progressing, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "rolling out: Recreate, the new ReplicaSet being filled and no old replica left",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 1, updated: 1,
				conditions: conds(minUnavailable, rsUpdated)},
			blind: deployment.Progressing, seeing: deployment.Progressing, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "rolling out: every replica updated, the last not yet available (minReadySeconds)",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 3, updated: 3, ready: 3, available: 2,
				conditions: conds(minAvailable, rsUpdated)},
			blind: deployment.Progressing, seeing: deployment.Progressing, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "a new spec not yet observed",
			obj: object{generation: 3, observed: 2, replicas: ptr(int32(3)), current: 3, updated: 3, ready: 3, available: 3,
				conditions: conds(minAvailable, rsAvailable)},
			blind: deployment.Progressing, seeing: deployment.Progressing, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// A fix applied after a failed rollout: all three wait for the
			// controller instead of reporting the old rollout's failure.
			name: "a new spec not yet observed, after ProgressDeadlineExceeded",
			obj: object{generation: 3, observed: 2, replicas: ptr(int32(4)), current: 4, updated: 2, ready: 3, available: 3,
				conditions: conds(minAvailable, deadline)},
			blind: deployment.Progressing, seeing: deployment.Progressing, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// The same, where the failed rollout left a surge pod
			// (maxSurge 25% of 3 is 1): status.replicas then counts it.
			name: "a new spec not yet observed, after ProgressDeadlineExceeded with a surge pod",
			obj: object{generation: 3, observed: 2, replicas: ptr(int32(3)), current: 4, updated: 1, ready: 3, available: 3,
				conditions: conds(minAvailable, deadline)},
			blind: deployment.Progressing, seeing: deployment.Progressing, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "a scale not yet observed",
			obj: object{generation: 3, observed: 2, replicas: ptr(int32(5)), current: 3, updated: 3, ready: 3, available: 3,
				conditions: conds(minAvailable, rsAvailable)},
			blind: deployment.Scaling, seeing: deployment.Scaling, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "a pause not yet observed",
			obj: object{generation: 3, observed: 2, replicas: ptr(int32(3)), paused: true, current: 3, updated: 3, ready: 3, available: 3,
				conditions: conds(minAvailable, rsAvailable)},
			blind: deployment.Paused, seeing: deployment.Paused, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "progress deadline exceeded",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 4, updated: 1, ready: 3, available: 3,
				conditions: conds(minAvailable, deadline)},
			blind: deployment.Failed, seeing: deployment.Failed, wait: failed,
			kubectl: failed, kstatus: kstatus.FailedStatus,
		},
		{
			// The controller keeps ProgressDeadlineExceeded when the
			// rollout is then paused, and all three read it.
			name: "paused after the progress deadline",
			obj: object{generation: 3, observed: 3, replicas: ptr(int32(3)), paused: true, current: 4, updated: 1, ready: 3, available: 3,
				conditions: conds(minAvailable, deadline)},
			blind: deployment.Failed, seeing: deployment.Failed, wait: failed,
			kubectl: failed, kstatus: kstatus.FailedStatus,
		},
		{
			// deploywatch differs from both: the controller does not roll
			// a paused Deployment on, so old replicas stay until someone
			// resumes it. kubectl ignores spec.paused and waits (until its
			// --timeout, forever by default); kstatus says InProgress for
			// as long as it is paused. A CI wait should fail.
			name: "paused mid-rollout, old replicas left",
			obj: object{generation: 3, observed: 3, replicas: ptr(int32(3)), paused: true, current: 4, updated: 1, ready: 4, available: 4,
				conditions: conds(minAvailable, pausedCond)},
			blind: deployment.Paused, seeing: deployment.Paused, wait: failed,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// Paused before the new template was observed: the controller
			// creates no new ReplicaSet while paused, so every pod is old.
			name: "paused before the rollout began",
			obj: object{generation: 3, observed: 3, replicas: ptr(int32(3)), paused: true, current: 3, updated: 0, ready: 3, available: 3,
				conditions: conds(minAvailable, pausedCond)},
			blind: deployment.Paused, seeing: deployment.Paused, wait: failed,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// Created paused: the controller makes no ReplicaSet while
			// paused, so there is no pod and no revision, and scaling it
			// makes none either (seen on the test bed). kubectl waits for
			// updated replicas that will not come; kstatus says InProgress.
			// It will not start until resumed: a CI wait should fail.
			name: "created paused, no ReplicaSet",
			obj: object{generation: 1, observed: 1, replicas: ptr(int32(3)), paused: true, unstarted: true,
				conditions: conds(pausedCond, minUnavailable)},
			blind: deployment.Paused, seeing: deployment.Paused, wait: failed,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// Paused at zero replicas, then scaled up: the controller
			// scales the ReplicaSet it has, and until that ReplicaSet
			// reports its pods the counts are 0. It has a revision, so it
			// is on its way, not unstarted.
			name: "paused at zero, scaled up, no pod counted yet",
			obj: object{generation: 4, observed: 4, replicas: ptr(int32(3)), paused: true,
				conditions: conds(pausedCond, minUnavailable)},
			blind: deployment.Paused, seeing: deployment.Paused, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// Created paused with no replicas: nothing to start.
			name: "created paused, zero replicas",
			obj: object{generation: 1, observed: 1, replicas: ptr(int32(0)), paused: true, unstarted: true,
				conditions: conds(pausedCond, minAvailable)},
			blind: deployment.Paused, seeing: deployment.Paused, wait: done,
			kubectl: done, kstatus: kstatus.InProgressStatus,
		},
		{
			// kstatus differs: pausing replaces the Progressing condition's
			// NewReplicaSetAvailable with DeploymentPaused, and kstatus is
			// Current only with NewReplicaSetAvailable, so it says
			// InProgress for as long as the Deployment is paused, though
			// nothing is left to do. deploywatch, like kubectl, says done.
			name: "paused, fully rolled out",
			obj: object{generation: 3, observed: 3, replicas: ptr(int32(3)), paused: true, current: 3, updated: 3, ready: 3, available: 3,
				conditions: conds(minAvailable, pausedCond)},
			blind: deployment.Paused, seeing: deployment.Paused, wait: done,
			kubectl: done, kstatus: kstatus.InProgressStatus,
		},
		{
			// The controller scales a paused Deployment (proportionally
			// across its ReplicaSets; here the only one is the new one), so
			// this finishes by itself, as kubectl expects.
			name: "paused, fully rolled out, then scaled up",
			obj: object{generation: 4, observed: 4, replicas: ptr(int32(5)), paused: true, current: 3, updated: 3, ready: 3, available: 3,
				conditions: conds(minUnavailable, pausedCond)},
			blind: deployment.Paused, seeing: deployment.Paused, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// Pods become available without the controller rolling
			// anything: a paused Deployment gets there by itself.
			name: "paused, every replica updated, one not yet available",
			obj: object{generation: 3, observed: 3, replicas: ptr(int32(3)), paused: true, current: 3, updated: 3, ready: 2, available: 2,
				conditions: conds(minUnavailable, pausedCond)},
			blind: deployment.Paused, seeing: deployment.Paused, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "scaled to zero",
			obj: object{generation: 4, observed: 4, replicas: ptr(int32(0)),
				conditions: conds(minAvailable, rsAvailable)},
			blind: deployment.ScaledToZero, seeing: deployment.ScaledToZero, wait: done,
			kubectl: done, kstatus: kstatus.CurrentStatus,
		},
		{
			// kubectl differs: it compares only updatedReplicas with
			// spec.replicas (>=) and status.replicas with updatedReplicas,
			// so surplus pods of the one ReplicaSet do not stop it from
			// saying done. deploywatch, like kstatus, waits until
			// status.replicas is down to spec.replicas.
			name: "scaling to zero, pods not yet deleted",
			obj: object{generation: 4, observed: 4, replicas: ptr(int32(0)), current: 2, updated: 2, ready: 2, available: 2,
				conditions: conds(minAvailable, rsAvailable)},
			blind: deployment.Scaling, seeing: deployment.Scaling, wait: waiting,
			kubectl: done, kstatus: kstatus.InProgressStatus,
		},
		{
			// As above, for any scale down.
			name: "scaling down, pods not yet deleted",
			obj: object{generation: 4, observed: 4, replicas: ptr(int32(1)), current: 3, updated: 3, ready: 3, available: 3,
				conditions: conds(minAvailable, rsAvailable)},
			blind: deployment.Scaling, seeing: deployment.Scaling, wait: waiting,
			kubectl: done, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "scaling up",
			obj: object{generation: 4, observed: 4, replicas: ptr(int32(5)), current: 3, updated: 3, ready: 3, available: 3,
				conditions: conds(minUnavailable, rsAvailable)},
			blind: deployment.Scaling, seeing: deployment.Scaling, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// kubectl differs: with spec.replicas unset it skips the
			// updatedReplicas check, so no pod at all reads as done. The
			// API server defaults spec.replicas to 1, and so do the
			// controller, deploywatch and kstatus.
			name: "spec.replicas unset, no pod yet",
			obj: object{generation: 1, observed: 1,
				conditions: conds(minUnavailable, rsCreated)},
			blind: deployment.Progressing, seeing: deployment.Progressing, wait: waiting,
			kubectl: done, kstatus: kstatus.InProgressStatus,
		},
		{
			name: "spec.replicas unset, its one pod available",
			obj: object{generation: 1, observed: 1, current: 1, updated: 1, ready: 1, available: 1,
				conditions: conds(minAvailable, rsAvailable)},
			blind: deployment.Running, seeing: deployment.Running, wait: done,
			kubectl: done, kstatus: kstatus.CurrentStatus,
		},
		{
			// A pod deleted or evicted after the rollout; its ReplicaSet
			// replaces it.
			name: "a replica lost",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 2, updated: 2, ready: 2, available: 2,
				conditions: conds(minUnavailable, rsAvailable)},
			blind: deployment.Scaling, seeing: deployment.Scaling, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// Not a rollout, and the pods' trouble unknown without the
			// diagnosis: Degraded. With it and no problem found, the pod
			// is on its way back: Scaling. A wait waits either way.
			name: "a replica not ready after the rollout",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 3, updated: 3, ready: 2, available: 2,
				conditions: conds(minUnavailable, rsAvailable)},
			blind: deployment.Degraded, seeing: deployment.Scaling, wait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// Both peers differ: neither reads ReplicaFailure, so both
			// wait for the progress deadline (600 s). deploywatch fails a
			// wait after --failing-grace: a quota refusal does not go away
			// by itself.
			name: "ReplicaFailure during a rollout (quota)",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 3, updated: 1, ready: 3, available: 3,
				conditions: conds(minAvailable, rsUpdated, quotaRefusesPod)},
			blind: deployment.Failing, seeing: deployment.Failing, wait: failing,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// Both peers differ: neither looks at pods, so both wait for
			// the progress deadline. deploywatch, when it can read the
			// pods, fails a wait after --failing-grace; without them it
			// knows no more than its peers.
			name: "new pods cannot pull their image",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), current: 4, updated: 1, ready: 3, available: 3,
				conditions: conds(minAvailable, rsUpdated)},
			problems: imagePull,
			blind:    deployment.Progressing, seeing: deployment.Failing, wait: failing, blindWait: waiting,
			kubectl: waiting, kstatus: kstatus.InProgressStatus,
		},
		{
			// kubectl differs: it ignores deletionTimestamp and reads the
			// counts, so a Deployment held by foreground deletion reads
			// done. kstatus says Terminating; deploywatch says Deleting,
			// which is neither done nor failed: a wait sees it go.
			name: "being deleted",
			obj: object{generation: 2, observed: 2, replicas: ptr(int32(3)), deleting: true, current: 3, updated: 3, ready: 3, available: 3,
				conditions: conds(minAvailable, rsAvailable)},
			blind: deployment.Deleting, seeing: deployment.Deleting, wait: waiting,
			kubectl: done, kstatus: kstatus.TerminatingStatus,
		},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.obj.build()
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
			if err != nil {
				t.Fatalf("to unstructured: %v", err)
			}
			obj := &unstructured.Unstructured{Object: u}

			blind := deployment.Summarize(d, nil)
			seeing := deployment.Summarize(d, &deployment.Diagnosis{Known: true, Problems: c.problems})
			blindWait := c.blindWait
			if blindWait == "" {
				blindWait = c.wait
			}
			peers := []check{
				{"kubectl rollout status", kubectlSays(t, obj), c.kubectl},
				{"kstatus", string(kstatusSays(t, obj)), string(c.kstatus)},
			}
			ours := []check{
				{"deploywatch status without diagnosis", string(blind.Status), string(c.blind)},
				{"deploywatch status with diagnosis", string(seeing.Status), string(c.seeing)},
				{"deploywatch wait without diagnosis", verdict(&blind), blindWait},
				{"deploywatch wait with diagnosis", verdict(&seeing), c.wait},
			}
			for _, p := range peers {
				if p.got != p.want {
					t.Errorf("%s: got %s, want %s", p.name, p.got, p.want)
				}
			}
			var wrong []string
			for _, o := range ours {
				if o.got != o.want {
					wrong = append(wrong, fmt.Sprintf("%s: got %s, want %s", o.name, o.got, o.want))
				}
			}
			switch {
			case c.bug != "" && len(wrong) == 0:
				t.Errorf("the bug %q is fixed: remove its note from this case", c.bug)
			case c.bug != "":
				// Peers are checked above all the same.
				t.Skipf("known deploywatch bug: %s; %s (message %q)", c.bug, strings.Join(wrong, "; "), seeing.Message)
			}
			for _, w := range wrong {
				t.Errorf("%s (message %q)", w, seeing.Message)
			}
		})
	}
}

type check struct{ name, got, want string }

// verdict is what a wait (--wait, --until-complete) makes of s: done,
// failed at once, failing (Pending now, a Failure once --failing-grace has
// passed with nothing changed) or waiting (Pending still after the grace).
func verdict(s *deployment.Summary) string {
	start := time.Date(2026, 11, 23, 7, 46, 13, 0, time.UTC)
	now := start
	j := gate.Judge{Grace: gate.DefaultFailingGrace, Now: func() time.Time { return now }}
	first, _ := j.Verdict(s)
	switch first {
	case gate.Done:
		return done
	case gate.Failure:
		return failed
	}
	now = start.Add(gate.DefaultFailingGrace)
	if later, _ := j.Verdict(s); later == gate.Failure {
		return failing
	}
	return waiting
}

// kubectlSays runs `kubectl rollout status`'s rules (no --revision).
func kubectlSays(t *testing.T, obj *unstructured.Unstructured) string {
	t.Helper()
	_, ok, err := (&polymorphichelpers.DeploymentStatusViewer{}).Status(obj, 0)
	switch {
	case err != nil:
		return failed
	case ok:
		return done
	}
	return waiting
}

func kstatusSays(t *testing.T, obj *unstructured.Unstructured) kstatus.Status {
	t.Helper()
	res, err := kstatus.Compute(obj)
	if err != nil {
		t.Fatalf("kstatus: %v", err)
	}
	return res.Status
}
