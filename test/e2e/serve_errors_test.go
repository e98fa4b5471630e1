package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeRefusesWithoutChanging: every error and security rule of the
// API, each leaving the Deployment exactly as it was; then a valid change
// goes through, so the refusals were not refusing everything.
func TestServeRefusesWithoutChanging(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	waitRolledOut(t, ns, "web")
	p := startServe(t)
	ro := startServe(t, "--read-only")
	only := startServe(t, "--namespaces", "kube-system")
	before := getDeployment(t, ns, "web")

	scale := "/api/namespaces/" + ns + "/deployments/web/scale"
	image := "/api/namespaces/" + ns + "/deployments/web/image"
	token := p.auth()
	with := func(h map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name         string
		p            *serveProc
		method, path string
		body         string
		header       map[string]string
		status       int
		reason       string
	}{
		{"no token", p, "PUT", scale, `{"replicas": 5}`, noAuth, 401, "Unauthorized"},
		{"wrong token", p, "PUT", scale, `{"replicas": 5}`, map[string]string{"Authorization": "Bearer wrong"}, 401, "Unauthorized"},
		{"no token for an image", p, "PUT", image, `{"container": "app", "image": "nginx:2"}`, noAuth, 401, "Unauthorized"},
		{"read-only", ro, "PUT", scale, `{"replicas": 5}`, nil, 403, "ReadOnly"},
		{"read-only image", ro, "PUT", image, `{"container": "app", "image": "nginx:2"}`, nil, 403, "ReadOnly"},
		{"foreign origin", p, "PUT", scale, `{"replicas": 5}`, with(token, "Origin", "http://evil.example"), 403, "ForeignOrigin"},
		{"foreign host", p, "PUT", scale, `{"replicas": 5}`, with(token, "Host", "evil.example:80"), 403, "ForeignHost"},
		{"foreign host reading", p, "GET", "/api/namespaces/" + ns + "/deployments", "", map[string]string{"Host": "rebound.example"}, 403, "ForeignHost"},
		{"namespace not served", only, "PUT", scale, `{"replicas": 5}`, only.auth(), 403, "NamespaceNotServed"},
		{"namespace not served stream", only, "GET", "/api/namespaces/" + ns + "/deployments/stream", "", nil, 403, "NamespaceNotServed"},
		{"body too large", p, "PUT", scale, `{"replicas": 5, "resourceVersion": "` + strings.Repeat("1", 100<<10) + `"}`, token, 413, "RequestEntityTooLarge"},
		{"bad JSON", p, "PUT", scale, `{"replicas": 5`, token, 400, "BadRequest"},
		{"unknown field", p, "PUT", scale, `{"replicas": 5, "force": true}`, token, 400, "BadRequest"},
		{"negative replicas", p, "PUT", scale, `{"replicas": -5}`, token, 400, "BadRequest"},
		{"invalid image", p, "PUT", image, `{"container": "app", "image": "UPPER CASE"}`, token, 400, "BadRequest"},
		{"unknown container", p, "PUT", image, `{"container": "nope", "image": "nginx:2"}`, token, 400, "BadRequest"},
		{"no such deployment", p, "PUT", "/api/namespaces/" + ns + "/deployments/nope/scale", `{"replicas": 5}`, token, 404, "NotFound"},
		{"no such namespace", p, "GET", "/api/namespaces/no-such-ns/deployments/stream", "", nil, 404, "NotFound"},
		{"stale resourceVersion", p, "PUT", scale, `{"replicas": 5, "resourceVersion": "1"}`, token, 409, "Conflict"},
		{"replicas changed meanwhile", p, "PUT", scale, `{"replicas": 5, "currentReplicas": 4}`, token, 409, "Conflict"},
		{"stale resourceVersion for an image", p, "PUT", image, `{"container": "app", "image": "nginx:2", "resourceVersion": "1"}`, token, 409, "Conflict"},
		{"method not allowed", p, "DELETE", scale, "", token, 405, "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := tt.p.request(t, tt.method, tt.path, tt.body, tt.header)
			apiErr(t, tt.name, status, body, tt.status, tt.reason)
		})
	}

	after := getDeployment(t, ns, "web")
	if after.ResourceVersion != before.ResourceVersion || *after.Spec.Replicas != 1 || after.Spec.Template.Spec.Containers[0].Image != before.Spec.Template.Spec.Containers[0].Image {
		t.Fatalf("the refused requests changed the Deployment: resourceVersion %s -> %s, replicas %d, image %s",
			before.ResourceVersion, after.ResourceVersion, *after.Spec.Replicas, after.Spec.Template.Spec.Containers[0].Image)
	}

	// The control: the same requests, done right, go through.
	status, body := p.request(t, "PUT", scale, `{"replicas": 2, "currentReplicas": 1, "resourceVersion": "`+before.ResourceVersion+`"}`, token)
	if status != 200 {
		t.Fatalf("valid scale: %d %s", status, body)
	}
	var res struct {
		Changed bool `json:"changed"`
	}
	if err := json.Unmarshal(body, &res); err != nil || !res.Changed {
		t.Fatalf("valid scale answered %s", body)
	}
	status, body = p.request(t, "PUT", image, `{"container": "app", "image": "registry.k8s.io/pause:3.9"}`, token)
	if status != 200 {
		t.Fatalf("valid image change: %d %s", status, body)
	}
	d := getDeployment(t, ns, "web")
	if *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "registry.k8s.io/pause:3.9" {
		t.Fatalf("after the valid changes: replicas %d, image %s", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
	}
}

