package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/test/testbed"
)

// TestSecondInterruptEndsAtOnce: Ctrl-C starts serve's graceful shutdown,
// here made slow on purpose (--shutdown-delay 5m keeps it listening with
// /readyz at 503); a second Ctrl-C ends the process at once with exit 130
// and one line saying so, long before the delay is over.
func TestSecondInterruptEndsAtOnce(t *testing.T) {
	p := startServe(t, "--shutdown-timeout", "10m", "--shutdown-delay", "5m")
	if status, body := p.request(t, "GET", "/readyz", "", nil); status != 200 {
		t.Fatalf("/readyz before the signal: %d %s", status, body)
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// The shutdown has begun: /readyz fails while the listener stays open.
	testutil.Eventually(t, time.Minute, "/readyz to answer 503", func() bool {
		status, _ := p.request(t, "GET", "/readyz", "", nil)
		return status == 503
	})
	select {
	case <-p.exited:
		t.Fatalf("serve exited after one SIGINT, during its 5m shutdown delay: %v", p.err)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(time.Minute): // a bound, far below the 5m it would take otherwise
		t.Fatalf("serve still running a minute after the second SIGINT; stderr:\n%s", p.stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) || exit.ExitCode() != 130 {
		t.Errorf("exit %v after a second SIGINT, want exit status 130", p.err)
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "error: interrupted again") {
		t.Errorf("last line of stderr is %q, want the second interrupt said", last)
	}
}

// TestSIGTERMWhileWaitingExits143: a watch --until-complete that SIGTERM
// interrupts exits 143, as a shell reports a process SIGTERM ended (130 is
// Ctrl-C's); the rollout it waited for cannot complete (no node matches).
func TestSIGTERMWhileWaitingExits143(t *testing.T) {
	ns := testbed.NewNamespace(t)
	opsDeployment(t, ns, "stuck", 1, false, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.NodeSelector = map[string]string{"no-such-label": "anywhere"}
	})
	p := startWatch(t, "watch", ns, "-o", "ndjson", "--until-complete", "--failing-grace", "10m")
	p.waitEvent(t, "stuck", "is listed", func(e deployment.Event) bool { return e.Type == deployment.Added })
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("watch still running a minute after SIGTERM")
	}
	var exit *exec.ExitError
	if err := p.cmd.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 143 {
		t.Errorf("exit %v after SIGTERM, want exit status 143; stderr:\n%s", err, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "error: interrupted while waiting for "+ns+"/stuck") {
		t.Errorf("stderr does not say what was pending:\n%s", p.stderr.String())
	}
}
