// Package hub shares one tracker per namespace among any number of
// subscribers, the Server-Sent Event streams of `serve`. The first subscriber
// of a namespace starts its tracker, the others share it, and it stops a
// linger after the last one leaves. With Options.ClusterWide, one tracker
// of all namespaces feeds every namespace's state instead (clusterwide.go).
//
// Each namespace numbers its events and keeps the last HistorySize of them
// in a ring, its history. A subscriber holds no queue, only a cursor: the
// number of the last event it was told. An event is recorded once and wakes
// every waiting subscriber by one broadcast, whatever their number; each
// then reads the history after its cursor. One that falls behind by more
// than QueueSize events has them coalesced to the latest per Deployment, or
// gets a fresh snapshot when that leaves more than half of QueueSize or its
// cursor fell out of the history: a slow reader never blocks the tracker or
// the other subscribers, costs the same small memory as any other, and
// still ends at the true state. A subscriber that reconnects with the ID of
// the last event it saw resumes from there.
//
// Each event is encoded once however many subscribers get it: its JSON and,
// with Options.Frame, its wire frame are shared read-only, and so is a
// snapshot's, once per state of the namespace.
//
// The hub knows nothing of HTTP: it hands out Messages with their JSON (and
// the frame the caller's Options.Frame made of it).
package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// ErrClosed is returned by Subscribe and Next once the hub is closed.
var ErrClosed = errors.New("hub closed")

// Defaults of Options.
const (
	DefaultLinger      = 30 * time.Second
	DefaultQueueSize   = 256
	DefaultHistorySize = 1024
)

// Source is what the hub needs of a tracker; *tracker.Tracker is one.
type Source interface {
	Start(ctx context.Context, sink tracker.Sink) (stop func(), err error)
	Relists() int64
}

// Options tune a hub; zero values take the defaults.
type Options struct {
	// Linger is how long a namespace's tracker keeps running after its last
	// subscriber left, so a page reload does not relist; zero stops it at
	// once.
	Linger time.Duration
	// QueueSize bounds the events handed to one subscriber as they are: a
	// longer backlog is coalesced, or replaced by a snapshot.
	QueueSize int
	// HistorySize bounds the events a namespace keeps for resuming.
	HistorySize int
	// NewSource makes the tracker of a namespace; nil means a tracker.Tracker
	// reading through the hub's client.
	NewSource func(namespace string) Source
	// OnError hears of a namespace's transient watch errors; nil ignores them.
	OnError func(namespace string, err error)
	// Diagnose, when set, makes each namespace's tracker also read its
	// ReplicaSets, Pods and Warning Events, one watch each however many
	// subscribers, to say why rollouts fail (see tracker.Options.Diagnose).
	Diagnose *tracker.Diagnose
	// OnDiagnosisOff hears once per tracker that the diagnosis cannot read
	// what it needs; nil ignores it.
	OnDiagnosisOff func(namespace string, err error)
	// OnServingOff hears once per tracker that serving (Services,
	// EndpointSlices) cannot be read; its summaries say so. nil ignores it.
	OnServingOff func(namespace string, err error)
	// Frame, when set, encodes a message for the wire (id is empty when the
	// message has none); Message.Frame holds what it returned, made once per
	// event or snapshot and shared by every subscriber.
	Frame func(kind Kind, id string, data []byte) []byte
	// ClusterWide, when set, follows every namespace with one tracker of
	// all namespaces instead of one per viewed namespace (see ClusterWide);
	// Linger then applies to it, after the last subscriber of any namespace.
	ClusterWide *ClusterWide
	// Workloads, when set, makes every tracker follow StatefulSets and
	// DaemonSets too (deployment.Kinds), read through it. Deployments stay
	// required; a kind the identity may not list is left out (OnKindOff),
	// so an identity without those rights sees its Deployments as before.
	Workloads tracker.WorkloadsGetter
	// OnKindOff hears once per tracker of a kind it left out; nil ignores
	// it.
	OnKindOff func(namespace, kind string, err error)
}

// follow sets the kinds a tracker of namespace ns ("" for all) follows.
func (o *Options) follow(topts *tracker.Options, ns string) {
	if o.Workloads == nil {
		return // Deployments alone
	}
	topts.Kinds, topts.Workloads = deployment.Kinds, o.Workloads
	off := o.OnKindOff
	topts.OnKindOff = func(kind string, err error) { // set, so that such a kind is skipped
		if off != nil {
			off(ns, kind, err)
		}
	}
}

