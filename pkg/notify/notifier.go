package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/tracker"
)

// Defaults of Options.
const (
	DefaultLeaseName     = "deploywatch-notify"
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
	// maxObservations bounds the status changes waiting for the leader's
	// loop (it waits only on the API server); beyond it the oldest go, and
	// the next change of the same Deployment still compares with the
	// recorded status.
	maxObservations = 10000
)

// Options configure a Notifier.
type Options struct {
	Deployments appsv1client.DeploymentsGetter
	ConfigMaps  corev1client.ConfigMapsGetter
	Leases      coordinationv1client.LeasesGetter

	// Namespaces to watch, one tracker each; empty watches all namespaces
	// with one tracker.
	Namespaces []string
	// On selects the kinds sent; every transition is still recorded.
	On []Kind

	Webhooks []string
	Format   Format
	// Client, Timeout, Attempts, backoffs and QueueSize tune delivery (see
	// DeliveryOptions); zero values take the defaults.
	Client                  *http.Client
	Timeout                 time.Duration
	Attempts                int
	BaseBackoff, MaxBackoff time.Duration
	QueueSize               int

	// LeaseNamespace holds the Lease (LeaseName) and the ConfigMap of
	// records (LeaseName + "-state").
	LeaseNamespace, LeaseName string
	// Identity names this replica in the Lease; unique per replica.
	Identity                                  string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration

	Logger *slog.Logger
	// Now stamps messages; nil means time.Now.
	Now func() time.Time
}

// Notifier watches Deployments on every replica and, on the leader only,
// turns their status transitions into notifications.
type Notifier struct {
	opts    Options
	on      map[Kind]bool
	log     *slog.Logger
	deliver *Deliverer
	store   *store
	metrics *metrics

	mu        sync.Mutex
	state     map[string]deployment.Summary // every tracked Deployment, by namespace/name
	leading   bool
	pending   []observation // changes waiting for the leader's loop
	delivered []Message     // deliveries whose records are still marked pending
	skipped   int64         // observations dropped from a full pending list
	wake      chan struct{}

	wg     sync.WaitGroup
	leadMu sync.Mutex // one lead loop at a time
}

// observation is one status change (or deletion) seen by a tracker.
type observation struct {
	s       deployment.Summary
	deleted bool
	// added: created while this replica led, so its history is known to
	// start here (a new Deployment's first rollout is "started").
	added bool
}

// New checks opts and builds a Notifier; Start runs it.
func New(opts Options) (*Notifier, error) {
	var problems []error
	if opts.Deployments == nil || opts.ConfigMaps == nil || opts.Leases == nil {
		problems = append(problems, errors.New("notify: Deployments, ConfigMaps and Leases clients are required"))
	}
	if len(opts.Webhooks) == 0 {
		problems = append(problems, errors.New("notify: no webhook"))
	}
	for _, u := range opts.Webhooks {
		if err := ValidateWebhook(u); err != nil {
			problems = append(problems, err)
		}
	}
	if opts.LeaseNamespace == "" || opts.Identity == "" {
		problems = append(problems, errors.New("notify: LeaseNamespace and Identity are required"))
	}
	if opts.LeaseName == "" {
		opts.LeaseName = DefaultLeaseName
	}
	if opts.LeaseDuration == 0 && opts.RenewDeadline == 0 && opts.RetryPeriod == 0 {
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod
	}
	if err := ValidateTimings(opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod); err != nil {
		problems = append(problems, err)
	}
	if len(opts.On) == 0 {
		opts.On = DefaultKinds
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Notifier{
		opts:  opts,
		on:    map[Kind]bool{},
		log:   opts.Logger.With("identity", opts.Identity),
		store: &store{client: opts.ConfigMaps, namespace: opts.LeaseNamespace, name: opts.LeaseName + "-state"},
		state: map[string]deployment.Summary{},
		wake:  make(chan struct{}, 1),
	}
	for _, k := range opts.On {
		n.on[k] = true
	}
	n.deliver = NewDeliverer(DeliveryOptions{
		URLs: opts.Webhooks, Format: opts.Format, Client: opts.Client, Timeout: opts.Timeout,
		Attempts: opts.Attempts, BaseBackoff: opts.BaseBackoff, MaxBackoff: opts.MaxBackoff,
		QueueSize: opts.QueueSize, Allowed: n.isLeading, Logger: n.log,
	})
	n.metrics = newMetrics(n)
	return n, nil
}

// Collectors are the notifier's metrics, for the server's registry.
func (n *Notifier) Collectors() []prometheus.Collector { return n.metrics.collectors() }

// Start starts the trackers and waits for their first sync, returning the
// first list's error (e.g. Forbidden); then it runs for the leadership and
// delivers in the background until ctx ends. Wait waits for that end, the
// Lease's release included.
func (n *Notifier) Start(ctx context.Context) error {
	namespaces := n.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{""}
	}
	var stops []func()
	for _, ns := range namespaces {
		t := tracker.New(n.opts.Deployments, tracker.Options{
			Namespace:   ns,
			SkipInitial: true, // OnSynced carries them
			OnError: func(err error) {
				n.log.Warn("notifications lost the watch, retrying", "namespace", ns, "error", err)
			},
		})
		stop, err := t.Start(ctx, n)
		if err != nil {
			for _, s := range stops {
				s()
			}
			return fmt.Errorf("watching %s for notifications: %w", tracker.Options{Namespace: ns}.Describe(), err)
		}
		stops = append(stops, stop)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: n.opts.LeaseNamespace, Name: n.opts.LeaseName},
		Client:     n.opts.Leases,
		LockConfig: resourcelock.ResourceLockConfig{Identity: n.opts.Identity},
	}
	n.wg.Add(3)
	go func() {
		defer n.wg.Done()
		<-ctx.Done()
		for _, s := range stops {
			s()
		}
	}()
	go func() { defer n.wg.Done(); n.deliver.Run(ctx) }()
	go func() { defer n.wg.Done(); n.elect(ctx, lock) }()
	return nil
}

