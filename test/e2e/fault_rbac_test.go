package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// runEnv runs `kubectl deploywatch args...` against the shared cluster, the
// way a user does, piped (not on a terminal), with extra environment.
func runEnv(t *testing.T, env []string, args ...string) opsResult {
	t.Helper()
	testbed.BuildPlugin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := testbed.Shared().KubectlCmd(ctx, append([]string{"deploywatch"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
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

// TestFaultOneNamespaceUser: a user allowed to read Deployments in one
// namespace only (no cluster-wide list, no namespace list) can watch that
// namespace; -A and another namespace fail at once with one line that names
// what is forbidden and what to do.
func TestFaultOneNamespaceUser(t *testing.T) {
	ns := testbed.NewNamespace(t)
	other := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	waitRolledOut(t, ns, "web")
	env := []string{"KUBECONFIG=" + viewerKubeconfig(t, ns)}

	// The kubeconfig's namespace, as kubectl would pick it.
	res := runEnv(t, env, "--until-complete", "--timeout", "1m", "-o", "ndjson")
	if res.code != 0 || !strings.Contains(res.stdout, `"name":"web"`) {
		t.Errorf("watch in the allowed namespace: exit %d; want 0 with web", res.code)
	}

	for _, tt := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"watch", "-A"}, []string{"forbidden", "every namespace", "-n NAMESPACE"}},
		{[]string{"watch", other}, []string{"forbidden", other, "kubectl auth can-i watch deployments -n " + other}},
	} {
		res := runEnv(t, env, tt.args...)
		if res.code != 1 {
			t.Errorf("%v: exit %d, want 1", tt.args, res.code)
		}
		if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
			t.Errorf("%v: stderr %q, want one error line", tt.args, res.stderr)
		}
		opsContains(t, strings.Join(tt.args, " "), strings.ToLower(res.stderr), lower(tt.wants)...)
		if res.stdout != "" {
			t.Errorf("%v: stdout %q, want nothing", tt.args, res.stdout)
		}
	}
}

func lower(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	return out
}
