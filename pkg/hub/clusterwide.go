package hub

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// ClusterWide makes a hub follow every namespace with one tracker of all
// namespaces (one watch per resource for the whole cluster) instead of one
// tracker per viewed namespace. Each namespace keeps its own history, IDs,
// queues and health as with a tracker of its own; namespaces nobody views
// are known too, so their first subscriber gets a snapshot at once, with no
// request to the API server. It needs an identity that may list and watch
// Deployments (and, with Options.Diagnose, ReplicaSets, Pods and Events)
// in every namespace.
type ClusterWide struct {
	// Namespaces, when set, also lists and watches the Namespace objects,
	// so that Hub.Namespaces names those without Deployments.
	Namespaces corev1client.NamespacesGetter
	// NewSource makes the tracker of all namespaces; nil means a
	// tracker.Tracker reading through the hub's client.
	NewSource func() Source
}

// clusterRun is one run of the cluster-wide tracker, from the first
// subscriber to the linger after the last: it routes each event to the
// state of its namespace in the hub, creating it when needed.
type clusterRun struct {
	h   *Hub
	src Source
	// nsInformer follows the Namespace objects; nil without
	// ClusterWide.Namespaces.
	nsInformer cache.SharedIndexInformer

	ready chan struct{} // closed once the tracker has synced or failed
	err   error         // why it failed; written before ready is closed
	stop  func()        // stops it all; written before ready is closed

	// Guarded by Hub.mu.
	refs      int // subscribers and subscribers-to-be of every namespace
	linger    *time.Timer
	lingerGen int
	health    tracker.Health            // as last told; zero: live
	status    map[string]workloadStatus // of every workload, by key
	count     map[string]int            // workloads per namespace
	// serviceGaps are the Service gaps as last told, by namespace.
	serviceGaps map[string][]deployment.ServiceGap
}

// workloadStatus is one workload's kind and status, as the run last heard.
type workloadStatus struct {
	kind   string
	status deployment.Status
}

// fed is the Source of a namespace fed by the cluster-wide tracker: it has
// no tracker of its own to start, so the hub never starts it.
type fed struct{}

func (fed) Start(context.Context, tracker.Sink) (func(), error) {
	return nil, fmt.Errorf("a namespace fed by the cluster-wide tracker has no tracker to start")
}

func (fed) Relists() int64 { return 0 }

func (h *Hub) newClusterRun() *clusterRun {
	r := &clusterRun{
		h: h, ready: make(chan struct{}),
		status: map[string]workloadStatus{}, count: map[string]int{},
	}
	cw := h.opts.ClusterWide
	if cw.NewSource != nil {
		r.src = cw.NewSource()
	} else {
		r.src = h.clusterTracker(r)
	}
	if cw.Namespaces != nil {
		r.nsInformer = namespaceInformer(cw.Namespaces)
	}
	return r
}

// clusterTracker is the default tracker of all namespaces, for run r.
func (h *Hub) clusterTracker(r *clusterRun) Source {
	topts := tracker.Options{Diagnose: h.opts.Diagnose, OnServiceGaps: r.OnServiceGaps}
	h.opts.follow(&topts, "")
	if onError := h.opts.OnError; onError != nil {
		topts.OnError = func(err error) { onError("", err) }
	}
	if off := h.opts.OnDiagnosisOff; off != nil {
		topts.OnDiagnosisOff = func(err error) { off("", err) }
	}
	if off := h.opts.OnServingOff; off != nil {
		topts.OnServingOff = func(err error) { off("", err) }
	}
	return tracker.New(h.client, topts)
}

// namespaceInformer keeps the names of the namespaces, nothing else.
func namespaceInformer(c corev1client.NamespacesGetter) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return c.Namespaces().List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return c.Namespaces().Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformerWithOptions(cache.ToListWatcherWithWatchListSemantics(lw, c), &corev1.Namespace{},
		cache.SharedIndexInformerOptions{ObjectDescription: "namespaces"})
	_ = inf.SetTransform(func(obj any) (any, error) { // cannot fail before Run
		if ns, ok := obj.(*corev1.Namespace); ok {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name, ResourceVersion: ns.ResourceVersion}}, nil
		}
		return obj, nil
	})
	return inf
}

