package e2e

import (
	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"

	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeKubernetesAuthDiagnosisNeedsPods: with --auth=kubernetes, the
// diagnosis (read from Pods and Events) of a rollout the scheduler cannot
// place is shown to a user who may list pods and events in the namespace,
// and to one who may only read Deployments neither in the list nor in the
// stream's snapshot and events.
func TestServeKubernetesAuthDiagnosisNeedsPods(t *testing.T) {
	b := newKubeAuthBed(t)
	p := b.p
	b.person(t, "debby", map[string][]rbacv1.PolicyRule{"team-a": {
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods", "events"}, Verbs: []string{"list"}},
	}})
	bob := p.openStream(t, "team-a", b.as("bob")) // may read Deployments only
	debby := p.openStream(t, "team-a", b.as("debby"))
	for _, s := range []*sseStream{bob, debby} {
		s.until(t, 30*time.Second, "the snapshot", func(ev sseEvent) bool { return ev.Event == "snapshot" })
	}
	labels := map[string]string{"app": "stuck"}
	if _, err := b.cs.AppsV1().Deployments("team-a").Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "stuck"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{NodeSelector: map[string]string{"disk": "nowhere"},
					Containers: []corev1.Container{{Name: "web", Image: "nginx:1"}}},
			},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The scheduler's words, as debby's stream shows them.
	ev := eventOf(t, debby.until(t, 60*time.Second, "stuck's problems in debby's stream", func(ev sseEvent) bool {
		return ev.Event == "upsert" && strings.Contains(ev.Data, `"name":"stuck"`) && strings.Contains(ev.Data, `"problems"`)
	}))
	p0 := ev.Problems[0]
	if p0.Reason != "Unschedulable" || p0.Pod == "" {
		t.Fatalf("debby's diagnosis: %+v, want Unschedulable with a pod", ev.Problems)
	}
	secrets := []string{`"problems"`, p0.Pod, p0.Message}
	leaks := func(what, data string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(data, s) {
				t.Errorf("%s carries %q: %s", what, s, data)
			}
		}
	}
	// Bob's stream: every event up to stuck Failing (which proves it was
	// seen) is without the diagnosis.
	bob.until(t, 60*time.Second, "stuck Failing in bob's stream", func(ev sseEvent) bool {
		leaks("bob's "+ev.Event, ev.Data)
		return ev.Event == "upsert" && eventOf(t, ev).Name == "stuck" && eventOf(t, ev).Status == deployment.Failing
	})
	list := func(person string) string {
		t.Helper()
		status, body := p.request(t, "GET", "/api/namespaces/team-a/deployments", "", b.as(person))
		var got []deployment.Summary
		if status != 200 || json.Unmarshal(body, &got) != nil {
			t.Fatalf("%s's list: %d %s", person, status, body)
		}
		return string(body)
	}
	if got := list("debby"); !strings.Contains(got, p0.Pod) || !strings.Contains(got, `"problems"`) {
		t.Errorf("debby's list lacks the diagnosis: %s", got)
	}
	leaks("bob's list", list("bob"))
	// A fresh stream's snapshot: the same.
	s := p.openStream(t, "team-a", b.as("bob"))
	leaks("bob's snapshot", s.until(t, 30*time.Second, "bob's snapshot", func(ev sseEvent) bool { return ev.Event == "snapshot" }).Data)
	s = p.openStream(t, "team-a", b.as("debby"))
	if snap := s.until(t, 30*time.Second, "debby's snapshot", func(ev sseEvent) bool { return ev.Event == "snapshot" }); !strings.Contains(snap.Data, p0.Pod) {
		t.Errorf("debby's snapshot lacks the diagnosis: %s", snap.Data)
	}
}

