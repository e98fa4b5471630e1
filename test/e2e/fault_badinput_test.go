package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestFaultBadWatchInput: every bad flag, argument or configuration given to
// watch ends it at once with exit 1 and one line that names the problem and
// the fix, and prints nothing on stdout. (scale and set-image have theirs in
// ops_badinput_test.go, serve's in serve_errors_test.go.)
func TestFaultBadWatchInput(t *testing.T) {
	ns := testbed.NewNamespace(t)
	missing := t.TempDir() + "/no-kubeconfig"
	for _, tt := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"watch", ns, "-o", "yaml"}, []string{`unknown output format "yaml"`, "table, wide, ndjson"}},
		{[]string{"watch", ns, "--until-complete", "--timeout", "-1s"}, []string{"--timeout must not be negative"}},
		{[]string{"watch", ns, "--timeout", "1m"}, []string{"--timeout only applies with --until-complete"}},
		{[]string{"watch", "-A", "-n", ns}, []string{"-A and -n exclude each other"}},
		{[]string{ns, "-A"}, []string{`-A and the namespace argument "` + ns + `" exclude each other`}},
		{[]string{"watch", ns, "-A"}, []string{`-A and the namespace argument "` + ns + `" exclude each other`}},
		{[]string{"watch", ns, "-n", "other"}, []string{"namespace given twice"}},
		{[]string{"watch", "a", "b"}, []string{"accepts at most 1 arg"}},
		{[]string{"watch", ns, "--timeout", "soon"}, []string{`invalid argument "soon"`, "--help"}},
		{[]string{"watch", ns, "--bogus"}, []string{"unknown flag: --bogus", "--help"}},
		{[]string{"watch", "no-such-namespace-xyz"}, []string{`namespace "no-such-namespace-xyz" not found`, "kubectl get namespaces"}},
		{[]string{"wacth"}, []string{`namespace "wacth" not found`, "did you mean 'kubectl deploywatch watch'"}},
		{[]string{"histroy"}, []string{`namespace "histroy" not found`, "did you mean 'kubectl deploywatch history'"}},
		{[]string{"watch", "-n", "resme"}, []string{`namespace "resme" not found`, "did you mean 'kubectl deploywatch resume'"}},
		{[]string{"watch", ns, "-n", ns, "--context", "nope"}, []string{"context was not found for specified context: nope", "kubectl config get-contexts"}},
		{[]string{"watch", ns, "-l", "app in (web"}, []string{`invalid --selector "app in (web"`, "-l app=web"}},
		{[]string{"watch", ns, "--field-selector", "spec.replicas"}, []string{`invalid --field-selector "spec.replicas"`}},
		{[]string{"watch", ns, "--kubeconfig", missing}, []string{"check the --kubeconfig path or KUBECONFIG"}},
		{[]string{"watch", ns, "--context", "nope"}, []string{"nope", "kubectl config get-contexts"}},
		{[]string{"watch", ns, "--server", "https://127.0.0.1:1", "--request-timeout", "5s"}, []string{"127.0.0.1:1"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			res := opsRun(t, tt.args...)
			if res.code != 1 {
				t.Errorf("exit %d, want 1", res.code)
			}
			if lines := strings.Split(strings.TrimSpace(res.stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
				t.Errorf("stderr %q, want one error line", res.stderr)
			}
			opsContains(t, "stderr", res.stderr, tt.wants...)
			if res.stdout != "" {
				t.Errorf("stdout %q, want nothing", res.stdout)
			}
		})
	}
}

// TestFaultMalformedLastEventID: a Last-Event-ID serve never gave out
// (garbage, another server's, one from the future) cannot be resumed from,
// so the stream starts with a full snapshot instead of an error an
// EventSource would retry forever, and the client still ends right.
func TestFaultMalformedLastEventID(t *testing.T) {
	ns := testbed.NewNamespace(t)
	createDeployment(t, ns, "web", 1)
	p := startServe(t)
	for _, id := range []string{"garbage", "-", "0123456789ab-999999", "ffffffffffff-18446744073709551615", "e-99999999999999999999999", strings.Repeat("x", 4096)} {
		s := p.openStream(t, ns, map[string]string{"Last-Event-ID": id})
		if snap := snapshotOf(t, s.next(t, time.Minute)); len(snap) != 1 || snap[0].Name != "web" {
			t.Errorf("Last-Event-ID %.20q: snapshot %s, want web", id, fmtJSON(snap))
		}
		s.close()
	}
}