// Wait returns once everything Start started has ended.
func (n *Notifier) Wait() { n.wg.Wait() }

// elect runs for the leadership until ctx ends, again after every loss.
func (n *Notifier) elect(ctx context.Context, lock resourcelock.Interface) {
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   n.opts.LeaseDuration,
			RenewDeadline:   n.opts.RenewDeadline,
			RetryPeriod:     n.opts.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            n.opts.LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					// Run starts this in a goroutine it does not wait for.
					n.wg.Add(1)
					defer n.wg.Done()
					n.leadMu.Lock() // a previous term's loop may still be ending
					defer n.leadMu.Unlock()
					n.log.Info("leading: this replica sends the notifications", "lease", n.opts.LeaseNamespace+"/"+n.opts.LeaseName)
					n.metrics.setLeading(true)
					n.lead(lctx)
				},
				OnStoppedLeading: func() { n.metrics.setLeading(false) },
				OnNewLeader: func(identity string) {
					n.metrics.setLeader(identity)
					if identity != n.opts.Identity {
						n.log.Info("notification leader", "leader", identity)
					}
				},
			},
		})
		if err != nil { // ruled out by New's checks
			n.log.Error("cannot run leader election", "error", err)
			return
		}
		le.Run(ctx)
		if ctx.Err() == nil {
			n.log.Warn("lost the notification lease; running for it again")
		}
	}
	n.log.Info("left the notification election")
}

func (n *Notifier) isLeading() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leading
}

// OnEvent is the trackers' Sink: it keeps the state and, on the leader,
// queues status changes. It never blocks on the network.
func (n *Notifier) OnEvent(ev deployment.Event) {
	key := ev.Key()
	n.mu.Lock()
	defer n.mu.Unlock()
	deleted := ev.Type == deployment.Deleted
	if deleted {
		delete(n.state, key)
	} else {
		prev, known := n.state[key]
		n.state[key] = ev.Summary
		if known && prev.UID == ev.UID && prev.Status == ev.Status {
			return
		}
	}
	if !n.leading {
		return // a new leader starts from the state, see lead
	}
	if len(n.pending) >= maxObservations {
		n.pending = n.pending[1:]
		n.skipped++
	}
	n.pending = append(n.pending, observation{s: ev.Summary, deleted: deleted, added: ev.Type == deployment.Added})
	n.signal()
}

// OnSynced is the other half of the Sink.
func (n *Notifier) OnSynced(snapshot []deployment.Summary) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range snapshot {
		n.state[s.Key()] = s
	}
}

