package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeStreamsCappedProbesAnswer runs serve with few file descriptors
// (soft 100, hard 160) and opens 200 streams: serve raises its soft limit,
// keeps 128 descriptors back, tells the streams beyond its cap to
// reconnect later (200, retry:, reconnect), and /healthz and /readyz go on
// answering.
func TestServeStreamsCappedProbesAnswer(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServeUnder(t, []string{"prlimit", "--nofile=100:160", "--"}, nil)
	var m []string
	testutil.Eventually(t, time.Minute, "serve's log to name its maxStreams", func() bool {
		m = regexp.MustCompile(`maxStreams=(\d+)`).FindStringSubmatch(p.stderr.String())
		return m != nil
	})
	limit, _ := strconv.Atoi(m[1])
	if limit != 80 { // half of 160 (the raised limit), since 160 < 2*128
		t.Fatalf("maxStreams=%d with 160 descriptors, want 80", limit)
	}

	const streams = 200
	var mu sync.Mutex
	opened, refused := 0, 0
	var wg sync.WaitGroup
	errs := make(chan string, streams)
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", p.base+"/api/namespaces/"+ns+"/deployments/stream", nil)
			req.Header.Set("Authorization", "Bearer "+p.token)
			// Without an answer in a minute the server ran out of descriptors.
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: time.Minute}}
			resp, err := client.Do(req)
			if err != nil {
				errs <- fmt.Sprintf("stream %d: %v", i, err)
				return
			}
			t.Cleanup(func() { resp.Body.Close() })
			if resp.StatusCode != 200 {
				errs <- fmt.Sprintf("stream %d: status %d", i, resp.StatusCode)
				return
			}
			r := bufio.NewReader(resp.Body)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					errs <- fmt.Sprintf("stream %d ended before its first event: %v", i, err)
					return
				}
				if name, ok := strings.CutPrefix(strings.TrimSpace(line), "event: "); ok {
					mu.Lock()
					if name == "snapshot" {
						opened++
					} else if name == "reconnect" {
						refused++
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if opened != limit || refused != streams-limit {
		t.Fatalf("%d streams opened and %d told to reconnect, want %d and %d", opened, refused, limit, streams-limit)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := p.request(t, "GET", path, "", nil); status != 200 {
			t.Errorf("%s with %d streams open: %d %s", path, limit, status, body)
		}
	}
	if got := p.metric(t, "deploywatch_sse_streams_refused_total"); got != float64(streams-limit) {
		t.Errorf("deploywatch_sse_streams_refused_total = %v, want %d", got, streams-limit)
	}
	t.Logf("%d descriptors: %d streams open, %d told to reconnect, probes answered", 160, opened, refused)
}

// TestServeNoInformerForUncheckedNamespaces: with an identity that may
// watch Deployments everywhere but not get namespaces, made-up namespace
// names start no informer (serve cannot tell they do not exist, so it
// serves only those the user named); an identity that may not watch them
// is refused; a named namespace whose Deployments the identity may list but
// not watch starts none either; a namespace that does not exist starts none.
func TestServeNoInformerForUncheckedNamespaces(t *testing.T) {
	ns := testbed.NewNamespace(t)
	listOnly := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	kubeconfig := viewerKubeconfig(t, ns)
	cs := testbed.Clientset(t)
	ctx := context.Background()
	if _, err := cs.RbacV1().Roles(listOnly).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "list-only"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(listOnly).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "viewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "list-only"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "viewer", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A watcher of Deployments everywhere that may not get namespaces: a
	// made-up name cannot be told from a real one.
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "watcher"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-watcher"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-watcher"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ns + "-watcher"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "watcher", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), ns+"-watcher", metav1.DeleteOptions{})
		_ = cs.RbacV1().ClusterRoles().Delete(context.Background(), ns+"-watcher", metav1.DeleteOptions{})
	})
	watcherConfig := serviceAccountKubeconfig(t, ns, "watcher")
	testutil.Eventually(t, 30*time.Second, "the watcher to list deployments everywhere", func() bool {
		_, _, err := testbed.KubectlErr("--kubeconfig", watcherConfig, "get", "deployments", "-A")
		return err == nil
	})

	watchesBefore := deploymentWatches(t)
	watcher := startServeEnv(t, []string{"KUBECONFIG=" + watcherConfig}, "--linger", "1h")
	for i := range 20 {
		status, body := watcher.request(t, "GET", fmt.Sprintf("/api/namespaces/made-up-%d/deployments/stream", i), "", nil)
		apiErr(t, "a made-up namespace", status, body, 403, "NamespaceUnverified")
	}
	viewer := startServeEnv(t, []string{"KUBECONFIG=" + kubeconfig}, "--linger", "1h")
	status, body := viewer.request(t, "GET", "/api/namespaces/made-up/deployments/stream", "", nil)
	apiErr(t, "a made-up namespace the identity may not watch", status, body, 403, "Forbidden")
	named := startServeEnv(t, []string{"KUBECONFIG=" + kubeconfig}, "--linger", "1h", "--namespaces", ns+","+listOnly)
	status, body = named.request(t, "GET", "/api/namespaces/"+listOnly+"/deployments/stream", "", nil)
	apiErr(t, "a namespace the identity may not watch", status, body, 403, "Forbidden")
	admin := startServe(t, "--linger", "1h")
	status, body = admin.request(t, "GET", "/api/namespaces/no-such-namespace-xyz/deployments/stream", "", nil)
	apiErr(t, "a namespace that does not exist", status, body, 404, "NotFound")
	for name, p := range map[string]*serveProc{"watcher": watcher, "viewer": viewer, "named": named, "admin": admin} {
		if n := p.metric(t, "deploywatch_informers_running"); n != 0 {
			t.Errorf("%s: %v informers after refused streams, want 0", name, n)
		}
	}
	// The namespace the viewer may watch is served: the refusals were not
	// refusing everything, and its one informer is the only new watch.
	s := viewer.openStream(t, ns, nil)
	if snap := snapshotOf(t, s.next(t, time.Minute)); len(snap) != 1 || snap[0].Name != "web" {
		t.Fatalf("the kubeconfig's namespace: %s", fmtJSON(snap))
	}
	if n := viewer.metric(t, "deploywatch_informers_running"); n != 1 {
		t.Errorf("%v informers, want 1", n)
	}
	testutil.Eventually(t, time.Minute, "the API server to count the one new watch", func() bool { return deploymentWatches(t) == watchesBefore+1 })
}

