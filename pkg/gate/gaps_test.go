package gate

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// TestFailOnGap: with --fail-on-gap, a wait whose rollout completes fails
// when a gap overlapped it (ended during it, or open at its start), naming
// the Service, the length and the revision; a gap over before it began
// does not count; a lost watch of serving fails it; without the flag the
// same wait passes.
func TestFailOnGap(t *testing.T) {
	start := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	running := func(gaps []deployment.Gap, last *deployment.Gap) deployment.Summary {
		s := summary("web", deployment.Running, "")
		s.Generation, s.ObservedGeneration = 5, 5
		s.Gaps, s.LastGap = gaps, last
		return s
	}
	ended := func(from, to time.Duration) *deployment.Gap {
		return &deployment.Gap{Service: "api-svc", Kind: deployment.GapNoReadyEndpoint, Revision: "3",
			Start: start.Add(from), End: start.Add(to)}
	}
	open := deployment.Gap{Service: "api-svc", Kind: deployment.GapNoReadyEndpoint, Revision: "3",
		Start: start.Add(-2 * time.Second), OpenAtStart: true}
	lost := tracker.Health{State: tracker.Relisting, Since: start.Add(time.Second), Lost: []string{"endpointslices"}}
	for _, tt := range []struct {
		name    string
		flag    bool
		first   deployment.Summary // at the first list
		outage  bool               // the EndpointSlices' watch is lost and back before the last event
		deleted bool               // last is of Deployment \"old\", deleted after it (views only)
		last    deployment.Summary
		says    []string // in the closing error; none: it passes
	}{
		{name: "no gap passes", flag: true, first: running(nil, nil), last: running(nil, nil)},
		{name: "a gap over before the wait does not count", flag: true,
			first: running(nil, ended(-10*time.Second, -4*time.Second)), last: running(nil, ended(-10*time.Second, -4*time.Second))},
		{name: "a gap during the wait fails it", flag: true, first: running(nil, nil),
			last: running(nil, ended(time.Second, 7400*time.Millisecond)),
			says: []string{"serving gap during the wait", "deployment shop/web: api-svc had no ready endpoint for 6.4s during revision 3"}},
		{name: "a gap open at the start and ended during it fails it", flag: true,
			first: running([]deployment.Gap{open}, nil), last: running(nil, func() *deployment.Gap {
				g := ended(-2*time.Second, 3*time.Second)
				g.OpenAtStart = true
				return g
			}()),
			says: []string{"api-svc had no ready endpoint for at least 5s (open before the wait began) during revision 3"}},
		{name: "a gap still open fails it", flag: true, first: running([]deployment.Gap{open}, nil), last: running([]deployment.Gap{open}, nil),
			says: []string{"api-svc had no ready endpoint for at least 12s so far (open before the wait began, still open) during revision 3"}},
		{name: "a lost watch of serving fails it", flag: true, first: running(nil, nil), outage: true, last: running(nil, nil),
			says: []string{"could not see serving during the whole wait", "the watch of endpointslices was lost"}},
		{name: "serving unknown fails it", flag: true, first: running(nil, nil),
			last: func() deployment.Summary {
				s := running(nil, nil)
				s.ServingUnknown = "cannot list services: forbidden"
				return s
			}(),
			says: []string{"could not see serving during the whole wait, so --fail-on-gap cannot pass: serving of deployment shop/web unknown (cannot list services: forbidden)"}},
		{name: "a gap of a deployment deleted since fails it", flag: true, first: running(nil, nil), deleted: true,
			last: running(nil, ended(time.Second, 3*time.Second)), says: []string{"deployment shop/old: api-svc had no ready endpoint for 2s"}},
		{name: "without the flag a gap passes", first: running(nil, nil), outage: true, last: running(nil, ended(time.Second, 7*time.Second))},
	} {
		for _, kind := range []string{"view", "wait"} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				stopped := 0
				stop := func() { stopped++ }
				var g *gate
				if kind == "view" {
					g = NewView(nopSink{}, stop, ViewOptions{FailingGrace: time.Minute}).gate
				} else {
					g = newGate(nil, stop, time.Minute, &rollout{req: Request{Namespace: "shop", Name: "web", MinGeneration: 5}})
				}
				g.judge.Now = func() time.Time { return start }
				if tt.flag {
					g.failOnGap()
				}
				g.judge.Now = func() time.Time { return start.Add(10 * time.Second) }
				pending := tt.first
				pending.Status = deployment.Progressing
				g.OnSynced([]deployment.Summary{pending})
				if tt.outage {
					g.OnHealth(lost)
					g.OnHealth(tracker.Health{State: tracker.Live, Since: start.Add(2 * time.Second)})
				}
				if tt.deleted {
					if kind == "wait" {
						t.Skip("a wait ends when its Deployment is deleted")
					}
					old := tt.last
					old.Name = "old"
					g.OnEvent(deployment.Event{Type: deployment.Modified, Summary: old})
					g.OnEvent(deployment.Event{Type: deployment.Deleted, Summary: old})
					tt.last = running(nil, nil)
				}
				g.OnEvent(deployment.Event{Type: deployment.Modified, Summary: tt.last})
				g.mu.Lock()
				defer g.mu.Unlock()
				if !g.ended || stopped != 1 {
					t.Fatalf("the wait did not end once the rollout completed (ended %v, stopped %d times)", g.ended, stopped)
				}
				if len(tt.says) == 0 {
					if g.err != nil {
						t.Fatalf("ended with %v, want it to pass", g.err)
					}
					return
				}
				var end *Error
				if !errors.As(g.err, &end) || end.Outcome != Failed {
					t.Fatalf("ended with %#v, want an *Error with Outcome Failed", g.err)
				}
				for _, want := range tt.says {
					if !strings.Contains(end.Message, want) {
						t.Errorf("closing error %q does not say %q", end.Message, want)
					}
				}
			})
		}
	}
}
