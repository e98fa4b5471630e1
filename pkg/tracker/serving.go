package tracker

import (
	"cmp"
	"slices"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// This file is serving: what the Services that select a Deployment's pods
// serve (their EndpointSlices' ready endpoints), and the gaps in it. It
// reads the Services and EndpointSlices informers beside the diagnosis's,
// and the Pods informer to tell a Deployment's own endpoints.

// Index names of serving.
const (
	byLabel    = "label"    // Deployments by each label of their pod template: "ns/key=value"
	bySelector = "selector" // Services by the smallest pair of their selector: "ns/key=value"
	byService  = "service"  // EndpointSlices by their Service: "ns/name"
)

// maxGapHistory bounds the ended gaps kept per Deployment.
const maxGapHistory = 32

func labelIndex(obj any) ([]string, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok || len(d.Spec.Template.Labels) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(d.Spec.Template.Labels))
	for k, v := range d.Spec.Template.Labels {
		out = append(out, d.Namespace+"/"+k+"="+v)
	}
	return out, nil
}

func selectorIndex(obj any) ([]string, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok || !selects(svc) {
		return nil, nil
	}
	return []string{firstPair(svc)}, nil
}

func serviceIndex(obj any) ([]string, error) {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	if name := es.Labels[discoveryv1.LabelServiceName]; name != "" {
		return []string{es.Namespace + "/" + name}, nil
	}
	return nil, nil
}

// selects reports whether svc sends traffic to the pods its selector
// matches: one without a selector has its endpoints made by hand, and an
// ExternalName Service has none.
func selects(svc *corev1.Service) bool {
	return len(svc.Spec.Selector) > 0 && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// firstPair is the index key of svc's selector: its smallest key and value.
func firstPair(svc *corev1.Service) string {
	keys := make([]string, 0, len(svc.Spec.Selector))
	for k := range svc.Spec.Selector {
		keys = append(keys, k)
	}
	k := slices.Min(keys)
	return svc.Namespace + "/" + k + "=" + svc.Spec.Selector[k]
}

// matches reports whether selector (a Service's) selects pods with labels.
func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if l, ok := labels[k]; !ok || l != v {
			return false
		}
	}
	return true
}

// servingState is what serving remembers, guarded by Tracker.mu.
type servingState struct {
	// ready: every informer has synced, so a Service that selects no pod
	// is told from one whose slices have not arrived yet.
	ready bool
	// outages counts the times a watch serving reads was lost: a gap open
	// across one may have ended unseen.
	outages uint64
	// deployments are the gaps of each Deployment, by key.
	deployments map[string]*deploymentServing
	// selected are, by Service key, the Deployments that want pods it
	// selected when last seen selecting any: where a gap is shown once it
	// selects no pod.
	selected map[string][]string
	// orphans are the Services that select no pod at all, by key, and
	// shownOn the names of those shown on each Deployment, by its key.
	orphans map[string]*orphan
	shownOn map[string][]string
	// told is the last list of Service gaps told to OnServiceGaps.
	told []deployment.ServiceGap
}

// deploymentServing is one Deployment's serving memory.
type deploymentServing struct {
	open map[string]*openGap // by Service name
	// own is each Service's count of the Deployment's ready endpoints when
	// last summarized, and below the Services whose count fell below the
	// floor and has not been back at it since.
	own   map[string]int32
	below map[string]bool
	// history are its ended gaps, oldest first.
	history []deployment.Gap
}

type openGap struct {
	gap     deployment.Gap
	outages uint64 // servingState.outages when it began
}

// orphan is a Service that selects no pod at all.
type orphan struct {
	namespace, name string
	// deployments are the keys of the Deployments it selected before,
	// where its gap is shown; none: it is a ServiceGap of its own.
	deployments []string
	gap         deployment.ServiceGap
	outages     uint64
}

// serving reports whether the tracker reads serving at all.
func (t *Tracker) serving() bool { return t.services != nil }

// summarizeLocked summarizes d with its diagnosis and serving.
func (t *Tracker) summarizeLocked(d *appsv1.Deployment) deployment.Summary {
	s := deployment.Summarize(d, t.diagnose(d))
	t.serveLocked(&s, d)
	s.Warnings = t.warnings(d)
	t.rolloutLocked(d, &s)
	return s
}

// counts are one Service's endpoints as one Deployment sees them.
type counts struct{ ready, all, terminating, own int32 }

// gapNow is why a Service has a gap for a Deployment now.
type gapNow struct {
	kind deployment.GapKind
	c    counts
}

