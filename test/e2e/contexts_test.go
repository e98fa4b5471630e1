package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// ctxBed is two clusters, east and west, in one kubeconfig.
type ctxBed struct {
	cs      *testbed.Contexts
	clients map[string]kubernetes.Interface
}

func newCtxBed(t *testing.T) *ctxBed {
	t.Helper()
	testbed.BuildPlugin(t) // before Env, which puts it on PATH
	cs := testbed.StartContexts(t, "east", "west")
	b := &ctxBed{cs: cs, clients: map[string]kubernetes.Interface{}}
	for name, c := range cs.Clusters {
		b.clients[name] = c.Clientset(t)
	}
	return b
}

// namespace creates namespace ns in every cluster.
func (b *ctxBed) namespace(t *testing.T, ns string) {
	t.Helper()
	for name, cs := range b.clients {
		if _, err := cs.CoreV1().Namespaces().Create(context.Background(),
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: create namespace %s: %v", name, ns, err)
		}
	}
}

// in is the bed of one cluster and namespace, for faultBed's helpers.
func (b *ctxBed) in(cluster, ns string) *faultBed {
	return &faultBed{c: b.cs.Clusters[cluster], cs: b.clients[cluster], ns: ns}
}

func (b *ctxBed) create(t *testing.T, cluster, ns, name string, replicas int32, edit func(*appsv1.Deployment)) {
	t.Helper()
	b.in(cluster, ns).createWith(t, name, replicas, edit)
}

func (b *ctxBed) scale(t *testing.T, cluster, ns, name string, replicas int32) {
	t.Helper()
	if err := b.in(cluster, ns).scale(t, name, replicas); err != nil {
		t.Fatalf("%s: scale %s/%s: %v", cluster, ns, name, err)
	}
}

func (b *ctxBed) get(t *testing.T, cluster, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, ok := b.in(cluster, ns).truth(t)[name]
	if !ok {
		t.Fatalf("%s: no deployment %s/%s", cluster, ns, name)
	}
	return d
}

// waitEventIn waits for an event of Deployment name in context ctxName
// that satisfies cond.
func (p *watchProc) waitEventIn(t *testing.T, ctxName, name, what string, cond func(deployment.Event) bool) deployment.Event {
	t.Helper()
	return p.waitEvent(t, name, what+" in context "+ctxName, func(e deployment.Event) bool {
		return e.Context == ctxName && cond(e)
	})
}

