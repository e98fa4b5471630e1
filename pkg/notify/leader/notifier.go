// Package leader is the bookkeeping behind serve's rollout notifications:
// it elects one of several `serve` replicas with a coordination.k8s.io
// Lease, decides on that leader which status transitions of workloads
// (Deployments, StatefulSets, DaemonSets) to notify (into Failed, out of
// Failed, a rollout starting, completing or Failing), and keeps in sharded
// ConfigMaps what it claimed and has not yet seen delivered, so that the
// next leader sends it again. pkg/notify/webhook posts the messages. It reuses pkg/tracker for watching and knows nothing
// of cobra or HTTP serving.
//
// What it promises, and no more:
//   - One sender per Lease term: a replica claims and sends only in the
//     term it read from the Lease when it took it, and stamps its claims
//     with that term. A deposed replica that has not noticed yet may still
//     claim and send in its own term until its next write meets the newer
//     term (the fence, below).
//   - At least once, with an idempotency key: a claim is written before
//     its message is queued and removed only after every webhook answered
//     (or it was given up on); whoever leads sends a claim it finds pending
//     again, with the same ID, which every post carries as its
//     Idempotency-Key. So a message can arrive twice with the same key:
//     when a leader delivers it and dies or is deposed before it records
//     the delivery, or when a deposed leader delivers a claim the new one
//     resends.
//   - Lost when the queue overflows: a message dropped from the sender's
//     full queue counts as done and is not sent again; so does one its
//     webhook refuses (4xx) or that fails every retry.
//
// The protocol. A Lease elects the sender; its term is the Lease's UID,
// spec.leaseTransitions and holder, read once it is acquired. The state is
// Shards ConfigMaps (<lease>-state-N, a record per workload in the shard
// its key hashes to), each written only with the resourceVersion last read
// and stamped with the writer's term.
//   - Claim: the leader writes a transition into its record (status, seq+1,
//     the message pending) before sending it, and removes the message once
//     delivered. Of two replicas that both believe they lead, only one
//     writes a given version of a shard.
//   - Fence: a new leader first writes its term into every shard. A deposed
//     leader's next write there conflicts; it reads the shard again, finds a
//     term the Lease confirms and stops. A claim it wrote before the fence
//     is read by the fencing write.
//   - Resend: whenever a leader reads a shard (the fence, a Conflict), it
//     resends every pending message there it has not queued itself, as
//     claimed (ID, seq, term). So a claim is delivered unless given up on.
//
// A record also keeps the resourceVersion its status was decided on, so a
// lagging watch (a resumed leader's queued events, a new leader's informer
// behind the old one's) does not read a past state as a transition.
//
// Receivers that must act once keep, per workload UID, the highest seq
// handled and drop the rest: that drops a repeat and a late, stale send.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
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
	// the next change of the same workload still compares with the
	// recorded status.
	maxObservations = 10000
)

