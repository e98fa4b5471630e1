package server

import (
	"encoding/json"
	"io"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// rolloutObjects are shop/web at revision 2 (nginx:2) with the ReplicaSets
// of revisions 1 (nginx:1) and 2.
func rolloutObjects() []runtime.Object {
	d := newDeployment("shop", "web", 2)
	d.UID = "uid-web"
	d.ResourceVersion = "7"
	labels := map[string]string{"app": "web"}
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: labels}
	d.Spec.Template.Labels = labels
	d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	yes := true
	rs := func(rev, image string) *appsv1.ReplicaSet {
		l := map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: "h" + rev}
		return &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "web-" + rev, Namespace: "shop", Labels: l,
				Annotations:     map[string]string{operations.RevisionAnnotation: rev},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "uid-web", Controller: &yes}}},
			Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}}}},
		}
	}
	return []runtime.Object{namespaceObj("shop"), d, rs("1", "nginx:1"), rs("2", "nginx:2")}
}

func TestRolloutEndpoints(t *testing.T) {
	f := newFixture(t, nil, rolloutObjects()...)
	var h operations.History
	getJSON(t, f, "/api/namespaces/shop/deployments/web/history", &h)
	if len(h.Revisions) != 2 || h.Revisions[0].Revision != 2 || !h.Revisions[0].Current || h.ResourceVersion != "7" {
		t.Fatalf("history = %+v", h)
	}
	getJSON(t, f, "/api/namespaces/shop/deployments/web/history?revision=1", &h)
	if len(h.Revisions) != 1 || h.Revisions[0].Revision != 1 {
		t.Errorf("history?revision=1 = %+v", h)
	}

	for _, tc := range []struct {
		path, body string
		status     int
		reason     string
	}{
		{"/api/namespaces/shop/deployments/web/undo", `{"toRevision": 9}`, 404, "NotFound"},
		{"/api/namespaces/shop/deployments/web/undo", `{"toRevision": 2}`, 409, "Conflict"},
		{"/api/namespaces/shop/deployments/web/undo", `{"resourceVersion": "6"}`, 409, "Conflict"},
		{"/api/namespaces/shop/deployments/web/undo", `{"toRevision": -1}`, 400, "BadRequest"},
		{"/api/namespaces/shop/deployments/web/undo", `{"to": 1}`, 400, "BadRequest"},
		{"/api/namespaces/shop/deployments/nope/restart", ``, 404, "NotFound"},
		{"/api/namespaces/shop/deployments/web/undo", `{"toRevision": 1, "resourceVersion": "7"}`, 200, ""},
		{"/api/namespaces/shop/deployments/web/pause", ``, 200, ""},
		{"/api/namespaces/shop/deployments/web/restart", `{}`, 409, "Conflict"}, // paused
		{"/api/namespaces/shop/deployments/web/resume", `{}`, 200, ""},
		{"/api/namespaces/shop/deployments/web/restart", ``, 200, ""},
	} {
		resp, e := f.do(t, "POST", tc.path, tc.body, bearer)
		if status := resp.StatusCode; status != tc.status || e.Reason != tc.reason {
			t.Errorf("POST %s %s: %d %q (%s), want %d %q", tc.path, tc.body, resp.StatusCode, e.Reason, e.Message, tc.status, tc.reason)
		}
	}
	obj, err := f.client.Tracker().Get(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	d := obj.(*appsv1.Deployment)
	if d.Spec.Template.Spec.Containers[0].Image != "nginx:1" || d.Spec.Paused || d.Spec.Template.Annotations[operations.RestartedAtAnnotation] == "" {
		t.Errorf("after undo, pause, resume, restart: image %s, paused %v, template annotations %v",
			d.Spec.Template.Spec.Containers[0].Image, d.Spec.Paused, d.Spec.Template.Annotations)
	}

	// The body of a change is the result.
	resp, err := f.ts.Client().Do(mustRequest(t, "POST", f.ts.URL+"/api/namespaces/shop/deployments/web/pause", "", bearer))
	if err != nil {
		t.Fatal(err)
	}
	var res operations.Result
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(b, &res); err != nil || !res.Changed || res.Changes[0] != (operations.Change{What: "paused", From: "false", To: "true"}) {
		t.Errorf("pause result: %s (%v)", b, err)
	}
}

func TestRolloutRefusals(t *testing.T) {
	f := newFixture(t, nil, rolloutObjects()...)
	ro := newFixture(t, func(o *Options) { o.ReadOnly = true }, rolloutObjects()...)
	only := newFixture(t, func(o *Options) { o.Namespaces = []string{"bank"} }, rolloutObjects()...)
	for _, tc := range []struct {
		name         string
		f            *fixture
		method, path string
		header       map[string]string
		status       int
		reason       string
	}{
		{"undo without a token", f, "POST", "/api/namespaces/shop/deployments/web/undo", noAuth, 401, "Unauthorized"},
		{"history without a token", f, "GET", "/api/namespaces/shop/deployments/web/history", noAuth, 401, "Unauthorized"},
		{"restart with a wrong token", f, "POST", "/api/namespaces/shop/deployments/web/restart", map[string]string{"Authorization": "Bearer x"}, 401, "Unauthorized"},
		{"pause read-only", ro, "POST", "/api/namespaces/shop/deployments/web/pause", bearer, 403, "ReadOnly"},
		{"resume from another site", f, "POST", "/api/namespaces/shop/deployments/web/resume", map[string]string{"Authorization": "Bearer " + testToken, "Origin": "http://evil.example"}, 403, "ForeignOrigin"},
		{"undo not served", only, "POST", "/api/namespaces/shop/deployments/web/undo", bearer, 403, "NamespaceNotServed"},
		{"history not served", only, "GET", "/api/namespaces/shop/deployments/web/history", nil, 403, "NamespaceNotServed"},
		{"permissions not served", only, "GET", "/api/namespaces/shop/permissions", nil, 403, "NamespaceNotServed"},
		{"history of no namespace", f, "GET", "/api/namespaces/nope/deployments/web/history", nil, 404, "NotFound"},
		{"history of a bad revision", f, "GET", "/api/namespaces/shop/deployments/web/history?revision=x", nil, 400, "BadRequest"},
		{"undo by GET", f, "GET", "/api/namespaces/shop/deployments/web/undo", bearer, 405, "MethodNotAllowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, e := tc.f.do(t, tc.method, tc.path, "{}", tc.header)
			if resp.StatusCode != tc.status || e.Reason != tc.reason {
				t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, e.Reason, e.Message, tc.status, tc.reason)
			}
		})
	}
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "patch" {
			t.Errorf("a refused request reached the API server: %s", a.GetVerb())
		}
	}
}
