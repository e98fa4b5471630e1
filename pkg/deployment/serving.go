package deployment

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/safety"
)

// Serving is what one Service that selects a Deployment's pods serves now,
// as its EndpointSlices say.
type Serving struct {
	// Service is the Service's name (in the Deployment's namespace).
	Service string `json:"service"`
	// Ready counts the Service's ready endpoints, whoever's pods they are:
	// in a blue-green switch or a canary its traffic may go to another
	// Deployment's pods.
	Ready int32 `json:"ready"`
	// Endpoints counts all its endpoints, ready or not.
	Endpoints int32 `json:"endpoints"`
	// Terminating counts the endpoints that still serve while terminating
	// (never ready): kube-proxy falls back to them when none is ready.
	Terminating int32 `json:"terminating"`
	// Own counts the ready endpoints that are this Deployment's pods.
	Own int32 `json:"own"`
	// Floor is how many of its own pods the Deployment's strategy promises
	// to keep ready during a rollout (see Floor).
	Floor int32 `json:"floor"`
}

// level is what a change of serving must cross to be news: no ready
// endpoint, fewer own than the floor, or the safe band.
func (s *Serving) level() int {
	switch {
	case s.Ready == 0:
		return 0
	case s.Own < s.Floor:
		return 1
	}
	return 2
}

// GapKind says why a Service's traffic to a Deployment has a gap.
type GapKind string

const (
	// GapNoReadyEndpoint: the Service selects the Deployment's pods, the
	// Deployment wants pods, and the Service has no ready endpoint.
	GapNoReadyEndpoint GapKind = "no-ready-endpoint"
	// GapBelowFloor: the Deployment's own ready endpoints fell below what
	// its strategy promises (desired - maxUnavailable).
	GapBelowFloor GapKind = "below-floor"
	// GapSelectsNoPod: the Service's selector matches no pod at all any
	// more (a blue-green switch to a colour scaled to zero or mislabelled);
	// shown on the Deployments it selected before.
	GapSelectsNoPod GapKind = "selects-no-pod"
)

// Gap is one serving gap of a Service, seen from one Deployment: open
// while End is zero.
type Gap struct {
	Service string  `json:"service"`
	Kind    GapKind `json:"kind"`
	// Start is when deploywatch saw it begin, End when it saw it end.
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	// Revision is the Deployment's newest revision while it was open: the
	// one being rolled out, if a rollout was under way. A gap a rollout
	// opens can be seen before the Deployment's new revision is (the
	// informers are not ordered with each other), so it follows the
	// revision forward.
	Revision string `json:"revision,omitempty"`
	// Ready, Endpoints and Own are the Service's ready endpoints, all its
	// endpoints and the ready ones that are this Deployment's pods: now
	// while it is open, at its end once ended.
	Ready     int32 `json:"ready"`
	Endpoints int32 `json:"endpoints"`
	Own       int32 `json:"own"`
	// Fewest is the fewest ready endpoints the Service had during it;
	// FewestOwn the fewest of them that were this Deployment's pods.
	Fewest    int32 `json:"fewest"`
	FewestOwn int32 `json:"fewestOwn"`
	// Floor is the Deployment's floor (see Floor) when it began.
	Floor int32 `json:"floor"`
	// OpenAtStart: it was open when deploywatch started, so it began
	// before Start.
	OpenAtStart bool `json:"openAtStart,omitempty"`
	// Unseen: the watch of Services, EndpointSlices or Pods was lost while
	// it was open, so it may have ended (and begun again) unseen, and End
	// is when the watch was back.
	Unseen bool `json:"unseen,omitempty"`
}

// Open reports whether the gap has not ended.
func (g *Gap) Open() bool { return g.End.IsZero() }

// Length is how long the gap lasted, or has lasted by now while open.
func (g *Gap) Length(now time.Time) time.Duration {
	if g.Open() {
		return now.Sub(g.Start)
	}
	return g.End.Sub(g.Start)
}

// Describe says what an open gap is, in the Deployment's terms:
// "api-svc: 0 of 3 endpoints ready since 14:02:11, during the rollout to
// revision 12". rollingOut tells the rollout from a steady state; at
// formats a time of day.
func (g *Gap) Describe(rollingOut bool, at func(time.Time) string) string {
	var what string
	switch g.Kind {
	case GapSelectsNoPod:
		what = "selects no pod"
	case GapBelowFloor:
		what = fmt.Sprintf("%d of this deployment's endpoints ready, fewer than the %d its strategy keeps", g.Own, g.Floor)
	default:
		what = fmt.Sprintf("%d of %s ready", g.Ready, plural(g.Endpoints, "endpoint", "endpoints"))
	}
	since := "since "
	if g.OpenAtStart {
		since = "since before "
	}
	b := strings.Builder{}
	b.WriteString(g.Service + ": " + what + " " + since + at(g.Start))
	if g.Revision != "" {
		if rollingOut {
			b.WriteString(", during the rollout to revision " + g.Revision)
		} else {
			b.WriteString(", at revision " + g.Revision)
		}
	}
	return b.String()
}

// DescribeEnded says what an ended gap cost: "last gap 7s during revision
// 12 (api-svc, 0 ready at the fewest)".
func (g *Gap) DescribeEnded() string {
	s := "last gap " + g.Length(time.Time{}).Round(100*time.Millisecond).String()
	if g.Unseen {
		s = "last gap at most " + g.Length(time.Time{}).Round(100*time.Millisecond).String()
	}
	if g.Revision != "" {
		s += " during revision " + g.Revision
	}
	return s + fmt.Sprintf(" (%s, %d ready at the fewest)", g.Service, g.Fewest)
}

// ServiceGap is a gap of a Service that selects no pod and never selected
// a Deployment deploywatch saw: it has no Deployment to be shown on.
type ServiceGap struct {
	Namespace string `json:"namespace"`
	Gap
}

// Fenceposts resolves d's maxSurge and maxUnavailable to pod counts as the
// deployment controller does; the arithmetic is package safety's, which the
// rules of `check` use too. For Recreate, every pod may go: unavailable is
// the desired count.
func Fenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	if safety.IsRecreate(d) {
		return 0, safety.Replicas(d)
	}
	surge, unavailable, err := safety.Fenceposts(d)
	if err != nil {
		// Values the API server refuses (both written as zero, say) are not
		// stored; were they, the controller would take them as zero, and
		// both zero as maxUnavailable 1.
		return 0, 1
	}
	return surge, unavailable
}

// Floor is how many ready pods d's strategy keeps during a rollout:
// desired - maxUnavailable (never below zero), as the controller counts
// it (see Fenceposts); zero for Recreate.
func Floor(d *appsv1.Deployment) int32 {
	_, unavailable := Fenceposts(d)
	return max(safety.Replicas(d)-unavailable, 0)
}

// changedServing reports whether serving moved across a level a user
// cares about (see Serving.level), or the Services changed.
func changedServing(prev, next []Serving) bool {
	if len(prev) != len(next) {
		return true
	}
	for i := range prev {
		if prev[i].Service != next[i].Service || prev[i].level() != next[i].level() {
			return true
		}
	}
	return false
}

// changedGaps reports whether gaps opened or closed.
func changedGaps(prev, next []Gap) bool {
	if len(prev) != len(next) {
		return true
	}
	for i := range prev {
		if prev[i].Service != next[i].Service || !prev[i].Start.Equal(next[i].Start) || prev[i].Kind != next[i].Kind {
			return true
		}
	}
	return false
}

func sameGap(a, b *Gap) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Service == b.Service && a.Start.Equal(b.Start) && a.End.Equal(b.End)
}