// TestServeKubernetesAuthStreamEndsWithItsToken: a stream is checked
// again with its token (a TokenReview) at its re-check, so deleting the
// ServiceAccount ends the streams of its token, the one opened with the
// token and the one opened with a ticket, within the re-check period (it
// kept delivering for 60 s and more), though its RoleBinding still allows
// the read. And a stream has a longest life (--max-stream-life): it ends
// with a reconnect event, and a standard EventSource comes back and
// resumes.
func TestServeKubernetesAuthStreamEndsWithItsToken(t *testing.T) {
	b := newKubeAuthBed(t)
	p := b.p
	read := []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}}}
	b.person(t, "erin", map[string][]rbacv1.PolicyRule{"team-a": read})
	byHeader := p.openStream(t, "team-a", b.as("erin"))
	status, body := p.request(t, "POST", "/api/tickets", "", b.as("erin"))
	var ticket struct{ Ticket string }
	if status != 200 || json.Unmarshal(body, &ticket) != nil {
		t.Fatalf("erin's ticket: %d %s", status, body)
	}
	// Opaque: the URL shows neither the token nor who erin is.
	raw, _ := base64.RawURLEncoding.DecodeString(ticket.Ticket)
	for _, clear := range []string{"erin", "people", "system:serviceaccounts", b.tokens["erin"][:20]} {
		if strings.Contains(ticket.Ticket, clear) || strings.Contains(string(raw), clear) {
			t.Errorf("erin's ticket %q shows %q", ticket.Ticket, clear)
		}
	}
	byTicket := p.openStreamPath(t, "/api/namespaces/team-a/deployments/stream?ticket="+ticket.Ticket)
	for _, s := range []*sseStream{byHeader, byTicket} {
		s.until(t, 30*time.Second, "erin's snapshot", func(ev sseEvent) bool { return ev.Event == "snapshot" })
	}
	if err := b.cs.CoreV1().ServiceAccounts("people").Delete(context.Background(), "erin", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	for name, s := range map[string]*sseStream{"header": byHeader, "ticket": byTicket} {
		ev := s.until(t, time.Minute, "the unauthorized event", func(ev sseEvent) bool { return ev.Event == "unauthorized" })
		took := time.Since(deleted)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("the stream opened with a %s goes on after its unauthorized event", name)
		}
		t.Logf("the stream opened with a %s ended %s after the ServiceAccount was deleted: %s", name, took.Round(100*time.Millisecond), ev.Data)
		// The re-check period (10 s), and the API server's own few seconds
		// to refuse a deleted ServiceAccount's token.
		if took > 25*time.Second {
			t.Errorf("the stream opened with a %s ended %s after the ServiceAccount was deleted, want within the re-check period", name, took)
		}
	}

	// The longest life, on a second serve of the same cluster.
	p2 := startServeEnv(t, []string{"KUBECONFIG=" + serviceAccountKubeconfigOf(t, b.c, "deploywatch", "deploywatch")}, "--auth=kubernetes", "--max-stream-life=2s")
	es := startEventSource(t, p2.base+"/api/namespaces/team-a/deployments/stream", b.tokens["bob"])
	var lastID string
	testutil.Eventually(t, time.Minute, "two reconnects at the end of the streams' life, and a third connection", func() bool {
		reconnects, opens := 0, 0
		for _, l := range es.seen() {
			switch l.Type {
			case "reconnect":
				reconnects++
				if l.ID == "" || !strings.Contains(l.Data, "Expired") {
					t.Fatalf("a reconnect without the id to resume from, or not Expired: %+v", l)
				}
				lastID = l.ID
			case "open":
				opens++
			}
		}
		return reconnects >= 2 && opens >= 3
	})
	b.c.Kubectl(t, "-n", "team-a", "scale", "deployment/web", "--replicas=4")
	testutil.Eventually(t, time.Minute, "the resumed client to see the scale", func() bool {
		return es.view()["web"].Replicas.Desired == 4
	})
	if !es.alive() {
		t.Fatal("the EventSource client gave up")
	}
	t.Logf("the client resumed from %s", lastID)
}

// TestServeReadyzNeedsReadAccess: serve whose identity may list
// Deployments nowhere it serves is not ready, and says why; granted a Role
// in its namespace, it becomes ready.
func TestServeReadyzNeedsReadAccess(t *testing.T) {
	c := testbed.Shared()
	ns := "readyz-" + strings.ToLower(randomHex(t)[:8])
	c.Kubectl(t, "create", "namespace", ns)
	c.Kubectl(t, "-n", ns, "create", "serviceaccount", "nobody")
	p := startServeEnv(t, []string{"KUBECONFIG=" + serviceAccountKubeconfigOf(t, c, ns, "nobody")}, "--watch-scope=namespace")
	status, body := p.request(t, "GET", "/readyz", "", nil)
	apiErr(t, "/readyz of an identity that may read nothing", status, body, 503, "NoReadAccess")
	c.Kubectl(t, "-n", ns, "create", "role", "read", "--verb=list,watch,get", "--resource=deployments.apps")
	c.Kubectl(t, "-n", ns, "create", "rolebinding", "read", "--role=read", "--serviceaccount="+ns+":nobody")
	testutil.Eventually(t, time.Minute, "/readyz to be ready once the identity may list Deployments in its namespace", func() bool {
		status, _ := p.request(t, "GET", "/readyz", "", nil)
		return status == 200
	})
}

// TestServeKubernetesAuthResourceNames: a person whose Role allows reading
// and changing one Deployment by name (resourceNames) may do it through
// serve, as the API server allows it, and not to another Deployment.
func TestServeKubernetesAuthResourceNames(t *testing.T) {
	b := newKubeAuthBed(t)
	p := b.p
	b.deployment(t, "team-a", "other")
	b.person(t, "fay", map[string][]rbacv1.PolicyRule{"team-a": {
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, ResourceNames: []string{"web"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list"}},
	}})
	const image = `{"container":"web","image":"nginx:2"}`
	if status, body := p.request(t, "PUT", "/api/namespaces/team-a/deployments/web/image", image, b.as("fay")); status != 200 {
		t.Errorf("fay sets web's image, which her Role names: %d %s", status, body)
	}
	if status, body := p.request(t, "GET", "/api/namespaces/team-a/deployments/web/history", "", b.as("fay")); status != 200 {
		t.Errorf("fay reads web's history: %d %s", status, body)
	}
	status, body := p.request(t, "PUT", "/api/namespaces/team-a/deployments/other/image", image, b.as("fay"))
	apiErr(t, "fay sets other's image", status, body, 403, "Forbidden")
	if got := b.c.Kubectl(t, "-n", "team-a", "get", "deployment/other", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); got != "nginx:1" {
		t.Errorf("other's image is %q after fay's refused change, want nginx:1", got)
	}
}

// TestServePermissionsOfMadeUpNamespaces: asking the permissions of 200
// namespaces that do not exist costs serve no SelfSubjectAccessReview.
func TestServePermissionsOfMadeUpNamespaces(t *testing.T) {
	p := startServe(t)
	reviews := func() float64 {
		n := 0.0
		for k, v := range p.kubeRequests(t) {
			if k[1] == "selfsubjectaccessreviews" {
				n += v
			}
		}
		return n
	}
	before := reviews()
	for i := range 200 {
		status, body := p.request(t, "GET", fmt.Sprintf("/api/namespaces/made-up-%d/permissions", i), "", nil)
		apiErr(t, "a made-up namespace's permissions", status, body, 404, "NotFound")
	}
	if n := reviews() - before; n != 0 {
		t.Errorf("200 made-up namespaces cost %.0f SelfSubjectAccessReviews, want 0", n)
	}
}
