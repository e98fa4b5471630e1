// Package tracker watches Deployments with a client-go informer and turns its
// notifications into deduplicated deployment.Events: an event is delivered
// only when a Deployment's summary changes in something a user reads. It is
// the engine shared by `watch`, `scale --wait`, `set-image --wait` and the
// hub behind `serve`; it knows nothing of output formats or HTTP.
package tracker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// Sink receives a tracker's output. Calls are made one at a time, in order,
// from the tracker's delivery goroutine; the informer keeps buffering while a
// call runs, so a slow sink delays only itself.
type Sink interface {
	// OnEvent is called for every change worth showing.
	OnEvent(deployment.Event)
	// OnSynced is called once, after the events for every Deployment that
	// existed when the tracker started, with the state at that moment.
	OnSynced(snapshot []deployment.Summary)
}

// Options select what a tracker watches.
type Options struct {
	// Namespace to watch; empty means all namespaces.
	Namespace     string
	LabelSelector string
	FieldSelector string
	// SkipInitial suppresses the ADDED events of Deployments that exist when
	// the tracker starts (they still count for OnSynced and Snapshot).
	SkipInitial bool
	// ChangedGeneration is the generation this command's own change made
	// (--wait): a rollout to it that is under way when the tracker starts
	// is the change's, not one found under way.
	ChangedGeneration int64
	// OnError is told about errors the informers retry with backoff by
	// themselves: after the first sync, and before it those that waiting
	// may fix (429, 5xx, timeouts); nil ignores them.
	OnError func(error)
	// Diagnose, when set, also reads the ReplicaSets, Pods and Warning
	// Events of the namespace to say why a rollout does not progress
	// (status Failing, Summary.Problems).
	Diagnose *Diagnose
	// OnDiagnosisOff is told once when the diagnosis cannot read what it
	// needs (no permission to list pods, say): the tracker goes on with
	// Deployments alone. nil ignores it.
	OnDiagnosisOff func(error)
	// OnServingOff is told once when serving cannot be read (no
	// permission to list Services, EndpointSlices or Pods): every summary
	// then says why in ServingUnknown. nil ignores it.
	OnServingOff func(error)
	// OnServiceGaps, when set, is told the gaps of Services that select
	// no pod and no Deployment the tracker saw (ServiceGaps) each time
	// they change after the first sync, in order with the events.
	OnServiceGaps func([]deployment.ServiceGap)
	// Kinds are the kinds of workload followed (deployment.Kinds' values);
	// nil means Deployments alone. StatefulSets and DaemonSets are read
	// through Workloads, which must then be set.
	Kinds     []string
	Workloads WorkloadsGetter
	// OnKindOff, when set, is told (once the others have synced) of each
	// kind but the first of Kinds that cannot be listed (no permission,
	// say): the tracker goes on without it. nil: such a kind ends Run as
	// the first one does.
	OnKindOff func(kind string, err error)
	// Now stamps events; nil means time.Now.
	Now func() time.Time
}

// WorkloadsGetter reads the workloads other than Deployments.
type WorkloadsGetter interface {
	appsv1client.StatefulSetsGetter
	appsv1client.DaemonSetsGetter
}

