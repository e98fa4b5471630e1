package server

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/hub"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// fakeAllApps is fakeApps with every workload kind.
type fakeAllApps struct{ appsv1client.AppsV1Interface }

func (fakeAllApps) IsWatchListSemanticsUnSupported() bool { return true }

// workloadObjects are, in namespace shop, the StatefulSet db (nginx:2, with
// the ControllerRevisions of nginx:1 and nginx:2), the DaemonSet agent and
// the Deployment web of rolloutObjects, and a StatefulSet web beside it.
func workloadObjects(t *testing.T) []runtime.Object {
	t.Helper()
	two := int32(2)
	labels := map[string]string{"app": "db"}
	tmpl := func(image string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: image}}}}
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", UID: "uid-db", ResourceVersion: "10", Generation: 2},
		Spec:       appsv1.StatefulSetSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl("nginx:2")},
	}
	web := sts.DeepCopy()
	web.Name, web.UID = "web", "uid-sts-web"
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "shop", UID: "uid-agent", ResourceVersion: "20", Generation: 1},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl("agent:1")},
	}
	yes := true
	rev := func(n int64, image string) *appsv1.ControllerRevision {
		raw, err := json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl(image)}})
		if err != nil {
			t.Fatal(err)
		}
		return &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: "db-" + image[len("nginx:"):], Namespace: "shop", Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", UID: "uid-db", Controller: &yes}}},
			Data: runtime.RawExtension{Raw: raw}, Revision: n,
		}
	}
	return append(rolloutObjects(), sts, web, ds, rev(1, "nginx:1"), rev(2, "nginx:2"))
}

// withWorkloads makes the fixture's hub follow every kind, as serve's does.
func withWorkloads(t *testing.T) func(*Options) {
	return func(o *Options) {
		apps := fakeAllApps{o.Client.AppsV1()}
		h := hub.New(apps, hub.Options{Workloads: apps})
		t.Cleanup(h.Close) // after the server's, registered later
		o.Hub = h
	}
}

