package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// kubeAuthBed is a private cluster with an audit log, running serve
// --auth=kubernetes as the ServiceAccount of a variant of deploy/ with its
// RBAC, and people with different rights: alice may read and change the
// first namespace; bob may read both and change nothing.
type kubeAuthBed struct {
	c      *testbed.Cluster
	cs     kubernetes.Interface
	p      *serveProc
	tokens map[string]string // person -> their Kubernetes token
}

const serveUser = "system:serviceaccount:deploywatch:deploywatch"

func newKubeAuthBed(t *testing.T) *kubeAuthBed {
	t.Helper()
	return newKubeAuthBedOf(t, "kubernetes-auth", "team-a", "team-b")
}

func newKubeAuthBedOf(t *testing.T, variant, nsA, nsB string, args ...string) *kubeAuthBed {
	t.Helper()
	c := testbed.StartWith(t, testbed.Options{Audit: true})
	b := &kubeAuthBed{c: c, cs: c.Clientset(t), tokens: map[string]string{}}
	ctx := context.Background()
	for _, ns := range []string{nsA, nsB, "people"} {
		if _, err := b.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The variant's namespace, ServiceAccount and RBAC, as kubectl apply -k would make them.
	dir, err := filepath.Abs(filepath.Join("..", "..", "deploy", variant))
	if err != nil {
		t.Fatal(err)
	}
	rendered := c.Kubectl(t, "kustomize", dir)
	var keep []string
	for _, doc := range strings.Split(rendered, "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		if slices.Contains([]string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}, meta.Kind) {
			keep = append(keep, doc)
		}
	}
	manifest := filepath.Join(t.TempDir(), "rbac.yaml")
	if err := os.WriteFile(manifest, []byte(strings.Join(keep, "\n---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Kubectl(t, "apply", "-f", manifest)

	b.person(t, "alice", map[string][]rbacv1.PolicyRule{nsA: {
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments/scale"}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list"}},
	}})
	read := []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}}}
	b.person(t, "bob", map[string][]rbacv1.PolicyRule{nsA: read, nsB: read})
	for _, ns := range []string{nsA, nsB} {
		b.deployment(t, ns, "web")
	}
	b.p = startServeEnv(t, []string{"KUBECONFIG=" + serviceAccountKubeconfigOf(t, c, "deploywatch", "deploywatch")}, append([]string{"--auth=kubernetes"}, args...)...)
	return b
}

// person makes ServiceAccount people/name with Roles of rules in their
// namespaces, and keeps a token of it.
func (b *kubeAuthBed) person(t *testing.T, name string, rules map[string][]rbacv1.PolicyRule) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.cs.CoreV1().ServiceAccounts("people").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for ns, r := range rules {
		if _, err := b.cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: r}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: "people"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	b.tokens[name] = strings.TrimSpace(b.c.Kubectl(t, "-n", "people", "create", "token", name, "--duration=1h"))
}

func (b *kubeAuthBed) deployment(t *testing.T, ns, name string) {
	t.Helper()
	d := testutil.Deployment(name, testutil.Containers(corev1.Container{Name: "web", Image: "nginx:1"}))
	if _, err := b.cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (b *kubeAuthBed) as(person string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + b.tokens[person]}
}

