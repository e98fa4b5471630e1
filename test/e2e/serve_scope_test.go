package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeWatchScopeLost: serve runs as deploy/'s ServiceAccount, which
// may read every namespace, so --watch-scope=auto watches all namespaces at
// once. Its ClusterRoleBinding is deleted (a RoleBinding in one namespace
// stays) and the API server restarts, so the watches are opened again and
// refused: serve does not go stale. It tells its stream to reconnect and
// exits 1 with one line naming what it lost and the fix, and started again
// with the same identity it watches that namespace on its own, live.
func TestServeWatchScopeLost(t *testing.T) {
	c := testbed.Start(t) // its own: its API server restarts
	cs := c.Clientset(t)
	ctx := context.Background()
	c.Kubectl(t, "apply", "-f", "../../deploy/base/namespace.yaml", "-f", "../../deploy/base/rbac.yaml")
	const ns = "shop"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "deploywatch"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: deployName},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: deployName, Namespace: deployNamespace}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	(&kubeAuthBed{c: c, cs: cs}).deployment(t, ns, "web")
	env := []string{"KUBECONFIG=" + serviceAccountKubeconfigOf(t, c, deployNamespace, deployName)}

	p := startServeEnv(t, env, "--shutdown-timeout", "5s")
	logSays(t, p, "watching all namespaces at once")
	s := p.openStream(t, ns, nil)
	if snap := snapshotOf(t, s.next(t, time.Minute)); len(snap) != 1 || snap[0].Name != "web" {
		t.Fatalf("snapshot %s, want web", fmtJSON(snap))
	}

	if err := cs.RbacV1().ClusterRoleBindings().Delete(ctx, deployName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The API server checks RBAC when a request starts: the running
	// watches go on until they are opened again, as after a restart.
	if err := c.RestartComponent(testbed.APIServer); err != nil {
		t.Fatal(err)
	}
	s.until(t, 2*time.Minute, "the reconnect event", func(ev sseEvent) bool { return ev.Event == "reconnect" })
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		t.Fatalf("serve still runs a minute after its stream was told to reconnect:\n%s", p.stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("serve ended with %v, want exit 1:\n%s", p.err, p.stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	last := lines[len(lines)-1]
	opsContains(t, "serve's last line", last, "may no longer list", "in all namespaces", "start serve again to watch each namespace on its own", "deploy/")
	if strings.Contains(last, "level=") {
		t.Errorf("the last line is a log record, not the error: %q", last)
	}

	// Started again, auto watches the namespace it may still read.
	if _, err := c.StartIfExited(testbed.ControllerManager); err != nil {
		t.Fatal(err)
	}
	again := startServeEnv(t, env)
	logSays(t, again, "watching each viewed namespace on its own")
	s = again.openStream(t, ns, nil)
	if snap := snapshotOf(t, s.next(t, time.Minute)); len(snap) != 1 || snap[0].Name != "web" {
		t.Fatalf("snapshot after the restart %s, want web", fmtJSON(snap))
	}
	c.Kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=3")
	s.until(t, time.Minute, "the scale", desiredIs(t, "web", 3))
	testutil.Eventually(t, time.Minute, "one tracker, of the namespace", func() bool {
		return again.metric(t, "deploywatch_informers_running") == 1
	})
}

// logSays waits for serve's log to hold what: its stderr is read apart
// from the stdout line that says it listens.
func logSays(t *testing.T, p *serveProc, what string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, "serve's log to say "+what, func() bool { return strings.Contains(p.stderr.String(), what) })
}
