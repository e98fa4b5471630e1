package gate

import (
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// Verdict is what a wait (--until-complete, --wait) makes of a workload's
// summary.
type Verdict int

const (
	// Pending: not done yet; keep waiting.
	Pending Verdict = iota
	// Done: nothing left to do (see deployment.Summary.Complete).
	Done
	// Failure: it will not finish by itself: Failed, paused with work left,
	// or Failing for longer than the grace period.
	Failure
)

// DefaultFailingGrace is how long a rollout may be Failing before a wait
// gives up on it: long enough for a registry hiccup or a pod that crashes
// once and recovers, far shorter than the 600 s progress deadline.
const DefaultFailingGrace = 30 * time.Second

// Judge gives a wait's verdicts. It remembers since when each Deployment
// has been Failing, so a transient problem does not fail a wait but a
// lasting one fails it after Grace, long before the progress deadline.
type Judge struct {
	Grace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	firstSeen map[string]time.Time
}

// Verdict judges s. For a Failing s that is still Pending it also returns
// when it becomes a Failure unless it changes: the caller judges it again
// then.
func (j *Judge) Verdict(s *deployment.Summary) (Verdict, time.Time) {
	switch {
	case s.Complete():
		j.Forget(s.Key())
		return Done, time.Time{}
	case s.Stuck():
		return Failure, time.Time{}
	case s.Status != deployment.Failing:
		j.Forget(s.Key())
		return Pending, time.Time{}
	}
	now := j.now
	if j.firstSeen == nil {
		j.firstSeen = map[string]time.Time{}
	}
	first, ok := j.firstSeen[s.Key()]
	if !ok {
		first = now()
		j.firstSeen[s.Key()] = first
	}
	deadline := s.FailingSince(first).Add(j.Grace)
	if !now().Before(deadline) {
		return Failure, time.Time{}
	}
	return Pending, deadline
}

func (j *Judge) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

// Forget drops what the judge remembers of a Deployment (it was deleted).
func (j *Judge) Forget(key string) { delete(j.firstSeen, key) }
