package gate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/fanin"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

func TestViewOutcomes(t *testing.T) {
	added := func(s deployment.Summary) deployment.Event {
		return deployment.Event{Type: deployment.Added, Summary: s}
	}

	t.Run("waits for the sync, then for every deployment", func(t *testing.T) {
		stopped := 0
		c := NewView(nopSink{}, func() { stopped++ }, ViewOptions{FailingGrace: time.Minute})
		c.OnEvent(added(summary("web", deployment.Running, "")))
		if stopped != 0 {
			t.Fatal("stopped before the first sync")
		}
		c.OnEvent(added(summary("api", deployment.Progressing, "1 of 3 updated")))
		c.OnSynced(nil)
		if stopped != 0 {
			t.Fatal("stopped while api is Progressing")
		}
		c.OnEvent(deployment.Event{Type: deployment.Modified, Summary: summary("api", deployment.ScaledToZero, "")})
		if stopped != 1 {
			t.Fatalf("stopped %d times once all settled, want 1", stopped)
		}
		if err := c.Result(context.Background(), 0); err != nil {
			t.Fatalf("result = %v, want nil", err)
		}
	})

	t.Run("a failure ends it with exit 1 and the message", func(t *testing.T) {
		c := NewView(nopSink{}, func() {}, ViewOptions{FailingGrace: time.Minute})
		c.OnSynced([]deployment.Summary{summary("web", deployment.Running, ""), summary("api", deployment.Failed, "ProgressDeadlineExceeded: timed out")})
		var end *Error
		err := c.Result(context.Background(), 0)
		if !errors.As(err, &end) || end.Outcome != Failed || !strings.Contains(err.Error(), "deployment shop/api is Failed: ProgressDeadlineExceeded: timed out") {
			t.Fatalf("result = %v, want exit 1 naming shop/api", err)
		}
	})

	t.Run("a deleted deployment is no longer waited for", func(t *testing.T) {
		stopped := 0
		c := NewView(nopSink{}, func() { stopped++ }, ViewOptions{FailingGrace: time.Minute})
		c.OnSynced([]deployment.Summary{summary("web", deployment.Running, ""), summary("old", deployment.Degraded, "1 of 2 available")})
		c.OnEvent(deployment.Event{Type: deployment.Deleted, Summary: summary("old", deployment.Degraded, "")})
		if stopped != 1 {
			t.Fatalf("stopped %d times, want 1", stopped)
		}
	})

	t.Run("timeout and interrupt name what is pending", func(t *testing.T) {
		c := NewView(nopSink{}, func() {}, ViewOptions{FailingGrace: time.Minute})
		c.OnSynced([]deployment.Summary{summary("web", deployment.Scaling, ""), summary("api", deployment.Running, "")})
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		defer cancel()
		<-ctx.Done()
		var end *Error
		err := c.Result(ctx, 3*time.Second)
		if !errors.As(err, &end) || end.Outcome != TimedOut || err.Error() != "timed out after 3s waiting for shop/web (Scaling)" {
			t.Fatalf("result = %v, want exit 2 naming shop/web", err)
		}
		canceled, cancel2 := context.WithCancel(context.Background())
		cancel2()
		if err := c.Result(canceled, 0); !errors.As(err, &end) || end.Outcome != Interrupted {
			t.Fatalf("result after an interrupt = %v, want exit 130", err)
		}
	})
}

func TestViewDecidesNothingWhileTheWatchIsLost(t *testing.T) {
	lostAt := time.Date(2026, 12, 2, 14, 9, 0, 0, time.Local)
	refused := errors.New("connect: connection refused")
	stopped := 0
	c := NewView(nopSink{}, func() { stopped++ }, ViewOptions{FailingGrace: time.Minute})
	c.OnSynced([]deployment.Summary{summary("web", deployment.Progressing, "1 of 3 updated")})
	c.OnHealth(tracker.Health{State: tracker.Reconnecting, Since: lostAt, Err: refused})
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	var end *Error
	err := c.Result(ctx, 3*time.Second)
	want := "timed out after 3s while the watch was lost (reconnecting since 14:09:00: connect: connection refused); the last state seen, possibly stale: shop/web (Progressing)"
	if !errors.As(err, &end) || end.Outcome != TimedOut || err.Error() != want {
		t.Fatalf("a timeout while lost: %v, want exit 2 with %q", err, want)
	}
	// What arrives while lost (nothing should; were it to) decides nothing.
	c.OnEvent(deployment.Event{Type: deployment.Modified, Summary: summary("web", deployment.Running, "")})
	if stopped != 0 {
		t.Fatal("decided complete while the watch was lost")
	}
	// Back, and the relist brought the truth: decided on it.
	c.OnHealth(tracker.Health{State: tracker.Live, Since: lostAt.Add(time.Minute)})
	if stopped != 1 {
		t.Fatalf("stopped %d times once live again with web Running, want 1", stopped)
	}
}