// TestContexts runs the views over two clusters: serve over both (API,
// page, /readyz and /metrics with one of them down), one merged watch that shows changes from both, --until-complete
// across both (passing, then failing with the cluster named), and a
// cluster stopped during the watch.
func TestContexts(t *testing.T) {
	b := newCtxBed(t)
	env := b.cs.Env()

	t.Run("serve", func(t *testing.T) { testServeContexts(t, b) })
	t.Run("serve in chromium", func(t *testing.T) { testServeContextsBrowser(t, b) })
	t.Run("serve's health covers every context", func(t *testing.T) { testServeContextsHealth(t, b) })

	t.Run("merged watch", func(t *testing.T) {
		b.namespace(t, "shop")
		for _, c := range b.cs.Names {
			b.create(t, c, "shop", "web", 1, nil)
		}
		w := startWatchEnv(t, env, "watch", "--context", "east", "--context", "west", "-n", "shop", "-o", "ndjson")
		for _, c := range b.cs.Names {
			w.waitEventIn(t, c, "web", "is ADDED", func(e deployment.Event) bool { return e.Type == deployment.Added })
		}
		b.scale(t, "east", "shop", "web", 3)
		b.scale(t, "west", "shop", "web", 2)
		w.waitEventIn(t, "east", "web", "wants 3", func(e deployment.Event) bool { return e.Replicas.Desired == 3 })
		w.waitEventIn(t, "west", "web", "wants 2", func(e deployment.Event) bool { return e.Replicas.Desired == 2 })
		for _, e := range w.eventsOf("web") {
			if e.Context == "east" && e.Replicas.Desired == 2 || e.Context == "west" && e.Replicas.Desired == 3 {
				t.Fatalf("an event has the other cluster's change: %+v", e)
			}
		}

		// The piped table has a CONTEXT column, and a single context none.
		table := runEnv(t, env, "watch", "--context", "east,west", "-n", "shop", "--until-complete", "--timeout", "2m")
		if table.code != 0 {
			t.Fatalf("exit %d, want 0:\n%s", table.code, table.stderr)
		}
		lines := strings.Split(strings.TrimSpace(table.stdout), "\n")
		if !strings.HasPrefix(lines[0], "CONTEXT") || !strings.Contains(lines[0], "NAMESPACE") {
			t.Fatalf("header %q lacks CONTEXT and NAMESPACE", lines[0])
		}
		for _, c := range b.cs.Names {
			if !strings.Contains(table.stdout, "\n"+c+" ") {
				t.Errorf("no row of context %s:\n%s", c, table.stdout)
			}
		}
		single := runEnv(t, env, "watch", "--context", "west", "-n", "shop", "-o", "ndjson", "--until-complete", "--timeout", "2m")
		if single.code != 0 || strings.Contains(single.stdout, `"context"`) {
			t.Fatalf("one context: exit %d, want 0 and no context field:\n%s%s", single.code, single.stdout, single.stderr)
		}
	})

	t.Run("until-complete passes when both complete", func(t *testing.T) {
		b.namespace(t, "ci-ok")
		for _, c := range b.cs.Names {
			b.create(t, c, "ci-ok", "api", 2, nil)
		}
		res := runEnv(t, env, "watch", "--all-contexts", "-n", "ci-ok", "--until-complete", "--timeout", "2m", "-o", "ndjson")
		if res.code != 0 {
			t.Fatalf("exit %d, want 0:\n%s", res.code, res.stderr)
		}
		for _, c := range b.cs.Names {
			if d := b.get(t, c, "ci-ok", "api"); !opsRolledOut(d) {
				t.Fatalf("exit 0 while api in %s has not rolled out: %+v", c, d.Status)
			}
		}
	})

	t.Run("until-complete fails naming the cluster", func(t *testing.T) {
		b.namespace(t, "ci-bad")
		b.create(t, "east", "ci-bad", "api", 1, nil)
		b.create(t, "west", "ci-bad", "api", 1, func(d *appsv1.Deployment) {
			deadline := int32(5)
			d.Spec.ProgressDeadlineSeconds = &deadline
			d.Spec.Template.Spec.NodeSelector = map[string]string{"no-such-node": "true"}
		})
		res := runEnv(t, env, "watch", "--context", "east,west", "-n", "ci-bad", "--until-complete", "--timeout", "2m", "--failing-grace", "1h")
		if res.code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", res.code, res.stderr)
		}
		opsContains(t, "stderr", res.stderr, `deployment ci-bad/api in context "west" is Failed`, "ProgressDeadlineExceeded")
		// Its next steps go to its own cluster.
		if f := parseFailures(t, res.stderr); len(f) != 1 || len(f[0].steps) == 0 || f[0].steps[0] != "kubectl deploywatch history api -n ci-bad --context west" {
			t.Errorf("next steps %+v, want history in context west first", f)
		}
	})

	t.Run("until-complete times out naming what is pending where", func(t *testing.T) {
		b.namespace(t, "ci-slow")
		b.create(t, "east", "ci-slow", "api", 1, nil)
		b.create(t, "west", "ci-slow", "api", 1, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.NodeSelector = map[string]string{"no-such-node": "true"}
		})
		res := runEnv(t, env, "watch", "--context", "east,west", "-n", "ci-slow", "--until-complete", "--timeout", "3s", "--diagnose=false")
		if res.code != 2 {
			t.Fatalf("exit %d, want 2:\n%s", res.code, res.stderr)
		}
		opsContains(t, "stderr", res.stderr, `ci-slow/api in context "west"`)
		if strings.Contains(res.stderr, `in context "east"`) {
			t.Fatalf("east's api is complete but named as pending:\n%s", res.stderr)
		}
	})

	t.Run("a context that cannot be reached does not hold up the others", func(t *testing.T) {
		b.namespace(t, "dead")
		b.create(t, "east", "dead", "web", 1, nil)
		cfg, err := clientcmd.LoadFromFile(b.cs.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		gone := *cfg.Clusters["west"]
		gone.Server = "https://127.0.0.1:1"
		cfg.Clusters["gone"] = &gone
		cfg.Contexts["gone"] = &clientcmdapi.Context{Cluster: "gone", AuthInfo: "west"}
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			t.Fatal(err)
		}
		// A context-timeout far longer than the test waits: the refused
		// context fails at once, and the view must not wait for it.
		w := startWatchEnv(t, []string{"KUBECONFIG=" + path}, "watch", "--context", "east,gone", "-n", "dead", "-o", "ndjson", "--context-timeout", "10m")
		w.waitEventIn(t, "east", "web", "is ADDED", func(e deployment.Event) bool { return e.Type == deployment.Added })
		testutil.Eventually(t, time.Minute, "stderr to name the context that cannot be reached", func() bool {
			return strings.Contains(w.stderr.String(), `warning: cannot watch deployments in namespace "dead" in context "gone"`)
		})
		opsContains(t, "stderr", w.stderr.String(), "cannot reach the API server at https://127.0.0.1:1")

		res := runEnv(t, []string{"KUBECONFIG=" + path}, "watch", "--context", "east,gone", "-n", "dead", "--until-complete", "--timeout", "5s")
		if res.code != 1 {
			t.Fatalf("exit %d, want 1 (a context never reached is no pass):\n%s", res.code, res.stderr)
		}
		opsContains(t, "stderr", res.stderr, `could not watch namespace "dead" in context "gone"`)

		// On a terminal: a line per context under the title, the dead one's
		// with its error, and the CONTEXT column.
		tmux, waitPane, _ := newTmux(t, 220, 30)
		tmux("send-keys", "-t", "e2e", "kubectl deploywatch --kubeconfig "+path+" --context east,gone -n dead", "Enter")
		screen := waitPane("a line per context", func(s string) bool {
			return strings.Contains(s, "east: 1 deployment: 1 Running") && strings.Contains(s, "gone: 0 deployments · unreachable since")
		})
		opsContains(t, "the live table", screen, `deployments in namespace "dead" of contexts "east", "gone"`, "CONTEXT", "NAMESPACE", "cannot reach the API server at https://127.0.0.1:1")
		tmux("send-keys", "-t", "e2e", "C-c")
	})

	t.Run("a cluster stopped during the watch", func(t *testing.T) {
		b.namespace(t, "outage")
		for _, c := range b.cs.Names {
			b.create(t, c, "outage", "web", 1, nil)
		}
		w := startWatchEnv(t, env, "watch", "--all-contexts", "-n", "outage", "-o", "ndjson")
		for _, c := range b.cs.Names {
			w.waitEventIn(t, c, "web", "is ADDED", func(e deployment.Event) bool { return e.Type == deployment.Added })
		}
		west := b.cs.Clusters["west"]
		if err := west.StopCluster(); err != nil {
			t.Fatal(err)
		}
		lost := `lost the watch of deployments in namespace "outage" in context "west"`
		testutil.Eventually(t, time.Minute, "stderr to say west is lost", func() bool { return strings.Contains(w.stderr.String(), lost) })

		// east keeps updating while west is down.
		b.scale(t, "east", "outage", "web", 4)
		w.waitEventIn(t, "east", "web", "wants 4", func(e deployment.Event) bool { return e.Replicas.Desired == 4 })
		if strings.Contains(w.stderr.String(), `in context "west" is back`) {
			t.Fatalf("west said back while stopped:\n%s", w.stderr.String())
		}

		if err := west.StartComponents(); err != nil {
			t.Fatal(err)
		}
		if _, err := west.StartIfExited(testbed.ControllerManager); err != nil {
			t.Fatal(err)
		}
		b.scale(t, "west", "outage", "web", 3)
		w.waitEventIn(t, "west", "web", "wants 3", func(e deployment.Event) bool { return e.Replicas.Desired == 3 })
		// The Deployment watch may deliver before the diagnosis's watches
		// are back too, and only then is the whole watch back.
		back := `the watch of deployments in namespace "outage" in context "west" is back`
		testutil.Eventually(t, time.Minute, "stderr to say west is back", func() bool { return strings.Contains(w.stderr.String(), back) })

		// Both end at the truth: the last event of each is what its API
		// server holds once settled.
		for _, c := range b.cs.Names {
			var truth *appsv1.Deployment
			testutil.Eventually(t, 2*time.Minute, "the watch to match "+c+"'s truth", func() bool {
				truth = b.get(t, c, "outage", "web")
				var last *deployment.Event
				for _, e := range w.eventsOf("web") {
					if e.Context == c {
						last = &e
					}
				}
				return last != nil && last.Replicas.Desired == *truth.Spec.Replicas &&
					last.Replicas.Ready == truth.Status.ReadyReplicas && last.Replicas.Updated == truth.Status.UpdatedReplicas &&
					last.Replicas.Available == truth.Status.AvailableReplicas && last.ResourceVersion != "" &&
					truth.Status.ObservedGeneration >= truth.Generation
			})
			t.Logf("%s: %s", c, fmt.Sprint(truth.Status))
		}
	})
}

