package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestServeClusterWideOneWatchForManyNamespaces: with an identity that may
// watch cluster-wide (the test bed's admin), serve follows every viewed
// namespace, and one created after it started, from one Deployment watch.
func TestServeClusterWideOneWatchForManyNamespaces(t *testing.T) {
	var namespaces []string
	for range 4 {
		ns := testbed.NewNamespace(t)
		createDeployment(t, ns, "web-"+ns, 1)
		namespaces = append(namespaces, ns)
	}
	baseline := deploymentWatches(t)
	p := startServe(t) // --watch-scope auto
	streams := map[string]*sseStream{}
	for _, ns := range namespaces {
		s := p.openStream(t, ns, nil)
		snap := snapshotOf(t, s.next(t, time.Minute))
		if len(snap) != 1 || snap[0].Namespace != ns || snap[0].Name != "web-"+ns {
			t.Fatalf("namespace %s's snapshot = %s, want its one Deployment", ns, fmtJSON(snap))
		}
		streams[ns] = s
	}
	testutil.Eventually(t, 30*time.Second, "one more deployment watch on the API server", func() bool { return deploymentWatches(t) == baseline+1 })
	if got := p.metric(t, "deploywatch_informers_running"); got != 1 {
		t.Fatalf("informers running for %d viewed namespaces: %v, want 1", len(namespaces), got)
	}
	if !strings.Contains(p.stderr.String(), "watching all namespaces at once") {
		t.Fatalf("serve's log does not say it watches all namespaces at once:\n%s", p.stderr.String())
	}

	// A change reaches its namespace's stream.
	testbed.Kubectl(t, "-n", namespaces[1], "scale", "deployment/web-"+namespaces[1], "--replicas=2")
	streams[namespaces[1]].until(t, time.Minute, "the scale", desiredIs(t, "web-"+namespaces[1], 2))

	// A namespace created now is served from the same watch.
	later := testbed.NewNamespace(t)
	createDeployment(t, later, "batch", 1)
	s := p.openStream(t, later, nil)
	switch snap := snapshotOf(t, s.next(t, time.Minute)); {
	case len(snap) == 0: // the watch had not brought it yet: it follows
		s.until(t, time.Minute, "batch", desiredIs(t, "batch", 1))
	case len(snap) != 1 || snap[0].Name != "batch":
		t.Fatalf("namespace %s's snapshot = %s, want batch", later, fmtJSON(snap))
	}
	// /api/namespaces lists it, from the watches.
	testutil.Eventually(t, 30*time.Second, "/api/namespaces to list "+later+" with its Deployment", func() bool {
		status, body := p.request(t, "GET", "/api/namespaces", "", nil)
		var list map[string][]map[string]any
		if status != 200 || json.Unmarshal(body, &list) != nil {
			t.Fatalf("/api/namespaces: %d %s", status, body)
		}
		for _, n := range list["namespaces"] {
			if n["name"] == later {
				return n["total"] == 1.0
			}
		}
		return false
	})
	if got := deploymentWatches(t); got != baseline+1 {
		t.Fatalf("deployment watches = %d after a fifth namespace, want %d", got, baseline+1)
	}
}

// TestServeRestrictedIdentityWatchesPerNamespace: an identity that may only
// read some namespaces (as deploy/namespaced's) keeps a watch per viewed
// namespace, and --watch-scope=cluster refuses to start with it.
func TestServeRestrictedIdentityWatchesPerNamespace(t *testing.T) {
	home, other := testbed.NewNamespace(t), testbed.NewNamespace(t)
	createDeployment(t, home, "web", 1)
	createDeployment(t, other, "api", 1)
	kubeconfig := viewerKubeconfig(t, home)
	grantViewer(t, other, home)

	baseline := deploymentWatches(t)
	p := startServeEnv(t, []string{"KUBECONFIG=" + kubeconfig}, "--namespaces", home+","+other, "--watch-scope", "auto")
	for _, ns := range []string{home, other} {
		s := p.openStream(t, ns, nil)
		if snap := snapshotOf(t, s.next(t, time.Minute)); len(snap) != 1 {
			t.Fatalf("namespace %s's snapshot = %s", ns, fmtJSON(snap))
		}
	}
	testutil.Eventually(t, 30*time.Second, "two more deployment watches on the API server", func() bool { return deploymentWatches(t) == baseline+2 })
	if got := p.metric(t, "deploywatch_informers_running"); got != 2 {
		t.Fatalf("informers running: %v, want 2 (one per namespace)", got)
	}
	p.stop(t)

	// Asked for cluster-wide, the same identity is refused at start.
	testbed.BuildPlugin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := testbed.Shared().KubectlCmd(ctx, "deploywatch", "serve", "--address", "127.0.0.1:0", "--watch-scope", "cluster")
	cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("serve --watch-scope cluster as a namespaced identity: %v, want exit 1; output:\n%s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "--watch-scope=cluster") || !strings.Contains(lines[0], "may not list deployments") || !strings.Contains(lines[0], "--watch-scope=auto") {
		t.Fatalf("serve said:\n%s\nwant one line naming --watch-scope=cluster, what is missing and the fix", out)
	}
}
