package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// This file holds serve's StatefulSets and DaemonSets: its list, stream,
// changes and permissions, with the real controllers of the test bed.

// kindIs matches an upsert of the workload of this kind and name that
// cond accepts.
func kindIs(t *testing.T, kind, name string, cond func(deployment.Event) bool) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		if ev.Event != "upsert" {
			return false
		}
		e := eventOf(t, ev)
		return e.Kind == kind && e.Name == name && cond(e)
	}
}

// imageIs is an event whose first container runs image, rolled out.
func imageIs(image string) func(deployment.Event) bool {
	return func(e deployment.Event) bool {
		return len(e.Containers) > 0 && e.Containers[0].Image == image && e.Status == deployment.Running
	}
}

// TestServeWorkloads: serve shows a Deployment, a StatefulSet of the same
// name and a DaemonSet as rows of their own, each with its kind, and
// changes the StatefulSet and the DaemonSet through their routes, as the
// real controllers then roll them; what a kind has not is 422.
func TestServeWorkloads(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	createStatefulSet(t, ns, "web", 1, true, func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement })
	createDaemonSet(t, ns, "agent", nil)
	waitRolledOut(t, ns, "web")
	p := startServe(t)

	s := p.openStream(t, ns, nil)
	kinds := map[string]bool{}
	for _, e := range snapshotOf(t, s.next(t, time.Minute)) {
		kinds[e.Kind+"/"+e.Name] = true
	}
	for _, want := range []string{"Deployment/web", "StatefulSet/web", "DaemonSet/agent"} {
		if !kinds[want] {
			t.Fatalf("snapshot %v lacks %s", kinds, want)
		}
	}
	status, body := p.request(t, "GET", "/api/namespaces/"+ns+"/deployments", "", nil)
	var list []map[string]any
	if status != 200 || json.Unmarshal(body, &list) != nil || len(list) != 3 {
		t.Fatalf("list: %d %s", status, body)
	}
	for _, row := range list {
		if row["kind"] == nil || row["name"] == nil || row["replicas"] == nil {
			t.Fatalf("a row without its kind, or a Deployment's fields: %v", row)
		}
	}

	// The namespace list counts Deployments, as before.
	status, body = p.request(t, "GET", "/api/namespaces", "", nil)
	var nsList struct {
		Namespaces []struct {
			Name  string `json:"name"`
			Total int    `json:"total"`
		} `json:"namespaces"`
	}
	if status != 200 || json.Unmarshal(body, &nsList) != nil {
		t.Fatalf("/api/namespaces: %d %s", status, body)
	}
	counted := -1
	for _, n := range nsList.Namespaces {
		if n.Name == ns {
			counted = n.Total
		}
	}
	if counted != 1 {
		t.Fatalf("/api/namespaces counts %d in %s (-1: not listed), want its one Deployment", counted, ns)
	}

	base := "/api/namespaces/" + ns
	status, body = p.request(t, "PUT", base+"/statefulsets/web/scale", `{"replicas": 2, "currentReplicas": 1}`, nil)
	if status != 200 || !strings.Contains(string(body), `"kind":"StatefulSet"`) {
		t.Fatalf("scale the statefulset: %d %s", status, body)
	}
	s.until(t, 2*time.Minute, "the statefulset at 2 ready replicas", kindIs(t, deployment.KindStatefulSet, "web", func(e deployment.Event) bool {
		return e.Replicas.Desired == 2 && e.Replicas.Ready == 2
	}))
	if d := getDeployment(t, ns, "web"); *d.Spec.Replicas != 1 {
		t.Fatalf("the Deployment web was scaled with the StatefulSet web: %d replicas", *d.Spec.Replicas)
	}
	status, body = p.request(t, "PUT", base+"/statefulsets/web/scale", `{"replicas": 3, "currentReplicas": 1}`, nil)
	apiErr(t, "scale with a stale precondition", status, body, 409, "Conflict")

	status, body = p.request(t, "PUT", base+"/statefulsets/web/image", fmtJSON(map[string]string{"container": "app", "image": stsImage2}), nil)
	if status != 200 {
		t.Fatalf("set the statefulset's image: %d %s", status, body)
	}
	s.until(t, 2*time.Minute, "the statefulset rolled to the new image", kindIs(t, deployment.KindStatefulSet, "web", imageIs(stsImage2)))
	var h struct {
		Kind      string `json:"kind"`
		Revisions []struct {
			Revision int64 `json:"revision"`
			Current  bool  `json:"current"`
		} `json:"revisions"`
	}
	status, body = p.request(t, "GET", base+"/statefulsets/web/history", "", nil)
	if status != 200 || json.Unmarshal(body, &h) != nil || h.Kind != "StatefulSet" || len(h.Revisions) != 2 || !h.Revisions[0].Current {
		t.Fatalf("statefulset history: %d %s", status, body)
	}
	status, body = p.request(t, "POST", base+"/statefulsets/web/undo", `{}`, nil)
	if status != 200 {
		t.Fatalf("undo the statefulset: %d %s", status, body)
	}
	s.until(t, 2*time.Minute, "the statefulset rolled back", kindIs(t, deployment.KindStatefulSet, "web", imageIs(stsImage1)))

	status, body = p.request(t, "POST", base+"/daemonsets/agent/restart", "", nil)
	if status != 200 || !strings.Contains(string(body), `"changed":true`) {
		t.Fatalf("restart the daemonset: %d %s", status, body)
	}
	ds, err := testbed.Clientset(t).AppsV1().DaemonSets(ns).Get(context.Background(), "agent", metav1.GetOptions{})
	if err != nil || ds.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("the daemonset after restart: %v %v", ds.Spec.Template.Annotations, err)
	}
	for _, c := range []struct{ method, path string }{
		{"PUT", base + "/daemonsets/agent/scale"},
		{"POST", base + "/statefulsets/web/pause"},
		{"POST", base + "/daemonsets/agent/resume"},
	} {
		status, body = p.request(t, c.method, c.path, `{"replicas": 3}`, nil)
		apiErr(t, c.method+" "+c.path, status, body, 422, "NotSupported")
		if strings.Contains(string(body), "\n") && strings.Index(string(body), "\n") != len(body)-1 {
			t.Errorf("%s: the refusal is more than one line: %q", c.path, body)
		}
	}
	status, body = p.request(t, "POST", base+"/statefulsets/web/pause", ``, noAuth)
	apiErr(t, "pause without the token", status, body, 401, "Unauthorized")

	var perms struct {
		Scale, Patch, History bool
		StatefulSets          struct{ Scale, Patch, History bool } `json:"statefulSets"`
		DaemonSets            struct{ Scale, Patch, History bool } `json:"daemonSets"`
	}
	status, body = p.request(t, "GET", base+"/permissions", "", nil)
	if status != 200 || json.Unmarshal(body, &perms) != nil || !perms.Scale || !perms.StatefulSets.Scale || !perms.StatefulSets.History ||
		!perms.DaemonSets.Patch || !perms.DaemonSets.History || perms.DaemonSets.Scale {
		t.Fatalf("permissions of the test bed's admin: %d %s", status, body)
	}

	if err := testbed.Clientset(t).AppsV1().StatefulSets(ns).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := s.until(t, time.Minute, "the statefulset's delete", func(ev sseEvent) bool { return ev.Event == "delete" })
	if e := eventOf(t, ev); e.Kind != deployment.KindStatefulSet || e.Name != "web" {
		t.Fatalf("delete event %+v, want the StatefulSet web's", e)
	}
	status, body = p.request(t, "GET", "/api/namespaces/"+ns+"/deployments", "", nil)
	if status != 200 || json.Unmarshal(body, &list) != nil || len(list) != 2 {
		t.Fatalf("list after the delete: %d %s, want the Deployment web and the DaemonSet", status, body)
	}
}

// TestServeWorkloadsWithoutTheirRights: an identity that may read only
// Deployments serves them as before, says in its log which kinds it does
// not show, and shows none of them.
func TestServeWorkloadsWithoutTheirRights(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	createStatefulSet(t, ns, "db", 1, false, nil)
	waitRolledOut(t, ns, "web")
	p := startServeEnv(t, []string{"KUBECONFIG=" + viewerKubeconfig(t, ns)})
	s := p.openStream(t, ns, nil)
	snap := snapshotOf(t, s.next(t, time.Minute))
	if len(snap) != 1 || snap[0].Kind != deployment.KindDeployment || snap[0].Name != "web" {
		t.Fatalf("snapshot %+v, want the Deployment web alone", snap)
	}
	logSays(t, p, "not showing statefulsets")
	logSays(t, p, "not showing daemonsets")
	status, body := p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/web/scale", `{"replicas": 2}`, nil)
	apiErr(t, "scale without RBAC, as before", status, body, 403, "Forbidden")
}