// Tracker follows the Deployments selected by its Options.
type Tracker struct {
	client appsv1client.DeploymentsGetter
	opts   Options

	mu   sync.Mutex // guards last and serializes delivery to the sink
	last map[string]deployment.Summary

	lists atomic.Int64 // full lists from the API server, the first included

	// health follows the connection of every watch; sink, synced and
	// stopped (guarded by mu) say whether a change of it is delivered.
	health  *health
	sink    Sink
	synced  bool
	stopped bool

	// workloads are the kinds followed, each with its informer;
	// deployments is the Deployments' (nil when they are not followed).
	workloads   []*workload
	deployments cache.SharedIndexInformer
	// kindsOff are the kinds that could not be listed (Options.OnKindOff).
	kindsOff map[string]error

	// The diagnosis's informers (nil without Options.Diagnose), and whether
	// ReplicaSets and Pods could be read.
	rs, pods cache.SharedIndexInformer
	// revisions are the ControllerRevisions (nil unless DaemonSets are
	// followed and they can be read).
	revisions    cache.SharedIndexInformer
	revisionsOff atomic.Bool
	events       cache.SharedIndexInformer
	diagnosable  atomic.Bool
	// diagnosisOff says why not; told once the Deployments have synced.
	diagnosisOff error

	// Serving's informers (nil unless Options.Diagnose has their clients),
	// why serving cannot be read ("" when it can) and its memory (guarded
	// by mu).
	services, slices cache.SharedIndexInformer
	servingOff       string
	servingOffErr    error
	sv               servingState

	// The PodDisruptionBudgets' informer (nil unless Options.Diagnose has
	// its client), and whether Services and PDBs could not be read: the
	// warnings need Services, and the rule that wants a PDB needs PDBs.
	pdbs                 cache.SharedIndexInformer
	servicesOff, pdbsOff atomic.Bool

	ro map[string]*rolloutMemory // each Deployment's rollout (rollout.go), guarded by mu
}

// New returns a tracker that reads Deployments through client. A fake client
// in tests must say it cannot stream lists (IsWatchListSemanticsUnSupported
// returning true), as client-go's fake Clientset does but its typed AppsV1
// alone does not; otherwise the informer waits for a bookmark that never comes.
func New(client appsv1client.DeploymentsGetter, opts Options) *Tracker {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	t := &Tracker{client: client, opts: opts, last: map[string]deployment.Summary{}}
	t.sv = servingState{deployments: map[string]*deploymentServing{}, selected: map[string][]string{},
		orphans: map[string]*orphan{}, shownOn: map[string][]string{}}
	t.health = newHealth(opts.Now, t.deliverHealth)
	t.health.lost = t.servingLost
	return t
}

// Health is the state of the tracker's watches now.
func (t *Tracker) Health() Health { return t.health.current() }

// deliverHealth applies a change of health with the tracker's lock held,
// so a sink hears it in order with events, and only once it has synced.
func (t *Tracker) deliverHealth(update func() (Health, bool)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hl, changed := update()
	if !changed || !t.synced || t.stopped {
		return
	}
	if hs, ok := t.sink.(HealthSink); ok {
		hs.OnHealth(hl)
	}
}