// Options configure a Notifier.
type Options struct {
	Deployments appsv1client.DeploymentsGetter
	// Workloads, when set, adds StatefulSets and DaemonSets to the
	// Deployments followed; a kind of them this identity may not list is
	// left out with a warning in the log (see tracker.Options.OnKindOff).
	Workloads tracker.WorkloadsGetter
	// Diagnose, when set, lets the trackers tell Failing (see
	// tracker.Options.Diagnose), for the failing kind.
	Diagnose   *tracker.Diagnose
	ConfigMaps corev1client.ConfigMapsGetter
	Leases     coordinationv1client.LeasesGetter

	// Namespaces to watch, one tracker each; empty watches all namespaces
	// with one tracker.
	Namespaces []string
	// On selects the kinds sent; every transition is still recorded.
	On []webhook.Kind

	// Webhook is how messages are posted (URLs, format, retries, queue).
	// New sets its Allowed to "this replica leads", and its Logger to
	// Logger's when unset.
	Webhook webhook.Options

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

// Notifier watches workloads on every replica and, on the leader only,
// turns their status transitions into notifications.
type Notifier struct {
	opts    Options
	on      map[webhook.Kind]bool
	log     *slog.Logger
	sender  sender
	store   *store
	metrics *metrics

	mu    sync.Mutex
	state map[string]deployment.Summary // every tracked workload, by Summary.Key
	// kindsOff are the kinds a tracker could not list, keyed
	// "namespace/Kind" ("/Kind" for all namespaces): catch-up leaves their
	// records alone.
	kindsOff  map[string]bool
	leading   bool
	pending   []observation     // changes waiting for the leader's loop
	delivered []webhook.Message // deliveries whose records still hold them as pending
	skipped   int64             // observations dropped from a full pending list
	wake      chan struct{}

	wg     sync.WaitGroup
	leadMu sync.Mutex // one lead loop at a time

	// Owned by the lead loop.
	term     term            // this leadership's
	inflight map[string]bool // IDs queued in this term whose records may still hold them
}

// sender is what the leader needs of a *webhook.Sender; tests put a fake
// here to control when a delivery is told done.
type sender interface {
	// Enqueue queues m; done is told once m needs no resending.
	Enqueue(m webhook.Message, done func(webhook.Message))
	Run(ctx context.Context)
	Collectors() []prometheus.Collector
}

// observation is one status change (or deletion) seen by a tracker.
type observation struct {
	s       deployment.Summary
	deleted bool
	// added: created while this replica led, so its history is known to
	// start here (a new workload's first rollout is "started").
	added bool
}

// New checks opts and builds a Notifier; Start runs it.
func New(opts Options) (*Notifier, error) {
	var problems []error
	if opts.Deployments == nil || opts.ConfigMaps == nil || opts.Leases == nil {
		problems = append(problems, errors.New("leader: Deployments, ConfigMaps and Leases clients are required"))
	}
	if opts.LeaseNamespace == "" || opts.Identity == "" {
		problems = append(problems, errors.New("leader: LeaseNamespace and Identity are required"))
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
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Notifier{
		opts:     opts,
		on:       map[webhook.Kind]bool{},
		log:      opts.Logger.With("identity", opts.Identity),
		store:    &store{client: opts.ConfigMaps, namespace: opts.LeaseNamespace, base: opts.LeaseName},
		state:    map[string]deployment.Summary{},
		kindsOff: map[string]bool{},
		wake:     make(chan struct{}, 1),
	}
	for _, k := range opts.On {
		n.on[k] = true
	}
	wo := opts.Webhook
	wo.Allowed = n.isLeading
	if wo.Logger == nil {
		wo.Logger = n.log
	}
	s, err := webhook.New(wo)
	if err != nil {
		problems = append(problems, err)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	n.sender = s
	n.metrics = newMetrics(n)
	return n, nil
}

// Collectors are the notifier's metrics and its sender's, for the server's
// registry.
func (n *Notifier) Collectors() []prometheus.Collector {
	return append(n.metrics.collectors(), n.sender.Collectors()...)
}

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
		topts := tracker.Options{
			Namespace:   ns,
			Diagnose:    n.opts.Diagnose,
			SkipInitial: true, // OnSynced carries them
			OnError: func(err error) {
				n.log.Warn("notifications lost the watch, retrying", "namespace", ns, "error", err)
			},
		}
		if n.opts.Workloads != nil {
			topts.Kinds, topts.Workloads = deployment.Kinds, n.opts.Workloads
			topts.OnKindOff = func(kind string, err error) { n.kindOff(ns, kind, err) }
		}
		t := tracker.New(n.opts.Deployments, topts)
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
	go func() { defer n.wg.Done(); n.sender.Run(ctx) }()
	go func() { defer n.wg.Done(); n.elect(ctx, lock) }()
	return nil
}

// Wait returns once everything Start started has ended.
func (n *Notifier) Wait() { n.wg.Wait() }

// elect runs for the leadership until ctx ends, again after every loss.
func (n *Notifier) elect(ctx context.Context, lock resourcelock.Interface) {
	for ctx.Err() == nil {
		runCtx, cancelRun := context.WithCancel(ctx)
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:          lock,
			LeaseDuration: n.opts.LeaseDuration,
			RenewDeadline: n.opts.RenewDeadline,
			RetryPeriod:   n.opts.RetryPeriod,
			// Not ReleaseOnCancel: it releases when the elector's last
			// observation names this replica, which after a pause may be
			// stale (see release).
			Name: n.opts.LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					// Run starts this in a goroutine it does not wait for.
					n.wg.Add(1)
					defer n.wg.Done()
					n.leadTerm(lctx, cancelRun)
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
			cancelRun()
			n.log.Error("cannot run leader election", "error", err)
			return
		}
		le.Run(runCtx)
		cancelRun()
		// The lead loop ends with runCtx; once it has (leadMu), nothing of
		// this term is sent, and the Lease can go.
		n.leadMu.Lock()
		n.release()
		n.leadMu.Unlock()
		if ctx.Err() == nil {
			n.log.Warn("lost the notification lease; running for it again")
		}
	}
	n.log.Info("left the notification election")
}

// leadTerm runs the lead loop for one term of the elector, whose context
// is lctx; is_leader is 1 while it runs and not deposed. A term whose run
// ended before this began (the goroutine started late, or waited for the
// previous term's loop) is not led at all: lead would return at once with
// lctx's error, and is_leader stayed 1 after OnStoppedLeading had set it 0.
func (n *Notifier) leadTerm(lctx context.Context, cancelRun func()) {
	n.leadMu.Lock() // a previous term's loop may still be ending
	defer n.leadMu.Unlock()
	if lctx.Err() != nil {
		return
	}
	n.metrics.setLeading(true)
	defer n.metrics.setLeading(false)
	if errors.Is(n.lead(lctx), errDeposed) {
		n.metrics.setLeading(false)
		n.awaitEnd(lctx, cancelRun)
	}
}

// release gives the Lease up, so that another replica need not wait for it
// to expire, if the Lease as read now names this replica; the write carries
// the resourceVersion read, so a Lease taken in between is left alone.
//
// client-go's ReleaseOnCancel reads the Lease too, but decides from the
// elector's last observation instead. A replica paused (SIGSTOP, a stalled
// network) for longer than RenewDeadline while renewing resumes with its
// renewal timed out before it read the Lease again, so that observation
// still names it: it then wrote an empty holder over the Lease another
// replica had taken meanwhile, and, running again at once, took it back
// from the replica that had fenced the records.
func (n *Notifier) release() {
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.RenewDeadline)
	defer cancel()
	leases := n.opts.Leases.Leases(n.opts.LeaseNamespace)
	for {
		l, err := leases.Get(ctx, n.opts.LeaseName, metav1.GetOptions{})
		if err != nil {
			if !apierrors.IsNotFound(err) {
				n.log.Warn("cannot release the notification Lease; the next leader waits for it to expire", "error", err)
			}
			return
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != n.opts.Identity {
			return
		}
		// As client-go releases: no holder, a 1 s duration, the transitions kept.
		now, none, second := metav1.NewMicroTime(time.Now()), "", int32(1)
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &none, &second
		l.Spec.AcquireTime, l.Spec.RenewTime = &now, &now
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		if err == nil {
			n.log.Info("released the notification Lease")
			return
		}
		if !apierrors.IsConflict(err) {
			n.log.Warn("cannot release the notification Lease; the next leader waits for it to expire", "error", err)
			return
		}
	}
}

// errDeposed: the Lease names another leadership than the one the lead
// loop runs for, though the elector may not have noticed yet.
var errDeposed = errors.New("another leadership holds the notification Lease")

// awaitEnd waits, once deposed, for the elector to notice. Should it
// instead take the Lease again within the same run (it would, unseen, if
// the new leader died at once), it is stopped so that a new run starts a
// new term; releasing the Lease is then right, it is this replica's.
func (n *Notifier) awaitEnd(ctx context.Context, cancelRun func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.opts.RetryPeriod):
		}
		if t, err := n.leaseTerm(ctx); err == nil && t.Holder == n.opts.Identity {
			cancelRun()
			return
		}
	}
}

