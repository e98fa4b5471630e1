package deployment

import (
	"fmt"
	"strings"
	"time"
)

// Rollout is the type of the event told once when a rollout ends (see
// Summary.LastRollout): not a change of state, so a reader that follows
// state by ADDED, MODIFIED and DELETED may skip it.
const Rollout EventType = "ROLLOUT"

// RolloutOutcome says how a rollout ended.
type RolloutOutcome string

const (
	// RolloutComplete: every desired pod is updated and available.
	RolloutComplete RolloutOutcome = "complete"
	// RolloutFailed: it exceeded its progress deadline.
	RolloutFailed RolloutOutcome = "failed"
)

// RolloutCost is what one rollout cost the users of a Deployment's
// Services, as deploywatch saw it: told once when it ends (complete or
// failed). A Deployment's first revision is no rollout: it replaced no pod.
type RolloutCost struct {
	Revision string         `json:"revision"`
	Outcome  RolloutOutcome `json:"outcome"`
	// Start is when deploywatch saw the rollout begin (its new spec); End
	// when it saw it complete or fail.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// DurationSeconds is End - Start.
	DurationSeconds float64 `json:"durationSeconds"`
	// OpenAtStart: it was under way when deploywatch started; Start is its
	// new ReplicaSet's creation, and what follows covers only what
	// deploywatch saw.
	OpenAtStart bool `json:"openAtStart,omitempty"`
	// Services are, for each Service that selected the Deployment's pods
	// during it, the fewest ready endpoints it had and how long it had a
	// serving gap; absent when none did (or serving is not read).
	Services []RolloutService `json:"services,omitempty"`
	// GapSeconds is how long at least one of them had a serving gap during
	// the rollout (from its start to when it ended).
	GapSeconds float64 `json:"gapSeconds"`
	// GapOpen: a gap was still open when the rollout ended; its time
	// counts to the end.
	GapOpen bool `json:"gapOpen,omitempty"`
	// Unseen: the watch of Services, EndpointSlices or Pods was lost, or
	// serving could not be read, during it: the counts may miss a gap.
	Unseen bool `json:"unseen,omitempty"`
	// FailedPreStopHooks are the old pods whose preStop hook failed during
	// it, as the kubelet's FailedPreStopHook Warning events say (an exec
	// `sleep` in an image that has no sleep, say); absent when none.
	FailedPreStopHooks []PreStopFailure `json:"failedPreStopHooks,omitempty"`
}

// RolloutService is one Service during a rollout.
type RolloutService struct {
	Service string `json:"service"`
	// Fewest is the fewest ready endpoints it had, whoever's pods.
	Fewest int32 `json:"fewest"`
	// GapSeconds is how long it had a serving gap for the Deployment.
	GapSeconds float64 `json:"gapSeconds"`
}

// PreStopFailure is a FailedPreStopHook event on one old pod.
type PreStopFailure struct {
	Pod     string `json:"pod"`
	Message string `json:"message"`
	// Count is how many times the event was recorded.
	Count int32 `json:"count"`
}

// Seconds is d in seconds, to the millisecond, for JSON.
func Seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// sameRollout says whether a and b are the same rollout's end.
func sameRollout(a, b *RolloutCost) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Revision == b.Revision && a.Outcome == b.Outcome && a.End.Equal(b.End)
}

// Describe is the one line that says what the rollout of the Deployment
// of s cost: "deployment shop/api: rollout to revision 3 complete in
// 7.2s; api-svc 0 ready at the fewest, serving gap 6.1s in all;
// FailedPreStopHook on old pod api-5d8f-x2k4".
func (c *RolloutCost) Describe(s *Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "deployment %s: rollout to revision %s %s in %s", s.Where(), c.Revision, c.Outcome, secondsString(c.DurationSeconds))
	if c.OpenAtStart {
		b.WriteString(" (under way when deploywatch started)")
	}
	if len(c.Services) == 0 {
		b.WriteString("; no Service selects its pods")
	} else {
		fewest := make([]string, len(c.Services))
		for i, sv := range c.Services {
			fewest[i] = fmt.Sprintf("%s %d", sv.Service, sv.Fewest)
		}
		b.WriteString("; ready endpoints at the fewest: " + strings.Join(fewest, ", "))
		switch {
		case c.GapSeconds == 0:
			b.WriteString("; no serving gap")
		case c.GapOpen:
			fmt.Fprintf(&b, "; serving gap %s in all, still open", secondsString(c.GapSeconds))
		default:
			fmt.Fprintf(&b, "; serving gap %s in all", secondsString(c.GapSeconds))
		}
		if c.Unseen {
			b.WriteString(" (serving was not seen all along)")
		}
	}
	if n := len(c.FailedPreStopHooks); n > 0 {
		pods := make([]string, n)
		for i, f := range c.FailedPreStopHooks {
			pods[i] = f.Pod
		}
		what := "old pod"
		if n > 1 {
			what = "old pods"
		}
		fmt.Fprintf(&b, "; FailedPreStopHook on %s %s", what, strings.Join(pods, ", "))
	}
	return b.String()
}

// secondsString formats seconds as a duration to a tenth of a second.
func secondsString(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(100 * time.Millisecond).String()
}
