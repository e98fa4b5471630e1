package tracker

import (
	"slices"
	"sync"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// inOrder holds the events that come before the first sync and delivers
// them as Initial makes them when it comes, so the first table and the
// ADDED lines read the same on every run: the informer's first list
// arrives in map order.
type inOrder struct {
	Sink

	mu      sync.Mutex
	synced  bool
	pending []deployment.Event
}

func (s *inOrder) OnEvent(e deployment.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.synced {
		s.pending = append(s.pending, e)
		return
	}
	s.Sink.OnEvent(e)
}

func (s *inOrder) OnSynced(snapshot []deployment.Summary) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range Initial(s.pending) {
		s.Sink.OnEvent(e)
	}
	s.pending, s.synced = nil, true
	s.Sink.OnSynced(snapshot)
}

func (s *inOrder) OnHealth(h Health) { TellHealth(s.Sink, h) }

// Initial turns the events that came before a first view into what that
// view lists: one event per Deployment that still exists, carrying its
// latest state under its first event's type (an ADDED stays ADDED), in
// deployment.Compare order. A change seen before the first view is part of
// the initial state, not a change a user saw, so the first table shows each
// Deployment once; a Deployment added and deleted before it is not shown.
func Initial(events []deployment.Event) []deployment.Event {
	out := make([]deployment.Event, 0, len(events))
	at := map[string]int{} // key to index in out
	gone := map[int]bool{}
	for _, e := range events {
		k := e.Key()
		i, seen := at[k]
		switch {
		case seen && e.Type == deployment.Deleted:
			gone[i] = true
			delete(at, k)
		case seen:
			typ := out[i].Type
			out[i] = e
			out[i].Type = typ
			if typ == deployment.Added {
				out[i].Changed = nil
			}
		default:
			at[k] = len(out)
			out = append(out, e)
		}
	}
	kept := out[:0]
	for i, e := range out {
		if !gone[i] {
			kept = append(kept, e)
		}
	}
	slices.SortStableFunc(kept, func(a, b deployment.Event) int { return deployment.Compare(&a.Summary, &b.Summary) })
	return kept
}
