// Package gate decides when a wait on rollouts is over and what it ends
// with: the CI gate of deploywatch. It holds the verdicts (Judge: done,
// pending or failed, with the failing grace), the health gating (nothing is
// decided while the watch cannot see, so a stale state never passes), the
// list of what is still pending and the closing error of a wait that did
// not pass, which names every Deployment that failed with its next steps
// (the commands that would help: steps.go).
//
// Two waits use it: View, every Deployment a watch shows (`watch
// --until-complete`), and Wait, the rollout one change started (`--wait` of
// scale, set-image, undo and restart). Both judge the summaries of package
// deployment as the tracker (or package fanin, for a view over several
// sources) delivers them: a gate is a tracker.Sink that passes everything
// on to the next sink. It knows nothing of cobra: the command maps an
// *Error's Outcome to an exit code.
package gate

import (
	"slices"
	"sync"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/fanin"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// scope is what a wait is about, and the words its failures are told in.
// The gate calls it with its lock held.
type scope interface {
	// deleted is told that s was deleted: an error ends the wait with it,
	// nil stops waiting for s.
	deleted(s *deployment.Summary) error
	// empty is told that the first list found nothing: an error ends the
	// wait with it, nil lets the wait pass.
	empty() error
	// verdict judges s with j; a Failure comes with the error that ends
	// the wait, a Pending with when to judge again (zero: at its next
	// change).
	verdict(j *Judge, s *deployment.Summary) (Verdict, time.Time, error)
	// failed is the error the wait ends with when failures (the errors
	// of the Failures, in the order views list them) are at least one;
	// failing are the other summaries that are Failing, still within
	// their grace, in the same order.
	failed(failures []error, failing []*deployment.Summary) error
}

// gate is the sink both waits share: it passes everything on to next
// (nil: nowhere) and calls stop once its scope is settled: every summary in
// it Done, or one a Failure.
type gate struct {
	next  tracker.Sink
	stop  func()
	scope scope

	mu     sync.Mutex
	judge  Judge
	timer  *time.Timer // judges again when a Failing rollout's grace ends
	synced bool        // the first list is in: before it, nothing is decided
	state  map[string]deployment.Summary
	// health is the watch's; while it is not live nothing is decided: the
	// state may be stale, and the events after the outage bring the truth.
	health tracker.Health
	// sources, in a view over several (package fanin), replace health:
	// a summary is judged only while its context is live, and the wait
	// passes only when every source is.
	sources map[string]fanin.State
	// gaps, with --fail-on-gap, are the serving gaps the wait overlapped:
	// a wait that would pass fails if any (see gapWatch); nil without it.
	gaps  *gapWatch
	ended bool
	err   error // why it ended; nil when it passed
}

func newGate(next tracker.Sink, stop func(), grace time.Duration, sc scope) *gate {
	return &gate{next: next, stop: stop, scope: sc, judge: Judge{Grace: grace},
		state: map[string]deployment.Summary{}, sources: map[string]fanin.State{}}
}

func (g *gate) OnEvent(e deployment.Event) {
	if g.next != nil {
		g.next.OnEvent(e)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if e.Type == deployment.Deleted {
		if err := g.scope.deleted(&e.Summary); err != nil {
			g.endLocked(err)
			return
		}
		delete(g.state, e.Key())
		g.judge.Forget(e.Key())
	} else {
		g.state[e.Key()] = e.Summary
		g.seeGapsLocked(&e.Summary)
	}
	g.checkLocked()
}

func (g *gate) OnSynced(snapshot []deployment.Summary) {
	if g.next != nil {
		g.next.OnSynced(snapshot)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.synced = true
	if g.ended {
		g.stop() // ended before the list was in: stopped only now, so the next sink sees its first table
		return
	}
	for _, s := range snapshot { // --initial=false delivers no ADDED events
		g.state[s.Key()] = s
		g.seeGapsLocked(&s)
	}
	if len(snapshot) == 0 {
		if err := g.scope.empty(); err != nil {
			g.endLocked(err)
			return
		}
	}
	g.checkLocked()
}

func (g *gate) OnHealth(h tracker.Health) {
	if g.next != nil {
		tracker.TellHealth(g.next, h)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.health = h
	if g.gaps != nil {
		g.gaps.health(h, "")
	}
	g.checkLocked() // back: decide on what the relist or resumed watch brought
}

func (g *gate) OnSource(st fanin.State) {
	if g.next != nil {
		fanin.TellSource(g.next, st)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, s := range st.Snapshot { // a source that synced late, or --initial=false
		g.state[s.Key()] = s
		g.seeGapsLocked(&s)
	}
	if g.gaps != nil {
		g.gaps.health(st.Health, " in "+st.Name())
	}
	st.Snapshot = nil
	g.sources[st.Context+"/"+st.Namespace] = st
	g.checkLocked()
}

func (g *gate) liveLocked() bool {
	return g.health.State == "" || g.health.State == tracker.Live
}

// contextsLiveLocked says, per context, whether every source of it is live.
func (g *gate) contextsLiveLocked() map[string]bool {
	live := map[string]bool{}
	for _, st := range g.sources {
		if l, seen := live[st.Context]; !seen || l {
			live[st.Context] = st.Live()
		}
	}
	return live
}

// checkLocked ends the wait once every summary is Done, or one is a
// Failure (with every Failure and every other Failing summary in its
// error), judging only what is current; otherwise it sets the timer for
// the earliest grace that ends.
func (g *gate) checkLocked() {
	multi := len(g.sources) > 0
	if !g.synced || g.ended || (!multi && !g.liveLocked()) {
		return
	}
	live := g.contextsLiveLocked()
	summaries := make([]*deployment.Summary, 0, len(g.state))
	for _, s := range g.state {
		summaries = append(summaries, &s)
	}
	slices.SortFunc(summaries, deployment.Compare) // failures in the order views list them, on every run
	complete := true
	var next time.Time
	for _, l := range live {
		complete = complete && l
	}
	var failures []error
	var failing []*deployment.Summary
	for _, s := range summaries {
		if multi && !live[s.Context] {
			complete = false // its context is not current: nothing is decided on it
			continue
		}
		verdict, deadline, err := g.scope.verdict(&g.judge, s)
		switch verdict {
		case Failure:
			failures = append(failures, err)
		case Pending:
			complete = false
			if s.Status == deployment.Failing {
				failing = append(failing, s)
			}
			if !deadline.IsZero() && (next.IsZero() || deadline.Before(next)) {
				next = deadline
			}
		}
	}
	if len(failures) > 0 {
		g.endLocked(g.scope.failed(failures, failing))
		return
	}
	if complete {
		g.endLocked(g.gapVerdictLocked())
		return
	}
	g.stopTimerLocked()
	if !next.IsZero() {
		g.timer = time.AfterFunc(time.Until(next), func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.checkLocked()
		})
	}
}

// failOnGap makes a wait that would pass fail when one of its Deployments'
// Services had a serving gap during it, or serving could not be seen.
func (g *gate) failOnGap() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gaps = newGapWatch(g.judge.now())
}

func (g *gate) seeGapsLocked(s *deployment.Summary) {
	if g.gaps != nil {
		g.gaps.see(s, "deployment "+s.Where())
	}
}

// gapVerdictLocked is the end of a wait whose every Deployment is
// complete: nil, or with --fail-on-gap the gaps it had.
func (g *gate) gapVerdictLocked() error {
	if g.gaps == nil {
		return nil
	}
	return g.gaps.verdict(g.judge.now())
}

// endLocked ends the wait with err (nil: it passed) and stops the watch,
// once its first list is in.
func (g *gate) endLocked(err error) {
	if g.ended {
		return
	}
	g.ended, g.err = true, err
	g.stopTimerLocked()
	if g.synced {
		g.stop()
	}
}

func (g *gate) stopTimerLocked() {
	if g.timer != nil {
		g.timer.Stop()
	}
}
