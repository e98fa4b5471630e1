package gate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// gapWatch is what --fail-on-gap keeps: every serving gap of a watched
// Deployment that overlapped the wait, and whether serving could be seen
// during all of it. Guarded by the gate's lock.
type gapWatch struct {
	start time.Time // when the wait began: a gap that ended before it does not count
	// gaps are, by Deployment key, its gaps seen during the wait, by
	// Service and start; where names each Deployment in messages.
	gaps  map[string]map[gapID]deployment.Gap
	where map[string]string
	// blind says, by reason, why serving could not be seen at some point
	// of the wait: a gap may have begun and ended unseen then.
	blind map[string]bool
}

type gapID struct {
	service string
	start   time.Time
}

func newGapWatch(start time.Time) *gapWatch {
	return &gapWatch{start: start, gaps: map[string]map[gapID]deployment.Gap{}, where: map[string]string{}, blind: map[string]bool{}}
}

// see records s's open gaps and its last ended one, if they overlap the
// wait, and whether s could know its serving at all.
func (w *gapWatch) see(s *deployment.Summary, where string) {
	if s.ServingUnknown != "" {
		w.blind[fmt.Sprintf("serving of %s unknown (%s)", where, s.ServingUnknown)] = true
	}
	gaps := s.Gaps
	if s.LastGap != nil {
		gaps = append(gaps[:len(gaps):len(gaps)], *s.LastGap)
	}
	for _, g := range gaps {
		if !g.Open() && g.End.Before(w.start) {
			continue // over before the wait began
		}
		key := s.Key()
		if w.gaps[key] == nil {
			w.gaps[key] = map[gapID]deployment.Gap{}
		}
		w.gaps[key][gapID{g.Service, g.Start}] = g // the latest word on it: ended, or open longer
		w.where[key] = where
	}
}

// health records a lost watch of Services, EndpointSlices or Pods.
func (w *gapWatch) health(h tracker.Health, in string) {
	if h.ServingLost() {
		w.blind[fmt.Sprintf("the watch of %s%s was lost at %s", strings.Join(h.Lost, ", "), in, h.Since.Local().Format(time.TimeOnly))] = true
	}
}

// verdict is the end of a wait that otherwise passed: nil when no
// Deployment had a serving gap during it (one deleted since included: its
// users lost requests all the same) and serving was seen all along; an
// *Error (Failed) naming every gap, or what could not be seen.
func (w *gapWatch) verdict(now time.Time) error {
	keys := make([]string, 0, len(w.gaps))
	for k := range w.gaps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		gs := make([]deployment.Gap, 0, len(w.gaps[k]))
		for _, g := range w.gaps[k] {
			gs = append(gs, g)
		}
		sort.Slice(gs, func(i, j int) bool {
			if !gs[i].Start.Equal(gs[j].Start) {
				return gs[i].Start.Before(gs[j].Start)
			}
			return gs[i].Service < gs[j].Service
		})
		for _, g := range gs {
			lines = append(lines, fmt.Sprintf("%s: %s", w.where[k], describeGap(&g, now)))
		}
	}
	if len(lines) > 0 {
		return &Error{Outcome: Failed, Message: "serving gap during the wait (--fail-on-gap): " + strings.Join(lines, "; ")}
	}
	if len(w.blind) > 0 {
		why := make([]string, 0, len(w.blind))
		for b := range w.blind {
			why = append(why, b)
		}
		sort.Strings(why)
		return &Error{Outcome: Failed, Message: "could not see serving during the whole wait, so --fail-on-gap cannot pass: " + strings.Join(why, "; ")}
	}
	return nil
}

// describeGap says what one gap cost: "api-svc had no ready endpoint for
// 6.4s during revision 3".
func describeGap(g *deployment.Gap, now time.Time) string {
	var what string
	switch g.Kind {
	case deployment.GapSelectsNoPod:
		what = "selected no pod"
	case deployment.GapBelowFloor:
		what = fmt.Sprintf("had %d of this deployment's endpoints ready at the fewest, fewer than the %d its strategy keeps,", g.FewestOwn, g.Floor)
	default:
		what = "had no ready endpoint"
	}
	length := g.Length(now).Round(100 * time.Millisecond).String()
	switch {
	case g.Unseen:
		length = "at most " + length
	case g.OpenAtStart:
		length = "at least " + length // it began before deploywatch saw it
	}
	var notes []string
	if g.OpenAtStart {
		notes = append(notes, "open before the wait began")
	}
	if g.Open() {
		length += " so far"
		notes = append(notes, "still open")
	}
	s := g.Service + " " + what + " for " + length
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	if g.Revision != "" {
		s += " during revision " + g.Revision
	}
	return s
}