// TestServeNamespaceListShared: a burst of GET /api/namespaces costs the
// API server one cluster-wide read of Deployments for the lot, not one
// each: a LIST, or the cluster-wide watch the list starts (its initial
// events streamed, no LIST).
func TestServeNamespaceListShared(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServe(t)
	before, watchesBefore := clusterDeploymentLists(t), deploymentWatches(t)
	const requests = 50
	var wg sync.WaitGroup
	for range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", p.base+"/api/namespaces", nil)
			req.Header.Set("Authorization", "Bearer "+p.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("/api/namespaces: %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	lists, watches := clusterDeploymentLists(t)-before, deploymentWatches(t)-watchesBefore
	t.Logf("%d requests made %d cluster-wide Deployment LISTs and %d watches", requests, lists, watches)
	if lists+watches < 1 || lists+watches > 5 {
		t.Errorf("%d requests made %d cluster-wide Deployment LISTs and %d watches, want about one in all", requests, lists, watches)
	}
}

// clusterDeploymentLists counts the API server's cluster-wide LISTs of
// Deployments so far, from its own metrics.
func clusterDeploymentLists(t *testing.T) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(testbed.Kubectl(t, "get", "--raw", "/metrics"), "\n") {
		if strings.HasPrefix(line, "apiserver_request_total{") && strings.Contains(line, `resource="deployments"`) &&
			strings.Contains(line, `verb="LIST"`) && strings.Contains(line, `scope="cluster"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			n += int(v)
		}
	}
	return n
}
