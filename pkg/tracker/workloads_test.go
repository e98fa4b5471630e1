package tracker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

var allKinds = []string{deployment.KindDeployment, deployment.KindStatefulSet, deployment.KindDaemonSet}

// web is a StatefulSet (named as the Deployment web of newDeployment)
// rolling out to revision web-2, whose pods are given.
func webStatefulSet(pods ...*corev1.Pod) []runtime.Object {
	replicas := int32(3)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "sts-uid", Generation: 2, Annotations: map[string]string{"big": "value"}},
		Spec:       appsv1.StatefulSetSpec{Replicas: &replicas},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, UpdatedReplicas: 1,
			CurrentRevision: "web-1", UpdateRevision: "web-2"},
	}
	sts.Spec.Template.Spec.Containers = []corev1.Container{{Name: "db", Image: "postgres:18", Args: []string{"-v"}}}
	objs := []runtime.Object{sts}
	for _, p := range pods {
		objs = append(objs, p)
	}
	return objs
}

func ownedPod(name, kind, owner, uid string, labels map[string]string, state corev1.ContainerState) *corev1.Pod {
	controller := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{Kind: kind, Name: owner, UID: k8stypes.UID(uid), Controller: &controller}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "db", State: state}}},
	}
}

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

func startAll(t *testing.T, client *fake.Clientset, opts Options) (*recorder, func()) {
	t.Helper()
	opts.Namespace = "shop"
	opts.Kinds = allKinds
	opts.Workloads = fakeApps{client.AppsV1()}
	opts.Diagnose = fakeDiagnose(client)
	rec := &recorder{}
	stop, err := New(fakeApps{client.AppsV1()}, opts).Start(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	return rec, stop
}

func byKind(snapshot []deployment.Summary, kind string) *deployment.Summary {
	for i := range snapshot {
		if snapshot[i].Kind == kind {
			return &snapshot[i]
		}
	}
	return nil
}

// TestKindsSideBySide: a Deployment, a StatefulSet and a DaemonSet, two of
// one name, are three workloads in one snapshot, each summarized by its
// kind's rules, the StatefulSet's new pod diagnosed.
func TestKindsSideBySide(t *testing.T) {
	pods := []*corev1.Pod{
		ownedPod("web-2", "StatefulSet", "web", "sts-uid", map[string]string{revisionHashLabel: "web-2"}, pullBackOff("ImagePullBackOff")),
		ownedPod("web-0", "StatefulSet", "web", "sts-uid", map[string]string{revisionHashLabel: "web-1"}, running()),
	}
	objs := append(webStatefulSet(pods...), newDeployment("web", 1, "nginx:1"), &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "shop", Generation: 1},
		Status:     appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2},
	})
	client := fake.NewClientset(objs...)
	rec, stop := startAll(t, client, Options{})
	defer stop()
	if len(rec.snapshot) != 3 {
		t.Fatalf("snapshot %+v, want 3 workloads", rec.snapshot)
	}
	d, sts, ds := byKind(rec.snapshot, deployment.KindDeployment), byKind(rec.snapshot, deployment.KindStatefulSet), byKind(rec.snapshot, deployment.KindDaemonSet)
	if d == nil || d.Name != "web" || d.Status != deployment.Running {
		t.Errorf("deployment %+v", d)
	}
	if ds == nil || ds.Status != deployment.Running {
		t.Errorf("daemonset %+v", ds)
	}
	if sts == nil || sts.Status != deployment.Failing || len(sts.Problems) != 1 || sts.Problems[0].Pod != "web-2" ||
		!strings.Contains(sts.Message, "kubectl delete pod web-2 -n shop --wait=false") {
		t.Fatalf("statefulset %+v, want Failing on web-2 with the command a rollback will need", sts)
	}
	if got := sts.Containers; len(got) != 1 || got[0].Image != "postgres:18" {
		t.Errorf("containers %+v", got)
	}

	// The pod recovers: the StatefulSet is summarized again.
	p, _ := client.CoreV1().Pods("shop").Get(context.Background(), "web-2", metav1.GetOptions{})
	p.Status.ContainerStatuses[0].State = running()
	if _, err := client.CoreV1().Pods("shop").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the StatefulSet without its problem", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, e := range rec.events {
			if e.Kind == deployment.KindStatefulSet && e.Type == deployment.Modified && len(e.Problems) == 0 {
				return true
			}
		}
		return false
	})
}

// TestOrderedReadyTrap: rolled back under OrderedReady, an old pod that
// does not run blocks the rollout; the summary names the pod to delete.
func TestOrderedReadyTrap(t *testing.T) {
	objs := webStatefulSet(
		ownedPod("web-0", "StatefulSet", "web", "sts-uid", map[string]string{revisionHashLabel: "web-2"}, running()),
		ownedPod("web-1", "StatefulSet", "web", "sts-uid", map[string]string{revisionHashLabel: "web-2"}, running()),
		ownedPod("web-2", "StatefulSet", "web", "sts-uid", map[string]string{revisionHashLabel: "web-bad"}, pullBackOff("ImagePullBackOff")),
	)
	sts := objs[0].(*appsv1.StatefulSet)
	sts.Status.UpdatedReplicas = 2
	client := fake.NewClientset(objs...)
	rec, stop := startAll(t, client, Options{})
	defer stop()
	s := byKind(rec.snapshot, deployment.KindStatefulSet)
	if s == nil || s.Status != deployment.Failing || len(s.Problems) != 1 || !s.Problems[0].Blocking ||
		!strings.HasSuffix(s.Message, "delete it to unblock the rollout: kubectl delete pod web-2 -n shop --wait=false") {
		t.Fatalf("statefulset %+v, want Failing, blocked on web-2", s)
	}

	// Under Parallel the controller replaces the pod itself.
	sts.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	parallel := fake.NewClientset(objs...)
	rec, stop2 := startAll(t, parallel, Options{})
	defer stop2()
	if s := byKind(rec.snapshot, deployment.KindStatefulSet); s == nil || len(s.Problems) != 0 {
		t.Errorf("under Parallel: %+v, want no blocking problem", s)
	}
}

