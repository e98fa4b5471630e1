package testbed

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// deadlineCtx is a context whose deadline passes before its Done channel
// closes (here: when it is next asked for), as a real one's does for a
// moment on a busy machine.
type deadlineCtx struct {
	context.Context
	deadline time.Time
	done     chan struct{}
	closed   bool
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *deadlineCtx) Done() <-chan struct{} {
	if !c.closed && !time.Now().Before(c.deadline) {
		c.closed = true
		close(c.done)
	}
	return c.done
}
func (c *deadlineCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// TestWaitUntilSaysWhatTheLastWholeCheckFound: a check refused because the
// deadline has passed (client-go's rate limiter does that before the
// context's timer fires) does not hide what the check before it found.
// CI once failed TestStartAgainWhenNotReady on "client rate limiter Wait
// returned an error" where "0 of 2 nodes Ready" was the answer.
func TestWaitUntilSaysWhatTheLastWholeCheckFound(t *testing.T) {
	c := &Cluster{name: "fake", workdir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(c.workdir, "pids"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{Etcd, APIServer, ControllerManager, Scheduler, KwokController} {
		if err := os.WriteFile(c.pidFile(name), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := &deadlineCtx{Context: context.Background(), deadline: time.Now().Add(time.Hour), done: make(chan struct{})}
	checks := 0
	err := c.waitUntil(ctx, func() error {
		checks++
		if checks == 1 {
			return errors.New("0 of 2 nodes Ready")
		}
		// The second check finds the deadline past; the context's timer
		// fires after it.
		ctx.deadline = time.Now().Add(-time.Millisecond)
		return errors.New("client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline")
	})
	if want := "cluster not ready: 0 of 2 nodes Ready"; err == nil || err.Error() != want {
		t.Errorf("waitUntil: %v, want %q", err, want)
	}
	if checks != 2 {
		t.Errorf("%d checks, want 2", checks)
	}
}
