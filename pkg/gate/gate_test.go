package gate

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/operations"
)

// TestFailingGraceEndsTheWait: a rollout that stays Failing, with no event
// after the first, fails both waits once the grace has passed (the gate
// judges it again then), and not a moment before.
func TestFailingGraceEndsTheWait(t *testing.T) {
	failing := deployment.Summary{Namespace: "shop", Name: "web", Generation: 5, ObservedGeneration: 5,
		Status: deployment.Failing, Message: "ImagePullBackOff: pulling nginx:nope"}
	for _, tt := range []struct {
		name string
		gate func(stop func()) *gate
		says string
	}{
		{"view", func(stop func()) *gate { return NewView(nopSink{}, stop, ViewOptions{FailingGrace: time.Minute}).gate },
			"deployment shop/web is Failing: ImagePullBackOff: pulling nginx:nope"},
		{"wait", func(stop func()) *gate {
			return newGate(nil, stop, time.Minute, &rollout{req: Request{Namespace: "shop", Name: "web", MinGeneration: 5}})
		}, `deployment "web" in namespace "shop" is Failing: ImagePullBackOff: pulling nginx:nope`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				stopped := make(chan struct{})
				g := tt.gate(func() { close(stopped) })
				g.OnSynced([]deployment.Summary{failing})
				time.Sleep(time.Minute - time.Millisecond)
				synctest.Wait()
				select {
				case <-stopped:
					t.Fatal("the wait ended within the grace")
				default:
				}
				time.Sleep(time.Millisecond)
				synctest.Wait()
				select {
				case <-stopped:
				default:
					t.Fatal("the wait goes on after the grace")
				}
				g.mu.Lock()
				defer g.mu.Unlock()
				if g.err == nil || g.err.Error() != tt.says {
					t.Errorf("ended with %v, want %q", g.err, tt.says)
				}
			})
		})
	}
}

// TestStoppedOnlyOnceListed: a wait that ends before its first list is in
// (a deletion) stops the watch only once it is, so the next sink sees its
// first table.
func TestStoppedOnlyOnceListed(t *testing.T) {
	stopped := 0
	g := newGate(nil, func() { stopped++ }, time.Minute, &rollout{req: Request{Namespace: "shop", Name: "web"}})
	g.OnEvent(deployment.Event{Type: deployment.Deleted, Summary: summary("web", deployment.Running, "")})
	if stopped != 0 {
		t.Fatal("stopped before the first list was in")
	}
	g.OnSynced(nil)
	if stopped != 1 || operations.ReasonOf(g.err) != operations.NotFound {
		t.Fatalf("stopped %d times, ended with %v; want once, NotFound", stopped, g.err)
	}
}