// serveLocked fills in s's serving and gaps, opening and ending gaps as
// what d's Services serve now says.
func (t *Tracker) serveLocked(s *deployment.Summary, d *appsv1.Deployment) {
	if !t.serving() {
		return
	}
	if t.servingOff != "" {
		s.ServingUnknown = t.servingOff
		return
	}
	key := d.Namespace + "/" + d.Name
	ds := t.sv.deployments[key]
	if ds == nil {
		ds = &deploymentServing{open: map[string]*openGap{}, own: map[string]int32{}, below: map[string]bool{}}
		t.sv.deployments[key] = ds
	}
	floor := deployment.Floor(d)
	want := map[string]gapNow{}
	selecting := map[string]bool{}
	for _, svc := range t.servicesSelecting(d) {
		c := t.countEndpoints(svc, key)
		s.Serving = append(s.Serving, deployment.Serving{
			Service: svc.Name, Ready: c.ready, Endpoints: c.all, Terminating: c.terminating, Own: c.own, Floor: floor,
		})
		selecting[svc.Name] = true
		// Below the floor counts only when the Deployment's own endpoints
		// fell there: a scale up starts below it, and loses nothing.
		prev, seen := ds.own[svc.Name]
		switch {
		case c.own >= floor:
			delete(ds.below, svc.Name)
		case seen && c.own < prev:
			ds.below[svc.Name] = true
		}
		ds.own[svc.Name] = c.own
		switch {
		case s.Replicas.Desired > 0 && c.ready == 0:
			want[svc.Name] = gapNow{deployment.GapNoReadyEndpoint, c}
		case ds.below[svc.Name]:
			want[svc.Name] = gapNow{deployment.GapBelowFloor, c}
		}
	}
	for name := range ds.own {
		if !selecting[name] {
			delete(ds.own, name)
			delete(ds.below, name)
		}
	}
	for _, name := range t.sv.shownOn[key] {
		if !selecting[name] {
			want[name] = gapNow{kind: deployment.GapSelectsNoPod}
		}
	}
	t.reconcileLocked(ds, d, floor, want)
	sort.Slice(s.Serving, func(i, j int) bool { return s.Serving[i].Service < s.Serving[j].Service })
	for _, og := range ds.open {
		s.Gaps = append(s.Gaps, og.gap)
	}
	sort.Slice(s.Gaps, func(i, j int) bool { return s.Gaps[i].Service < s.Gaps[j].Service })
	if n := len(ds.history); n > 0 {
		last := ds.history[n-1]
		s.LastGap = &last
	}
}

// reconcileLocked opens the gaps in want that are not open, updates those
// that are, and ends the others.
func (t *Tracker) reconcileLocked(ds *deploymentServing, d *appsv1.Deployment, floor int32, want map[string]gapNow) {
	now := t.opts.Now().UTC()
	for name, w := range want {
		og := ds.open[name]
		if og == nil {
			og = &openGap{outages: t.sv.outages, gap: deployment.Gap{
				Service: name, Start: now, Revision: d.Annotations[RevisionAnnotation], Floor: floor,
				Fewest: w.c.ready, FewestOwn: w.c.own, OpenAtStart: !t.synced,
			}}
			ds.open[name] = og
		}
		g := &og.gap
		if r := d.Annotations[RevisionAnnotation]; newerRevision(r, g.Revision) {
			g.Revision = r
		}
		g.Kind = w.kind
		g.Ready, g.Endpoints, g.Own = w.c.ready, w.c.all, w.c.own
		g.Fewest, g.FewestOwn = min(g.Fewest, w.c.ready), min(g.FewestOwn, w.c.own)
	}
	for name, og := range ds.open {
		if _, ok := want[name]; ok {
			continue
		}
		g := og.gap
		g.End = now
		g.Unseen = og.outages != t.sv.outages
		ds.history = append(ds.history, g)
		if len(ds.history) > maxGapHistory {
			ds.history = slices.Delete(ds.history, 0, len(ds.history)-maxGapHistory)
		}
		delete(ds.open, name)
	}
}

// newerRevision says whether revision r, a Deployment's revision
// annotation, is later than old.
func newerRevision(r, old string) bool {
	n, err := strconv.ParseInt(r, 10, 64)
	if err != nil {
		return false
	}
	o, err := strconv.ParseInt(old, 10, 64)
	return err != nil || n > o
}

// servicesSelecting are the Services that select d's pods.
func (t *Tracker) servicesSelecting(d *appsv1.Deployment) []*corev1.Service {
	labels := d.Spec.Template.Labels
	var out []*corev1.Service
	for k, v := range labels {
		objs, _ := t.services.GetIndexer().ByIndex(bySelector, d.Namespace+"/"+k+"="+v)
		for _, o := range objs {
			// Each Service is indexed under one pair only, so it comes once.
			if svc, ok := o.(*corev1.Service); ok && matches(svc.Spec.Selector, labels) {
				out = append(out, svc)
			}
		}
	}
	return out
}

