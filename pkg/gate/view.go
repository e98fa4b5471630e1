package gate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// View is the gate of a watch (`watch --until-complete`): a sink that
// passes everything on to the next one and stops the watch once every
// Deployment it shows is complete, or one has failed (Failed, paused with
// old replicas left or before it started, or Failing for longer than the
// grace period); its error then names every Deployment that failed or is
// Failing, each with its next steps. A deleted Deployment is no longer
// waited for. In a view over several sources (package fanin) it decides
// on a Deployment only while its context is live, and passes only when
// every source is.
type View struct {
	*gate
}

// ViewOptions say how a View judges and what its failures say.
type ViewOptions struct {
	// FailingGrace is how long a rollout may be Failing before it fails
	// the wait.
	FailingGrace time.Duration
	// Target is how the next steps reach the cluster.
	Target Target
}

// NewView returns the gate of a watch whose events go on to next; stop
// ends the watch.
func NewView(next tracker.Sink, stop func(), opts ViewOptions) *View {
	return &View{newGate(next, stop, opts.FailingGrace, every{target: opts.Target})}
}

// FailOnGap makes the view fail a wait whose Deployments would all be
// complete when one of their Services had a serving gap that overlapped
// the wait (from now on), or while serving could not be seen
// (--fail-on-gap). Call it before the watch starts.
func (v *View) FailOnGap() { v.failOnGap() }

// every is the scope of a View: every Deployment the watch shows.
type every struct {
	target Target
}

func (every) deleted(*deployment.Summary) error { return nil }

func (every) empty() error { return nil }

func (e every) verdict(j *Judge, s *deployment.Summary) (Verdict, time.Time, error) {
	verdict, deadline := j.Verdict(s)
	if verdict == Failure {
		return verdict, deadline, failures{e.failure(s)}
	}
	return verdict, deadline, nil
}

func (e every) failed(failed []error, failing []*deployment.Summary) error {
	var all failures
	for _, err := range failed {
		var f failures // as verdict returns them
		if errors.As(err, &f) {
			all = append(all, f...)
		}
	}
	for _, s := range failing {
		all = append(all, e.failure(s))
	}
	return all
}

// failure is what a View says of s, which failed or is Failing. With no
// revision the history has nothing to tell; with one only, undo has
// nothing to go back to.
func (e every) failure(s *deployment.Summary) RolloutFailure {
	return RolloutFailure{Message: fmt.Sprintf("%s %s is %s: %s", s.Noun(), s.Where(), s.Status, s.Message),
		Steps: stepsFor(s, e.target, stepKinds{undo: s.Revision > 1, history: s.Revision > 0})}
}

// failures is the end of a View when rollouts failed: every one of them,
// the first first.
type failures []RolloutFailure

func (f failures) Error() string { return f[0].Message }

// Result is how the wait ended, once the watch has: nil when every
// Deployment is complete, or an *Error: Failed (a rollout failed, or a
// source could not be watched during the whole wait), TimedOut (ctx's
// deadline, timeout long) or Interrupted; each names what was still
// pending.
func (v *View) Result(ctx context.Context, timeout time.Duration) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.stopTimerLocked()
	switch {
	case v.ended && v.err == nil:
		return nil
	case v.ended:
		var failed failures
		errors.As(v.err, &failed)
		return &Error{Outcome: Failed, Message: v.err.Error(), Err: v.err, Failures: failed}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if err := v.sourcesTimeoutLocked(timeout); err != nil {
			return err
		}
		if !v.liveLocked() {
			h := v.health
			return &Error{Outcome: TimedOut, Message: fmt.Sprintf("timed out after %s while the watch was lost (reconnecting since %s: %s); the last state seen, possibly stale: %s",
				timeout, h.Since.Local().Format(time.TimeOnly), oneLine(fmt.Sprint(h.Err)), v.pendingLocked())}
		}
		return &Error{Outcome: TimedOut, Message: fmt.Sprintf("timed out after %s waiting for %s", timeout, v.pendingLocked())}
	}
	return &Error{Outcome: Interrupted, Message: fmt.Sprintf("interrupted while waiting for %s", v.pendingLocked())}
}

// sourcesTimeoutLocked is the outcome of a timeout in a view over several
// sources when one of them is not live: a source never reached during the
// whole wait is a failure, not a pass; one lost since is a timeout whose
// state may be stale.
func (v *View) sourcesTimeoutLocked(timeout time.Duration) error {
	keys := make([]string, 0, len(v.sources))
	for k := range v.sources {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var unreached, lost []string
	for _, k := range keys {
		st := v.sources[k]
		switch {
		case !st.Synced:
			why := "no answer"
			if st.Err != nil {
				why = oneLine(st.Err.Error())
			}
			unreached = append(unreached, fmt.Sprintf("%s (%s)", st.Name(), why))
		case !st.Live():
			lost = append(lost, fmt.Sprintf("%s (%s since %s: %s)", st.Name(), st.Health.State,
				st.Health.Since.Local().Format(time.TimeOnly), oneLine(fmt.Sprint(st.Health.Err))))
		}
	}
	if len(unreached) > 0 {
		others := "every other deployment is complete"
		if p := v.pendingListLocked(); len(p) > 0 {
			others = "still pending elsewhere: " + strings.Join(p, ", ")
		}
		return &Error{Outcome: Failed, Message: fmt.Sprintf("could not watch %s during the whole wait of %s; %s",
			strings.Join(unreached, ", "), timeout, others)}
	}
	if len(lost) > 0 {
		return &Error{Outcome: TimedOut, Message: fmt.Sprintf("timed out after %s while the watch of %s was lost; the last state seen, possibly stale: %s",
			timeout, strings.Join(lost, ", "), v.pendingLocked())}
	}
	return nil
}

func (v *View) pendingLocked() string {
	pending := v.pendingListLocked()
	if len(pending) == 0 {
		return "the deployments to be listed"
	}
	return strings.Join(pending, ", ")
}

// pendingListLocked names every Deployment not complete yet, with its
// status (and, when Failing, why), sorted.
func (v *View) pendingListLocked() []string {
	var pending []string
	for _, s := range v.state {
		if !s.Complete() {
			name := s.Where()
			if s.Kind != "" && s.Kind != deployment.KindDeployment {
				name = s.Noun() + " " + name
			}
			entry := fmt.Sprintf("%s (%s)", name, s.Status)
			if s.Status == deployment.Failing {
				entry = fmt.Sprintf("%s (%s: %s)", name, s.Status, s.Message)
			}
			pending = append(pending, entry)
		}
	}
	sort.Strings(pending)
	return pending
}
