package hub

import (
	"testing"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// TestTimeline: a namespace's tracker records each Deployment's last
// rollout from its events, for as long as it runs; a namespace not
// followed has none, and asking starts nothing.
func TestTimeline(t *testing.T) {
	ss := &scripts{make: func() *script { return &script{initial: []deployment.Event{ev(deployment.Added, "web", 1)}} }}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	if _, _, ok := h.Timeline("shop", "web"); ok || ss.count() != 0 {
		t.Fatalf("a namespace nobody follows: ok %v, %d trackers started", ok, ss.count())
	}
	before := time.Now()
	s := subscribe(t, h, "shop", "")
	defer s.Close()
	if r, since, ok := h.Timeline("shop", "web"); !ok || r != nil || since.Before(before) {
		t.Fatalf("no rollout yet: %+v since %v ok %v", r, since, ok)
	}
	e := ev(deployment.Modified, "web", 1)
	e.Status, e.Revision, e.Time = deployment.Progressing, 2, time.Now()
	ss.last().emit(e)
	r, _, ok := h.Timeline("shop", "web")
	if !ok || r == nil || r.Revision != 2 || len(r.Points) != 1 {
		t.Fatalf("rollout %+v ok %v, want revision 2 with one point", r, ok)
	}
}
