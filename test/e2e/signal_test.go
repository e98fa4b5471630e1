package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
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
	waitUntil(t, time.Minute, "/readyz to answer 503", func() bool {
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