// deploymentsSelectedBy are the Deployments whose pods svc selects.
func (t *Tracker) deploymentsSelectedBy(svc *corev1.Service) []*appsv1.Deployment {
	if !selects(svc) {
		return nil
	}
	objs, _ := t.deployments.GetIndexer().ByIndex(byLabel, firstPair(svc))
	var out []*appsv1.Deployment
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok && matches(svc.Spec.Selector, d.Spec.Template.Labels) {
			out = append(out, d)
		}
	}
	return out
}

// countEndpoints counts svc's endpoints over its slices, each pod once
// (a dual-stack Service has a slice per address family), and those that
// are pods of the Deployment with key owner.
func (t *Tracker) countEndpoints(svc *corev1.Service, owner string) counts {
	objs, _ := t.slices.GetIndexer().ByIndex(byService, svc.Namespace+"/"+svc.Name)
	var c counts
	var seen map[string]bool
	if len(objs) > 1 {
		seen = map[string]bool{}
	}
	for _, o := range objs {
		es, ok := o.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		for i := range es.Endpoints {
			e := &es.Endpoints[i]
			var pod string
			if r := e.TargetRef; r != nil && r.Kind == "Pod" {
				pod = r.Name
			}
			if seen != nil {
				id := "pod/" + pod
				if pod == "" && len(e.Addresses) > 0 {
					id = "ip/" + e.Addresses[0]
				}
				if seen[id] {
					continue
				}
				seen[id] = true
			}
			c.all++
			cond := e.Conditions
			terminating := cond.Terminating != nil && *cond.Terminating
			switch {
			case cond.Ready == nil || *cond.Ready:
				c.ready++
				if owner != "" && pod != "" && t.podOwner(svc.Namespace, pod) == owner {
					c.own++
				}
			case terminating && (cond.Serving == nil || *cond.Serving):
				c.terminating++
			}
		}
	}
	return c
}

// podOwner is the key of the Deployment that pod ns/name belongs to, "" if
// unknown.
func (t *Tracker) podOwner(ns, name string) string {
	p, ok, _ := t.pods.GetIndexer().GetByKey(ns + "/" + name)
	if !ok {
		return ""
	}
	return t.deploymentKeyOf(p)
}

// serviceEventLocked handles a change of a Service (old is its previous
// state, nil when added) or of one of its slices (old nil): it settles
// whether the Service selects no pod, and returns the keys of the
// Deployments whose serving may have changed.
func (t *Tracker) serviceEventLocked(svcKey string, old *corev1.Service) []string {
	affected := map[string]bool{}
	add := func(ds []*appsv1.Deployment) {
		for _, d := range ds {
			affected[d.Namespace+"/"+d.Name] = true
		}
	}
	if old != nil {
		add(t.deploymentsSelectedBy(old))
	}
	var svc *corev1.Service
	if obj, ok, _ := t.services.GetStore().GetByKey(svcKey); ok {
		svc = obj.(*corev1.Service)
	}
	var selected []*appsv1.Deployment
	if svc != nil {
		selected = t.deploymentsSelectedBy(svc)
		add(selected)
	}
	shownOn := func() {
		if o := t.sv.orphans[svcKey]; o != nil {
			for _, k := range o.deployments {
				affected[k] = true
			}
		}
	}
	shownOn() // a gap that may end
	if t.sv.ready {
		t.settleOrphanLocked(svcKey, svc, selected)
		shownOn() // or begin
	}
	keys := make([]string, 0, len(affected))
	for k := range affected {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// settleOrphanLocked decides whether the Service with key svcKey (nil:
// gone) selects no pod at all, given the Deployments it selects.
func (t *Tracker) settleOrphanLocked(svcKey string, svc *corev1.Service, selected []*appsv1.Deployment) {
	var wanting []string
	for _, d := range selected {
		if d.Spec.Replicas == nil || *d.Spec.Replicas > 0 {
			wanting = append(wanting, d.Namespace+"/"+d.Name)
		}
	}
	switch {
	case svc == nil || !selects(svc):
		delete(t.sv.selected, svcKey)
		t.endOrphanLocked(svcKey)
	case len(wanting) > 0:
		t.sv.selected[svcKey] = wanting
		t.endOrphanLocked(svcKey)
	case t.countEndpoints(svc, "").all == 0:
		if t.sv.orphans[svcKey] != nil {
			return
		}
		o := &orphan{namespace: svc.Namespace, name: svc.Name, outages: t.sv.outages}
		for _, k := range t.sv.selected[svcKey] {
			if _, ok := t.last[k]; ok {
				o.deployments = append(o.deployments, k)
			}
		}
		if len(o.deployments) == 0 {
			if t.opts.LabelSelector != "" || t.opts.FieldSelector != "" {
				return // it may select a Deployment the filter hides
			}
			o.gap = deployment.ServiceGap{Namespace: svc.Namespace, Gap: deployment.Gap{
				Service: svc.Name, Kind: deployment.GapSelectsNoPod, Start: t.opts.Now().UTC(), OpenAtStart: !t.synced,
			}}
		}
		t.sv.orphans[svcKey] = o
		for _, k := range o.deployments {
			t.sv.shownOn[k] = append(t.sv.shownOn[k], o.name)
		}
	default:
		// Its pods are not a Deployment's the tracker sees (a
		// StatefulSet's, say), or they are going: not its business.
		t.endOrphanLocked(svcKey)
	}
}

func (t *Tracker) endOrphanLocked(svcKey string) {
	o := t.sv.orphans[svcKey]
	if o == nil {
		return
	}
	for _, k := range o.deployments {
		t.sv.shownOn[k] = slices.DeleteFunc(t.sv.shownOn[k], func(n string) bool { return n == o.name })
		if len(t.sv.shownOn[k]) == 0 {
			delete(t.sv.shownOn, k)
		}
	}
	delete(t.sv.orphans, svcKey)
}

// ServiceGaps are the gaps of Services that select no pod at all and
// selected no Deployment the tracker saw, so no Deployment shows them,
// sorted by namespace and name.
func (t *Tracker) ServiceGaps() []deployment.ServiceGap {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.serviceGapsLocked()
}

func (t *Tracker) serviceGapsLocked() []deployment.ServiceGap {
	var out []deployment.ServiceGap
	for _, o := range t.sv.orphans {
		if len(o.deployments) == 0 {
			out = append(out, o.gap)
		}
	}
	slices.SortFunc(out, func(a, b deployment.ServiceGap) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Service, b.Service))
	})
	return out
}