func (n *Notifier) signal() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// lead is the leader's loop, until ctx (the leadership) ends. It first
// catches up: the recorded status of every Deployment against its current
// one, covering what changed while no replica led, and resends what the
// previous leader claimed but may not have delivered. Then it handles
// changes as they come.
func (n *Notifier) lead(ctx context.Context) {
	for {
		err := n.store.load(ctx)
		if err == nil {
			break
		}
		n.log.Warn("cannot read the notification records, retrying", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.opts.RetryPeriod):
		}
	}
	n.mu.Lock()
	n.leading = true
	current := slices.Collect(maps.Values(n.state))
	n.pending, n.delivered = nil, nil
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.leading = false
		n.pending, n.delivered = nil, nil
		n.mu.Unlock()
	}()

	// Resend first: those messages are older than any catch-up.
	for _, r := range n.store.data {
		if r.Pending && r.Message != nil {
			n.log.Info("resending a notification the previous leader may not have delivered", "id", r.Message.ID)
			n.deliver.Enqueue(*r.Message, n.done)
		}
	}
	obs := make([]observation, 0, len(current))
	for _, s := range current {
		obs = append(obs, observation{s: s})
	}
	// Records of Deployments deleted while no one led.
	seen := map[string]bool{}
	for _, s := range current {
		seen[recordKey(s.Namespace, s.Name)] = true
	}
	for k, r := range n.store.data {
		if !seen[k] && n.watches(r.Namespace) {
			obs = append(obs, observation{s: deployment.Summary{Namespace: r.Namespace, Name: r.Name, UID: r.UID}, deleted: true})
		}
	}
	n.apply(ctx, obs, nil)

	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		}
		n.mu.Lock()
		obs, delivered := n.pending, n.delivered
		n.pending, n.delivered = nil, nil
		n.mu.Unlock()
		n.apply(ctx, obs, delivered)
	}
}

func (n *Notifier) watches(ns string) bool {
	return len(n.opts.Namespaces) == 0 || slices.Contains(n.opts.Namespaces, ns)
}

// done is told by the deliverer that m needs no resending.
func (n *Notifier) done(m Message) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.leading {
		n.delivered = append(n.delivered, m)
		n.signal()
	}
}

// apply decides the transitions of obs against the records, writes the
// records (claiming the transitions) and only then queues their messages.
// On a Conflict another replica wrote: read again and decide again, so a
// transition it claimed is not claimed twice.
func (n *Notifier) apply(ctx context.Context, obs []observation, delivered []Message) {
	for ctx.Err() == nil {
		data := maps.Clone(n.store.data)
		changed := false
		var msgs []Message
		for _, o := range obs {
			m, c := n.decide(data, o)
			changed = changed || c
			if m != nil {
				msgs = append(msgs, *m)
			}
		}
		for _, m := range delivered {
			k := recordKey(m.Namespace, m.Deployment)
			if r, ok := data[k]; ok && r.Pending && r.Message != nil && r.Message.ID == m.ID {
				r.Pending, r.Message = false, nil
				data[k] = r
				changed = true
			}
		}
		if !changed {
			return
		}
		err := n.store.save(ctx, data)
		if err == nil {
			for _, m := range msgs {
				n.deliver.Enqueue(m, n.done)
			}
			return
		}
		if !apierrors.IsConflict(err) {
			n.log.Warn("cannot write the notification records, retrying", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(n.opts.RetryPeriod):
			}
		}
		if err := n.store.load(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("cannot read the notification records, retrying", "error", err)
		}
	}
}

// decide updates data for o and returns the message to send, if any, and
// whether data changed. A Deployment seen for the first time (or a new one
// under an old name) is recorded without a message, its history unknown,
// unless it was created while this replica led: then it comes from no
// status at all, and a new Deployment's rollout has "started". One already
// Failed is notified whatever its history: it may have been created and
// failed during a handover, and a failure is the one alert not to miss.
func (n *Notifier) decide(data map[string]record, o observation) (*Message, bool) {
	s := o.s
	k := recordKey(s.Namespace, s.Name)
	r, known := data[k]
	if o.deleted {
		if known && (s.UID == "" || r.UID == s.UID) {
			delete(data, k)
			return nil, true
		}
		return nil, false
	}
	now := n.opts.Now()
	baseline := func() (*Message, bool) {
		data[k] = record{Namespace: s.Namespace, Name: s.Name, UID: s.UID, Status: s.Status, Time: now.UTC()}
		return nil, true
	}
	fresh := !known || r.UID != s.UID
	if fresh && !o.added && s.Status != deployment.Failed {
		return baseline()
	}
	var from deployment.Status
	if !fresh {
		from = r.Status
	}
	kind := KindOf(from, s.Status)
	switch {
	case kind == "" && fresh:
		return baseline()
	case kind == "":
		return nil, false // e.g. Running -> Scaling: compare the next status with Running still
	}
	m := newMessage(kind, from, s, now)
	r = record{Namespace: s.Namespace, Name: s.Name, UID: s.UID, Status: s.Status, Kind: kind, Time: now.UTC()}
	if !n.on[kind] {
		data[k] = r
		return nil, true
	}
	r.Pending, r.Message = true, &m
	data[k] = r
	return &m, true
}