// Stats are the hub's figures, for metrics.
type Stats struct {
	// Clients is the number of subscriptions.
	Clients int
	// Informers is the number of trackers running (the cluster-wide one
	// counts once).
	Informers int
	// Coalesced counts the events a slow subscriber never got because a
	// later state of the same Deployment, or a snapshot, replaced them:
	// those it has read the replacement of, and at least as many as it is
	// sure to lose of its backlog while it has not.
	Coalesced uint64
	// Relists counts the full relists of every tracker the hub ran after
	// their first list (tracker.Relists), including stopped ones.
	Relists int64
}

// Hub shares trackers among subscribers.
type Hub struct {
	opts   Options
	client appsv1client.DeploymentsGetter
	// fedOpts are opts for namespaces the cluster-wide tracker feeds.
	fedOpts Options
	ctx     context.Context // the trackers' lifetime
	cancel  context.CancelFunc

	mu         sync.Mutex // guards what follows; taken before namespace.mu
	closed     bool
	namespaces map[string]*namespace
	stopping   map[*namespace]struct{} // removed, tracker not yet stopped
	relisted   int64                   // relists of stopped trackers
	stops      sync.WaitGroup          // trackers being stopped
	run        *clusterRun             // the cluster-wide tracker's, if running

	clients   atomic.Int64
	informers atomic.Int64
	coalesced atomic.Uint64
}