// leaseTerm reads the Lease's current term.
func (n *Notifier) leaseTerm(ctx context.Context) (term, error) {
	l, err := n.opts.Leases.Leases(n.opts.LeaseNamespace).Get(ctx, n.opts.LeaseName, metav1.GetOptions{})
	if err != nil {
		return term{}, fmt.Errorf("reading Lease %s/%s: %w", n.opts.LeaseNamespace, n.opts.LeaseName, err)
	}
	t := term{Lease: l.UID}
	if l.Spec.HolderIdentity != nil {
		t.Holder = *l.Spec.HolderIdentity
	}
	if l.Spec.LeaseTransitions != nil {
		t.Transitions = *l.Spec.LeaseTransitions
	}
	return t, nil
}

// wait sleeps one retry period after a failed call; false if ctx ended.
func (n *Notifier) wait(ctx context.Context, msg string, err error) bool {
	n.log.Warn(msg, "error", err)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(n.opts.RetryPeriod):
		return true
	}
}

// kindOff leaves kind out in ns ("" for all namespaces): its tracker
// could not list it.
func (n *Notifier) kindOff(ns, kind string, err error) {
	resource := strings.ToLower(kind) + "s"
	where := "namespace " + ns
	if ns == "" {
		where = "all namespaces"
	}
	n.log.Warn("notifications leave out "+resource+" in "+where+": ask for list and watch on "+resource+" to notify about them",
		"kind", kind, "namespace", ns, "error", err)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.kindsOff[ns+"/"+kind] = true
}