// The changes of StatefulSets and DaemonSets have routes of their own,
// under the rules of the Deployments' (token, preconditions, error
// shapes); a change a kind has not is 422 NotSupported, saying what to do
// instead, and asks the API server nothing.
func TestWorkloadChangeRoutes(t *testing.T) {
	f := newFixture(t, nil, workloadObjects(t)...)
	statefulSetScale(f.client)
	var h operations.History
	getJSON(t, f, "/api/namespaces/shop/statefulsets/db/history", &h)
	if h.Kind != operations.StatefulSet || len(h.Revisions) != 2 || h.Revisions[0].Revision != 2 || !h.Revisions[0].Current {
		t.Fatalf("history = %+v", h)
	}
	for _, tc := range []struct {
		method, path, body string
		header             map[string]string
		status             int
		reason             string
		says               string
	}{
		{"PUT", "/api/namespaces/shop/statefulsets/db/scale", `{"replicas": 3}`, noAuth, 401, "Unauthorized", ""},
		{"PUT", "/api/namespaces/shop/statefulsets/db/scale", `{"replicas": 3, "currentReplicas": 7}`, bearer, 409, "Conflict", "statefulset"},
		{"PUT", "/api/namespaces/shop/statefulsets/nope/scale", `{"replicas": 3}`, bearer, 404, "NotFound", `statefulset "nope" not found`},
		{"PUT", "/api/namespaces/shop/statefulsets/Bad_Name/scale", `{"replicas": 3}`, bearer, 400, "BadRequest", "invalid StatefulSet name"},
		{"PUT", "/api/namespaces/shop/statefulsets/db/scale", `{"replicas": 3}`, bearer, 200, "", ""},
		{"PUT", "/api/namespaces/shop/statefulsets/db/image", `{"container": "db", "image": "nginx:3", "resourceVersion": "1"}`, bearer, 409, "Conflict", ""},
		{"PUT", "/api/namespaces/shop/statefulsets/db/image", `{"container": "db", "image": "nginx:3"}`, bearer, 200, "", ""},
		{"POST", "/api/namespaces/shop/statefulsets/db/undo", `{"toRevision": 9}`, bearer, 404, "NotFound", ""},
		{"POST", "/api/namespaces/shop/statefulsets/db/undo", `{"toRevision": 1}`, bearer, 200, "", ""},
		{"POST", "/api/namespaces/shop/daemonsets/agent/restart", ``, bearer, 200, "", ""},
		{"PUT", "/api/namespaces/shop/daemonsets/agent/image", `{"container": "db", "image": "agent:2"}`, bearer, 200, "", ""},
		{"PUT", "/api/namespaces/shop/daemonsets/agent/scale", `{"replicas": 3}`, bearer, 422, "NotSupported", "node selector"},
		{"POST", "/api/namespaces/shop/statefulsets/db/pause", ``, bearer, 422, "NotSupported", "partition"},
		{"POST", "/api/namespaces/shop/daemonsets/agent/resume", ``, bearer, 422, "NotSupported", "only deployments"},
		{"POST", "/api/namespaces/shop/daemonsets/agent/pause", ``, noAuth, 401, "Unauthorized", ""},
		{"GET", "/api/namespaces/shop/daemonsets/agent/scale", ``, bearer, 405, "MethodNotAllowed", ""},
	} {
		resp, e := f.do(t, tc.method, tc.path, tc.body, tc.header)
		if resp.StatusCode != tc.status || e.Reason != tc.reason || !strings.Contains(e.Message, tc.says) {
			t.Errorf("%s %s %s: %d %q (%s), want %d %q saying %q", tc.method, tc.path, tc.body, resp.StatusCode, e.Reason, e.Message, tc.status, tc.reason, tc.says)
		}
	}
	ctx := t.Context()
	sts, err := f.client.AppsV1().StatefulSets("shop").Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *sts.Spec.Replicas != 3 || sts.Spec.Template.Spec.Containers[0].Image != "nginx:1" {
		t.Errorf("after scale, set-image and undo: %d replicas, image %s; want 3, nginx:1", *sts.Spec.Replicas, sts.Spec.Template.Spec.Containers[0].Image)
	}
	ds, err := f.client.AppsV1().DaemonSets("shop").Get(ctx, "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Spec.Template.Annotations[operations.RestartedAtAnnotation] == "" || ds.Spec.Template.Spec.Containers[0].Image != "agent:2" {
		t.Errorf("after restart and set-image: %+v", ds.Spec.Template)
	}
	web, _ := f.client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if web.Spec.Template.Spec.Containers[0].Image != "nginx:2" || web.Spec.Template.Annotations[operations.RestartedAtAnnotation] != "" {
		t.Errorf("the Deployment web changed with the other kinds: %+v", web.Spec.Template)
	}
	for _, a := range f.client.Actions() {
		if a.GetResource().Resource == "daemonsets" && a.GetSubresource() == "scale" ||
			a.GetVerb() == "patch" && a.GetResource().Resource == "statefulsets" && strings.Contains(string(a.(k8stesting.PatchAction).GetPatch()), "paused") {
			t.Errorf("a change the kind has not reached the API server: %v", a)
		}
	}

	ro := newFixture(t, func(o *Options) { o.ReadOnly = true }, workloadObjects(t)...)
	if resp, e := ro.do(t, "PUT", "/api/namespaces/shop/daemonsets/agent/scale", `{"replicas": 1}`, bearer); resp.StatusCode != 403 || e.Reason != "ReadOnly" {
		t.Errorf("read-only: %d %q, want 403 ReadOnly first", resp.StatusCode, e.Reason)
	}
}

// statefulSetScale serves statefulsets/scale from the StatefulSets, as the
// API server does (the fake clientset has no subresources).
func statefulSetScale(c *fake.Clientset) {
	gvr := appsv1.SchemeGroupVersion.WithResource("statefulsets")
	c.PrependReactor("get", "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		o, err := c.Tracker().Get(gvr, a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		sts := o.(*appsv1.StatefulSet)
		return true, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: sts.Name, Namespace: sts.Namespace, ResourceVersion: sts.ResourceVersion},
			Spec: autoscalingv1.ScaleSpec{Replicas: *sts.Spec.Replicas}}, nil
	})
	c.PrependReactor("update", "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		sc := a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		o, err := c.Tracker().Get(gvr, sc.Namespace, sc.Name)
		if err != nil {
			return true, nil, err
		}
		sts := o.(*appsv1.StatefulSet).DeepCopy()
		sts.Spec.Replicas = &sc.Spec.Replicas
		return true, sc, c.Tracker().Update(gvr, sts, sc.Namespace)
	})
}