// startRun starts r's tracker (and namespace informer) and closes r.ready.
func (h *Hub) startRun(r *clusterRun) {
	ctx, cancel := context.WithCancel(h.ctx)
	stopTracker, err := r.src.Start(ctx, r)
	if err == nil && r.nsInformer != nil {
		nctx, stopNS := context.WithCancel(ctx)
		failed := make(chan struct{})
		var once sync.Once
		// Namespaces that cannot be listed (RBAC) only cost Namespaces its
		// answer: the informer would retry forever.
		inf := r.nsInformer
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			if !inf.HasSynced() && tracker.Permanent(err) {
				once.Do(func() { close(failed) })
			}
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			inf.RunWithContext(nctx)
		}()
		synced := make(chan struct{})
		go func() {
			if cache.WaitForCacheSync(nctx.Done(), inf.HasSynced) {
				close(synced)
			}
		}()
		select {
		case <-synced:
		case <-failed:
			stopNS()
			<-done
			r.nsInformer = nil
		case <-ctx.Done():
			err = ctx.Err()
		}
		stopInformer := stopTracker
		stopTracker = func() {
			if stopInformer != nil {
				stopInformer()
			}
			stopNS()
			<-done
		}
	}
	if err != nil {
		cancel()
		if stopTracker != nil {
			stopTracker()
		}
		h.mu.Lock()
		if h.run == r {
			h.run = nil // the next subscriber tries again
			clear(h.namespaces)
		}
		h.mu.Unlock()
		r.err = fmt.Errorf("watching deployments in all namespaces: %w", err)
	} else {
		r.stop = func() { stopTracker(); cancel() }
		h.informers.Add(1)
	}
	close(r.ready)
}

// OnEvent routes e to its namespace. Called one at a time, in order, by the
// tracker; the namespace is told outside the hub's lock, so a namespace
// with many subscribers does not hold up the others' subscribers. The
// status that Namespaces counts changes only after the namespace has heard:
// a subscriber sent there by the counts finds the workload in its snapshot.
func (r *clusterRun) OnEvent(e deployment.Event) {
	h := r.h
	ns, key := e.Namespace, e.Key()
	h.mu.Lock()
	if h.run != r {
		h.mu.Unlock()
		return // a run being stopped
	}
	// count keeps the namespace's state alive from here on; status is
	// changed below, and only this goroutine changes either.
	_, known := r.status[key]
	switch {
	case e.Type == deployment.Deleted && known:
		if r.count[ns]--; r.count[ns] == 0 {
			delete(r.count, ns)
		}
	case e.Type != deployment.Deleted && !known:
		r.count[ns]++
	}
	n := h.namespaces[ns]
	if n == nil {
		n = h.fedNamespaceLocked(ns)
	}
	if n.refs == 0 && r.count[ns] == 0 {
		// Nothing left to show and nobody to show it to: forgotten, as a
		// namespace nobody ever looked at.
		delete(h.namespaces, ns)
	}
	h.mu.Unlock()
	n.OnEvent(e)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.run != r {
		return
	}
	if e.Type == deployment.Deleted {
		delete(r.status, key)
	} else {
		r.status[key] = workloadStatus{kind: e.Kind, status: e.Status}
	}
}

// OnHealth tells every namespace: they all share the cluster-wide watches.
func (r *clusterRun) OnHealth(hl tracker.Health) {
	h := r.h
	h.mu.Lock()
	if h.run != r {
		h.mu.Unlock()
		return
	}
	r.health = hl
	all := make([]*namespace, 0, len(h.namespaces))
	for _, n := range h.namespaces {
		all = append(all, n)
	}
	h.mu.Unlock()
	for _, n := range all {
		n.OnHealth(hl)
	}
}