// TestServeActsWithTheUsersIdentity: a user who may only read Deployments
// in one namespace sees that namespace (with a note that namespaces cannot
// be listed), gets 403 from RBAC for a change, and nothing changes.
func TestServeActsWithTheUsersIdentity(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	waitRolledOut(t, ns, "web")
	kubeconfig := viewerKubeconfig(t, ns)
	p := startServeEnv(t, []string{"KUBECONFIG=" + kubeconfig})
	before := getDeployment(t, ns, "web")

	status, body := p.request(t, "GET", "/api/namespaces", "", nil)
	var list struct {
		Namespaces []struct {
			Name  string `json:"name"`
			Total int    `json:"total"`
		} `json:"namespaces"`
		Warning string `json:"warning"`
	}
	if status != 200 || json.Unmarshal(body, &list) != nil {
		t.Fatalf("/api/namespaces: %d %s", status, body)
	}
	if len(list.Namespaces) != 1 || list.Namespaces[0].Name != ns || list.Namespaces[0].Total != 1 || !strings.Contains(list.Warning, "may not list namespaces") {
		t.Fatalf("/api/namespaces = %s, want only %s with 1 deployment and a warning", body, ns)
	}

	s := p.openStream(t, ns, nil)
	if snap := snapshotOf(t, s.next(t, time.Minute)); len(snap) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	status, body = p.request(t, "GET", "/api/namespaces/default/deployments/stream", "", nil)
	apiErr(t, "stream of a namespace the user may not read", status, body, 403, "Forbidden")

	status, body = p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/web/scale", `{"replicas": 3}`, p.auth())
	apiErr(t, "scale without RBAC", status, body, 403, "Forbidden")
	status, body = p.request(t, "PUT", "/api/namespaces/"+ns+"/deployments/web/image", `{"container": "app", "image": "nginx:2"}`, p.auth())
	apiErr(t, "image without RBAC", status, body, 403, "Forbidden")
	if after := getDeployment(t, ns, "web"); after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("resourceVersion %s -> %s after refused changes", before.ResourceVersion, after.ResourceVersion)
	}
}