// The list and the stream carry every kind, each row its kind, a
// Deployment and a StatefulSet of one name apart.
func TestListCarriesEveryKind(t *testing.T) {
	f := newFixture(t, withWorkloads(t), workloadObjects(t)...)
	var list []deployment.Summary
	getJSON(t, f, "/api/namespaces/shop/deployments", &list)
	got := map[string]bool{}
	for _, s := range list {
		got[s.Kind+"/"+s.Name] = true
	}
	want := []string{"Deployment/web", "StatefulSet/web", "StatefulSet/db", "DaemonSet/agent"}
	for _, w := range want {
		if !got[w] {
			t.Errorf("list %v lacks %s", got, w)
		}
	}
	if len(list) != len(want) {
		t.Errorf("list = %v, want %v", got, want)
	}
}

// The permissions of StatefulSets and DaemonSets are objects of their own,
// the same fields as the Deployments' top level; a DaemonSet's scale is
// never asked.
func TestPermissionsOfEveryKind(t *testing.T) {
	f := newFixture(t, nil, rolloutObjects()...)
	var asked []string
	f.client.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		attr := r.Spec.ResourceAttributes
		asked = append(asked, attr.Verb+" "+attr.Resource+"/"+attr.Subresource)
		r.Status.Allowed = attr.Resource == "statefulsets" || attr.Resource == "controllerrevisions" || attr.Resource == "daemonsets" && attr.Verb == "patch"
		return true, r, nil
	})
	var p Permissions
	getJSON(t, f, "/api/namespaces/shop/permissions", &p)
	want := Permissions{StatefulSets: KindPermissions{Scale: true, Patch: true, History: true}, DaemonSets: KindPermissions{Patch: true, History: true}}
	if p != want {
		t.Errorf("permissions = %+v, want %+v", p, want)
	}
	for _, q := range asked {
		if q == "update daemonsets/scale" {
			t.Error("a DaemonSet's scale was asked")
		}
	}
}

// With --auth=kubernetes, a user who may not list StatefulSets sees none,
// in the list and the stream alike; the others' rows are as they are.
func TestKubeAuthHidesKindsTheUserMayNotList(t *testing.T) {
	k := newKubeFixtureOf(t, withWorkloads(t), workloadObjects(t)...)
	k.client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		if ra := sar.Spec.ResourceAttributes; sar.Spec.User == "bob" && ra.Resource == "statefulsets" {
			sar.Status.Allowed = false
			return true, sar, nil
		}
		return false, nil, nil
	})
	for user, want := range map[string]int{"alice": 4, "bob": 2} {
		resp, err := k.ts.Client().Do(mustRequest(t, "GET", k.ts.URL+"/api/namespaces/shop/deployments", "", as(user)))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s lists shop: %v %v", user, resp, err)
		}
		var list []deployment.Summary
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		n := 0
		for _, s := range list {
			if user == "bob" && s.Kind == deployment.KindStatefulSet {
				t.Errorf("bob, who may not list statefulsets, sees %s", s.ShortName())
			}
			n++
		}
		if n != want {
			t.Errorf("%s sees %d rows, want %d", user, n, want)
		}
	}

	// The stream's frames: an event of a hidden kind is left out, a
	// snapshot is encoded without it, others are the shared frames.
	sts := deployment.Event{Type: deployment.Modified, Summary: deployment.Summary{Kind: deployment.KindStatefulSet, Namespace: "shop", Name: "db"}}
	web := deployment.Event{Type: deployment.Modified, Summary: deployment.Summary{Kind: deployment.KindDeployment, Namespace: "shop", Name: "web"}}
	bob := userView{mayList: func(kind string) bool { return kind != deployment.KindStatefulSet }}
	shared := []byte("shared")
	if f := frameFor(hub.Message{Kind: hub.Upsert, ID: "e-1", Events: []deployment.Event{sts}, Frame: shared}, bob); f != nil {
		t.Errorf("bob is sent a StatefulSet's event: %s", f)
	}
	if f := frameFor(hub.Message{Kind: hub.Upsert, ID: "e-2", Events: []deployment.Event{web}, Frame: shared}, bob); &f[0] != &shared[0] {
		t.Errorf("bob's frame of a Deployment's event is not the shared one: %s", f)
	}
	f := string(frameFor(hub.Message{Kind: hub.Snapshot, ID: "e-3", Events: []deployment.Event{sts, web}, Frame: shared}, bob))
	if strings.Contains(f, `"db"`) || !strings.Contains(f, `"web"`) || !strings.Contains(f, "id: e-3") {
		t.Errorf("bob's snapshot = %q, want web's alone", f)
	}
}
