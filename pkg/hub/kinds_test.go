package hub

import (
	"context"
	"errors"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// fakeAllApps is fakeApps with every workload kind.
type fakeAllApps struct{ appsv1client.AppsV1Interface }

func (fakeAllApps) IsWatchListSemanticsUnSupported() bool { return true }

// workloadObjects are a Deployment and a StatefulSet both called web, and a
// DaemonSet agent, in namespace ns.
func workloadObjects(ns string) []runtime.Object {
	one := int32(1)
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}}}
	meta := func(kind, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(ns + "-" + kind + "-" + name), Generation: 1}
	}
	d := &appsv1.Deployment{ObjectMeta: meta("deploy", "web"), Spec: appsv1.DeploymentSpec{Replicas: &one, Template: tmpl}}
	sts := &appsv1.StatefulSet{ObjectMeta: meta("sts", "web"), Spec: appsv1.StatefulSetSpec{Replicas: &one, Template: tmpl}}
	ds := &appsv1.DaemonSet{ObjectMeta: meta("ds", "agent"), Spec: appsv1.DaemonSetSpec{Template: tmpl}}
	return []runtime.Object{d, sts, ds}
}

// kindsOf are the messages' events as kind/name.
func kindsOf(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		for _, e := range m.Events {
			out = append(out, e.Kind+"/"+e.Name)
		}
	}
	return out
}

// With Options.Workloads, a namespace's tracker follows every kind: a
// Deployment and a StatefulSet of one name are two rows, and the delete of
// one says its kind and leaves the other.
func TestWorkloadsOfEveryKindAreRowsOfTheirOwn(t *testing.T) {
	client := fake.NewClientset(workloadObjects("shop")...)
	watching := make(chan string, 10)
	client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		watching <- a.GetResource().Resource
		return false, nil, nil
	})
	apps := fakeAllApps{client.AppsV1()}
	h := New(apps, Options{Workloads: apps})
	defer h.Close()
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	msgs := next(t, s)
	got := kindsOf(msgs)
	want := []string{"DaemonSet/agent", "StatefulSet/web", "Deployment/web"} // by key: shop/daemonset/agent, shop/statefulset/web, shop/web
	if msgs[0].Kind != Snapshot || len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("snapshot = %v, want %v", got, want)
	}
	if st, ok := h.Statuses("shop"); !ok || len(st) != 1 {
		t.Fatalf("Statuses = %v, %v; want the Deployment alone", st, ok)
	}
	for seen := map[string]bool{}; len(seen) < 3; {
		seen[<-watching] = true // writes before the watches start would be missed by the fake
	}
	if err := client.AppsV1().StatefulSets("shop").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	msgs = next(t, s)
	if msgs[0].Kind != Delete || msgs[0].Events[0].Kind != deployment.KindStatefulSet || msgs[0].Events[0].Name != "web" {
		t.Fatalf("got %+v, want the StatefulSet's delete", msgs)
	}
	s2 := subscribe(t, h, "shop", "")
	defer s2.Close()
	if got := kindsOf(next(t, s2)); len(got) != 2 || got[0] != "DaemonSet/agent" || got[1] != "Deployment/web" {
		t.Fatalf("snapshot after the delete = %v, want the Deployment web and the DaemonSet", got)
	}
}

// An identity that may not list StatefulSets or DaemonSets sees its
// Deployments as without Options.Workloads, and each kind left out is told
// once.
func TestKindsTheIdentityMayNotListAreLeftOut(t *testing.T) {
	client := fake.NewClientset(workloadObjects("shop")...)
	for _, res := range []string{"statefulsets", "daemonsets"} {
		client.PrependReactor("list", res, func(a k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: res}, "", errors.New("no"))
		})
	}
	var mu sync.Mutex
	var off []string
	apps := fakeAllApps{client.AppsV1()}
	h := New(apps, Options{Workloads: apps, OnKindOff: func(ns, kind string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if ns == "shop" && apierrors.IsForbidden(err) {
			off = append(off, kind)
		}
	}})
	defer h.Close()
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	if got := kindsOf(next(t, s)); len(got) != 1 || got[0] != "Deployment/web" {
		t.Fatalf("snapshot = %v, want the Deployment alone", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(off) != 2 || off[0] != deployment.KindStatefulSet || off[1] != deployment.KindDaemonSet {
		t.Fatalf("kinds told off = %v, want StatefulSet and DaemonSet", off)
	}
}