// New returns a hub whose trackers read Deployments through client.
func New(client appsv1client.DeploymentsGetter, opts Options) *Hub {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.HistorySize <= 0 {
		opts.HistorySize = DefaultHistorySize
	}
	if opts.NewSource == nil {
		onError := opts.OnError
		opts.NewSource = func(ns string) Source {
			topts := tracker.Options{Namespace: ns, Diagnose: opts.Diagnose}
			opts.follow(&topts, ns)
			if onError != nil {
				topts.OnError = func(err error) { onError(ns, err) }
			}
			if off := opts.OnDiagnosisOff; off != nil {
				topts.OnDiagnosisOff = func(err error) { off(ns, err) }
			}
			if off := opts.OnServingOff; off != nil {
				topts.OnServingOff = func(err error) { off(ns, err) }
			}
			gaps := &serviceGapsRelay{}
			topts.OnServiceGaps = gaps.tell
			return &checkedSource{Tracker: tracker.New(client, topts), client: client, namespace: ns, gaps: gaps}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	fedOpts := opts
	fedOpts.NewSource = func(string) Source { return fed{} }
	return &Hub{
		opts: opts, client: client, fedOpts: fedOpts, ctx: ctx, cancel: cancel,
		namespaces: map[string]*namespace{},
		stopping:   map[*namespace]struct{}{},
	}
}

// checkedSource lists one Deployment before starting its tracker, so that a
// namespace the user may not read fails at once with the API server's error
// instead of an informer retrying in the background.
type checkedSource struct {
	*tracker.Tracker
	client    appsv1client.DeploymentsGetter
	namespace string
	gaps      *serviceGapsRelay
}

func (s *checkedSource) Start(ctx context.Context, sink tracker.Sink) (func(), error) {
	if _, err := s.client.Deployments(s.namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, err
	}
	if gs, ok := sink.(serviceGapsSink); ok {
		s.gaps.to = gs // before the tracker starts, which then tells it
	}
	return s.Tracker.Start(ctx, sink)
}

// serviceGapsSink hears the gaps of Services that select no pod; a
// namespace does.
type serviceGapsSink interface {
	OnServiceGaps([]deployment.ServiceGap)
}

// serviceGapsRelay passes a tracker's OnServiceGaps, an option set when it
// is made, to the sink it is started with.
type serviceGapsRelay struct{ to serviceGapsSink }

func (r *serviceGapsRelay) tell(gaps []deployment.ServiceGap) {
	if r.to != nil {
		r.to.OnServiceGaps(gaps)
	}
}

// Subscribe follows namespace ns, starting its tracker if no one else does;
// it returns once the tracker has synced, or with its error. lastEventID is
// the ID of the last Message the subscriber saw (SSE's Last-Event-ID), or
// empty: the first Message is then a snapshot, and also when lastEventID is
// not in the namespace's history any more (too old, or from an earlier
// tracker or server). Close the subscription when done.
func (h *Hub) Subscribe(ctx context.Context, ns, lastEventID string) (*Subscription, error) {
	if h.opts.ClusterWide != nil {
		return h.subscribeCluster(ctx, ns, lastEventID)
	}
	n, err := h.acquire(ns)
	if err != nil {
		return nil, err
	}
	select {
	case <-n.ready:
	case <-ctx.Done():
		h.release(n, nil)
		return nil, ctx.Err()
	}
	if n.err != nil {
		h.release(n, nil)
		return nil, n.err
	}
	return h.join(n, lastEventID)
}

// join subscribes to n, whose user the caller counted already.
func (h *Hub) join(n *namespace, lastEventID string) (*Subscription, error) {
	s := &Subscription{hub: h, ns: n}
	if !n.add(s, lastEventID) {
		h.release(n, nil)
		return nil, ErrClosed
	}
	h.clients.Add(1)
	return s, nil
}

// acquire counts one more user of namespace ns, creating it and starting its
// tracker if needed, and cancels a pending linger stop.
func (h *Hub) acquire(ns string) (*namespace, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	n := h.namespaces[ns]
	if n == nil {
		n = newNamespace(ns, h.opts)
		h.namespaces[ns] = n
		go h.start(n)
	}
	n.refs++
	cancelLinger(&n.linger, &n.lingerGen)
	return n, nil
}

func (h *Hub) start(n *namespace) {
	stop, err := n.src.Start(h.ctx, n)
	if err != nil {
		h.mu.Lock()
		if h.namespaces[n.name] == n {
			delete(h.namespaces, n.name) // the next subscriber tries again
		}
		h.mu.Unlock()
		n.err = fmt.Errorf("watching deployments in namespace %q: %w", n.name, err)
	} else {
		n.stop = stop
		h.informers.Add(1)
	}
	close(n.ready)
}

// release is the one place where a subscription ends: s (nil when the
// subscriber never got one) stops receiving, and a namespace nobody uses any
// more stops after the linger.
func (h *Hub) release(n *namespace, s *Subscription) {
	if s != nil && n.remove(s) {
		h.clients.Add(-1)
	}
	if h.opts.ClusterWide != nil {
		h.releaseCluster(n)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n.refs--
	if n.refs > 0 || h.namespaces[n.name] != n {
		return
	}
	h.lingerLocked(&n.linger, &n.lingerGen,
		func() bool { return n.refs == 0 && h.namespaces[n.name] == n },
		func() { h.removeLocked(n) })
}

// cancelLinger stops a linger timer and makes one that already fired
// stale. Called with h.mu held.
func cancelLinger(timer **time.Timer, gen *int) {
	*gen++
	if *timer != nil {
		(*timer).Stop()
		*timer = nil
	}
}

// lingerLocked calls stop after the linger (at once without one) if idle
// still holds and cancelLinger was not called meanwhile. stop is called
// with h.mu held.
func (h *Hub) lingerLocked(timer **time.Timer, gen *int, idle func() bool, stop func()) {
	if h.opts.Linger <= 0 {
		stop()
		return
	}
	g := *gen
	*timer = time.AfterFunc(h.opts.Linger, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if *gen == g && idle() {
			stop()
		}
	})
}

// removeLocked takes n out of the hub and stops its tracker in the background.
func (h *Hub) removeLocked(n *namespace) {
	delete(h.namespaces, n.name)
	h.stopping[n] = struct{}{}
	n.linger = nil
	h.stopLater(n.ready, func() func() { return n.stop }, n.src, func() { delete(h.stopping, n) })
}

// stopLater stops a tracker in the background once it has started or
// failed (ready), and keeps its relists; stop reads its stop function
// then, and done runs with h.mu held.
func (h *Hub) stopLater(ready <-chan struct{}, stop func() func(), src Source, done func()) {
	h.stops.Add(1)
	go func() {
		defer h.stops.Done()
		<-ready
		if stop := stop(); stop != nil {
			stop()
			h.informers.Add(-1)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		done()
		h.relisted += src.Relists()
	}()
}

// Close ends every subscription (their Next returns ErrClosed) and stops
// every tracker, waiting for them.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.stops.Wait()
		return
	}
	h.closed = true
	var all []*namespace
	for _, n := range h.namespaces {
		all = append(all, n)
		if n.linger != nil {
			n.linger.Stop()
		}
		h.removeLocked(n)
	}
	h.mu.Unlock()
	for _, n := range all {
		n.closeSubscribers()
	}
	h.mu.Lock()
	if r := h.run; r != nil {
		if r.linger != nil {
			r.linger.Stop()
		}
		h.stopRunLocked(r)
	}
	h.mu.Unlock()
	h.cancel()
	h.stops.Wait()
}

// Stats returns the hub's figures.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	relists := h.relisted
	for _, n := range h.namespaces {
		relists += n.src.Relists()
	}
	for n := range h.stopping {
		relists += n.src.Relists()
	}
	if h.run != nil {
		relists += h.run.src.Relists()
	}
	return Stats{
		Clients:   int(h.clients.Load()),
		Informers: int(h.informers.Load()),
		Coalesced: h.coalescedLocked(),
		Relists:   relists,
	}
}

