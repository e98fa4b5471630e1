package tracker

import (
	"cmp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// This file is the cost of a rollout: from when a Deployment starts rolling
// out a new revision to when it completes or fails, the fewest ready
// endpoints of each Service that selects its pods, the serving gaps, and
// the kubelet's FailedPreStopHook events on its old pods; told once, in
// Summary.LastRollout and a ROLLOUT event, when it ends.

// reasonFailedPreStopHook is the kubelet's event reason when a
// container's preStop hook fails (its message never says why, so that no
// secret leaks into an event).
const reasonFailedPreStopHook = "FailedPreStopHook"

// maxRolloutPods bounds the pods a rollout remembers, to find the events
// of old pods that are gone.
const maxRolloutPods = 1000

// rolloutMemory is one Deployment's, guarded by Tracker.mu.
type rolloutMemory struct {
	uid types.UID
	// done is the latest revision known to have rolled out (or failed):
	// a rollout is told only when it ends at a later one, so a relist or
	// a watch that comes back never tells it twice.
	done int64
	open *openRollout
	last *deployment.RolloutCost
}

// openRollout is a rollout under way.
type openRollout struct {
	start       time.Time
	openAtStart bool
	outages     uint64 // servingState.outages when it began
	unseen      bool   // serving was unknown at some point
	fewest      map[string]int32
	// pods are the Deployment's pods seen during it, with their
	// ReplicaSet's revision: the old ones are those of another revision.
	pods map[string]string
}

// rolloutLocked follows d's rollout in s, its summary now (serving
// already filled in), and sets s.LastRollout.
func (t *Tracker) rolloutLocked(d *appsv1.Deployment, s *deployment.Summary) {
	key := d.Namespace + "/" + d.Name
	if t.ro == nil {
		t.ro = map[string]*rolloutMemory{}
	}
	m := t.ro[key]
	if m == nil || m.uid != d.UID {
		m = &rolloutMemory{uid: d.UID, done: s.Revision}
		if inRollout(s.Status) {
			// Seen under way: it ends at this revision or a later one. Not
			// knowing which it replaces, the one before; the controller
			// writes the new revision before it records that it observed
			// the spec, so either may be seen first.
			m.done = s.Revision - 1
		}
		t.ro[key] = m
	}
	defer func() { s.LastRollout = m.last }()
	switch {
	case s.Status == deployment.Deleting:
		m.open = nil
		return
	case inRollout(s.Status) && m.open == nil:
		m.open = t.beginRolloutLocked(d)
	}
	o := m.open
	if o == nil {
		if ended(s.Status) {
			m.done = max(m.done, s.Revision)
		}
		return
	}
	t.observeRolloutLocked(d, s, o)
	if !ended(s.Status) {
		return
	}
	m.open = nil
	if s.Revision <= m.done || s.Revision < 2 {
		// A spec change that made no revision (minReadySeconds, say), or
		// a Deployment's first revision: it replaced no pod.
		m.done = max(m.done, s.Revision)
		return
	}
	m.done = s.Revision
	m.last = t.costLocked(d, s, o)
}

// inRollout says whether a Deployment in status st is rolling out.
func inRollout(st deployment.Status) bool {
	return st == deployment.Progressing || st == deployment.Failing
}

// ended says whether a rollout in status st has ended.
func ended(st deployment.Status) bool {
	return st == deployment.Running || st == deployment.ScaledToZero || st == deployment.Failed
}

// beginRolloutLocked opens the rollout of d, seen now.
func (t *Tracker) beginRolloutLocked(d *appsv1.Deployment) *openRollout {
	o := &openRollout{start: t.opts.Now().UTC(), outages: t.sv.outages, fewest: map[string]int32{}, pods: map[string]string{}}
	if !t.synced {
		// Under way when deploywatch started (unless this command's own
		// change began it): it began when its new ReplicaSet was made, if
		// that is known.
		o.openAtStart = t.opts.ChangedGeneration == 0 || d.Generation < t.opts.ChangedGeneration
		if t.rs != nil && d.Status.ObservedGeneration >= d.Generation { // else its new ReplicaSet may not exist yet
			if rs, _ := t.newReplicaSet(d); rs != nil && !rs.CreationTimestamp.IsZero() && rs.CreationTimestamp.Time.Before(o.start) {
				o.start = rs.CreationTimestamp.UTC()
			}
		}
	}
	return o
}

// observeRolloutLocked records what s and the informers show of an open
// rollout now.
func (t *Tracker) observeRolloutLocked(d *appsv1.Deployment, s *deployment.Summary, o *openRollout) {
	if s.ServingUnknown != "" {
		o.unseen = true
	}
	for _, sv := range s.Serving {
		if f, ok := o.fewest[sv.Service]; !ok || sv.Ready < f {
			o.fewest[sv.Service] = sv.Ready
		}
	}
	if t.rs == nil || t.pods == nil || !t.diagnosable.Load() {
		return
	}
	rss, _ := t.rs.GetIndexer().ByIndex(byOwner, d.Namespace+"/"+d.Name)
	for _, obj := range rss {
		rs, ok := obj.(*ReplicaSet)
		if !ok {
			continue
		}
		if ref := metav1.GetControllerOfNoCopy(rs); ref == nil || ref.UID != d.UID {
			continue
		}
		pods, _ := t.pods.GetIndexer().ByIndex(byOwner, rs.Namespace+"/"+rs.Name)
		for _, p := range pods {
			if len(o.pods) >= maxRolloutPods {
				return
			}
			if pod, ok := p.(*corev1.Pod); ok {
				o.pods[pod.Name] = rs.Annotations[RevisionAnnotation]
			}
		}
	}
}

// costLocked is what the rollout o of d cost, ending now with s.
func (t *Tracker) costLocked(d *appsv1.Deployment, s *deployment.Summary, o *openRollout) *deployment.RolloutCost {
	now := t.opts.Now().UTC()
	revision := d.Annotations[RevisionAnnotation]
	if revision == "" {
		revision = strconv.FormatInt(s.Revision, 10)
	}
	c := &deployment.RolloutCost{
		Revision: revision, Outcome: deployment.RolloutComplete, Start: o.start, End: now,
		DurationSeconds: deployment.Seconds(now.Sub(o.start)), OpenAtStart: o.openAtStart,
		Unseen: o.unseen || o.outages != t.sv.outages,
	}
	if s.Status == deployment.Failed {
		c.Outcome = deployment.RolloutFailed
	}
	gapTime, union, open := t.gapTimeLocked(d.Namespace+"/"+d.Name, o.start, now)
	for svc := range gapTime {
		if _, ok := o.fewest[svc]; !ok {
			o.fewest[svc] = 0 // a Service that came to select no pod
		}
	}
	for svc, f := range o.fewest {
		c.Services = append(c.Services, deployment.RolloutService{Service: svc, Fewest: f, GapSeconds: deployment.Seconds(gapTime[svc])})
	}
	sort.Slice(c.Services, func(i, j int) bool { return c.Services[i].Service < c.Services[j].Service })
	c.GapSeconds, c.GapOpen = deployment.Seconds(union), open
	c.FailedPreStopHooks = t.preStopFailuresLocked(d, o, revision)
	return c
}

// gapTimeLocked is, over [start, end], how long each Service had a gap
// for the Deployment with key, how long at least one did, and whether one
// is still open.
func (t *Tracker) gapTimeLocked(key string, start, end time.Time) (map[string]time.Duration, time.Duration, bool) {
	per := map[string]time.Duration{}
	ds := t.sv.deployments[key]
	if ds == nil {
		return per, 0, false
	}
	type span struct{ from, to time.Time }
	var spans []span
	open := false
	gaps := slices.Clone(ds.history)
	for _, og := range ds.open {
		gaps = append(gaps, og.gap)
	}
	for _, g := range gaps {
		to := g.End
		if g.Open() {
			to, open = end, true
		}
		from := g.Start
		if from.Before(start) {
			from = start
		}
		if to.After(end) {
			to = end
		}
		if !to.After(from) {
			continue
		}
		per[g.Service] += to.Sub(from)
		spans = append(spans, span{from, to})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var union time.Duration
	var cur span
	for i, sp := range spans {
		switch {
		case i == 0:
			cur = sp
		case !sp.from.After(cur.to):
			if sp.to.After(cur.to) {
				cur.to = sp.to
			}
		default:
			union += cur.to.Sub(cur.from)
			cur = sp
		}
	}
	if len(spans) > 0 {
		union += cur.to.Sub(cur.from)
	}
	return per, union, open
}

// preStopFailuresLocked are the FailedPreStopHook events on the old pods
// of d's rollout o (those of a revision other than revision) recorded
// since it began. A pod seen during it is known by name; one gone before
// it was seen (the informers are not ordered) by its name, which is its
// ReplicaSet's and a suffix of its own.
func (t *Tracker) preStopFailuresLocked(d *appsv1.Deployment, o *openRollout, revision string) []deployment.PreStopFailure {
	if t.events == nil {
		return nil
	}
	var oldRS []string
	if t.rs != nil {
		rss, _ := t.rs.GetIndexer().ByIndex(byOwner, d.Namespace+"/"+d.Name)
		for _, obj := range rss {
			if rs, ok := obj.(*ReplicaSet); ok && rs.Annotations[RevisionAnnotation] != revision {
				if ref := metav1.GetControllerOfNoCopy(rs); ref != nil && ref.UID == d.UID {
					oldRS = append(oldRS, rs.Name)
				}
			}
		}
	}
	old := func(pod string) bool {
		if rev, ok := o.pods[pod]; ok {
			return rev != revision
		}
		return slices.ContainsFunc(oldRS, func(rs string) bool {
			rest, ok := strings.CutPrefix(pod, rs+"-")
			return ok && rest != "" && !strings.Contains(rest, "-")
		})
	}
	since := o.start.Truncate(time.Second) // events' times have whole seconds
	byPod := map[string]*deployment.PreStopFailure{}
	for _, obj := range t.events.GetStore().List() {
		e, ok := obj.(*corev1.Event)
		if !ok || e.Reason != reasonFailedPreStopHook || e.InvolvedObject.Kind != "Pod" ||
			cmp.Or(e.InvolvedObject.Namespace, e.Namespace) != d.Namespace || eventTime(e).Before(since) {
			continue
		}
		pod := e.InvolvedObject.Name
		if !old(pod) {
			continue
		}
		f := byPod[pod]
		if f == nil {
			f = &deployment.PreStopFailure{Pod: pod, Message: e.Message}
			byPod[pod] = f
		}
		f.Count += max(e.Count, 1)
	}
	out := make([]deployment.PreStopFailure, 0, len(byPod))
	for _, f := range byPod {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
	if len(out) == 0 {
		return nil
	}
	return out
}

// eventTime is when e was last recorded.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// tellRolloutLocked delivers the ROLLOUT event of s after the MODIFIED one
// whose changed fields are changed, when a rollout ended in it.
func (t *Tracker) tellRolloutLocked(sink Sink, s deployment.Summary, changed []string) {
	if s.LastRollout != nil && slices.Contains(changed, "lastRollout") {
		sink.OnEvent(t.event(deployment.Rollout, s, nil))
	}
}