// TestKindOff: a kind but the first that may not be listed is left out
// and told, after the sync; the first one's error ends the start.
func TestKindOff(t *testing.T) {
	client := fake.NewClientset(newDeployment("web", 1, "nginx:1"))
	client.PrependReactor("list", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "", errors.New("no"))
	})
	var off []string
	rec, stop := startAll(t, client, Options{OnKindOff: func(kind string, err error) {
		if apierrors.IsForbidden(err) {
			off = append(off, kind)
		}
	}})
	defer stop()
	if len(off) != 1 || off[0] != deployment.KindStatefulSet || len(rec.snapshot) != 1 {
		t.Errorf("told %v, snapshot %+v; want StatefulSet off and web", off, rec.snapshot)
	}

	// Without OnKindOff, or for the first kind, it ends the start.
	opts := Options{Namespace: "shop", Kinds: allKinds, Workloads: fakeApps{client.AppsV1()}}
	if _, err := New(fakeApps{client.AppsV1()}, opts).Start(context.Background(), &recorder{}); !apierrors.IsForbidden(err) {
		t.Errorf("start without OnKindOff: %v, want Forbidden", err)
	}
}

// The transforms keep a StatefulSet's and a DaemonSet's summary whole.
func TestStripWorkloads(t *testing.T) {
	sts := webStatefulSet()[0].(*appsv1.StatefulSet)
	stripped, _ := StripStatefulSet(sts)
	if got, want := deployment.SummarizeStatefulSet(stripped.(*appsv1.StatefulSet), nil), deployment.SummarizeStatefulSet(sts, nil); len(deployment.Changed(&got, &want)) > 0 {
		t.Errorf("stripped summary %+v, want %+v", got, want)
	}
	if s := stripped.(*appsv1.StatefulSet); s.Annotations != nil || s.Spec.Template.Spec.Containers[0].Args != nil {
		t.Errorf("kept %+v", s)
	}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Annotations: map[string]string{templateGenerationAnnotation: "3", "big": "x"}}}
	out, _ := StripDaemonSet(ds)
	if a := out.(*appsv1.DaemonSet).Annotations; len(a) != 1 || a[templateGenerationAnnotation] != "3" {
		t.Errorf("annotations %v", a)
	}
	pod, _ := StripPod(ownedPod("p", "DaemonSet", "agent", "u", map[string]string{templateGenerationKey: "3", "app": "agent"}, running()))
	if l := pod.(*corev1.Pod).Labels; len(l) != 1 || l[templateGenerationKey] != "3" {
		t.Errorf("pod labels %v", l)
	}
}

// A DaemonSet's new pods are those of its template's generation or of its
// newest ControllerRevision's hash (the controller's rule): after a
// rollback to an earlier template, its old pods of that template are new.
func TestDaemonSetNewPodsByRevision(t *testing.T) {
	controller := true
	owner := []metav1.OwnerReference{{Kind: "DaemonSet", Name: "agent", UID: "ds-uid", Controller: &controller}}
	revision := func(name, hash string, n int64) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", OwnerReferences: owner,
			Labels: map[string]string{revisionHashLabel: hash}}, Revision: n}
	}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "shop", UID: "ds-uid", Generation: 3,
			Annotations: map[string]string{templateGenerationAnnotation: "3"}},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 3, DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, UpdatedNumberScheduled: 1},
	}
	// Generation 1's pod, of hash a, which revision 3 (the rollback) has again.
	pod := ownedPod("agent-x", "DaemonSet", "agent", "ds-uid", map[string]string{templateGenerationKey: "1", revisionHashLabel: "a"}, pullBackOff("ImagePullBackOff"))
	client := fake.NewClientset(ds, pod, revision("agent-b", "b", 2), revision("agent-a", "a", 3))
	opts := Options{Namespace: "shop", Kinds: []string{deployment.KindDaemonSet}, Workloads: fakeApps{client.AppsV1()}, Diagnose: fakeDiagnose(client)}
	opts.Diagnose.ControllerRevisions = fakeApps{client.AppsV1()}
	rec := &recorder{}
	stop, err := New(fakeApps{client.AppsV1()}, opts).Start(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if len(rec.snapshot) != 1 || len(rec.snapshot[0].Problems) != 1 || rec.snapshot[0].Problems[0].Pod != "agent-x" {
		t.Fatalf("snapshot %+v, want agent-x diagnosed as new", rec.snapshot)
	}
}
