package leader

import (
	"context"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
)

// pausableLeases stands for a replica's connection to the API server,
// Lease calls only: while paused, every call waits, as one does in a
// SIGSTOPped process or on a stalled network; once resumed, a call whose
// context ended meanwhile fails, as a real client's would.
type pausableLeases struct {
	coordinationv1client.LeasesGetter

	mu      sync.Mutex
	paused  chan struct{} // closed on resume; nil while running
	blocked []context.Context
	// After resume: Lease updates made, and Gets that found holder.
	updates int
	seen    map[string]int
}

func (p *pausableLeases) Leases(ns string) coordinationv1client.LeaseInterface {
	return pausableLease{p.LeasesGetter.Leases(ns), p}
}

func (p *pausableLeases) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = make(chan struct{})
}

func (p *pausableLeases) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.paused)
	p.paused, p.seen = nil, map[string]int{}
}

// gate waits while paused, then fails if ctx ended meanwhile.
func (p *pausableLeases) gate(ctx context.Context) error {
	p.mu.Lock()
	wait := p.paused
	if wait != nil {
		p.blocked = append(p.blocked, ctx)
	}
	p.mu.Unlock()
	if wait != nil {
		<-wait
	}
	return ctx.Err()
}

// blockedExpired: at least one call waits in the pause, and every waiting
// call's context has ended (the renew deadline passed during the pause).
func (p *pausableLeases) blockedExpired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ctx := range p.blocked {
		if ctx.Err() == nil {
			return false
		}
	}
	return len(p.blocked) > 0
}

func (p *pausableLeases) stats() (updates int, seen map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen = map[string]int{}
	for k, v := range p.seen {
		seen[k] = v
	}
	return p.updates, seen
}

type pausableLease struct {
	coordinationv1client.LeaseInterface
	p *pausableLeases
}

func (l pausableLease) Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordinationv1.Lease, error) {
	if err := l.p.gate(ctx); err != nil {
		return nil, err
	}
	out, err := l.LeaseInterface.Get(ctx, name, opts)
	if err == nil && out.Spec.HolderIdentity != nil {
		l.p.mu.Lock()
		if l.p.seen != nil {
			l.p.seen[*out.Spec.HolderIdentity]++
		}
		l.p.mu.Unlock()
	}
	return out, err
}

func (l pausableLease) Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	if err := l.p.gate(ctx); err != nil {
		return nil, err
	}
	out, err := l.LeaseInterface.Update(ctx, lease, opts)
	if err == nil {
		l.p.mu.Lock()
		if l.p.seen != nil {
			l.p.updates++
		}
		l.p.mu.Unlock()
	}
	return out, err
}

// TestResumedLeaderLeavesTheNewLeaseAlone is the e2e paused-leader round
// with the pause in the middle of a Lease renewal: replica-1 leads and is
// paused while renewing for longer than its renew deadline; replica-2
// takes the Lease. On resume, replica-1's renewal has timed out without
// reading the Lease again, so its elector still believes it holds it.
// Releasing it then (client-go's ReleaseOnCancel decides from that belief,
// though it has just read the Lease) wrote an empty holder over
// replica-2's Lease, and replica-1, running again at once, took it back:
// it went on leading and the e2e test waited in vain for it to stop.
// Resumed, replica-1 must write nothing to the Lease, stop leading and see
// replica-2 hold it.
func TestResumedLeaderLeavesTheNewLeaseAlone(t *testing.T) {
	cs := fake.NewClientset(deploymentIn("shop", "web", deployment.Running))
	first := newReplica(t, cs, "http://127.0.0.1:9/", "replica-1")
	leases := &pausableLeases{LeasesGetter: cs.CoordinationV1()}
	first.opts.Leases = leases
	startNotifier(t, first)
	second := newReplica(t, cs, "http://127.0.0.1:9/", "replica-2")
	startReplica(t, second, context.Background())

	leases.pause()
	testutil.Eventually(t, 30*time.Second, "replica-2 to take the Lease from the paused replica-1", second.isLeading)
	testutil.Eventually(t, 30*time.Second, "replica-1's renew deadline to pass during the pause", leases.blockedExpired)
	leases.resume()

	// The positive event that proves the silence: replica-1 reads the Lease
	// held by replica-2 again and again (its next run for the Lease), or it
	// writes the Lease (the defect).
	testutil.Eventually(t, 30*time.Second, "replica-1 to read replica-2's Lease three times, or to write it", func() bool {
		updates, seen := leases.stats()
		return updates > 0 || seen["replica-2"] >= 3
	})
	if updates, seen := leases.stats(); updates > 0 {
		t.Errorf("resumed, replica-1 wrote the Lease %d times (Gets by holder: %v); want none, replica-2 holds it", updates, seen)
	}
	testutil.Eventually(t, 30*time.Second, "replica-1 to stop leading, its is_leader 0", func() bool {
		return !first.isLeading() && isLeaderGauge(t, first) == 0
	})
	l, err := cs.CoordinationV1().Leases(leaseNS).Get(context.Background(), DefaultLeaseName, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "replica-2" {
		t.Errorf("lease %v, %v; want held by replica-2 still", l, err)
	}
	if !second.isLeading() {
		t.Error("replica-2 stopped leading")
	}
}

// isLeaderGauge is n's deploywatch_notify_is_leader as scraped.
func isLeaderGauge(t *testing.T, n *Notifier) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(n.metrics.isLeader)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathering is_leader: %v, %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}

// TestLeadTermAfterItsRunEnded: the elector starts OnStartedLeading in a
// goroutine it does not wait for, which may begin only after its run has
// ended (it waits for the previous term's loop). That term must not be led
// nor leave is_leader at 1 after OnStoppedLeading set it to 0: lead
// returned at once with the run's error and nothing set it back.
func TestLeadTermAfterItsRunEnded(t *testing.T) {
	cs := fake.NewClientset()
	n := newTestNotifier(t, cs, "http://127.0.0.1:9/")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.metrics.setLeading(false) // as OnStoppedLeading left it
	n.leadTerm(ctx, func() { t.Error("leadTerm cancelled a run that had ended") })
	if v := isLeaderGauge(t, n); v != 0 {
		t.Errorf("is_leader %v after a term whose run had ended; want 0", v)
	}
	if n.isLeading() || len(cs.Actions()) > 0 {
		t.Errorf("leading %v, API calls %v; want a term whose run ended not led at all", n.isLeading(), cs.Actions())
	}
}
