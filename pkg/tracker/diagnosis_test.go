package tracker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// fakeCore is the fake clientset's CoreV1, which cannot stream lists either.
type fakeCore struct{ corev1client.CoreV1Interface }

func (fakeCore) IsWatchListSemanticsUnSupported() bool { return true }

func fakeDiagnose(c *fake.Clientset) *Diagnose {
	return &Diagnose{ReplicaSets: fakeApps{c.AppsV1()}, Pods: fakeCore{c.CoreV1()}, Events: fakeCore{c.CoreV1()}}
}

// rollingOut is web in the middle of its rollout to revision 2, with its
// new ReplicaSet and one new pod.
func rollingOut(podState corev1.ContainerState, restarts int32) []runtime.Object {
	d := newDeployment("web", 3, "nginx:2")
	d.Annotations = map[string]string{RevisionAnnotation: "2"}
	d.Status.UpdatedReplicas, d.Status.Replicas, d.Status.AvailableReplicas = 1, 4, 3
	d.Status.Conditions[0].Reason = "ReplicaSetUpdated"
	controller := true
	rs := func(name, rev string) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Annotations: map[string]string{RevisionAnnotation: rev},
			OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "web", UID: d.UID, Controller: &controller}}}}
	}
	pod := func(name, owner string, state corev1.ContainerState, restarts int32) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: owner, Controller: &controller}}},
			Status:     corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: state, RestartCount: restarts}}},
		}
	}
	crash := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	return []runtime.Object{d, rs("web-1", "1"), rs("web-2", "2"),
		pod("web-2-a", "web-2", podState, restarts),
		pod("web-1-a", "web-1", crash, 9), // an old pod crashing: not the rollout's problem
	}
}

func pullBackOff(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: `Back-off pulling image "nginx:2"`}}
}

// TestDiagnosisFromInformers: the new ReplicaSet's pod decides; the
// kubelet's alternating reason is no news; recovery is.
func TestDiagnosisFromInformers(t *testing.T) {
	client := fake.NewClientset(rollingOut(pullBackOff("ImagePullBackOff"), 0)...)
	var podWatch atomic.Bool
	client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		podWatch.Store(true)
		return false, nil, nil
	})
	rec := &recorder{}
	tr := New(fakeApps{client.AppsV1()}, Options{Namespace: "shop", Diagnose: fakeDiagnose(client)})
	stop, err := tr.Start(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if len(rec.snapshot) != 1 || rec.snapshot[0].Status != deployment.Failing || !strings.Contains(rec.snapshot[0].Message, "ImagePullBackOff (1 of 1 new pod, 3 wanted; pod web-2-a)") {
		t.Fatalf("first snapshot %+v, want web Failing with ImagePullBackOff", rec.snapshot)
	}
	testutil.Eventually(t, 10*time.Second, "the pods' watch", podWatch.Load)

	pods := client.CoreV1().Pods("shop")
	ctx := context.Background()
	update := func(state corev1.ContainerState, ready bool) {
		p, _ := pods.Get(ctx, "web-2-a", metav1.GetOptions{})
		p.Status.ContainerStatuses[0].State, p.Status.ContainerStatuses[0].Ready = state, ready
		p.Status.ContainerStatuses[0].RestartCount++
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	update(pullBackOff("ErrImagePull"), false)
	update(pullBackOff("ImagePullBackOff"), false)
	update(corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, true)
	testutil.Eventually(t, 10*time.Second, "the recovery", func() bool { return len(rec.types()) == 2 })
	if got := rec.types(); !slices.Equal(got, []string{"ADDED web", "MODIFIED web"}) {
		t.Fatalf("events %v: the kubelet's back-off printed lines", got)
	}
	rec.mu.Lock()
	last := rec.events[1]
	rec.mu.Unlock()
	if last.Status != deployment.Progressing || len(last.Problems) != 0 || !slices.Contains(last.Changed, "problems") {
		t.Errorf("after the pod runs: %s %q problems %v changed %v", last.Status, last.Message, last.Problems, last.Changed)
	}
}

// TestDiagnosisOffWithoutPods: a user who may not list pods still gets
// the Deployments, and is told once that rollouts are not diagnosed.
func TestDiagnosisOffWithoutPods(t *testing.T) {
	client := fake.NewClientset(rollingOut(pullBackOff("ImagePullBackOff"), 0)...)
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	})
	var off []error
	rec := &recorder{}
	tr := New(fakeApps{client.AppsV1()}, Options{Namespace: "shop", Diagnose: fakeDiagnose(client), OnDiagnosisOff: func(err error) { off = append(off, err) }})
	stop, err := tr.Start(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if len(off) != 1 || !apierrors.IsForbidden(off[0]) {
		t.Errorf("told %v, want one Forbidden", off)
	}
	if len(rec.snapshot) != 1 || rec.snapshot[0].Status != deployment.Progressing {
		t.Errorf("snapshot %+v, want web Progressing", rec.snapshot)
	}
}

// TestRunRetriesTransientStartErrors: a 503 or 429 on the first list is
// waited out (and reported), as kubectl rollout status does.
func TestRunRetriesTransientStartErrors(t *testing.T) {
	// The retry's backoff passes on synctest's clock, not the wall's.
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset(newDeployment("web", 1, "nginx:1"))
		var calls atomic.Int32
		client.PrependReactor("list", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
			if calls.Add(1) == 1 {
				return true, nil, apierrors.NewServiceUnavailable("etcd is restarting")
			}
			return false, nil, nil
		})
		var reported atomic.Int32
		rec := &recorder{}
		stop, err := New(fakeApps{client.AppsV1()}, Options{Namespace: "shop", OnError: func(error) { reported.Add(1) }}).Start(context.Background(), rec)
		if err != nil {
			t.Fatalf("Start error = %v, want it to wait out the 503", err)
		}
		defer stop()
		if len(rec.snapshot) != 1 || reported.Load() != 1 {
			t.Errorf("snapshot %d deployments, %d errors reported; want 1 and 1", len(rec.snapshot), reported.Load())
		}
	})
}

func TestPermanent(t *testing.T) {
	gr := schema.GroupResource{Resource: "deployments"}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewForbidden(gr, "", errors.New("no")), true},
		{apierrors.NewUnauthorized("no"), true},
		{apierrors.NewNotFound(gr, ""), true},
		{apierrors.NewServiceUnavailable("later"), false},
		{apierrors.NewTooManyRequests("later", 1), false},
		{apierrors.NewInternalError(errors.New("boom")), false},
		{apierrors.NewTimeoutError("slow", 1), false},
		{errors.New("read: connection reset by peer"), false},
	} {
		if got := Permanent(tt.err); got != tt.want {
			t.Errorf("Permanent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