// OnServiceGaps routes the Service gaps to their namespaces: each known
// namespace whose gaps changed is told its own (none: an empty list), and
// a namespace known later gets its own when it is (fedNamespaceLocked).
func (r *clusterRun) OnServiceGaps(gaps []deployment.ServiceGap) {
	by := map[string][]deployment.ServiceGap{}
	for _, g := range gaps {
		by[g.Namespace] = append(by[g.Namespace], g)
	}
	h := r.h
	h.mu.Lock()
	if h.run != r {
		h.mu.Unlock()
		return
	}
	type told struct {
		n    *namespace
		gaps []deployment.ServiceGap
	}
	var tell []told
	for ns := range by {
		if n := h.namespaces[ns]; n != nil && !slices.Equal(by[ns], r.serviceGaps[ns]) {
			tell = append(tell, told{n, by[ns]})
		}
	}
	for ns := range r.serviceGaps {
		if n := h.namespaces[ns]; n != nil && by[ns] == nil {
			tell = append(tell, told{n, nil})
		}
	}
	r.serviceGaps = by
	h.mu.Unlock()
	for _, t := range tell {
		t.n.OnServiceGaps(t.gaps)
	}
}

// OnSynced needs nothing: the ADDED events before it built every state.
func (r *clusterRun) OnSynced([]deployment.Summary) {}

// fedNamespaceLocked adds the state of namespace ns, fed by the run, with
// the watches' health if they are not live.
func (h *Hub) fedNamespaceLocked(ns string) *namespace {
	n := newNamespace(ns, h.fedOpts)
	close(n.ready)
	h.namespaces[ns] = n
	if hl := h.run.health; hl.State != "" && hl.State != tracker.Live {
		n.OnHealth(hl)
	}
	if gaps := h.run.serviceGaps[ns]; len(gaps) > 0 {
		n.OnServiceGaps(gaps)
	}
	return n
}

// subscribeCluster is Subscribe with the cluster-wide tracker.
func (h *Hub) subscribeCluster(ctx context.Context, ns, lastEventID string) (*Subscription, error) {
	r, err := h.acquireRun()
	if err != nil {
		return nil, err
	}
	select {
	case <-r.ready:
	case <-ctx.Done():
		h.mu.Lock()
		h.releaseRunLocked(r)
		h.mu.Unlock()
		return nil, ctx.Err()
	}
	h.mu.Lock()
	if r.err != nil || h.closed {
		h.releaseRunLocked(r)
		h.mu.Unlock()
		if r.err != nil {
			return nil, r.err
		}
		return nil, ErrClosed
	}
	n := h.namespaces[ns]
	if n == nil {
		n = h.fedNamespaceLocked(ns)
	}
	n.refs++
	h.mu.Unlock()
	return h.join(n, lastEventID)
}

// acquireRun counts one more subscriber of the cluster-wide tracker,
// starting it if needed, and cancels a pending linger stop.
func (h *Hub) acquireRun() (*clusterRun, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	r := h.run
	if r == nil {
		r = h.newClusterRun()
		h.run = r
		go h.startRun(r)
	}
	r.refs++
	cancelLinger(&r.linger, &r.lingerGen)
	return r, nil
}

// releaseCluster is release with the cluster-wide tracker: a namespace
// with no subscriber and no Deployment is forgotten at once, and the
// tracker stops a linger after the last subscriber of any namespace left.
func (h *Hub) releaseCluster(n *namespace) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n.refs--
	r := h.run
	if n.refs == 0 && h.namespaces[n.name] == n && (r == nil || r.count[n.name] == 0) {
		delete(h.namespaces, n.name)
	}
	if r != nil {
		h.releaseRunLocked(r)
	}
}

func (h *Hub) releaseRunLocked(r *clusterRun) {
	r.refs--
	if r.refs > 0 || h.run != r {
		return
	}
	h.lingerLocked(&r.linger, &r.lingerGen,
		func() bool { return r.refs == 0 && h.run == r },
		func() { h.stopRunLocked(r) })
}

// stopRunLocked forgets every namespace (none has a subscriber) and stops
// r in the background.
func (h *Hub) stopRunLocked(r *clusterRun) {
	h.run = nil
	r.linger = nil
	clear(h.namespaces) // none has a subscriber: Close ended theirs before
	h.stopLater(r.ready, func() func() { return r.stop }, r.src, func() {})
}

