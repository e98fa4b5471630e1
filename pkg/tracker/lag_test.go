package tracker

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// ownedReplicaSet is a ReplicaSet of revision rev that d controls.
func ownedReplicaSet(d *appsv1.Deployment, name, rev string) *appsv1.ReplicaSet {
	controller := true
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Namespace, Annotations: map[string]string{RevisionAnnotation: rev},
		OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &controller}}}}
}

// timedOut is web at revision 1, whose only ReplicaSet web-1 ran out of
// its progress deadline.
func timedOut() *appsv1.Deployment {
	d := newDeployment("web", 1, "nginx:nope")
	d.Annotations = map[string]string{RevisionAnnotation: "1"}
	d.Status.AvailableReplicas, d.Status.ReadyReplicas = 0, 0
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
		Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-1" has timed out progressing.`}}
	return d
}

// TestDeadlineOfOlderReplicaSetWhileTheNewOneIsNotCached: the ReplicaSet
// informer lags behind the Deployment informer. web moves to a new template
// (revision 2) while the cache still holds only web-1, which timed out; the
// deadline the controller still carries names web-1, so web is not Failed
// (web-1 must not stand in for the new ReplicaSet). Then web-2 arrives and
// its pod decides.
func TestDeadlineOfOlderReplicaSetWhileTheNewOneIsNotCached(t *testing.T) {
	d := timedOut()
	client := fake.NewClientset(d, ownedReplicaSet(d, "web-1", "1"))
	rec := &recorder{}
	tr := New(fakeApps{client.AppsV1()}, Options{Namespace: "shop", Diagnose: fakeDiagnose(client)})
	stop, err := tr.Start(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if len(rec.snapshot) != 1 || rec.snapshot[0].Status != deployment.Failed {
		t.Fatalf("first snapshot %+v, want web Failed", rec.snapshot)
	}
	ctx := context.Background()
	deployments := client.AppsV1().Deployments("shop")
	step := func(what string, n int, edit func(*appsv1.Deployment)) {
		t.Helper()
		cur, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		edit(cur)
		if _, err := deployments.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, what, func() bool { return len(rec.types()) >= n })
	}
	// The new template, not yet observed by the controller.
	step("the new spec", 2, func(d *appsv1.Deployment) {
		d.Generation = 2
		d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	})
	// Observed: revision 2, a surge pod of web-2, and the deadline kept.
	step("the observed revision 2", 3, func(d *appsv1.Deployment) {
		d.Status.ObservedGeneration = 2
		d.Annotations[RevisionAnnotation] = "2"
		d.Status.Replicas = 2
	})
	rec.mu.Lock()
	third := rec.events[2]
	rec.mu.Unlock()
	if third.Status != deployment.Progressing || third.Message != "1 old replica pending termination, 1 of 1 updated" {
		t.Fatalf("with revision 2 observed and only web-1 cached: %s %q, want Progressing: web-1's deadline is not the new rollout's", third.Status, third.Message)
	}

	// web-2 arrives, with a pod that cannot pull its image.
	if _, err := client.AppsV1().ReplicaSets("shop").Create(ctx, ownedReplicaSet(d, "web-2", "2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	controller := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-2-a", Namespace: "shop", OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-2", Controller: &controller}}},
		Status:     corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: pullBackOff("ImagePullBackOff")}}},
	}
	if _, err := client.CoreV1().Pods("shop").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "web-2's pod to be diagnosed", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.events[len(rec.events)-1].Status == deployment.Failing
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var statuses []deployment.Status
	for _, e := range rec.events {
		statuses = append(statuses, e.Status)
	}
	if want := []deployment.Status{deployment.Failed, deployment.Progressing, deployment.Progressing, deployment.Failing}; !slices.Equal(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	if last := rec.events[3]; !strings.Contains(last.Message, "pod web-2-a") {
		t.Errorf("Failing %q, want web-2-a named", last.Message)
	}
}

// TestNewReplicaSetNeverAnOlderRevision: the new ReplicaSet is the one of
// the Deployment's revision; the highest revision stands in only when it
// is above the Deployment's; below, the new one is not cached yet.
func TestNewReplicaSetNeverAnOlderRevision(t *testing.T) {
	d := timedOut()
	d.UID = "uid-web"
	for _, tc := range []struct {
		name      string
		rev       string
		cached    map[string]string // name: revision
		want      string
		wantOlder []string
	}{
		{"the revision's", "2", map[string]string{"web-1": "1", "web-2": "2"}, "web-2", []string{"web-1"}},
		{"a new template, its ReplicaSet not cached yet", "2", map[string]string{"web-1": "1"}, "", []string{"web-1"}},
		{"back to an earlier template, its ReplicaSet's new revision not cached yet", "4", map[string]string{"web-a": "3", "web-b": "2"}, "", []string{"web-a", "web-b"}},
		{"the ReplicaSet renumbered before the Deployment", "3", map[string]string{"web-a": "2", "web-b": "4"}, "web-b", []string{"web-a"}},
		{"no revision on the Deployment", "", map[string]string{"web-1": "1", "web-2": "2"}, "web-2", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inf := cache.NewSharedIndexInformer(nil, &appsv1.ReplicaSet{}, 0, cache.Indexers{byOwner: ownerIndex})
			for name, rev := range tc.cached {
				// As the informer's transform stores it.
				rs, err := StripReplicaSet(ownedReplicaSet(d, name, rev))
				if err != nil {
					t.Fatal(err)
				}
				if err := inf.GetIndexer().Add(rs); err != nil {
					t.Fatal(err)
				}
			}
			dd := d.DeepCopy()
			dd.Annotations[RevisionAnnotation] = tc.rev
			tr := &Tracker{rs: inf}
			rs, older := tr.newReplicaSet(dd)
			got := ""
			if rs != nil {
				got = rs.Name
			}
			if got != tc.want || !slices.Equal(older, tc.wantOlder) {
				t.Errorf("newReplicaSet = %q, older %v; want %q, older %v", got, older, tc.want, tc.wantOlder)
			}
		})
	}
}
