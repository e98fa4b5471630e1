package hub

import (
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/timeline"
)

// Timeline returns Deployment name's last rollout in namespace ns, nil when
// none was seen, and since when the namespace is followed: a rollout is
// seen only while its namespace has a tracker (a subscriber, its linger,
// or the cluster-wide tracker). ok is false when ns is not followed now.
// It starts nothing.
func (h *Hub) Timeline(ns, name string) (r *timeline.Rollout, since time.Time, ok bool) {
	h.mu.Lock()
	n := h.namespaces[ns]
	h.mu.Unlock()
	if n == nil {
		return nil, time.Time{}, false
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.rollouts.Get(name), n.created, true
}