// Run watches until ctx ends, delivering to sink. It returns an error if the
// first list fails (wrong permissions, unreachable server): a watch that
// cannot start is reported, not retried silently. Once synced, it rides out
// API server outages with the informer's backoff and returns nil when ctx ends.
func (t *Tracker) Run(ctx context.Context, sink Sink) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // every informer's goroutines end before Run returns
	defer func() {
		t.mu.Lock()
		t.stopped = true // a late health change is not delivered
		t.mu.Unlock()
	}()
	sink = &inOrder{Sink: sink}
	t.mu.Lock()
	t.sink = sink
	t.mu.Unlock()
	run := func(ctx context.Context, inf cache.SharedIndexInformer) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inf.RunWithContext(ctx)
		}()
	}

	var indexers cache.Indexers
	if d := t.opts.Diagnose; d != nil && d.Services != nil && d.EndpointSlices != nil {
		indexers = cache.Indexers{byLabel: labelIndex} // the Services that select each
	}
	if d := t.opts.Diagnose; d != nil && d.PodDisruptionBudgets != nil {
		if indexers == nil {
			indexers = cache.Indexers{}
		}
		indexers[cache.NamespaceIndex] = cache.MetaNamespaceIndexFunc // the Deployments a PDB may guard
	}
	var synced atomic.Bool
	for _, kind := range t.kinds() {
		w, err := t.newWorkload(ctx, kind, indexers, &synced)
		if err != nil {
			return err
		}
		t.workloads = append(t.workloads, w)
		if kind == deployment.KindDeployment {
			t.deployments = w.informer
		}
		w.ctx, w.stop = context.WithCancel(ctx)
		run(w.ctx, w.informer)
	}
	startErr := t.workloads[0].startErr

	// The diagnosis's informers start with the workloads' and must sync
	// before the first event, so that the first table already says why.
	if t.opts.Diagnose != nil {
		if err := t.startDiagnosis(ctx, sink, run, startErr); err != nil {
			return err
		}
	}

	for _, w := range t.workloads {
		reg, err := w.informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc:    func(obj any, initial bool) { t.observeWorkload(sink, w, obj, initial) },
			UpdateFunc: func(_, obj any) { t.observeWorkload(sink, w, obj, false) },
			DeleteFunc: func(obj any) { t.forgetWorkload(sink, w, obj) },
		})
		if err != nil {
			return err
		}
		w.reg = reg
	}
	for i, w := range t.workloads {
		err := waitForSync(ctx, w.reg.HasSynced, w.startErr)
		if err == nil {
			continue
		}
		if i == 0 {
			return err
		}
		if t.opts.OnKindOff == nil || !Permanent(err) {
			return fmt.Errorf("cannot watch %s: %w", w.resource, err)
		}
		w.stop() // this kind cannot be read: follow the others
		t.health.forget(w.resource)
		if t.kindsOff == nil {
			t.kindsOff = map[string]error{}
		}
		t.kindsOff[w.kind] = err
	}
	synced.Store(true)
	if t.diagnosisOff != nil && t.opts.OnDiagnosisOff != nil {
		// Told only now: a user who may not read Deployments either hears
		// of that alone.
		t.opts.OnDiagnosisOff(t.diagnosisOff)
	}
	if t.servingOffErr != nil && t.opts.OnServingOff != nil {
		t.opts.OnServingOff(t.servingOffErr)
	}
	// After the warnings of Deployments' own readers: a user who may read
	// Deployments alone hears of those first.
	for _, kind := range deployment.Kinds {
		if err := t.kindsOff[kind]; err != nil {
			t.opts.OnKindOff(kind, err)
		}
	}
	t.mu.Lock()
	if t.serving() && t.servingOff == "" {
		t.settleAllLocked()
	}
	sink.OnSynced(t.snapshotLocked())
	t.synced = true
	if hs, ok := sink.(HealthSink); ok {
		if hl := t.health.current(); hl.State != Live {
			hs.OnHealth(hl) // lost between the first list and now
		}
	}
	t.tellServiceGapsLocked()
	t.mu.Unlock()

	<-ctx.Done()
	return nil
}

// startErrors is the Deployments' watch error handler. Before the first
// sync, an error that waiting cannot fix (RBAC, no such resource, no
// server at all) ends Run at once; others are reported and retried, as
// after the sync.
func (t *Tracker) startErrors(synced *atomic.Bool, startErr chan<- error) cache.WatchErrorHandlerWithContext {
	return func(_ context.Context, _ *cache.Reflector, err error) {
		if !synced.Load() && Permanent(err) {
			select {
			case startErr <- err:
			default:
			}
			return
		}
		if t.opts.OnError != nil && !errors.Is(err, context.Canceled) {
			t.opts.OnError(err)
		}
	}
}