// tellServiceGapsLocked tells OnServiceGaps when the Service gaps changed,
// once the tracker has synced.
func (t *Tracker) tellServiceGapsLocked() {
	if t.opts.OnServiceGaps == nil || !t.synced || t.stopped {
		return
	}
	now := t.serviceGapsLocked()
	if slices.EqualFunc(now, t.sv.told, func(a, b deployment.ServiceGap) bool {
		return a.Namespace == b.Namespace && a.Service == b.Service && a.Start.Equal(b.Start)
	}) {
		return
	}
	t.sv.told = now
	t.opts.OnServiceGaps(now)
}

// Gaps are the serving gaps the tracker saw of the Deployment with key
// (namespace/name) since it started: the ended ones, oldest first (the
// latest 32), then the open ones. For the gate and the report of a
// rollout.
func (t *Tracker) Gaps(key string) []deployment.Gap {
	t.mu.Lock()
	defer t.mu.Unlock()
	ds := t.sv.deployments[key]
	if ds == nil {
		return nil
	}
	out := slices.Clone(ds.history)
	open := make([]deployment.Gap, 0, len(ds.open))
	for _, og := range ds.open {
		open = append(open, og.gap)
	}
	sort.Slice(open, func(i, j int) bool { return open[i].Service < open[j].Service })
	return append(out, open...)
}

// onServiceChange is the Services informer's handler.
func (t *Tracker) onServiceChange(sink Sink, oldObj, obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	old, _ := oldObj.(*corev1.Service)
	if old == nil {
		old = svc // deleted: the Deployments it selected lose it
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refreshAllLocked(sink, t.serviceEventLocked(svc.Namespace+"/"+svc.Name, old))
	t.tellServiceGapsLocked()
}

// onSliceChange is the EndpointSlices informer's handler.
func (t *Tracker) onSliceChange(sink Sink, obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	keys, _ := serviceIndex(obj)
	if len(keys) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refreshAllLocked(sink, t.serviceEventLocked(keys[0], nil))
	t.tellServiceGapsLocked()
}

// settleAllLocked settles every Service once every informer has synced.
// No Deployment needs summarizing again: every one was summarized from
// the synced informers, and a Service that selects no pod now has
// selected none before (that memory starts now), so it shows on none.
func (t *Tracker) settleAllLocked() {
	t.sv.ready = true
	for _, obj := range t.services.GetStore().List() {
		svc := obj.(*corev1.Service)
		key := svc.Namespace + "/" + svc.Name
		t.settleOrphanLocked(key, svc, t.deploymentsSelectedBy(svc))
	}
}

// refreshAllLocked summarizes the Deployments with these keys again.
func (t *Tracker) refreshAllLocked(sink Sink, keys []string) {
	for _, k := range keys {
		t.refreshLocked(sink, k)
	}
}

// servingLost counts an outage of a watch serving reads: called by the
// health (with the tracker's lock held) when one stops being live.
func (t *Tracker) servingLost(name string) {
	if slices.Contains(ServingResources, name) {
		t.sv.outages++
	}
}
