package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/safety"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// The write-up's manifests: "before" (1 replica, maxSurge 0, no
// readinessProbe, no preStop, a Service) and "after" (2 replicas, maxSurge 1,
// maxUnavailable 0, a readinessProbe, a preStop sleep, a PDB); nested/ holds
// a List with a 3-replica Deployment no PDB guards.
var (
	checkBefore = filepath.Join("testdata", "check", "before.yaml")
	checkAfter  = filepath.Join("testdata", "check", "after.yaml")
	checkDir    = filepath.Join("testdata", "check")
)

// The rules the "before" manifest breaks, in the order check gives them.
var beforeRules = []string{"api:" + safety.RolloutDropsAllPods, "api:" + safety.NoReadinessProbe, "api:" + safety.NoPreStop}

// checkRun runs `kubectl deploywatch args...` with stdin and env on top of
// the shared cluster's environment.
func checkRun(t *testing.T, stdin string, env []string, args ...string) opsResult {
	t.Helper()
	testbed.BuildPlugin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := testbed.Shared().KubectlCmd(ctx, append([]string{"deploywatch"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := opsResult{stdout: out.String(), stderr: errOut.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("kubectl deploywatch %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("$ kubectl deploywatch %s\n%s%s(exit %d)", strings.Join(args, " "), res.stdout, res.stderr, res.code)
	return res
}

// checkJSON is check's -o json.
type checkJSON struct {
	Deployments int              `json:"deployments"`
	Findings    []safety.Finding `json:"findings"`
}

func parseCheck(t *testing.T, r opsResult) checkJSON {
	t.Helper()
	var c checkJSON
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.stdout)
	}
	return c
}

// findingsOf lists deployment:rule, or with levels.
func findingsOf(c checkJSON) []string {
	out := []string{}
	for _, f := range c.Findings {
		out = append(out, f.Deployment+":"+f.Rule)
	}
	return out
}

// tripwire is a TCP listener that tells the connections made to it; a
// kubeconfig pointing at it tells whether a command contacted "the cluster".
type tripwire struct {
	ln net.Listener
	// seen gets the remote address of each connection, in the order they
	// were accepted.
	seen chan string
}

func newTripwire(t *testing.T) *tripwire {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &tripwire{ln: ln, seen: make(chan string, 100)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Not TLS: a client fails at once rather than retry.
			_, _ = c.Write([]byte("not a Kubernetes API server\n"))
			c.Close()
			w.seen <- c.RemoteAddr().String()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return w
}

// kubeconfig writes a kubeconfig whose cluster is the tripwire.
func (w *tripwire) kubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: tripwire
  cluster: {server: "https://%s", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: tripwire
  context: {cluster: tripwire, user: u}
current-context: tripwire
`, w.ln.Addr())
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// contacts is how many connections were made since the last call: it
// connects itself and counts those accepted before its own, which, accepted
// in order, are every earlier one.
func (w *tripwire) contacts(t *testing.T) int {
	t.Helper()
	c, err := net.Dial("tcp", w.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mine := c.LocalAddr().String()
	deadline := time.After(30 * time.Second)
	for n := 0; ; n++ {
		select {
		case addr := <-w.seen:
			if addr == mine {
				return n
			}
		case <-deadline:
			t.Fatal("the tripwire did not see the test's own connection")
		}
	}
}

// TestCheckManifests: `check -f` on the write-up's manifests, a directory,
// standard input and bad YAML, with a kubeconfig whose "cluster" is a
// tripwire: no run of -f contacts it, while the same kubeconfig without -f
// does.
func TestCheckManifests(t *testing.T) {
	wire := newTripwire(t)
	env := []string{"KUBECONFIG=" + wire.kubeconfig(t)}

	t.Run("before: warnings, exit 1", func(t *testing.T) {
		r := checkRun(t, "", env, "check", "-f", checkBefore)
		if r.code != 1 || r.stderr != "error: checked 1 deployment: 3 warnings, at or above --fail-on warning\n" {
			t.Errorf("exit %d, stderr %q; want 1 and the count", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "DEPLOYMENT   LEVEL     RULE                     CONTAINER   MESSAGE") {
			t.Fatalf("want a header and 3 rows:\n%s", r.stdout)
		}
		for i, want := range []string{
			"api          warning   rollout-drops-all-pods               maxSurge 0 and maxUnavailable 25% both come to 0 for 1 pod, so the controller takes maxUnavailable 1",
			`api          warning   no-readiness-probe       api         container "api" serves port 8080 ("http") behind Service "api" and has no readinessProbe`,
			`api          warning   no-prestop               api         no container has a preStop hook`,
		} {
			if !strings.HasPrefix(lines[i+1], want) {
				t.Errorf("row %d:\n  %s\nwant it to start\n  %s", i+1, lines[i+1], want)
			}
		}
		c := parseCheck(t, checkRun(t, "", env, "check", "-f", checkBefore, "-o", "json"))
		if got := findingsOf(c); c.Deployments != 1 || !slices.Equal(got, beforeRules) {
			t.Errorf("-o json: %d deployments, %q; want 1, %q", c.Deployments, got, beforeRules)
		}
		for _, f := range c.Findings {
			if f.Namespace != "default" || f.Level != safety.Warning || f.Fix == "" {
				t.Errorf("finding %+v: want namespace default (the kubeconfig has none), a warning, a fix", f)
			}
		}
		if r := checkRun(t, "", env, "check", "-f", checkBefore, "--fail-on", "never"); r.code != 0 {
			t.Errorf("--fail-on never: exit %d; want 0", r.code)
		}
	})

	t.Run("after: nothing, exit 0", func(t *testing.T) {
		for _, failOn := range []string{"warning", "notice"} {
			r := checkRun(t, "", env, "check", "-f", checkAfter, "--fail-on", failOn)
			if r.code != 0 || r.stdout != "" || r.stderr != "checked 1 deployment: nothing found\n" {
				t.Errorf("--fail-on %s: exit %d, stdout %q, stderr %q; want 0, nothing, the count", failOn, r.code, r.stdout, r.stderr)
			}
		}
	})

	t.Run("directory", func(t *testing.T) {
		c := parseCheck(t, checkRun(t, "", env, "check", "-f", checkDir, "-o", "json"))
		if got := findingsOf(c); c.Deployments != 2 || !slices.Equal(got, beforeRules) {
			t.Errorf("-f DIR: %d deployments, %q; want 2 (not the subdirectory's), %q", c.Deployments, got, beforeRules)
		}
		r := checkRun(t, "", env, "check", "-f", checkDir, "-R", "-o", "json")
		c = parseCheck(t, r)
		want := append(slices.Clone(beforeRules), "worker:"+safety.NoPDB)
		if got := findingsOf(c); r.code != 1 || c.Deployments != 3 || !slices.Equal(got, want) {
			t.Errorf("-f DIR -R: exit %d, %d deployments, %q; want 1, 3, %q", r.code, c.Deployments, got, want)
		}
		// The subdirectory's notice alone fails only --fail-on notice.
		nested := filepath.Join(checkDir, "nested")
		if r := checkRun(t, "", env, "check", "-f", nested); r.code != 0 || !strings.Contains(r.stdout, "worker       notice   no-pdb") {
			t.Errorf("-f nested: exit %d; want 0 with the notice listed", r.code)
		}
		if r := checkRun(t, "", env, "check", "-f", nested, "--fail-on", "notice"); r.code != 1 {
			t.Errorf("-f nested --fail-on notice: exit %d; want 1", r.code)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		before, err := os.ReadFile(checkBefore)
		if err != nil {
			t.Fatal(err)
		}
		after, err := os.ReadFile(checkAfter)
		if err != nil {
			t.Fatal(err)
		}
		// As helm template prints a chart: documents after "---" lines.
		stream := "---\n# Source: shop/templates/after.yaml\n" + string(after) + "---\n# Source: shop/templates/before.yaml\n" + string(before)
		r := checkRun(t, stream, env, "check", "-f", "-", "-o", "json")
		c := parseCheck(t, r)
		if got := findingsOf(c); r.code != 1 || c.Deployments != 2 || !slices.Equal(got, beforeRules) {
			t.Errorf("-f -: exit %d, %d deployments, %q; want 1, 2, %q", r.code, c.Deployments, got, beforeRules)
		}
	})

	t.Run("bad YAML exits 2 with one line and nothing else", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "deploy.yaml")
		bad := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n spec: {}\n"
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		r := checkRun(t, "", env, "check", "-f", path)
		want := "error: " + path + ": document 2 (line 5): yaml: line 8: did not find expected key\n"
		if r.code != 2 || r.stdout != "" || r.stderr != want {
			t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", r.code, r.stdout, r.stderr, want)
		}
		// The same on standard input, and an unknown field, and a file
		// that is not there.
		r = checkRun(t, bad, env, "check", "-f", "-")
		if r.code != 2 || r.stdout != "" || r.stderr != "error: stdin: document 2 (line 5): yaml: line 8: did not find expected key\n" {
			t.Errorf("stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		typo := strings.Replace(bad, " spec: {}", "spec: {template: {spec: {containers: [{name: web, readinesProbe: {}}]}}}", 1)
		r = checkRun(t, typo, env, "check", "-f", "-")
		if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
			!strings.Contains(r.stderr, `error: stdin: document 2 (line 5): Deployment: unknown field "spec.template.spec.containers[0].readinesProbe"`) {
			t.Errorf("unknown field: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = checkRun(t, "", env, "check", "-f", "no-such.yaml")
		if r.code != 2 || r.stdout != "" || r.stderr != "error: no-such.yaml: no such file or directory\n" {
			t.Errorf("missing file: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	if n := wire.contacts(t); n != 0 {
		t.Errorf("check -f contacted the kubeconfig's cluster %d times; want never", n)
	}
	// The tripwire works: the same kubeconfig without -f is contacted.
	r := checkRun(t, "", env, "check", "shop")
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("check shop against the tripwire: exit %d, %q; want 2, one line", r.code, r.stderr)
	}
	if n := wire.contacts(t); n == 0 {
		t.Error("the tripwire counted no contact from check NAMESPACE; it cannot tell -f's silence either")
	}
}

// TestCheckCluster: `check NAMESPACE` on the write-up's manifests applied to
// the test bed gives what `check -f` gives on the files (the API server's
// defaults resolve as check resolves a manifest's), -l and -A select, and a
// user who may not list Services gets one line saying so.
func TestCheckCluster(t *testing.T) {
	ns := testbed.NewNamespace(t)
	testbed.Kubectl(t, "apply", "-n", ns, "-f", checkBefore, "-f", checkAfter)

	r := checkRun(t, "", nil, "check", ns, "-o", "json")
	c := parseCheck(t, r)
	if got := findingsOf(c); r.code != 1 || c.Deployments != 2 || !slices.Equal(got, beforeRules) {
		t.Errorf("check %s: exit %d, %d deployments, %q; want 1, 2, %q", ns, r.code, c.Deployments, got, beforeRules)
	}
	files := checkRun(t, "", nil, "check", "-n", ns, "-f", checkBefore, "-f", checkAfter, "-o", "json")
	if files.stdout != r.stdout {
		t.Errorf("the cluster's objects and the files differ:\ncluster:\n%s\nfiles:\n%s", r.stdout, files.stdout)
	}

	table := checkRun(t, "", nil, "check", "-n", ns)
	if table.code != 1 || !strings.Contains(table.stdout, "api          warning   rollout-drops-all-pods") ||
		table.stderr != "error: checked 2 deployments: 3 warnings, at or above --fail-on warning\n" {
		t.Errorf("check -n %s: exit %d\n%s%s", ns, table.code, table.stdout, table.stderr)
	}

	fixed := checkRun(t, "", nil, "check", ns, "-l", "app=api-fixed")
	if fixed.code != 0 || fixed.stdout != "" || fixed.stderr != "checked 1 deployment: nothing found\n" {
		t.Errorf("check -l app=api-fixed: exit %d, stdout %q, stderr %q; want 0, nothing, the count", fixed.code, fixed.stdout, fixed.stderr)
	}

	all := checkRun(t, "", nil, "check", "-A", "-o", "json", "--fail-on", "never")
	var mine []string
	for _, f := range parseCheck(t, all).Findings {
		if f.Namespace == ns {
			mine = append(mine, f.Deployment+":"+f.Rule)
		}
	}
	if all.code != 0 || !slices.Equal(mine, beforeRules) {
		t.Errorf("check -A --fail-on never: exit %d, %q in %s; want 0, %q", all.code, mine, ns, beforeRules)
	}

	missing := checkRun(t, "", nil, "check", "no-such-namespace")
	if missing.code != 2 || !strings.Contains(missing.stderr, `namespace "no-such-namespace" not found`) {
		t.Errorf("check no-such-namespace: exit %d, %q", missing.code, missing.stderr)
	}

	// A user who may read Deployments only.
	env := []string{"KUBECONFIG=" + viewerKubeconfig(t, ns)}
	denied := checkRun(t, "", env, "check")
	want := fmt.Sprintf("check needs list on deployments, services and poddisruptionbudgets in namespace %q; check with 'kubectl auth can-i list services -n %s'", ns, ns)
	if denied.code != 2 || denied.stdout != "" || strings.Count(denied.stderr, "\n") != 1 ||
		!strings.Contains(denied.stderr, `cannot list resource "services"`) || !strings.Contains(denied.stderr, want) {
		t.Errorf("viewer: exit %d, stdout %q, stderr %q; want 2, nothing, one line saying %q", denied.code, denied.stdout, denied.stderr, want)
	}
}
