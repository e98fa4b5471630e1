package printers

import (
	"fmt"
	"io"
	"slices"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/fanin"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// maxRolloutLines bounds the lines under the live title that say what the
// latest rollouts cost: the table stays on screen.
const maxRolloutLines = 2

// liveRollout is one of those lines, by Deployment.
type liveRollout struct {
	key, line string
}

// onRolloutLocked keeps the line of a ROLLOUT event, the latest per
// Deployment, the latest maxRolloutLines in all.
func (p *Live) onRolloutLocked(e *deployment.Event) {
	if e.LastRollout == nil {
		return
	}
	key := e.Key()
	p.rollouts = slices.DeleteFunc(p.rollouts, func(r liveRollout) bool { return r.key == key })
	p.rollouts = append(p.rollouts, liveRollout{key: key, line: e.LastRollout.Describe(&e.Summary)})
	if n := len(p.rollouts); n > maxRolloutLines {
		p.rollouts = slices.Delete(p.rollouts, 0, n-maxRolloutLines)
	}
	p.dirty = true
}

// rolloutLinesLocked are the lines under the title for the latest
// rollouts, latest last.
func (p *Live) rolloutLinesLocked(width int) []string {
	lines := make([]string, 0, len(p.rollouts))
	for _, r := range p.rollouts {
		lines = append(lines, cut("  "+r.line, width))
	}
	return lines
}

// RolloutNotice passes everything on to next and prints, on w, the line of
// every ROLLOUT event (what a rollout that ended cost): for a pipe, whose
// standard output holds the table's rows only.
func RolloutNotice(next tracker.Sink, w io.Writer) tracker.Sink {
	return &rolloutNotice{Sink: next, w: w}
}

type rolloutNotice struct {
	tracker.Sink
	w io.Writer
}

func (n *rolloutNotice) OnEvent(e deployment.Event) {
	if e.Type == deployment.Rollout && e.LastRollout != nil {
		fmt.Fprintln(n.w, e.LastRollout.Describe(&e.Summary))
	}
	n.Sink.OnEvent(e)
}

func (n *rolloutNotice) OnHealth(h tracker.Health) { tracker.TellHealth(n.Sink, h) }

func (n *rolloutNotice) OnSource(st fanin.State) { fanin.TellSource(n.Sink, st) }