func TestViewAcrossContexts(t *testing.T) {
	in := func(ctx, name string, status deployment.Status, msg string) deployment.Summary {
		s := summary(name, status, msg)
		s.Context = ctx
		return s
	}
	live := func(ctx string) fanin.State { return fanin.State{Context: ctx, Namespace: "shop", Synced: true} }

	t.Run("done only when every context is", func(t *testing.T) {
		stopped := 0
		c := NewView(nopSink{}, func() { stopped++ }, ViewOptions{FailingGrace: time.Minute})
		c.OnSource(live("east"))
		c.OnSource(fanin.State{Context: "west", Namespace: "shop", Err: errors.New("connection refused")})
		c.OnSynced([]deployment.Summary{in("east", "web", deployment.Running, "")})
		if stopped != 0 {
			t.Fatal("done while west has not been seen")
		}
		west := live("west")
		west.Snapshot = []deployment.Summary{in("west", "web", deployment.Progressing, "1 of 3 updated")}
		c.OnSource(west)
		if stopped != 0 {
			t.Fatal("done while west's web is Progressing")
		}
		c.OnEvent(deployment.Event{Type: deployment.Modified, Summary: in("west", "web", deployment.Running, "")})
		if stopped != 1 {
			t.Fatalf("stopped %d times once both are done, want 1", stopped)
		}
	})

	t.Run("a failure names its context; a lost context decides nothing", func(t *testing.T) {
		stopped := 0
		c := NewView(nopSink{}, func() { stopped++ }, ViewOptions{FailingGrace: time.Minute})
		c.OnSource(live("east"))
		c.OnSource(live("west"))
		c.OnSynced([]deployment.Summary{in("east", "web", deployment.Running, ""), in("west", "web", deployment.Progressing, "")})
		lost := live("west")
		lost.Health = tracker.Health{State: tracker.Reconnecting, Since: time.Now(), Err: errors.New("connection refused")}
		c.OnSource(lost)
		c.OnEvent(deployment.Event{Type: deployment.Modified, Summary: in("west", "web", deployment.Failed, "ProgressDeadlineExceeded")})
		if stopped != 0 {
			t.Fatal("decided on west while its watch is lost")
		}
		c.OnSource(live("west"))
		if stopped != 1 {
			t.Fatal("west back and Failed, yet not decided")
		}
		err := c.Result(context.Background(), 0)
		var end *Error
		if !errors.As(err, &end) || end.Outcome != Failed || !strings.Contains(err.Error(), `deployment shop/web in context "west" is Failed: ProgressDeadlineExceeded`) {
			t.Fatalf("result = %v, want exit 1 naming west", err)
		}
	})

	t.Run("a timeout names what is pending where", func(t *testing.T) {
		c := NewView(nopSink{}, func() {}, ViewOptions{FailingGrace: time.Minute})
		c.OnSource(live("east"))
		c.OnSource(live("west"))
		c.OnSynced([]deployment.Summary{in("east", "web", deployment.Running, ""), in("west", "web", deployment.Scaling, "")})
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		defer cancel()
		<-ctx.Done()
		err := c.Result(ctx, time.Second)
		var end *Error
		if !errors.As(err, &end) || end.Outcome != TimedOut || err.Error() != `timed out after 1s waiting for shop/web in context "west" (Scaling)` {
			t.Fatalf("result = %v, want exit 2 naming west's web", err)
		}
	})
}