// startDiagnosis runs the ReplicaSet, Pod and Event informers and waits
// until each has synced or cannot be read. Without ReplicaSets or Pods the
// diagnosis is off (OnDiagnosisOff); without Events it goes on without
// their messages.
func (t *Tracker) startDiagnosis(ctx context.Context, sink Sink, run func(context.Context, cache.SharedIndexInformer), startErr <-chan error) error {
	type result struct {
		s   *secondary
		err error
	}
	secs := t.secondaries(ctx)
	for _, sec := range secs {
		switch sec.name {
		case "replicasets":
			t.rs = sec.informer
		case "pods":
			t.pods = sec.informer
		case "events":
			t.events = sec.informer
		case "services":
			t.services = sec.informer
		case "endpointslices":
			t.slices = sec.informer
		case "poddisruptionbudgets":
			t.pdbs = sec.informer
		case "controllerrevisions":
			t.revisions = sec.informer
		}
	}
	results := make(chan result, len(secs))
	for _, sec := range secs {
		sctx, stop := context.WithCancel(ctx)
		var synced atomic.Bool
		var reported atomic.Bool
		_ = sec.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			if !synced.Load() && Permanent(err) {
				stop() // this resource cannot be read: diagnose without it
				t.health.forget(sec.name)
				if reported.CompareAndSwap(false, true) {
					results <- result{sec, err}
				}
				return
			}
			if synced.Load() && t.opts.OnError != nil {
				t.opts.OnError(err)
			}
		})
		handler := cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { t.refreshOwner(sink, obj) },
			UpdateFunc: func(_, obj any) { t.refreshOwner(sink, obj) },
			DeleteFunc: func(obj any) { t.refreshOwner(sink, obj) },
		}
		switch sec.name {
		case "services":
			handler = cache.ResourceEventHandlerFuncs{
				AddFunc:    func(obj any) { t.onServiceChange(sink, nil, obj) },
				UpdateFunc: func(old, obj any) { t.onServiceChange(sink, old, obj) },
				DeleteFunc: func(obj any) { t.onServiceChange(sink, nil, obj) },
			}
		case "endpointslices":
			handler = cache.ResourceEventHandlerFuncs{
				AddFunc:    func(obj any) { t.onSliceChange(sink, obj) },
				UpdateFunc: func(_, obj any) { t.onSliceChange(sink, obj) },
				DeleteFunc: func(obj any) { t.onSliceChange(sink, obj) },
			}
		case "poddisruptionbudgets":
			handler = cache.ResourceEventHandlerFuncs{
				AddFunc:    func(obj any) { t.onPDBChange(sink, nil, obj) },
				UpdateFunc: func(old, obj any) { t.onPDBChange(sink, old, obj) },
				DeleteFunc: func(obj any) { t.onPDBChange(sink, nil, obj) },
			}
		}
		reg, _ := sec.informer.AddEventHandler(handler)
		run(sctx, sec.informer)
		go func() {
			if cache.WaitForCacheSync(sctx.Done(), reg.HasSynced) {
				synced.Store(true)
				if reported.CompareAndSwap(false, true) {
					results <- result{sec, nil}
				}
			}
		}()
	}
	ok := true
	servingErrs := map[string]error{}
	for range secs {
		select {
		case r := <-results:
			if r.err == nil {
				continue
			}
			switch r.s.name {
			case "events":
				continue // diagnosed without the events' messages
			case "controllerrevisions":
				t.revisionsOff.Store(true) // a DaemonSet's new pods by its template's generation alone
				continue
			case "poddisruptionbudgets":
				t.pdbsOff.Store(true) // warned without the rule that wants one
				continue
			case "services", "endpointslices":
				if r.s.name == "services" {
					t.servicesOff.Store(true) // no warnings: most rules need Services
				}
				servingErrs[r.s.name] = r.err
				continue // diagnosed, but serving is unknown
			case "pods":
				servingErrs[r.s.name] = r.err // whose endpoints are whose
			}
			ok = false
			if t.diagnosisOff == nil {
				t.diagnosisOff = fmt.Errorf("cannot read %s: %w", r.s.name, r.err)
			}
		case err := <-startErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t.diagnosable.Store(ok)
	for _, name := range []string{"services", "endpointslices", "pods"} { // the same words every run
		if err := servingErrs[name]; err != nil {
			t.setServingOff(name, err)
			break
		}
	}
	return nil
}

// errNotStarted is Start's error when ctx ended before the first sync.
var errNotStarted = errors.New("tracker stopped before it synced")

// waitForSync waits for the first sync, but returns the first list or watch
// error at once: the informer would retry a Forbidden or an unreachable
// server forever, and a user waiting for a first screen should be told.
func waitForSync(ctx context.Context, hasSynced func() bool, startErr <-chan error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !hasSynced() {
		select {
		case err := <-startErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Start runs the tracker in a goroutine and waits until it has synced or
// failed to start. stop ends it and waits for its goroutines to finish.
func (t *Tracker) Start(ctx context.Context, sink Sink) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	syncedCh := make(chan struct{})
	runErr := make(chan error, 1)
	go func() {
		runErr <- t.Run(ctx, &syncNotifier{Sink: sink, synced: syncedCh})
	}()
	select {
	case <-syncedCh:
		var once sync.Once
		return func() { once.Do(func() { cancel(); <-runErr }) }, nil //nolint:errcheck // a cancelled run's error only says it was cancelled
	case err := <-runErr:
		cancel()
		if err == nil {
			err = errNotStarted
		}
		return nil, err
	}
}

type syncNotifier struct {
	Sink
	synced chan struct{}
}

func (s *syncNotifier) OnSynced(snapshot []deployment.Summary) {
	s.Sink.OnSynced(snapshot)
	close(s.synced)
}

func (s *syncNotifier) OnHealth(h Health) {
	if hs, ok := s.Sink.(HealthSink); ok {
		hs.OnHealth(h)
	}
}

// Snapshot returns the current summary of every tracked Deployment, sorted by
// namespace and name.
func (t *Tracker) Snapshot() []deployment.Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snapshotLocked()
}

func (t *Tracker) snapshotLocked() []deployment.Summary {
	out := make([]deployment.Summary, 0, len(t.last))
	for _, s := range t.last {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Relists counts how often the informer had to list everything again after
// the first time (expired watches, reconnects that could not resume).
func (t *Tracker) Relists() int64 {
	if n := t.lists.Load(); n > 1 {
		return n - 1
	}
	return 0
}

// observe handles an added or updated Deployment.
func (t *Tracker) observe(sink Sink, obj any, initial bool) {
	t.observeWorkload(sink, t.deploymentsWorkload(), obj, initial)
}

// forget handles a deleted Deployment.
func (t *Tracker) forget(sink Sink, obj any) {
	t.forgetWorkload(sink, t.deploymentsWorkload(), obj)
}

// deploymentsWorkload is the Deployments' workload (one without an
// informer before Run, as in tests).
func (t *Tracker) deploymentsWorkload() *workload {
	if w := t.workload(deployment.KindDeployment); w != nil {
		return w
	}
	return &workload{kind: deployment.KindDeployment, summarize: func(o any) deployment.Summary { return t.summarizeLocked(o.(*appsv1.Deployment)) }}
}

// observeWorkload handles an added or updated workload of w's kind.
func (t *Tracker) observeWorkload(sink Sink, w *workload, obj any, initial bool) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	storeKey := m.GetNamespace() + "/" + m.GetName()
	if w.informer != nil { // nil: not running (a test), obj is the latest
		if latest, exists, _ := w.informer.GetStore().GetByKey(storeKey); exists {
			// A ReplicaSet or Pod may have refreshed this workload from
			// the store already: never go back to an older version of it.
			obj = latest
			m = latest.(metav1.Object)
		}
	}
	key := w.key(storeKey)
	t.mu.Lock()
	defer t.mu.Unlock()

	prev, known := t.last[key]
	if known && prev.UID != m.GetUID() {
		// Deleted and created again while we were not looking.
		delete(t.last, key)
		delete(t.sv.deployments, key)
		sink.OnEvent(t.event(deployment.Deleted, prev, nil))
		known = false
	}
	s := w.summarize(obj)
	if !known {
		t.last[key] = s
		if !(initial && t.opts.SkipInitial) {
			sink.OnEvent(t.event(deployment.Added, s, nil))
		}
		return
	}
	t.updateLocked(sink, prev, s)
}

// refreshOwner summarizes the workload obj (a ReplicaSet, Pod or Event)
// belongs to again, after obj changed.
func (t *Tracker) refreshOwner(sink Sink, obj any) {
	w, storeKey := t.ownerOf(obj)
	if w == nil || storeKey == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refreshWorkloadLocked(sink, w, storeKey)
}

// refreshLocked is refresh of a Deployment with the tracker's lock held.
func (t *Tracker) refreshLocked(sink Sink, key string) {
	if w := t.workload(deployment.KindDeployment); w != nil {
		t.refreshWorkloadLocked(sink, w, key)
	}
}

func (t *Tracker) refreshWorkloadLocked(sink Sink, w *workload, storeKey string) {
	obj, exists, _ := w.informer.GetStore().GetByKey(storeKey)
	if !exists {
		return
	}
	key := w.key(storeKey)
	prev, known := t.last[key]
	if !known || prev.UID != obj.(metav1.Object).GetUID() {
		return // not delivered yet: its own notification will summarize it
	}
	t.updateLocked(sink, prev, w.summarize(obj))
}

// updateLocked records s and delivers it if it shows anything new.
func (t *Tracker) updateLocked(sink Sink, prev, s deployment.Summary) {
	deployment.Steady(&prev, &s)
	t.last[s.Key()] = s
	if changed := deployment.Changed(&prev, &s); len(changed) > 0 {
		sink.OnEvent(t.event(deployment.Modified, s, changed))
		t.tellRolloutLocked(sink, s, changed)
	}
}

// forgetWorkload handles a deleted workload of w's kind, including one
// whose deletion the informer only learned of by relisting.
func (t *Tracker) forgetWorkload(sink Sink, w *workload, obj any) {
	var storeKey string
	switch o := obj.(type) {
	case cache.DeletedFinalStateUnknown:
		storeKey = o.Key
	case metav1.Object:
		storeKey = o.GetNamespace() + "/" + o.GetName()
	default:
		return
	}
	key := w.key(storeKey)
	t.mu.Lock()
	defer t.mu.Unlock()
	prev, known := t.last[key]
	if !known {
		return
	}
	delete(t.last, key)
	delete(t.sv.deployments, key)
	delete(t.ro, key)
	sink.OnEvent(t.event(deployment.Deleted, prev, nil))
}

func (t *Tracker) event(typ deployment.EventType, s deployment.Summary, changed []string) deployment.Event {
	if changed == nil {
		changed = []string{}
	}
	return deployment.Event{Type: typ, Time: t.opts.Now().UTC(), Summary: s, Changed: changed}
}

// Describe names what a tracker with these options watches, for messages:
// "deployments in namespace \"shop\"", or with more kinds
// "deployments, statefulsets and daemonsets in ...".
func (o Options) Describe() string {
	return deployment.KindsNoun(o.Kinds) + " in " + o.Where()
}

// Where names where a tracker with these options watches, for messages:
// "namespace \"shop\"", "all namespaces with labels \"app=web\"".
func (o Options) Where() string {
	where := "all namespaces"
	if o.Namespace != "" {
		where = fmt.Sprintf("namespace %q", o.Namespace)
	}
	if o.LabelSelector != "" {
		where += fmt.Sprintf(" with labels %q", o.LabelSelector)
	}
	return where
}

// setServingOff records why serving cannot be read: the first resource
// that cannot be, in a word a summary carries ("cannot list services:
// forbidden"), and the whole error for OnServingOff.
func (t *Tracker) setServingOff(name string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.servingOffErr != nil {
		return
	}
	t.servingOffErr = fmt.Errorf("cannot read %s: %w", name, err)
	why := "unreachable"
	if reason := apierrors.ReasonForError(err); reason != metav1.StatusReasonUnknown {
		why = strings.ToLower(string(reason))
	}
	t.servingOff = "cannot list " + name + ": " + why
}

// listWatch lists and watches the Deployments, counting full lists.
func (t *Tracker) listWatch(ctx context.Context) cache.ListerWatcher {
	deployments := t.client.Deployments(t.opts.Namespace)
	selectors := func(o *metav1.ListOptions) {
		o.LabelSelector = t.opts.LabelSelector
		o.FieldSelector = t.opts.FieldSelector
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			selectors(&o)
			t.lists.Add(1)
			return deployments.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			selectors(&o)
			if o.SendInitialEvents != nil && *o.SendInitialEvents {
				t.lists.Add(1) // a streaming list: the full state arrives as a watch
			}
			return deployments.Watch(ctx, o)
		},
	}
	return cache.ToListWatcherWithWatchListSemantics(t.health.monitor(ctx, "deployments", lw), t.client)
}
