package tracker

import (
	"slices"
	"sync"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// inOrder holds the events that come before the first sync and delivers
// them sorted by namespace and name when it comes, so the first table and
// the ADDED lines read the same on every run: the informer's first list
// arrives in map order. Events of one Deployment keep their order.
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
	slices.SortStableFunc(s.pending, func(a, b deployment.Event) int { return deployment.Compare(&a.Summary, &b.Summary) })
	for _, e := range s.pending {
		s.Sink.OnEvent(e)
	}
	s.pending, s.synced = nil, true
	s.Sink.OnSynced(snapshot)
}

func (s *inOrder) OnHealth(h Health) { TellHealth(s.Sink, h) }