// viewerKubeconfig writes a kubeconfig for a service account that may get,
// list and watch Deployments in ns, and nothing else; its context's
// namespace is ns.
func viewerKubeconfig(t *testing.T, ns string) string {
	t.Helper()
	cs := testbed.Clientset(t)
	ctx := context.Background()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "viewer"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	grantViewer(t, ns, ns)
	path := serviceAccountKubeconfig(t, ns, "viewer")
	// RBAC takes effect at once, but the token's user is checked on use.
	testutil.Eventually(t, 30*time.Second, "the viewer to read deployments", func() bool {
		_, _, err := testbed.KubectlErr("--kubeconfig", path, "get", "deployments")
		return err == nil
	})
	return path
}

// grantViewer lets ServiceAccount "viewer" of namespace saNS get, list and
// watch the Deployments of namespace ns.
func grantViewer(t *testing.T, ns, saNS string) {
	t.Helper()
	cs := testbed.Clientset(t)
	ctx := context.Background()
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "deployment-viewer"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "viewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "deployment-viewer"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "viewer", Namespace: saNS}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as
// ServiceAccount ns/name, with ns as its namespace.
func serviceAccountKubeconfig(t *testing.T, ns, name string) string {
	t.Helper()
	return serviceAccountKubeconfigOf(t, testbed.Shared(), ns, name)
}

// serviceAccountKubeconfigOf is serviceAccountKubeconfig on cluster c.
func serviceAccountKubeconfigOf(t *testing.T, c *testbed.Cluster, ns, name string) string {
	t.Helper()
	token := strings.TrimSpace(c.Kubectl(t, "-n", ns, "create", "token", name, "--duration=1h"))

	admin, err := clientcmd.LoadFromFile(c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["bed"] = cluster
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "bed", AuthInfo: name, Namespace: ns}
	cfg.CurrentContext = name
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeBadFlags: bad flags end serve at once with one line that names
// the problem and the fix, and exit 1.
func TestServeBadFlags(t *testing.T) {
	testbed.BuildPlugin(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	short, repeated, empty := filepath.Join(dir, "short"), filepath.Join(dir, "repeated"), filepath.Join(dir, "empty")
	pattern, run := filepath.Join(dir, "pattern"), filepath.Join(dir, "run")
	for file, content := range map[string]string{short: "abc\n", repeated: strings.Repeat("password", 4) + "\n", empty: "\n",
		pattern: "0123456789abcdef0123456789abcdef\n", run: "abcdefghijklmnopqrstuvwxyz0123456789\n"} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--address", "localhost"}, `invalid --address "localhost": use HOST:PORT`},
		{[]string{"--address", busy.Addr().String()}, "cannot listen on " + busy.Addr().String()},
		{[]string{"--namespaces", "Shop"}, `invalid namespace "Shop" in --namespaces`},
		{[]string{"--token-file", short}, "--token-file " + short + " holds a token of 3 bytes, fewer than 32: make a strong one with 'openssl rand -hex 32 > " + short + "'"},
		{[]string{"--token-file", repeated}, "--token-file " + repeated + " holds a predictable token"},
		{[]string{"--read-only", "--token-file", empty}, "--token-file " + empty + " is empty"},
		{[]string{"--token-file", pattern}, "--token-file " + pattern + " holds a predictable token"},
		{[]string{"--token-file", run}, "--token-file " + run + " holds a predictable token"},
		{[]string{"--max-stream-life", "0s"}, "--max-stream-life must be positive, got 0s"},
		{[]string{"--token-file", "/nonexistent"}, "cannot read --token-file"},
		{[]string{"shop"}, "serve takes no arguments"},
		{[]string{"--auth", "bogus"}, `invalid --auth "bogus": use token or kubernetes`},
		{[]string{"--auth", "kubernetes", "--token-file", short}, "--token-file is for --auth=token; with --auth=kubernetes every user sends their own Kubernetes token: drop --token-file"},
		{[]string{"--allowed-hosts", "https://deploywatch.example"}, `invalid host "https://deploywatch.example" in --allowed-hosts`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, err := testbed.KubectlErr(append([]string{"deploywatch", "serve"}, tt.args...)...)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want 1; stderr %q", err, stderr)
			}
			if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q: want one line with %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}
