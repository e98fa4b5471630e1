package hub

import (
	"testing"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// TestRolloutEventToldOnceNotInSnapshots: a ROLLOUT event reaches the
// subscribers then, but a later subscriber's snapshot holds the
// Deployment's state (its MODIFIED), not the ROLLOUT again.
func TestRolloutEventToldOnceNotInSnapshots(t *testing.T) {
	ss := &scripts{make: func() *script {
		return &script{initial: []deployment.Event{ev(deployment.Added, "web", 1)}}
	}}
	h := New(nil, Options{NewSource: ss.newSource})
	defer h.Close()
	first := subscribe(t, h, "shop", "")
	defer first.Close()
	if msgs := next(t, first); len(msgs) != 1 || msgs[0].Kind != Snapshot {
		t.Fatalf("first messages = %+v", msgs)
	}
	src := ss.last()
	modified := ev(deployment.Modified, "web", 1)
	modified.LastRollout = &deployment.RolloutCost{Revision: "2", Outcome: deployment.RolloutComplete}
	rollout := modified
	rollout.Type = deployment.Rollout
	src.emit(modified)
	src.emit(rollout)
	var types []deployment.EventType
	for len(types) < 2 {
		for _, m := range next(t, first) {
			for _, e := range m.Events {
				types = append(types, e.Type)
			}
		}
	}
	if types[0] != deployment.Modified || types[1] != deployment.Rollout {
		t.Errorf("the subscriber got %v, want MODIFIED then ROLLOUT", types)
	}

	later := subscribe(t, h, "shop", "")
	defer later.Close()
	msgs := next(t, later)
	if len(msgs) != 1 || msgs[0].Kind != Snapshot || len(msgs[0].Events) != 1 {
		t.Fatalf("later subscriber's first messages = %+v", msgs)
	}
	if e := msgs[0].Events[0]; e.Type != deployment.Modified || e.LastRollout == nil {
		t.Errorf("snapshot holds %s (lastRollout %v), want the MODIFIED with the rollout's cost", e.Type, e.LastRollout)
	}
}