// follows is false for a workload of kind in ns that no tracker can list.
func (n *Notifier) follows(ns, kind string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	kind = kindOf(kind)
	if kind != deployment.KindDeployment && n.opts.Workloads == nil {
		return false
	}
	return !n.kindsOff["/"+kind] && !n.kindsOff[ns+"/"+kind]
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

// lead is the leader's loop, until ctx (the leadership) ends or it finds
// itself deposed (errDeposed). It reads its term from the Lease, then
// fences: it writes that term into every shard, so that a deposed leader's
// next write there conflicts, and resends every claim it finds pending
// (see update). Then it catches up: the recorded status of every
// workload against its current one, covering what changed while no
// replica led. Then it handles changes as they come.
func (n *Notifier) lead(ctx context.Context) error {
	var t term
	for {
		var err error
		if t, err = n.leaseTerm(ctx); err == nil {
			break
		}
		if !n.wait(ctx, "cannot read the notification Lease, retrying", err) {
			return ctx.Err()
		}
	}
	if t.Holder != n.opts.Identity {
		n.log.Warn("the notification Lease was taken from this replica at once; not leading", "holder", t.Holder)
		return errDeposed
	}
	n.log.Info("leading: this replica sends the notifications", "lease", n.opts.LeaseNamespace+"/"+n.opts.LeaseName, "term", t.Transitions)
	n.term, n.inflight = t, map[string]bool{}
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

	for i := range Shards {
		n.store.shards[i].loaded = false // another leader wrote since
		if err := n.update(ctx, i, nil); err != nil {
			return err
		}
	}
	obs := make([]observation, 0, len(current))
	seen := map[string]bool{}
	for _, s := range current {
		obs = append(obs, observation{s: s})
		seen[recordKey(s.Kind, s.Namespace, s.Name)] = true
	}
	// Records of workloads deleted while no one led; those of a kind not
	// followed now are kept, as is.
	for i := range Shards {
		for k, r := range n.store.shards[i].data {
			if !seen[k] && n.watches(r.Namespace) && n.follows(r.Namespace, r.WorkloadKind) {
				obs = append(obs, observation{s: deployment.Summary{Kind: kindOf(r.WorkloadKind), Namespace: r.Namespace, Name: r.Name, UID: r.UID}, deleted: true})
			}
		}
	}
	if err := n.apply(ctx, obs, nil); err != nil {
		return err
	}

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.wake:
		}
		n.mu.Lock()
		obs, delivered := n.pending, n.delivered
		n.pending, n.delivered = nil, nil
		n.mu.Unlock()
		if err := n.apply(ctx, obs, delivered); err != nil {
			return err
		}
	}
}