// TestWatchSeveralNamespaces: -n a,b (and --namespaces) watches several
// namespaces with one informer each, for a user who may read those two and
// nothing cluster-wide; a namespace that does not exist, or that the user
// may not read, ends the watch with one line naming it.
func TestWatchSeveralNamespaces(t *testing.T) {
	a, b := testbed.NewNamespace(t), testbed.NewNamespace(t)
	createDeployment(t, a, "web", 1)
	createDeployment(t, b, "api", 1)
	kubeconfig := viewerKubeconfig(t, a)
	grantViewer(t, b, a) // the viewer of a may read b too, and nothing else
	env := []string{"KUBECONFIG=" + kubeconfig}

	w := startWatchEnv(t, env, "watch", "-n", a+","+b, "-o", "ndjson", "--diagnose=false")
	w.waitEvent(t, "web", "is ADDED in "+a, func(e deployment.Event) bool { return e.Type == deployment.Added && e.Namespace == a })
	w.waitEvent(t, "api", "is ADDED in "+b, func(e deployment.Event) bool { return e.Type == deployment.Added && e.Namespace == b })
	testbed.Kubectl(t, "-n", b, "scale", "deployment/api", "--replicas=2")
	w.waitEvent(t, "api", "wants 2", func(e deployment.Event) bool { return e.Replicas.Desired == 2 })
	waitRolledOut(t, b, "api") // so that the table below has nothing left to change
	for _, e := range append(w.eventsOf("web"), w.eventsOf("api")...) {
		if e.Context != "" {
			t.Fatalf("one context, yet an event has context %q", e.Context)
		}
	}

	table := runEnv(t, env, "watch", "--namespaces", a+","+b, "--until-complete", "--timeout", "1m", "--diagnose=false")
	if table.code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", table.code, table.stderr)
	}
	lines := strings.Split(strings.TrimSpace(table.stdout), "\n")
	rows := strings.Join(lines[1:], "\n") + "\n"
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAMESPACE") || !strings.Contains(rows, a+"   web ") || !strings.Contains(rows, b+"   api ") {
		t.Fatalf("want a table with NAMESPACE and one row per namespace:\n%s", table.stdout)
	}
	// The viewer may not list StatefulSets or DaemonSets: said before the
	// table, once per kind and namespace (and not at all when a watch fails
	// before its view, below).
	opsContains(t, "the table's warnings", table.stderr,
		`warning: not watching statefulsets in namespace "`+a+`"`, `warning: not watching daemonsets in namespace "`+b+`"`)
	if first := min(a, b); !strings.HasPrefix(lines[1], first+" ") {
		t.Errorf("the rows of several namespaces are not sorted: want %s first:\n%s", first, table.stdout)
	}

	other := testbed.NewNamespace(t)
	for _, tt := range []struct {
		env   []string
		args  []string
		wants []string
	}{
		{nil, []string{"watch", "-n", a + ",no-such-ns"}, []string{`namespace "no-such-ns" not found`}},
		{env, []string{"watch", "-n", a + "," + other, "--diagnose=false"}, []string{"forbidden", other}},
		{nil, []string{"watch", "-n", a, "--namespaces", b}, []string{"namespaces given twice"}},
	} {
		res := runEnv(t, tt.env, tt.args...)
		if res.code != 1 || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and one line", tt.args, res.code, res.stderr)
		}
		opsContains(t, strings.Join(tt.args, " "), strings.ToLower(res.stderr), lower(tt.wants)...)
	}
}
