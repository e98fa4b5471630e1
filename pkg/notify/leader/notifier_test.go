package leader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/deploywatch/kubectl-deploywatch/internal/testutil"
	"github.com/deploywatch/kubectl-deploywatch/pkg/deployment"
	"github.com/deploywatch/kubectl-deploywatch/pkg/notify/webhook"
)

const leaseNS = "deploywatch"

// fakeApps tells the tracker's informer that the fake cannot stream lists
// (see tracker.New).
type fakeApps struct{ appsv1client.AppsV1Interface }

func (fakeApps) IsWatchListSemanticsUnSupported() bool { return true }

// deploymentIn builds a Deployment that Classify reads as status.
func deploymentIn(ns, name string, status deployment.Status) *appsv1.Deployment {
	d := testutil.Deployment(name, testutil.Namespace(ns), testutil.Image("app:1"), testutil.Observed(1))
	switch status {
	case deployment.Failed:
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0
		d.Status.Conditions[0] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "x" has timed out progressing.`}
	case deployment.Progressing:
		d.Status.Replicas = 2 // an old pod still there
	}
	if got := deployment.Summarize(d, nil).Status; got != status {
		panic(fmt.Sprintf("deploymentIn(%s) classifies as %s", status, got))
	}
	return d
}

func newTestNotifier(t *testing.T, cs *fake.Clientset, url string, on ...webhook.Kind) *Notifier {
	t.Helper()
	return newReplica(t, cs, url, "replica-1", on...)
}

// newReplica is one of several notifiers sharing cs, named identity.
func newReplica(t *testing.T, cs *fake.Clientset, url, identity string, on ...webhook.Kind) *Notifier {
	t.Helper()
	n, err := New(replicaOptions(cs, url, identity, on...))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// replicaOptions are newReplica's options: Deployments in shop, short
// lease timings, quick retries.
func replicaOptions(cs *fake.Clientset, url, identity string, on ...webhook.Kind) Options {
	return Options{
		Deployments: fakeApps{cs.AppsV1()}, ConfigMaps: cs.CoreV1(), Leases: cs.CoordinationV1(),
		Namespaces: []string{"shop"}, On: on,
		Webhook:        webhook.Options{URLs: []string{url}, Timeout: time.Second, BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond},
		LeaseNamespace: leaseNS, Identity: identity,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 100 * time.Millisecond,
	}
}

func startNotifier(t *testing.T, n *Notifier) {
	t.Helper()
	startReplica(t, n, context.Background())
	testutil.Eventually(t, 30*time.Second, "leading", n.isLeading)
}

// startReplica starts n until the test or ctx ends, without waiting for it
// to lead.
func startReplica(t *testing.T, n *Notifier, ctx context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	if err := n.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); n.Wait() })
}

// records reads every shard's records, by key.
func records(t *testing.T, cs *fake.Clientset) map[string]record {
	t.Helper()
	out := map[string]record{}
	for i := range Shards {
		cm, err := cs.CoreV1().ConfigMaps(leaseNS).Get(context.Background(), fmt.Sprintf("%s-state-%d", DefaultLeaseName, i), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range cm.Data {
			var r record
			if err := json.Unmarshal([]byte(v), &r); err != nil {
				t.Fatalf("record %s: %v", k, err)
			}
			if shardOf(k) != i {
				t.Errorf("record %s in shard %d, want %d", k, i, shardOf(k))
			}
			out[k] = r
		}
	}
	return out
}

func setStatus(t *testing.T, cs *fake.Clientset, status deployment.Status) {
	t.Helper()
	if _, err := cs.AppsV1().Deployments("shop").Update(context.Background(), deploymentIn("shop", "web", status), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func kinds(ms []webhook.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, string(m.Kind)+":"+m.Namespace+"/"+m.Deployment)
	}
	sort.Strings(out)
	return out
}

func TestNotifierSendsOncePerTransition(t *testing.T) {
	cs := fake.NewClientset(deploymentIn("shop", "web", deployment.Running))
	r := newReceiver(t)
	n := newTestNotifier(t, cs, r.srv.URL)
	startNotifier(t, n)
	testutil.Eventually(t, 30*time.Second, "the baseline record", func() bool { return records(t, cs)["shop_web"].Status == deployment.Running })

	setStatus(t, cs, deployment.Progressing) // started: not selected, recorded
	testutil.Eventually(t, 30*time.Second, "Progressing recorded", func() bool { return records(t, cs)["shop_web"].Status == deployment.Progressing })
	setStatus(t, cs, deployment.Failed)
	testutil.Eventually(t, 30*time.Second, "the failed message", func() bool { return len(r.messages()) == 1 })
	setStatus(t, cs, deployment.Running)
	testutil.Eventually(t, 30*time.Second, "the recovered message", func() bool { return len(r.messages()) == 2 })
	testutil.Eventually(t, 30*time.Second, "the delivery recorded", func() bool { return len(records(t, cs)["shop_web"].Pending) == 0 })

	got := r.messages()
	if got[0].Kind != webhook.Failed || got[0].OldStatus != deployment.Progressing || got[0].NewStatus != deployment.Failed ||
		got[1].Kind != webhook.Recovered || got[1].OldStatus != deployment.Failed || got[1].NewStatus != deployment.Running {
		t.Errorf("messages %+v; want failed (Progressing -> Failed) then recovered (Failed -> Running)", got)
	}
	if l, err := cs.CoordinationV1().Leases(leaseNS).Get(context.Background(), DefaultLeaseName, metav1.GetOptions{}); err != nil || *l.Spec.HolderIdentity != "replica-1" {
		t.Errorf("lease %v, %v; want held by replica-1", l, err)
	}
}

// seedState is the shards holding records (key to JSON), as a leader of
// term written left them.
func seedState(records map[string]string, written term) []runtime.Object {
	tb, _ := json.Marshal(written)
	var out []runtime.Object
	for i := range Shards {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: leaseNS, Name: fmt.Sprintf("%s-state-%d", DefaultLeaseName, i),
			Annotations: map[string]string{termAnnotation: string(tb)}}, Data: map[string]string{}}
		for k, v := range records {
			if shardOf(k) == i {
				cm.Data[k] = v
			}
		}
		out = append(out, cm)
	}
	return out
}

func TestNotifierCatchesUpAndResends(t *testing.T) {
	previous := term{Transitions: 0, Holder: "replica-0"}
	pending := newMessage(webhook.Completed, deployment.Progressing, deployment.Summarize(deploymentIn("shop", "c", deployment.Running), nil), 4, previous, time.Now())
	rec := func(name string, status deployment.Status, m *webhook.Message) string {
		r := record{Namespace: "shop", Name: name, UID: types.UID("uid-" + name), Status: status}
		if m != nil {
			r.Seq, r.Pending = m.Seq, []webhook.Message{*m}
		}
		b, _ := json.Marshal(r)
		return string(b)
	}
	objs := seedState(map[string]string{
		"shop_a":    rec("a", deployment.Running, nil),      // failed while no one led
		"shop_b":    rec("b", deployment.Failed, nil),       // already notified
		"shop_c":    rec("c", deployment.Running, &pending), // claimed, maybe never sent
		"shop_gone": rec("gone", deployment.Running, nil),   // deleted while no one led
		"other_x":   `{"namespace":"other","name":"x","uid":"u","status":"Running"}`,
	}, previous)
	cs := fake.NewClientset(append(objs, deploymentIn("shop", "a", deployment.Failed), deploymentIn("shop", "b", deployment.Failed), deploymentIn("shop", "c", deployment.Running),
		deploymentIn("shop", "d", deployment.Failed), deploymentIn("shop", "e", deployment.Progressing))...)
	r := newReceiver(t)
	n := newTestNotifier(t, cs, r.srv.URL, webhook.Failed, webhook.Recovered, webhook.Completed)
	startNotifier(t, n)
	testutil.Eventually(t, 30*time.Second, "three messages", func() bool { return len(r.messages()) >= 3 })
	testutil.Eventually(t, 30*time.Second, "no record pending", func() bool {
		for _, r := range records(t, cs) {
			if len(r.Pending) > 0 {
				return false
			}
		}
		return true
	})
	got := r.messages()
	if k := kinds(got); len(k) != 3 || k[0] != "completed:shop/c" || k[1] != "failed:shop/a" || k[2] != "failed:shop/d" {
		t.Errorf("messages %v; want the catch-up failed of a, the resent completed of c and the failed of d (no record), nothing for b or e", k)
	}
	if r := records(t, cs)["shop_e"]; r.Status != deployment.Progressing {
		t.Errorf("record of e %+v; want Progressing recorded", r)
	}
	for _, m := range got {
		switch {
		case m.Kind == webhook.Completed && (m.ID != pending.ID || m.Seq != 4 || m.Term != 0 || m.Leader != "replica-0"):
			t.Errorf("resent %+v; want the claimed one as it was (ID %q, seq 4, term 0 of replica-0), so receivers can deduplicate", m, pending.ID)
		case m.Kind == webhook.Failed && (m.Seq != 1 || m.Leader != "replica-1"):
			t.Errorf("catch-up message %+v; want seq 1, claimed by replica-1", m)
		}
	}
	recs := records(t, cs)
	if _, ok := recs["shop_gone"]; ok {
		t.Error("the record of a deleted Deployment stayed")
	}
	if _, ok := recs["other_x"]; !ok {
		t.Error("the record of a namespace this notifier does not watch was removed")
	}
	// Every shard now carries the new term: the fence.
	for _, cm := range stateConfigMaps(t, cs) {
		var written term
		if err := json.Unmarshal([]byte(cm.Annotations[termAnnotation]), &written); err != nil || written.Holder != "replica-1" {
			t.Errorf("%s written by %+v (%v); want replica-1's term", cm.Name, written, err)
		}
	}
}

// leaderAt sets up n as the leader of term t (Lease and state as its
// takeover leaves them) without running the election, so a test can write
// between its steps. The Lease says holder.
func leaderAt(t *testing.T, cs *fake.Clientset, n *Notifier, own term, holder term) {
	t.Helper()
	ctx := context.Background()
	_, err := cs.CoordinationV1().Leases(leaseNS).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: leaseNS, Name: DefaultLeaseName},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder.Holder, LeaseTransitions: &holder.Transitions},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.term, n.inflight, n.leading = own, map[string]bool{}, true
}

// rivalWrites makes the next update of the shard holding key fail with a
// Conflict, after writing rec there as a leader of term rival would.
func rivalWrites(t *testing.T, cs *fake.Clientset, key string, rec record, rival term) *int {
	conflicts := 0
	cs.PrependReactor("update", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			return false, nil, nil
		}
		conflicts++
		b, _ := json.Marshal(rec)
		cm := seedState(map[string]string{key: string(b)}, rival)[shardOf(key)].(*corev1.ConfigMap)
		if err := cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("configmaps"), cm, leaseNS); err != nil {
			t.Error(err)
		}
		return true, nil, apierrors.NewConflict(corev1.Resource("configmaps"), cm.Name, fmt.Errorf("the object has been modified"))
	})
	return &conflicts
}

// TestNotifierResendsAStaleLeadersClaim is the handover race: the new
// leader has read the records; a deposed leader that has not noticed yet
// claims the transition before the new leader writes, then loses its
// leadership and abandons the message. The new leader's write conflicts;
// it reads again, finds the claim and resends it (same ID, seq and term),
// and claims nothing twice. Before fencing the claim was lost.
func TestNotifierResendsAStaleLeadersClaim(t *testing.T) {
	old, current := term{Transitions: 1, Holder: "replica-0"}, term{Transitions: 2, Holder: "replica-1"}
	cs := fake.NewClientset(append(seedState(map[string]string{
		"shop_web": `{"namespace":"shop","name":"web","uid":"uid-web","status":"Running","seq":6}`,
	}, current), deploymentIn("shop", "web", deployment.Failed))...)
	r := newReceiver(t)
	n := newTestNotifier(t, cs, r.srv.URL)
	leaderAt(t, cs, n, current, current)
	queued := countQueued(n)
	ctx := context.Background()
	s := deployment.Summarize(deploymentIn("shop", "web", deployment.Failed), nil)
	stale := newMessage(webhook.Failed, deployment.Running, s, 7, old, time.Now())
	conflicts := rivalWrites(t, cs, "shop_web", record{Namespace: "shop", Name: "web", UID: "uid-web", Status: deployment.Failed, Kind: webhook.Failed,
		Seq: 7, Pending: []webhook.Message{stale}}, old)
	if err := n.apply(ctx, []observation{{s: s}}, nil); err != nil {
		t.Fatal(err)
	}
	if *conflicts != 1 {
		t.Fatalf("%d conflicts; the test did not exercise one", *conflicts)
	}
	if q := queued.count(); q != 1 {
		t.Fatalf("%d messages queued after a deposed leader claimed the transition and abandoned it; want its claim resent, once", q)
	}
	runSender(t, n)
	testutil.Eventually(t, 30*time.Second, "the resent message", func() bool { return len(r.messages()) == 1 })
	if m := r.messages()[0]; m.ID != stale.ID || m.Seq != 7 || m.Term != 1 || m.Leader != "replica-0" {
		t.Errorf("resent %+v; want the stale leader's claim as it was", m)
	}
	rec := records(t, cs)["shop_web"]
	if rec.Status != deployment.Failed || rec.Seq != 7 || len(rec.Pending) != 1 {
		t.Errorf("record %+v; want the stale leader's claim kept, still pending until its delivery is recorded", rec)
	}
	cm, _ := cs.CoreV1().ConfigMaps(leaseNS).Get(ctx, fmt.Sprintf("%s-state-%d", DefaultLeaseName, shardOf("shop_web")), metav1.GetOptions{})
	if !strings.Contains(cm.Annotations[termAnnotation], `"holder":"replica-1"`) {
		t.Errorf("shard written by %s; want the current leader's term again (the fence)", cm.Annotations[termAnnotation])
	}
}

// TestNotifierStopsWhenDeposed: the other side of the race. This replica
// still believes it leads; a newer leader fenced the shard between this
// one's read and write. The write conflicts, the shard names a term the
// Lease confirms, and this replica stops: nothing queued, nothing written.
func TestNotifierStopsWhenDeposed(t *testing.T) {
	mine, newer := term{Transitions: 1, Holder: "replica-1"}, term{Transitions: 2, Holder: "replica-2"}
	cs := fake.NewClientset(append(seedState(map[string]string{
		"shop_web": `{"namespace":"shop","name":"web","uid":"uid-web","status":"Running"}`,
	}, mine), deploymentIn("shop", "web", deployment.Failed))...)
	n := newTestNotifier(t, cs, "http://127.0.0.1:9/")
	leaderAt(t, cs, n, mine, newer)
	queued := countQueued(n)
	conflicts := rivalWrites(t, cs, "shop_web", record{Namespace: "shop", Name: "web", UID: "uid-web", Status: deployment.Running}, newer)
	s := deployment.Summarize(deploymentIn("shop", "web", deployment.Failed), nil)
	if err := n.apply(context.Background(), []observation{{s: s}}, nil); !errors.Is(err, errDeposed) {
		t.Fatalf("apply: %v; want errDeposed", err)
	}
	if *conflicts != 1 {
		t.Fatalf("%d conflicts; the test did not exercise one", *conflicts)
	}
	if q := queued.count(); q != 0 {
		t.Errorf("%d messages queued by a deposed leader; want none", q)
	}
	if rec := records(t, cs)["shop_web"]; rec.Status != deployment.Running || len(rec.Pending) != 0 {
		t.Errorf("record %+v; want the newer leader's, untouched", rec)
	}
}

func runSender(t *testing.T, n *Notifier) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.sender.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// queueCounter counts what the leader queues, then hands it to the real
// sender.
type queueCounter struct {
	sender
	mu     sync.Mutex
	queued []webhook.Message
}

func countQueued(n *Notifier) *queueCounter {
	c := &queueCounter{sender: n.sender}
	n.sender = c
	return c
}

func (c *queueCounter) Enqueue(m webhook.Message, done func(webhook.Message)) {
	c.mu.Lock()
	c.queued = append(c.queued, m)
	c.mu.Unlock()
	c.sender.Enqueue(m, done)
}

func (c *queueCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queued)
}

func TestDecide(t *testing.T) {
	n := &Notifier{on: map[webhook.Kind]bool{webhook.Completed: true}, opts: Options{Now: time.Now}, term: term{Transitions: 3, Holder: "replica-1"}}
	data := map[string]record{}
	sum := func(status deployment.Status) deployment.Summary {
		return deployment.Summarize(deploymentIn("shop", "web", status), nil)
	}
	steps := []struct {
		status         deployment.Status
		deleted, added bool
		want           webhook.Kind
	}{
		{deployment.Running, false, false, ""},     // first sight: recorded, no message
		{deployment.Progressing, false, false, ""}, // started: not selected
		{deployment.Running, false, false, webhook.Completed},
		{deployment.Running, false, false, ""},
		{deployment.Running, true, false, ""},
		{deployment.Failed, false, false, ""}, // after deletion: first sight again
		{deployment.Failed, true, false, ""},
		{deployment.Progressing, false, true, ""}, // created while leading: started, not selected
		{deployment.Running, false, false, webhook.Completed},
		{deployment.Running, true, false, ""},
		{deployment.Running, false, true, ""}, // created already Running: nothing started
		{deployment.Progressing, false, false, ""},
		{deployment.Running, false, false, webhook.Completed},
	}
	for i, st := range steps {
		m, _ := n.decide(data, observation{s: sum(st.status), deleted: st.deleted, added: st.added})
		var got webhook.Kind
		if m != nil {
			got = m.Kind
		}
		if got != st.want {
			t.Errorf("step %d (%s, deleted %v): message %q, want %q", i, st.status, st.deleted, got, st.want)
		}
	}
	// The last Deployment under this name has had one message.
	if r := data["shop_web"]; r.Status != deployment.Running || r.Kind != webhook.Completed || r.Seq != 1 || len(r.Pending) != 1 ||
		r.Pending[0].Seq != 1 || r.Pending[0].Term != 3 || r.Pending[0].Leader != "replica-1" {
		t.Errorf("record %+v; want Running, completed, seq 1, its message pending, claimed in term 3 by replica-1", r)
	}
}

// TestOnEventNeverBlocks: with the leader's loop not reading at all, the
// trackers' calls still return, and what waits stays bounded.
func TestOnEventNeverBlocks(t *testing.T) {
	n := newTestNotifier(t, fake.NewClientset(), "http://127.0.0.1:9/")
	n.leading = true
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range maxObservations + 500 {
			s := deployment.Summarize(deploymentIn("shop", fmt.Sprintf("d%d", i), deployment.Running), nil)
			n.OnEvent(deployment.Event{Type: deployment.Added, Summary: s})
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("OnEvent blocked")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.pending) != maxObservations || n.skipped != 500 || len(n.state) != maxObservations+500 {
		t.Errorf("pending %d, skipped %d, state %d; want %d, 500 and all", len(n.pending), n.skipped, len(n.state), maxObservations)
	}
}

// TestAwaitEndStopsARunThatRetookTheLease: a deposed lead loop waits for
// the elector to notice; should the Lease name this replica again (the
// elector took it back within the same run, a term the loop never
// started), the run is cancelled so that a new run starts that term.
func TestAwaitEndStopsARunThatRetookTheLease(t *testing.T) {
	cs := fake.NewClientset()
	n := newTestNotifier(t, cs, "http://127.0.0.1:9/")
	leaderAt(t, cs, n, term{Transitions: 1, Holder: "replica-1"}, term{Transitions: 2, Holder: "replica-2"})
	ctx := context.Background()
	cancelled := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); n.awaitEnd(ctx, func() { close(cancelled) }) }()

	// While another replica holds it, the loop waits: no cancel until the
	// Lease changes hands, which this test does after several retry periods
	// have certainly been read (each a Get of the Lease).
	gets := func() int {
		c := 0
		for _, a := range cs.Actions() {
			if a.GetVerb() == "get" && a.GetResource().Resource == "leases" {
				c++
			}
		}
		return c
	}
	testutil.Eventually(t, 30*time.Second, "three reads of the Lease", func() bool { return gets() >= 3 })
	select {
	case <-cancelled:
		t.Fatal("the run was cancelled while another replica held the Lease")
	default:
	}
	l, err := cs.CoordinationV1().Leases(leaseNS).Get(ctx, DefaultLeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	me, three := "replica-1", int32(3)
	l.Spec.HolderIdentity, l.Spec.LeaseTransitions = &me, &three
	if _, err := cs.CoordinationV1().Leases(leaseNS).Update(ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("the run that took the Lease back was not cancelled")
	}
	<-done
}

// TestDecideIgnoresOlderObservations: a replica whose watch lags behind
// the one that wrote a record (a paused leader resuming with queued events,
// or a new leader whose informer is behind the old one's) must not read an
// older state of the Deployment as a new transition. The e2e run against
// the state without resourceVersions got a false "recovered" (Failed ->
// Progressing at an older resourceVersion) and a second "failed".
func TestDecideIgnoresOlderObservations(t *testing.T) {
	n := &Notifier{on: map[webhook.Kind]bool{webhook.Failed: true, webhook.Recovered: true}, opts: Options{Now: time.Now}, term: term{Transitions: 3, Holder: "replica-1"}}
	at := func(status deployment.Status, rv string) observation {
		s := deployment.Summarize(deploymentIn("shop", "web", status), nil)
		s.ResourceVersion = rv
		return observation{s: s}
	}
	data := map[string]record{}
	for i, st := range []struct {
		o    observation
		want webhook.Kind
	}{
		{at(deployment.Running, "200"), ""},
		{at(deployment.Failed, "318"), webhook.Failed},
		{at(deployment.Progressing, "287"), ""}, // older than the record: a lagging watch
		{at(deployment.Failed, "318"), ""},
		{at(deployment.Progressing, "1000"), webhook.Recovered}, // newer, and longer: compared as numbers
	} {
		m, _ := n.decide(data, st.o)
		var got webhook.Kind
		if m != nil {
			got = m.Kind
		}
		if got != st.want {
			t.Errorf("step %d (%s at %s): message %q, want %q", i, st.o.s.Status, st.o.s.ResourceVersion, got, st.want)
		}
	}
	if r := data["shop_web"]; r.Seq != 2 || r.RV != "1000" {
		t.Errorf("record %+v; want seq 2 at resourceVersion 1000", r)
	}
}

// dyingSender delivers for real but kills its replica as soon as a post
// is done, before the replica is told: the leader dies between delivering
// a message and recording the delivery.
type dyingSender struct {
	sender
	die func()
}

func (d *dyingSender) Enqueue(m webhook.Message, _ func(webhook.Message)) {
	d.sender.Enqueue(m, func(webhook.Message) { d.die() })
}

// TestNewLeaderResendsWhatTheDeadLeaderDelivered is the duplicate window:
// replica-1 leads and delivers a "failed"; the webhook has it, and
// replica-1 dies before it records the delivery. replica-2, waiting, takes
// the Lease, finds the claim still pending and sends it again, as claimed:
// the same ID, which both posts carry as their Idempotency-Key, the same
// seq, term and leader, so the receiver can drop the second. Then it
// records the delivery.
func TestNewLeaderResendsWhatTheDeadLeaderDelivered(t *testing.T) {
	cs := fake.NewClientset(deploymentIn("shop", "web", deployment.Running))
	r := newReceiver(t)
	first := newReplica(t, cs, r.srv.URL, "replica-1")
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	first.sender = &dyingSender{sender: first.sender, die: kill}
	startReplica(t, first, ctx)
	testutil.Eventually(t, 30*time.Second, "replica-1 to lead", first.isLeading)
	testutil.Eventually(t, 30*time.Second, "the baseline record", func() bool { return records(t, cs)["shop_web"].Status == deployment.Running })
	second := newReplica(t, cs, r.srv.URL, "replica-2")
	startReplica(t, second, context.Background())

	setStatus(t, cs, deployment.Failed)
	testutil.Eventually(t, 30*time.Second, "the failed message", func() bool { return len(r.messages()) >= 1 })
	first.Wait() // dead: it has stopped, and released the Lease
	if rec := records(t, cs)["shop_web"]; rec.Status != deployment.Failed || len(rec.Pending) != 1 {
		t.Fatalf("record %+v after replica-1 died; want its claim still pending (else the test missed the window)", rec)
	}
	testutil.Eventually(t, 30*time.Second, "replica-2 to lead", second.isLeading)
	testutil.Eventually(t, 30*time.Second, "the resend", func() bool { return len(r.messages()) >= 2 })
	testutil.Eventually(t, 30*time.Second, "the delivery recorded", func() bool { return len(records(t, cs)["shop_web"].Pending) == 0 })

	got, keys := r.messages(), r.idempotencyKeys()
	if len(got) != 2 || got[0].Kind != webhook.Failed {
		t.Fatalf("messages %v; want the failed twice", kinds(got))
	}
	if a, b := got[0], got[1]; b.ID != a.ID || b.Seq != 1 || a.Seq != 1 || b.Term != a.Term || b.Leader != "replica-1" || a.Leader != "replica-1" {
		t.Errorf("sent %+v, then %+v; want the same message, claimed once by replica-1 with seq 1", a, b)
	}
	if want := `"` + got[0].ID + `"`; len(keys) != 2 || keys[0] != want || keys[1] != want {
		t.Errorf("Idempotency-Keys %q; want %s on both posts", keys, want)
	}
	l, err := cs.CoordinationV1().Leases(leaseNS).Get(context.Background(), DefaultLeaseName, metav1.GetOptions{})
	if err != nil || *l.Spec.HolderIdentity != "replica-2" {
		t.Errorf("lease %v, %v; want held by replica-2", l, err)
	}
}