func (n *Notifier) watches(ns string) bool {
	return len(n.opts.Namespaces) == 0 || slices.Contains(n.opts.Namespaces, ns)
}

// done is told by the sender that m needs no resending.
func (n *Notifier) done(m webhook.Message) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.leading {
		n.delivered = append(n.delivered, m)
		n.signal()
	}
}

// apply decides the transitions of obs against the records, writes the
// records (claiming the transitions) and only then queues their messages;
// it also drops delivered messages from the records. Only the shards
// concerned are written.
func (n *Notifier) apply(ctx context.Context, obs []observation, delivered []webhook.Message) error {
	type batch struct {
		obs       []observation
		delivered []webhook.Message
	}
	batches := map[int]*batch{}
	at := func(kind, namespace, name string) *batch {
		i := shardOf(recordKey(kind, namespace, name))
		if batches[i] == nil {
			batches[i] = &batch{}
		}
		return batches[i]
	}
	for _, o := range obs {
		b := at(o.s.Kind, o.s.Namespace, o.s.Name)
		b.obs = append(b.obs, o)
	}
	for _, m := range delivered {
		b := at(m.WorkloadKind, m.Namespace, m.Deployment)
		b.delivered = append(b.delivered, m)
	}
	for _, i := range slices.Sorted(maps.Keys(batches)) {
		b := batches[i]
		err := n.update(ctx, i, func(data map[string]record) (bool, []webhook.Message) {
			changed := false
			var msgs []webhook.Message
			for _, o := range b.obs {
				m, c := n.decide(data, o)
				changed = changed || c
				if m != nil {
					msgs = append(msgs, *m)
				}
			}
			for _, m := range b.delivered {
				k := recordKey(m.WorkloadKind, m.Namespace, m.Deployment)
				r := data[k]
				if j := slices.IndexFunc(r.Pending, func(p webhook.Message) bool { return p.ID == m.ID }); j >= 0 {
					r.Pending = slices.Delete(slices.Clone(r.Pending), j, j+1)
					data[k] = r
					changed = true
				}
			}
			return changed, msgs
		})
		if err != nil {
			return err
		}
		for _, m := range b.delivered {
			delete(n.inflight, m.ID)
		}
	}
	return nil
}

// update reads shard i if needed, lets change edit its records (nil
// changes nothing) and writes them with this leadership's term, reading
// again and deciding again on a Conflict: a transition another replica
// claimed in between is then not claimed twice. Only once written are the
// messages change returned queued, together with every claim the shard
// holds pending that this term has not queued yet: claims of an earlier
// leader that may have abandoned them (found at takeover, or later after a
// Conflict), which are resent as they were claimed, ID and Seq included.
//
// A shard written by a term not known to be older is checked against the
// Lease: if it names another term, this leadership is over (errDeposed)
// and nothing is written; the newer leader resends what this one claimed.
func (n *Notifier) update(ctx context.Context, i int, change func(map[string]record) (bool, []webhook.Message)) error {
	sh := &n.store.shards[i]
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !sh.loaded {
			if err := n.store.load(ctx, i); err != nil {
				n.wait(ctx, "cannot read the notification records, retrying", err)
				continue
			}
		}
		if sh.term != n.term && !sh.term.olderThan(n.term) {
			now, err := n.leaseTerm(ctx)
			if err != nil {
				n.wait(ctx, "cannot read the notification Lease, retrying", err)
				continue
			}
			if now != n.term {
				n.log.Warn("another replica leads the notifications now; this one stops sending",
					"term", n.term.String(), "shardTerm", sh.term.String(), "leaseTerm", now.String())
				return errDeposed
			}
			// Still ours: the shard was written by a deposed leader, or
			// under a Lease deleted since.
		}
		data := maps.Clone(sh.data)
		changed, msgs := false, []webhook.Message(nil)
		if change != nil {
			changed, msgs = change(data)
		}
		if !changed && sh.exists && sh.term == n.term {
			n.send(nil, data)
			return nil
		}
		err := n.store.save(ctx, i, data, n.term)
		if err == nil {
			n.send(msgs, data)
			return nil
		}
		sh.loaded = false
		if !apierrors.IsConflict(err) {
			if apierrors.IsInvalid(err) || apierrors.IsRequestEntityTooLargeError(err) {
				err = fmt.Errorf("%w (shard %d of %d holds too much; see the limits in docs/notifications.md)", err, i, Shards)
			}
			n.wait(ctx, "cannot write the notification records, retrying", err)
		}
	}
}