// auditEvent is what the tests read of the API server's audit log.
type auditEvent struct {
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	ObjectRef *struct {
		Resource, Subresource, Namespace, Name string
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// audit reads the audit log's events.
func (b *kubeAuthBed) audit(t *testing.T) []auditEvent {
	t.Helper()
	f, err := os.Open(b.c.AuditLog())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// changesOf are the audit log's writes to Deployment ns/name.
func changesOf(events []auditEvent, ns, name string) []auditEvent {
	var out []auditEvent
	for _, e := range events {
		if (e.Verb == "patch" || e.Verb == "update") && e.ObjectRef != nil && e.ObjectRef.Resource == "deployments" &&
			e.ObjectRef.Namespace == ns && e.ObjectRef.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func (e auditEvent) String() string {
	as := ""
	if e.ImpersonatedUser != nil {
		as = " as " + e.ImpersonatedUser.Username
	}
	code := 0
	if e.ResponseStatus != nil {
		code = e.ResponseStatus.Code
	}
	return fmt.Sprintf("%s %s/%s by %s%s: %d", e.Verb, e.ObjectRef.Resource, e.ObjectRef.Subresource, e.User.Username, as, code)
}

// TestServeKubernetesAuth: one server, two people with different RBAC.
// Each sees only the namespaces they may list Deployments in, and streams
// only those; a change is made as its author, whom the API server's audit
// log names; a change its author may not make gets 403 from serve and no
// write reaches the API server; a token the cluster does not accept gets 401.
func TestServeKubernetesAuth(t *testing.T) {
	b := newKubeAuthBed(t)
	p := b.p
	if !strings.Contains(p.line, "Kubernetes token") {
		t.Errorf("serve printed %q; want it to ask for the user's Kubernetes token", p.line)
	}

	// A token the cluster refuses: a made-up one, and one of a ServiceAccount since deleted.
	status, body := p.request(t, "GET", "/api/namespaces", "", map[string]string{"Authorization": "Bearer not-a-token"})
	apiErr(t, "a made-up token", status, body, 401, "Unauthorized")
	b.person(t, "carol", nil)
	if err := b.cs.CoreV1().ServiceAccounts("people").Delete(context.Background(), "carol", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "a deleted ServiceAccount's token to be refused", func() bool {
		status, _ := p.request(t, "GET", "/api/namespaces", "", b.as("carol"))
		return status == 401
	})
	status, body = p.request(t, "GET", "/api/namespaces", "", noAuth)
	apiErr(t, "no token", status, body, 401, "Unauthorized")

	// Each sees the namespaces they may list Deployments in, from one server.
	for person, want := range map[string][]string{"alice": {"team-a"}, "bob": {"team-a", "team-b"}} {
		status, body := p.request(t, "GET", "/api/namespaces", "", b.as(person))
		var list struct{ Namespaces []struct{ Name string } }
		if status != 200 || json.Unmarshal(body, &list) != nil {
			t.Fatalf("%s's GET /api/namespaces: %d %s", person, status, body)
		}
		var got []string
		for _, ns := range list.Namespaces {
			got = append(got, ns.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s sees namespaces %v, want %v", person, got, want)
		}
	}
	status, body = p.request(t, "GET", "/api/namespaces/team-b/deployments", "", b.as("alice"))
	apiErr(t, "alice reads team-b", status, body, 403, "Forbidden")
	if _, status, body := p.tryStream(t, "team-b", b.as("alice")); status != 403 {
		t.Errorf("alice streams team-b: %d %s, want 403", status, body)
	}
	// A stream ticket is its user's: alice's opens team-a, not team-b.
	status, body = p.request(t, "POST", "/api/tickets", "", b.as("alice"))
	var ticket struct{ Ticket string }
	if status != 200 || json.Unmarshal(body, &ticket) != nil {
		t.Fatalf("alice's ticket: %d %s", status, body)
	}
	s := p.openStreamPath(t, "/api/namespaces/team-a/deployments/stream?ticket="+ticket.Ticket)
	s.until(t, 30*time.Second, "alice's snapshot of team-a", func(ev sseEvent) bool { return ev.Event == "snapshot" })
	if _, status, _ := p.tryStreamURL(t, p.base+"/api/namespaces/team-b/deployments/stream?ticket="+ticket.Ticket, nil); status != 403 {
		t.Errorf("alice's ticket opens team-b: %d, want 403", status)
	}

	// Bob may not change team-a: 403 from serve.
	status, body = p.request(t, "PUT", "/api/namespaces/team-a/deployments/web/image", `{"container":"web","image":"nginx:2"}`, b.as("bob"))
	apiErr(t, "bob sets an image", status, body, 403, "Forbidden")
	status, body = p.request(t, "PUT", "/api/namespaces/team-a/deployments/web/scale", `{"replicas":3}`, b.as("bob"))
	apiErr(t, "bob scales", status, body, 403, "Forbidden")

	// Alice may: her changes are made as her.
	if status, body := p.request(t, "PUT", "/api/namespaces/team-a/deployments/web/scale", `{"replicas":2}`, b.as("alice")); status != 200 {
		t.Fatalf("alice scales: %d %s", status, body)
	}
	if status, body := p.request(t, "PUT", "/api/namespaces/team-a/deployments/web/image", `{"container":"web","image":"nginx:3"}`, b.as("alice")); status != 200 {
		t.Fatalf("alice sets an image: %d %s", status, body)
	}
	s.until(t, 30*time.Second, "alice's change in her stream", desiredIs(t, "web", 2))

	// The audit log (written before each answer) has alice's two writes,
	// each by serve impersonating her, and nothing of bob's: his refusals,
	// which came first, reached no write.
	alice := "system:serviceaccount:people:alice"
	var writes []auditEvent
	testutil.Eventually(t, 30*time.Second, "alice's writes in the audit log", func() bool {
		writes = changesOf(b.audit(t), "team-a", "web")
		n := 0
		for _, e := range writes {
			if e.ImpersonatedUser != nil && e.ImpersonatedUser.Username == alice && e.ResponseStatus != nil && e.ResponseStatus.Code == 200 {
				n++
			}
		}
		return n >= 2
	})
	for _, e := range writes {
		if e.User.Username == serveUser && (e.ImpersonatedUser == nil || e.ImpersonatedUser.Username != alice) {
			t.Errorf("a write to team-a/web by serve not as alice: %s", e)
		}
	}
	t.Logf("writes to team-a/web in the audit log: %v", writes)

	// The page asks for a token, and with alice's shows what she may read.
	ctx := newBrowser(t)
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			t.Fatalf("%s: %v (page text: %s)", what, err, pageText(ctx))
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(p.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token-input")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), b.tokens["alice"]), chromedp.Click(chromedp.CSS(".token-form button"))); err != nil {
		t.Fatalf("sign in on the page: %v (page text: %s)", err, pageText(ctx))
	}
	poll("alice's namespaces on the page", `document.querySelectorAll('tr[data-namespace]').length === 1 && !!document.querySelector('tr[data-namespace="team-a"]')`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-namespace="team-a"] a`))); err != nil {
		t.Fatal(err)
	}
	poll("team-a live on the page", `!!document.querySelector('tr[data-name="web"]') && document.getElementById("conn").dataset.state === "live"`)
}

// TestServeKubernetesAuthReviewsCached: the SubjectAccessReviews serve makes
// do not grow with viewers or events: 20 of one person's streams cost the
// reviews of one, and a burst of changes seen by all 20 costs none.
func TestServeKubernetesAuthReviewsCached(t *testing.T) {
	b := newKubeAuthBed(t)
	p := b.p
	// reviewsBefore counts serve's SubjectAccessReviews in the audit log up
	// to a marker request made now: the log is written as requests end,
	// so once the marker is there, so is everything before it.
	markers := 0
	reviewsBefore := func() int {
		markers++
		name := fmt.Sprintf("marker-%d", markers)
		_, _, _ = b.c.KubectlErr("-n", "team-b", "get", "configmap", name)
		n := -1
		testutil.Eventually(t, 30*time.Second, "the marker in the audit log", func() bool {
			count := 0
			for _, e := range b.audit(t) {
				switch {
				case e.ObjectRef != nil && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Name == name:
					n = count
					return true
				case e.Verb == "create" && e.ObjectRef != nil && e.ObjectRef.Resource == "subjectaccessreviews" && e.User.Username == serveUser:
					count++
				}
			}
			return false
		})
		return n
	}
	before := reviewsBefore()
	const viewers = 20
	streams := make([]*sseStream, viewers)
	for i := range streams {
		streams[i] = p.openStream(t, "team-b", b.as("bob"))
		streams[i].until(t, 30*time.Second, "the snapshot", func(ev sseEvent) bool { return ev.Event == "snapshot" })
	}
	opened := reviewsBefore() - before
	for r := 2; r <= 6; r++ {
		b.c.Kubectl(t, "-n", "team-b", "scale", "deployment/web", fmt.Sprintf("--replicas=%d", r))
	}
	for _, s := range streams {
		s.until(t, 30*time.Second, "the last change", desiredIs(t, "web", 6))
	}
	during := reviewsBefore() - before - opened
	t.Logf("SubjectAccessReviews: %d to open %d streams, %d during 5 changes seen by each", opened, viewers, during)
	// list and watch Deployments, list Pods and Events (whether the
	// diagnosis is shown), once each; a re-check after AccessReviewTTL may
	// add as many.
	if opened > 8 {
		t.Errorf("%d streams of one person made %d reviews, want at most 8", viewers, opened)
	}
	if during > 8 {
		t.Errorf("5 changes seen by %d streams made %d reviews, want at most 8 (the re-check)", viewers, during)
	}
}

// TestServeKubernetesAuthNamespaced: deploy/namespaced/'s RBAC (Roles in
// the served namespace, nothing to read cluster-wide) is enough for serve
// --namespaces=shop: people see and change shop as themselves, and a
// namespace outside --namespaces is refused even to someone who may read it.
func TestServeKubernetesAuthNamespaced(t *testing.T) {
	b := newKubeAuthBedOf(t, "namespaced", "shop", "team-b", "--namespaces=shop")
	p := b.p
	for _, person := range []string{"alice", "bob"} {
		status, body := p.request(t, "GET", "/api/namespaces", "", b.as(person))
		var list struct{ Namespaces []struct{ Name string } }
		if status != 200 || json.Unmarshal(body, &list) != nil || len(list.Namespaces) != 1 || list.Namespaces[0].Name != "shop" {
			t.Errorf("%s's GET /api/namespaces: %d %s, want shop alone", person, status, body)
		}
	}
	s := p.openStream(t, "shop", b.as("bob"))
	s.until(t, 30*time.Second, "bob's snapshot of shop", func(ev sseEvent) bool { return ev.Event == "snapshot" })
	if _, status, body := p.tryStream(t, "team-b", b.as("bob")); status != 403 {
		t.Errorf("bob streams team-b, which serve does not serve: %d %s, want 403", status, body)
	}
	status, body := p.request(t, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas":3}`, b.as("bob"))
	apiErr(t, "bob scales", status, body, 403, "Forbidden")
	if status, body := p.request(t, "PUT", "/api/namespaces/shop/deployments/web/scale", `{"replicas":3}`, b.as("alice")); status != 200 {
		t.Fatalf("alice scales: %d %s", status, body)
	}
	s.until(t, 30*time.Second, "alice's change in bob's stream", desiredIs(t, "web", 3))
}