// coalescedLocked is the coalesced events counted, and those subscribers
// have lost but not yet read what replaces them (Subscription.lostLocked),
// so a stalled subscriber's loss shows while it is stalled. Every
// namespace is locked while counting, so no subscriber moves from one term
// to the other meanwhile; only Stats, under h.mu, holds more than one.
func (h *Hub) coalescedLocked() uint64 {
	var lost uint64
	locked := make([]*namespace, 0, len(h.namespaces)+len(h.stopping))
	for _, n := range h.namespaces {
		locked = append(locked, n)
	}
	for n := range h.stopping {
		locked = append(locked, n)
	}
	for _, n := range locked {
		n.mu.Lock()
		lost += n.lostLocked()
	}
	total := h.coalesced.Load() + lost
	for _, n := range locked {
		n.mu.Unlock()
	}
	return total
}

// Upstream reports, per namespace with a running tracker (with the
// cluster-wide tracker: per namespace with a subscriber), whether its
// watch of the API server is live.
func (h *Hub) Upstream() map[string]bool {
	h.mu.Lock()
	all := make([]*namespace, 0, len(h.namespaces))
	for _, n := range h.namespaces {
		if h.opts.ClusterWide == nil || n.refs > 0 {
			all = append(all, n)
		}
	}
	h.mu.Unlock()
	out := make(map[string]bool, len(all))
	for _, n := range all {
		select {
		case <-n.ready:
			if n.err == nil {
				out[n.name] = n.live()
			}
		default: // still starting
		}
	}
	return out
}

// Running reports whether namespace ns has a tracker, started or starting;
// with the cluster-wide tracker, whether it runs and follows ns: a
// namespace it has Deployments of, or (with ClusterWide.Namespaces) one
// that exists.
func (h *Hub) Running(ns string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.opts.ClusterWide != nil {
		return h.knownNamespaceLocked(ns)
	}
	return h.namespaces[ns] != nil
}

// Statuses returns, while namespace ns has a tracker of its own that has
// synced (a watch per namespace), the status of each of its Deployments by
// name (not of its other workloads, which may share a name), diagnosis
// included; ok is false otherwise. It starts nothing.
func (h *Hub) Statuses(ns string) (statuses map[string]deployment.Status, ok bool) {
	h.mu.Lock()
	n := h.namespaces[ns]
	cluster := h.opts.ClusterWide != nil
	h.mu.Unlock()
	if n == nil || cluster {
		return nil, false
	}
	select {
	case <-n.ready:
		if n.err != nil {
			return nil, false
		}
	default:
		return nil, false
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	statuses = make(map[string]deployment.Status, len(n.state))
	for _, en := range n.state {
		if en.ev.Kind == deployment.KindDeployment || en.ev.Kind == "" {
			statuses[en.ev.Name] = en.ev.Status
		}
	}
	return statuses, true
}

// newEpoch returns a random tag that sets one namespace tracker's event IDs
// apart from those of any other tracker, before or after, in this server or
// another.
func newEpoch() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// formatID and parseID make and read event IDs: "<epoch>-<sequence>".
func formatID(epoch string, seq uint64) string {
	return epoch + "-" + strconv.FormatUint(seq, 10)
}

func parseID(id string) (epoch string, seq uint64, ok bool) {
	epoch, num, found := strings.Cut(id, "-")
	if !found {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(num, 10, 64)
	return epoch, seq, err == nil
}