// send queues msgs, then every pending claim in data not queued yet in
// this term, oldest first.
func (n *Notifier) send(msgs []webhook.Message, data map[string]record) {
	for _, m := range msgs {
		n.inflight[m.ID] = true
		n.sender.Enqueue(m, n.done)
	}
	var found []webhook.Message
	for _, r := range data {
		for _, m := range r.Pending {
			if !n.inflight[m.ID] {
				found = append(found, m)
			}
		}
	}
	slices.SortFunc(found, func(a, b webhook.Message) int { return a.Timestamp.Compare(b.Timestamp) })
	for _, m := range found {
		n.log.Info("resending a notification claimed but not known to be delivered", "id", m.ID, "seq", m.Seq, "claimedInTerm", m.Term, "claimedBy", m.Leader)
		n.inflight[m.ID] = true
		n.sender.Enqueue(m, n.done)
	}
}

// olderRV: a is known to be an earlier resourceVersion of the object than
// b. Versions the API server does not give as comparable integers compare
// as unknown (false).
func olderRV(a, b string) bool {
	c, err := resourceversion.CompareResourceVersion(a, b)
	return err == nil && c < 0
}

// decide updates data for o and returns the message to send, if any, and
// whether data changed. A workload seen for the first time (or a new one
// under an old name) is recorded without a message, its history unknown,
// unless it was created while this replica led: then it comes from no
// status at all, and a new workload's rollout has "started". One already
// Failed is notified whatever its history: it may have been created and
// failed during a handover, and a failure is the one alert not to miss.
func (n *Notifier) decide(data map[string]record, o observation) (*webhook.Message, bool) {
	s := o.s
	k := recordKey(s.Kind, s.Namespace, s.Name)
	r, known := data[k]
	if o.deleted {
		if known && (s.UID == "" || r.UID == s.UID) {
			delete(data, k)
			return nil, true
		}
		return nil, false
	}
	baseline := func() (*webhook.Message, bool) {
		data[k] = record{Namespace: s.Namespace, Name: s.Name, WorkloadKind: recordedKind(s.Kind), UID: s.UID, Status: s.Status, RV: s.ResourceVersion}
		return nil, true
	}
	fresh := !known || r.UID != s.UID
	if !fresh && olderRV(s.ResourceVersion, r.RV) {
		return nil, false // a lagging watch: the record already holds a later state
	}
	if fresh && !o.added && s.Status != deployment.Failed {
		return baseline()
	}
	var from deployment.Status
	if fresh {
		r = record{Namespace: s.Namespace, Name: s.Name, WorkloadKind: recordedKind(s.Kind), UID: s.UID}
	} else {
		from = r.Status
	}
	kind := KindOf(from, s.Status)
	switch {
	case kind == "" && fresh:
		return baseline()
	case kind == "":
		return nil, false // e.g. Running -> Scaling: compare the next status with Running still
	}
	r.Status, r.Kind, r.RV = s.Status, kind, s.ResourceVersion
	if !n.on[kind] {
		data[k] = r
		return nil, true
	}
	r.Seq++
	m := newMessage(kind, from, s, r.Seq, n.term, n.opts.Now())
	r.Pending = append(slices.Clone(r.Pending), m)
	data[k] = r
	return &m, true
}