// Namespaces returns, while the cluster-wide tracker runs with
// ClusterWide.Namespaces, every namespace of the cluster with its
// Deployments (not its other workloads) counted by status, from what the watches hold: no request to
// the API server. ok is false otherwise.
func (h *Hub) Namespaces() (counts map[string]map[deployment.Status]int, ok bool) {
	h.mu.Lock()
	r := h.run
	h.mu.Unlock()
	if r == nil {
		return nil, false
	}
	select {
	case <-r.ready:
		if r.err != nil || r.nsInformer == nil {
			return nil, false
		}
	default:
		return nil, false
	}
	names := r.nsInformer.GetStore().ListKeys()
	sort.Strings(names)
	counts = make(map[string]map[deployment.Status]int, len(names))
	for _, ns := range names {
		counts[ns] = map[deployment.Status]int{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.run != r {
		return nil, false
	}
	for key, st := range r.status {
		if st.kind != deployment.KindDeployment && st.kind != "" {
			continue // the list counts Deployments, as without this watch
		}
		ns, _, _ := strings.Cut(key, "/")
		if c, ok := counts[ns]; ok {
			c[st.status]++
		}
	}
	return counts, true
}

// CountNamespaces is Namespaces for a caller that needs the counts now,
// such as serve's namespace list: it starts the cluster-wide tracker if it
// is not running, waits for it (or ctx), and leaves it running for the
// linger, as a subscriber that left would. A list polled every few seconds
// so keeps one set of watches running, shared with every stream and
// poller, and its counts carry the diagnosis: a rollout whose pods cannot
// start counts as Failing, as on its namespace's page, not as Progressing.
// ok is false without ClusterWide or a namespace list, or when the tracker
// fails or ctx ends first.
func (h *Hub) CountNamespaces(ctx context.Context) (counts map[string]map[deployment.Status]int, ok bool) {
	if h.opts.ClusterWide == nil {
		return nil, false
	}
	r, err := h.acquireRun()
	if err != nil {
		return nil, false
	}
	defer func() {
		h.mu.Lock()
		h.releaseRunLocked(r)
		h.mu.Unlock()
	}()
	select {
	case <-r.ready:
	case <-ctx.Done():
		return nil, false
	}
	return h.Namespaces()
}

// ClusterWide reports whether the hub follows every namespace with one
// tracker (Options.ClusterWide): its identity may watch every namespace.
func (h *Hub) ClusterWide() bool { return h.opts.ClusterWide != nil }

// NamespaceExists tells from the cluster-wide watches, while they run or
// start (waiting for them then), whether namespace ns exists: a stream's
// check then costs the API server nothing. It never starts them, so a
// request that is refused starts no watch. ok is false when the hub cannot
// tell (a watch per namespace, none running, no namespace list, the
// watches failed or ctx ended): ask the API server.
func (h *Hub) NamespaceExists(ctx context.Context, ns string) (exists, ok bool) {
	h.mu.Lock()
	r := h.run
	h.mu.Unlock()
	if r == nil {
		return false, false
	}
	select {
	case <-r.ready:
	case <-ctx.Done():
		return false, false
	}
	if r.err != nil || r.nsInformer == nil {
		return false, false
	}
	_, exists, _ = r.nsInformer.GetStore().GetByKey(ns)
	return exists, true
}

// knownNamespace reports whether the cluster-wide tracker runs, synced,
// and ns is a namespace it follows or (with ClusterWide.Namespaces) one
// that exists.
func (h *Hub) knownNamespaceLocked(ns string) bool {
	r := h.run
	if r == nil {
		return false
	}
	select {
	case <-r.ready:
	default:
		return false
	}
	if r.err != nil {
		return false
	}
	if h.namespaces[ns] != nil {
		return true
	}
	if r.nsInformer == nil {
		return false
	}
	_, exists, _ := r.nsInformer.GetStore().GetByKey(ns)
	return exists
}
