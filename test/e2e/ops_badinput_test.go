package e2e

import (
	"strings"
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestOpsBadInputChangesNothing: every bad input of issue 4 ends with one
// line that names the problem (and the fix), a non-zero exit, and the
// Deployment's resourceVersion where it was.
func TestOpsBadInputChangesNothing(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "web", 3, true, nil)
	d := opsGet(t, ns, "web")
	rv := d.ResourceVersion

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"negative replicas", []string{"scale", "web", "--replicas=-1"},
			[]string{"replicas must not be negative, got -1"}},
		{"replicas not an integer", []string{"scale", "web", "--replicas=three"},
			[]string{`--replicas must be a whole number, got "three"`}},
		{"replicas missing", []string{"scale", "web"},
			[]string{"--replicas is required, e.g. --replicas=3"}},
		{"several problems at once", []string{"scale", "--replicas=1.5", "--current-replicas=x", "--dry-run=maybe"},
			[]string{"no deployment given", `--replicas must be a whole number, got "1.5"`, `--current-replicas must be a whole number, got "x"`, `unknown dry-run mode "maybe"`}},
		{"image that does not parse", []string{"set-image", "web", "web=Registry.k8s.io/Pause:3.10"},
			[]string{`container "web": invalid image "Registry.k8s.io/Pause:3.10"`, "must be lowercase"}},
		{"image with a bad tag", []string{"set-image", "web", "web=nginx:"},
			[]string{`invalid image "nginx:"`, "invalid reference format"}},
		{"empty image", []string{"set-image", "web", "web="},
			[]string{`container "web": empty image`}},
		{"pair without =", []string{"set-image", "web", "nginx:1.27"},
			[]string{`"nginx:1.27" is not CONTAINER=IMAGE`, "web=nginx:1.27"}},
		{"every image problem at once", []string{"set-image", "web", "web=", "sidecar", "migrate=UPPER"},
			[]string{`container "web": empty image`, `"sidecar" is not CONTAINER=IMAGE`, `container "migrate": invalid image "UPPER"`}},
		{"unknown containers", []string{"set-image", "web", "web=registry.k8s.io/pause:3.9", "api=nginx", "db=postgres"},
			[]string{`deployment "web" in namespace "` + ns + `" has no containers "api", "db"; its containers: web, sidecar; its init containers: migrate`}},
		{"deployment that does not exist", []string{"scale", "nope", "--replicas=2"},
			[]string{`deployment "nope" not found in namespace "` + ns + `"`, "kubectl get deployments -n " + ns}},
		{"deployment that does not exist, set-image", []string{"set-image", "nope", "web=nginx"},
			[]string{`deployment "nope" not found in namespace "` + ns + `"`}},
		{"current replicas precondition", []string{"scale", "web", "--replicas=5", "--current-replicas=2"},
			[]string{`precondition failed: deployment "web" in namespace "` + ns + `" has 3 replicas, expected 2; nothing was changed`}},
		{"resource version precondition, scale", []string{"scale", "web", "--replicas=5", "--resource-version=1"},
			[]string{`is at resourceVersion ` + rv + `, expected 1; nothing was changed`}},
		{"resource version precondition, set-image", []string{"set-image", "web", "web=registry.k8s.io/pause:3.9", "--resource-version=1"},
			[]string{`is at resourceVersion ` + rv + `, expected 1; nothing was changed`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := opsRun(t, append([]string{"-n", ns}, tt.args...)...)
			if r.code == 0 {
				t.Errorf("exit 0, want non-zero")
			}
			opsBadInputMessage(t, r, tt.want...)
			if got := opsGet(t, ns, "web").ResourceVersion; got != rv {
				t.Errorf("resourceVersion moved from %s to %s", rv, got)
			}
		})
	}

	t.Run("namespace that does not exist", func(t *testing.T) {
		for _, args := range [][]string{
			{"-n", "no-such-namespace", "scale", "web", "--replicas=2"},
			{"-n", "no-such-namespace", "set-image", "web", "web=nginx"},
		} {
			r := opsRun(t, args...)
			if r.code == 0 {
				t.Errorf("%v: exit 0", args)
			}
			opsBadInputMessage(t, r, `deployment "web" not found: namespace "no-such-namespace" does not exist`, "kubectl get namespaces")
			if n := strings.Count(r.stderr, "not found"); n != 1 {
				t.Errorf("%v: the error says \"not found\" %d times, want once: %s", args, n, r.stderr)
			}
		}
	})
}

// opsBadInputMessage checks the error is one line, says what it must and
// leaves standard output empty.
func opsBadInputMessage(t *testing.T, r opsResult, want ...string) {
	t.Helper()
	if r.stdout != "" {
		t.Errorf("standard output %q, want none", r.stdout)
	}
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
		t.Errorf("standard error is not one 'error: ' line:\n%s", r.stderr)
	}
	opsContains(t, "the error", r.stderr, want...)
}
