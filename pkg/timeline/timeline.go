// Package timeline keeps, per Deployment, a small series of its last
// rollout as the summaries tell it: when it began and ended, the ready pods
// and each Service's ready endpoints over time, and the serving gaps during
// it. serve's page draws it, so a team sees what a deploy cost even when
// the page was opened after it.
//
// Memory is bounded: one rollout per Deployment (a new one replaces it), at
// most MaxPoints points (a longer rollout keeps every other one, its first
// and last always) and MaxGaps gaps. A Recorder sees only the summaries it
// is given: a rollout before that is not known.
package timeline

import (
	"slices"
	"time"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// Bounds of one Deployment's rollout.
const (
	MaxPoints = 64
	MaxGaps   = 16
)

// Endpoints is one Service's ready endpoints at a point: all of them, and
// those that are the Deployment's own pods.
type Endpoints struct {
	Service string `json:"service"`
	Ready   int32  `json:"ready"`
	Own     int32  `json:"own"`
}

// Point is the Deployment at one summary: its pods and its Services.
type Point struct {
	Time    time.Time `json:"time"`
	Desired int32     `json:"desired"`
	Ready   int32     `json:"ready"`
	Updated int32     `json:"updated"`
	// Serving is each Service that selects the pods, absent when none does.
	Serving []Endpoints `json:"serving,omitempty"`
	// ServingUnknown: serving could not be read then (its watch was lost,
	// or the identity may not read it): not a gap, not the absence of one.
	ServingUnknown bool `json:"servingUnknown,omitempty"`
}

// Outcomes of a rollout that ended.
const (
	Complete = "complete"
	Failed   = "failed"
)

// Rollout is a Deployment's last rollout.
type Rollout struct {
	// Revision is the revision rolled out; FromRevision the one before.
	// Revision equals FromRevision until the deployment controller numbers
	// the new one.
	Revision     int64 `json:"revision"`
	FromRevision int64 `json:"fromRevision"`
	// Start is when it was seen to begin; StartUnseen: it was under way
	// when the Recorder first saw the Deployment, so it began earlier.
	Start       time.Time `json:"start"`
	StartUnseen bool      `json:"startUnseen,omitempty"`
	// End is when it was seen to complete or fail (Outcome); zero while
	// under way.
	End     time.Time `json:"end,omitzero"`
	Outcome string    `json:"outcome,omitempty"`
	// Points are the Deployment's summaries from Start, and after End
	// while a gap of the rollout stays open. Thinned: there were more than
	// MaxPoints, and every other one was let go.
	Points  []Point `json:"points"`
	Thinned bool    `json:"thinned,omitempty"`
	// Gaps are the serving gaps open at any point of it, as the summaries
	// recorded them (an open one has no end); at most MaxGaps, the first.
	Gaps []deployment.Gap `json:"gaps,omitempty"`
}

// Ended reports whether the rollout completed or failed.
func (r *Rollout) Ended() bool { return !r.End.IsZero() }

// openGap reports whether one of its gaps is still open.
func (r *Rollout) openGap() bool {
	return slices.ContainsFunc(r.Gaps, func(g deployment.Gap) bool { return g.Open() })
}

// seen is what the Recorder keeps of a Deployment between summaries.
type seen struct {
	status     deployment.Status
	revision   int64
	containers []deployment.Container
	rollout    *Rollout // the last one; nil before one is seen
}

// Recorder keeps each Deployment's last rollout. Its zero value is ready
// to use. It is not safe for concurrent use: its owner serializes Observe
// and Get.
type Recorder struct {
	m map[string]*seen // by Deployment name
}

// rolling reports whether status s says a rollout is under way.
func rolling(s deployment.Status) bool {
	return s == deployment.Progressing || s == deployment.Failing || s == deployment.Paused
}

// Observe takes a Deployment's next event, in order.
func (rc *Recorder) Observe(e deployment.Event) {
	if e.Type == deployment.Deleted {
		delete(rc.m, e.Name)
		return
	}
	if rc.m == nil {
		rc.m = map[string]*seen{}
	}
	p := rc.m[e.Name]
	if p == nil {
		p = &seen{}
		rc.m[e.Name] = p
		if rolling(e.Status) && e.Status != deployment.Paused {
			p.rollout = &Rollout{Revision: e.Revision, Start: e.Time, StartUnseen: true}
		}
	} else {
		rc.begin(p, e)
	}
	if r := p.rollout; r != nil {
		r.observe(e)
	}
	p.status, p.revision, p.containers = e.Status, e.Revision, e.Containers
}

// begin starts a new rollout when e shows one: a new revision, new images,
// or a status that turns to rolling out. The revision comes after the
// change that makes it (the controller numbers it), so a rollout begun by
// the change takes the revision when it comes.
func (rc *Recorder) begin(p *seen, e deployment.Event) {
	r := p.rollout
	open := r != nil && !r.Ended()
	numbered := open && r.Revision > r.FromRevision
	switch {
	case e.Revision > p.revision && open && !numbered:
		r.Revision = e.Revision
	case e.Revision > p.revision,
		!slices.Equal(e.Containers, p.containers) && (!open || numbered),
		rolling(e.Status) && !rolling(p.status) && !open:
		p.rollout = &Rollout{Revision: e.Revision, FromRevision: p.revision, Start: e.Time}
	}
}

// observe adds e to a rollout: a point, its gaps, and its end.
func (r *Rollout) observe(e deployment.Event) {
	if r.Ended() && !r.openGap() {
		return
	}
	r.addPoint(e)
	r.addGaps(e)
	if !r.Ended() && !rolling(e.Status) && e.Status != deployment.Scaling && e.Status != deployment.Deleting &&
		e.ObservedGeneration >= e.Generation && (r.Revision > r.FromRevision || r.StartUnseen) {
		r.End, r.Outcome = e.Time, Complete
		if e.Status == deployment.Failed {
			r.Outcome = Failed
		}
	}
}

func (r *Rollout) addPoint(e deployment.Event) {
	pt := Point{Time: e.Time, Desired: e.Replicas.Desired, Ready: e.Replicas.Ready, Updated: e.Replicas.Updated, ServingUnknown: e.ServingUnknown != ""}
	for _, s := range e.Serving {
		pt.Serving = append(pt.Serving, Endpoints{Service: s.Service, Ready: s.Ready, Own: s.Own})
	}
	if len(r.Points) == MaxPoints {
		r.Points, r.Thinned = thin(r.Points), true
	}
	r.Points = append(r.Points, pt)
}

// thin keeps the first and last points and every other one between.
func thin(pts []Point) []Point {
	out := pts[:1]
	for i := 2; i < len(pts)-1; i += 2 {
		out = append(out, pts[i])
	}
	out = append(out, pts[len(pts)-1])
	clear(pts[len(out):]) // let go of what was dropped
	return out
}

// addGaps records e's open gaps and the last one that ended; a gap of the
// rollout that is no longer open and not e's last gap ended unseen
// between two summaries, by e at the latest.
func (r *Rollout) addGaps(e deployment.Event) {
	for _, g := range e.Gaps {
		r.putGap(g)
	}
	if g := e.LastGap; g != nil && !g.End.Before(r.Start) {
		r.putGap(*g)
	}
	for i := range r.Gaps {
		g := &r.Gaps[i]
		if g.Open() && !slices.ContainsFunc(e.Gaps, func(o deployment.Gap) bool { return sameGap(&o, g) }) {
			g.End = e.Time
		}
	}
}

func sameGap(a, b *deployment.Gap) bool { return a.Service == b.Service && a.Start.Equal(b.Start) }

func (r *Rollout) putGap(g deployment.Gap) {
	if i := slices.IndexFunc(r.Gaps, func(o deployment.Gap) bool { return sameGap(&o, &g) }); i >= 0 {
		r.Gaps[i] = g
	} else if len(r.Gaps) < MaxGaps {
		r.Gaps = append(r.Gaps, g)
	}
}

// Get returns a copy of Deployment name's last rollout, or nil.
func (rc *Recorder) Get(name string) *Rollout {
	p := rc.m[name]
	if p == nil || p.rollout == nil {
		return nil
	}
	r := *p.rollout
	r.Points = slices.Clone(r.Points) // a Point's Serving is never changed
	r.Gaps = slices.Clone(r.Gaps)
	return &r
}
